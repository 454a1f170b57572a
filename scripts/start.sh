#!/usr/bin/env bash
# Install everything and open the dashboard on the demo corpus (http://localhost:8501).
# Extra arguments go to streamlit, e.g. `bash scripts/start.sh --server.port 8600`.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
echo ">> preparing the demo corpus and the first view (under a minute the first time, seconds after);"
echo "   the dashboard prepares the other checkpoints in the background (progress in its sidebar)"
.venv/bin/python -m core prepare --first-view
exec .venv/bin/python -m streamlit run app.py "$@"
