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
# A fresh install takes about 2.2 GB (torch alone 0.75 GB). On a nearly full disk pip fails half-way with a bare
# "No space left on device", so say up front what is needed and where.
if ! compgen -G ".venv/lib*/python3*/site-packages/torch" >/dev/null; then
  FREE_MB=$(df -Pm "$ROOT" 2>/dev/null | awk 'NR==2 {print $4}')
  if [ -n "$FREE_MB" ] && [ "$FREE_MB" -lt 3000 ]; then
    echo "songscape: installing into $ROOT/.venv needs about 3 GB free on its disk; only ${FREE_MB} MB are free." >&2
    echo "songscape: free some space there and run this again." >&2
    exit 1
  fi
fi
echo ">> installing pinned requirements into .venv"
# --no-cache-dir: pip's wheel cache would keep a second copy of every download on the same disk.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-cache-dir -r requirements.txt
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$ROOT/data/cache/numba}"
mkdir -p "$NUMBA_CACHE_DIR"
