# Shared by start.sh and test.sh: make .venv and install the pinned requirements.
# Re-running is cheap: pip skips what is already installed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo ">> creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
echo ">> installing pinned requirements into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$ROOT/data/cache/numba}"
mkdir -p "$NUMBA_CACHE_DIR"
