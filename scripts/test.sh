#!/usr/bin/env bash
# Install everything and run every test. Extra arguments go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
# The browser tests drive Debian's Chromium (never a downloaded browser), with a font for Bangla
# (fonts-noto-core has Noto Sans Bengali; without it Bangla titles and lyrics render as boxes).
# Under CI, or when run as root, install what is missing; elsewhere those tests skip with a reason.
BENGALI_FONT=/usr/share/fonts/truetype/noto/NotoSansBengali-Regular.ttf
if { [ ! -x /usr/bin/chromium ] || [ ! -f "$BENGALI_FONT" ]; } && { [ -n "${CI:-}" ] || [ "$(id -u)" = 0 ]; } \
    && command -v apt-get >/dev/null; then
  echo ">> installing Debian's chromium and fonts for the browser tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core fonts-noto-core >/dev/null \
    || echo ">> could not install chromium and its fonts; browser tests will report it"
fi
echo ">> linting (ruff, configured in pyproject.toml)"
.venv/bin/ruff check --no-cache .
echo ">> checking the import contracts (.importlinter)"
.venv/bin/lint-imports --no-cache
# One worker process per core, at most 4 (each holds a model and a browser at times); whole test files go to one
# worker, so a module's dashboard or cluster fixture starts once. Two cores run the suite in about 10 minutes
# instead of 15. To run tests in this process (a debugger, -s), add -n 0.
WORKERS=$(nproc 2>/dev/null || echo 1)
if [ "$WORKERS" -gt 4 ]; then WORKERS=4; fi
exec .venv/bin/python -m pytest -n "$WORKERS" --dist loadfile "$@"
