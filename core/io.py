"""The one way Songscape writes files: atomically, with a clear message on failure.

Every output (CSV, Parquet, NPZ, checkpoint, cache entry, Markdown) goes through
:func:`atomic_write`: the bytes land in a temporary file next to the target,
are flushed to disk, and replace the target with ``os.replace``. A reader sees
the old file or the new one, never a truncated mix, and a full disk leaves the
previous file untouched and raises :class:`~core.errors.OutputError` naming the
file. A target that exists and is not a regular file (a device such as
``/dev/null``, a FIFO, a folder, a socket, or a symlink to one) is refused,
never renamed over: :func:`check_target` says what it is, and commands call it
before any work so a bad ``--out`` costs nothing.

:func:`exclusive` is a non-blocking advisory lock for outputs that two
processes must not write at once (``core train --out X`` twice).

Temporary files are named ``.<name>.<random>.tmp``; :func:`clean_stale_temps`
removes ones older than an hour that an interrupted write left behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator, BinaryIO

from core.errors import OutputError

#: Temporary files older than this are leftovers of a killed writer.
STALE_TEMP_SECONDS = 3600


def atomic_write(path: str | Path, data: bytes | str | Callable[[BinaryIO], None], *,
                 encoding: str = "utf-8") -> Path:
    """Write ``data`` to ``path`` atomically and return the path.

    ``data`` is bytes, text (encoded with ``encoding``) or a function that
    writes into the binary file object it is given (e.g. ``df.to_parquet``).
    The parent folder is created. On any failure the temporary file is removed,
    the old ``path`` is kept, and :class:`OutputError` names ``path``.
    """
    path = Path(path)
    _refuse_special(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create its folder ({_reason(exc)})") from None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write into its folder ({_reason(exc)})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data.encode(encoding) if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        _refuse_special(path)  # again: the target may have been replaced while ``data`` was written
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise OutputError(f"{path}: could not write it ({_reason(exc)}); the previous file, "
                          "if any, is unchanged") from None
    except BaseException:
        _remove(tmp)
        raise
    return path


def check_target(path: str | Path) -> Path:
    """Fail early, with :class:`OutputError` naming ``path``, when :func:`atomic_write` could not write it.

    Refused: a target that exists and is not a regular file (or a symlink to one), a parent that is
    not a folder, and a folder this process may not write into. Nothing is created. Commands call
    this before their work, so a bad ``--out`` is reported in a second, not after an hour.
    """
    path = Path(path)
    _refuse_special(path)
    folder = path.parent
    while not folder.exists() and folder != folder.parent:  # the folders atomic_write would create
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(f"{path}: cannot write it: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot write into {folder} (read-only or permission denied)")
    return path


def _refuse_special(path: Path) -> None:
    """Raise when ``path`` exists and is not a regular file: renaming over it would replace a device or a folder."""
    try:
        mode = os.stat(path).st_mode  # follows a symlink: a link to a regular file is fine
    except (FileNotFoundError, NotADirectoryError):
        return  # nothing there, or a dangling symlink that the rename replaces
    except OSError as exc:
        raise OutputError(f"{path}: cannot check what is there ({_reason(exc)})") from None
    if not stat.S_ISREG(mode):
        link = " (a symlink to it)" if path.is_symlink() else ""
        raise OutputError(f"{path}: is {_kind(mode)}{link}, not a regular file; refusing to replace it "
                          "(name a file to write instead)")


def _kind(mode: int) -> str:
    for test, what in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "a special file"


@contextlib.contextmanager
def exclusive(path: str | Path, *, what: str = "output") -> Iterator[Path]:
    """Hold an advisory lock on ``path`` (via ``path.lock``) for the ``with`` block.

    A second process asking for the same lock gets :class:`OutputError` at once
    (no waiting), naming the file. The lock dies with the process that holds it.
    """
    import fcntl  # POSIX only; imported here so the module loads on any platform

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_file = path.with_name(f".{path.name}.lock")
    fh = open(lock_file, "a+b")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise OutputError(f"{path}: another process is writing this {what} right now; "
                                  "wait for it to finish or choose another name") from None
            raise
        yield path
    finally:
        fh.close()


def clean_stale_temps(folder: str | Path, *, older_than: float = STALE_TEMP_SECONDS) -> int:
    """Remove ``.*.tmp`` files in ``folder`` older than ``older_than`` seconds; return how many."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    now = time.time()
    removed = 0
    for tmp in folder.glob(".*.tmp"):
        try:
            if tmp.is_file() and now - tmp.stat().st_mtime > older_than:
                tmp.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def _remove(tmp: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EROFS:
        return "the file system is read-only"
    return exc.strerror or type(exc).__name__
