"""Content hashes of files (sha1 of the bytes), memoised by ``(path, size, mtime)``.

The memo lives in memory and on disk (one small text file per key under
``memo_dir``), so a warm process, or a later one, does not re-read unchanged
files: a stat is enough. :class:`core.cache.FeatureCache` keys features by
these hashes and :meth:`core.corpus.Corpus.fingerprint` hashes a corpus by them,
so both see an edited file as new and a moved one as the same.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from core import config
from core.errors import OutputError
from core.io import atomic_write

_MEMO: dict[tuple[str, int, int], str] = {}


def default_memo_dir() -> Path:
    """``core.config.CACHE_DIR / "features" / "paths"`` (read at call time): the default feature cache's memo."""
    return Path(config.CACHE_DIR) / "features" / "paths"


def file_hash(path: str | Path, *, memo_dir: str | Path | None = None) -> str:
    """sha1 (40 hex digits) of the file's bytes, memoised by (absolute path, size, mtime).

    Raises ``OSError`` (e.g. ``FileNotFoundError``) when the file cannot be read.
    A memo that cannot be written (read-only disk) only costs a re-hash next time.
    """
    path = Path(path).resolve()
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    digest = _MEMO.get(key)
    if digest is not None:
        return digest
    name = hashlib.sha1("|".join(map(str, key)).encode()).hexdigest()
    memo_file = Path(memo_dir if memo_dir is not None else default_memo_dir()) / name[:2] / f"{name}.txt"
    try:
        digest = memo_file.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        digest = ""
    if len(digest) != 40 or any(c not in "0123456789abcdef" for c in digest):
        h = hashlib.sha1()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        digest = h.hexdigest()
        try:
            atomic_write(memo_file, digest.encode("ascii"))
        except (OSError, OutputError):
            pass  # a read-only cache still works, it only hashes again next time
    _MEMO[key] = digest
    return digest
