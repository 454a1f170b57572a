#!/usr/bin/env bash
# Install everything and open the dashboard on the demo corpus (http://localhost:8501).
# Extra arguments go to streamlit, e.g. `bash scripts/start.sh --server.port 8600`.
# Each step says how long it took, so the README's start-up figure can be checked on any machine.
STARTED=$SECONDS
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
echo ">> .venv ready in $((SECONDS - STARTED)) s"
STEP=$SECONDS
echo ">> preparing the demo corpus and the first view (about 1-2 minutes on two cores the first time, seconds after);"
echo "   the dashboard prepares the other checkpoints in the background (progress in its sidebar)"
.venv/bin/python -m core prepare --first-view --dashboard-next
echo ">> prepared in $((SECONDS - STEP)) s; starting the dashboard ($((SECONDS - STARTED)) s so far; it answers in a few seconds)"
exec .venv/bin/python -m streamlit run app.py "$@"
