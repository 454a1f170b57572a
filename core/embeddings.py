"""Vectors from elsewhere, and the corpus's vectors out: embeddings files keyed by track id.

* :func:`load_embeddings` -- read a CSV, Parquet, NPY (+ an ids file) or NPZ of vectors keyed by
  track id (say, from another audio model) and check it: every message names the file and what
  is wrong (no id column, duplicate ids, non-numeric columns, rows of different lengths, NaN...).
* :func:`align` -- the rows of an :class:`Embeddings` in the order of a corpus's track ids; ids
  the corpus lacks and tracks the file lacks are counted, not fatal, unless too few tracks match.
* :func:`vector_table`, :func:`write_table`, :func:`table_bytes` -- latents, projections and
  cluster assignments of a corpus as one table, written atomically (``core.io.atomic_write``) or
  rendered to bytes, as CSV or Parquet.

Loaded vectors are explored, clustered and scored exactly like a model's latents: they go
through ``core.projections.project`` and ``core.scoring.cluster_and_score``.

Accepted layouts
----------------
CSV / Parquet : a ``track_id`` column (else ``id``, ``track``, or the first non-numeric column)
    and one numeric column per dimension; or one column ``embedding`` / ``vector`` holding a list
    per row (Parquet) or a "[0.1, 0.2, ...]" string (CSV).
NPY : an (n, d) array; its ids come from ``ids_path`` (one id per line, or a CSV with a
    ``track_id`` column), by default ``<name>.ids.txt`` / ``<name>_ids.txt`` / ``<name>.ids.csv``.
NPZ : arrays ``ids`` (or ``track_ids``) and ``vectors`` (or ``embeddings``, ``Z``, ``X``).

Memory is bounded before anything is decompressed: an NPY's header and an NPZ's entries (their
declared sizes and each array's header) and a Parquet file's row groups must hold at most
:data:`MAX_BYTES` of data, and complex numbers are refused (their imaginary part would be lost).
The dashboard's upload limit (``server.maxUploadSize`` in ``.streamlit/config.toml``) is the same
size, so an uploaded file is refused by its size before it is read.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from core import config
from core.errors import BadInputError
from core.io import atomic_write

__all__ = ["Embeddings", "SUFFIXES", "MAX_BYTES", "load_embeddings", "align", "vector_table", "write_table",
           "table_bytes", "folder", "list_files", "save_upload"]

#: File types :func:`load_embeddings` reads.
SUFFIXES = (".csv", ".parquet", ".npy", ".npz")
#: Fewest tracks an embeddings file must share with the corpus to be explored.
MIN_MATCHED = 5
#: Most bytes of numbers an embeddings file may hold once decompressed (1,000,000 tracks x 128 float32
#: dimensions is 488 MiB); the dashboard's upload limit is the same.
MAX_BYTES = 512 * 2**20
#: Longest file name an upload is kept under (longer names are cut, keeping the extension).
MAX_NAME = 100
_ID_COLUMNS = ("track_id", "id", "track", "trackid")
_LIST_COLUMNS = ("embedding", "vector", "embeddings", "vectors")


@dataclass
class Embeddings:
    """Vectors keyed by track id.

    ids : list of n unique track ids.
    vectors : np.ndarray (n, d) float32, finite.
    source : the file they came from (for messages).
    """

    ids: list[str]
    vectors: np.ndarray
    source: str = ""

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Alignment:
    """The outcome of :func:`align`: the rows that match the corpus and what did not."""

    ids: list[str]
    vectors: np.ndarray
    unknown: list[str] = field(default_factory=list)   # ids of the file that the corpus lacks
    missing: list[str] = field(default_factory=list)   # corpus tracks that the file lacks

    def note(self, name: str = "the file") -> str:
        """One sentence on what did not match ("" when everything did)."""
        parts = []
        if self.unknown:
            parts.append(f"{len(self.unknown)} ids of {name} are not in the corpus (e.g. {_few(self.unknown)})")
        if self.missing:
            parts.append(f"{len(self.missing)} corpus tracks have no vector in {name} (e.g. {_few(self.missing)})")
        return "; ".join(parts)


def load_embeddings(path: str | Path, *, ids_path: str | Path | None = None, dim: int | None = None) -> Embeddings:
    """Read and check the vectors in ``path`` (see the module docstring for the layouts).

    dim : the number of dimensions expected, if known; another number is an error.
    Raises :class:`BadInputError` naming ``path`` (or ``ids_path``) and the problem.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise BadInputError(path, f"unknown embeddings file type {suffix or '(none)'!r}; use one of {list(SUFFIXES)}")
    if not path.is_file():
        raise BadInputError(path, "no such file")
    ids_file = None
    if suffix == ".npy":
        ids_file = Path(ids_path) if ids_path else _ids_beside(path)
        if not ids_file.is_file():
            raise BadInputError(ids_file, f"no such ids file (for {path.name})")
    return _parse(path, suffix, ids_file, path, dim=dim)


def _parse(data: Path | bytes, suffix: str, ids: Path | bytes | None, name: str | Path, *,
           dim: int | None = None) -> Embeddings:
    """The checked vectors of ``data`` (a file, or the bytes of an upload) of type ``suffix``; messages name ``name``."""
    def stream(source):
        return io.BytesIO(source) if isinstance(source, bytes) else source

    try:
        if suffix == ".csv":
            found, vectors = _from_frame(pd.read_csv(stream(data), dtype={c: str for c in _ID_COLUMNS}), name)
        elif suffix == ".parquet":
            _check_parquet(stream(data), name)
            found, vectors = _from_frame(pd.read_parquet(stream(data)), name)
        elif suffix == ".npz":
            found, vectors = _from_npz(stream(data), name)
        else:
            with _opened(stream(data)) as fh:
                _check_npy_header(fh, name)
                vectors = np.load(fh, allow_pickle=False)
            if ids is None:
                raise BadInputError(name, "an NPY file holds no track ids: add its ids file (one id per line, or a "
                                          "CSV with a track_id column), or save an NPZ with 'ids' and 'vectors'")
            found = _read_ids(stream(ids), ids if isinstance(ids, Path) else f"the ids file of {name}")
    except BadInputError:
        raise
    except Exception as exc:  # a parser's own error (bad CSV quoting, not Parquet...): name the file
        raise BadInputError(name, f"cannot be read as {suffix[1:].upper()} ({type(exc).__name__}: "
                                  f"{_first_line(exc)})") from None
    return _checked(found, vectors, name, dim=dim)


def align(embeddings: Embeddings, track_ids: Sequence[str], *, min_matched: int = MIN_MATCHED) -> Alignment:
    """The vectors of ``embeddings`` for the tracks of ``track_ids`` that have one, in that order.

    Raises :class:`BadInputError` naming the file when fewer than ``min_matched`` tracks match.
    """
    row = {t: i for i, t in enumerate(embeddings.ids)}
    wanted = [str(t) for t in track_ids]
    matched = [t for t in wanted if t in row]
    known = set(wanted)
    unknown = [t for t in embeddings.ids if t not in known]
    missing = [t for t in wanted if t not in row]
    if len(matched) < min_matched:
        raise BadInputError(embeddings.source or None,
                            f"only {len(matched)} of its {len(embeddings)} ids are tracks of the corpus "
                            f"(need {min_matched}); its ids look like {_few(embeddings.ids)}, the corpus's like "
                            f"{_few(wanted)}")
    vectors = embeddings.vectors[[row[t] for t in matched]]
    return Alignment(matched, vectors, unknown, missing)


def vector_table(track_ids: Sequence[str], *, vectors: np.ndarray | None = None, points: np.ndarray | None = None,
                 clusters: np.ndarray | None = None, labels: pd.DataFrame | None = None,
                 prefix: str = "z") -> pd.DataFrame:
    """One row per track: ``track_id``, the labels, ``cluster``, projection ``x, y[, z]`` and ``z0..z{d-1}``.

    vectors : (n, d) latents; points : (n, 2|3) projection; clusters : (n,) labels (-1 = noise);
    labels : DataFrame of n rows (e.g. genre, language), in the order of ``track_ids``.
    """
    n = len(track_ids)
    frame = pd.DataFrame({"track_id": [str(t) for t in track_ids]})
    for name, block in (("vectors", vectors), ("points", points), ("clusters", clusters), ("labels", labels)):
        if block is not None and len(block) != n:
            raise ValueError(f"{name} has {len(block)} rows for {n} track ids")
    if labels is not None:
        frame = pd.concat([frame, labels.reset_index(drop=True)], axis=1)
    if clusters is not None:
        frame["cluster"] = np.asarray(clusters, dtype=np.int64)
    if points is not None:
        points = np.asarray(points)
        for j, axis in enumerate("xyz"[: points.shape[1]]):
            frame[axis] = points[:, j]
    if vectors is not None:
        vectors = np.asarray(vectors)
        frame = pd.concat([frame, pd.DataFrame(vectors, columns=[f"{prefix}{j}" for j in range(vectors.shape[1])])],
                          axis=1)
    return frame


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` atomically: Parquet when ``path`` ends in ``.parquet``, else CSV."""
    path = Path(path)
    fmt = "parquet" if path.suffix.lower() == ".parquet" else "csv"
    return atomic_write(path, table_bytes(frame, fmt))


def table_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """``frame`` as ``"csv"`` (UTF-8) or ``"parquet"`` bytes, without the index."""
    if fmt == "csv":
        return frame.to_csv(index=False).encode("utf-8")
    if fmt == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return buffer.getvalue()
    raise ValueError(f"format must be 'csv' or 'parquet', got {fmt!r}")


def folder() -> Path:
    """Where the dashboard keeps embeddings files: ``<SONGSCAPE_DATA>/embeddings``."""
    return Path(config.DATA_DIR) / "embeddings"


def list_files() -> list[Path]:
    """The embeddings files in :func:`folder` (ids files beside NPYs left out), by name."""
    if not folder().is_dir():
        return []
    return sorted(p for p in folder().iterdir()
                  if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith("."))


_SAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def save_upload(name: str, data: bytes, *, ids: bytes | None = None,
                track_ids: Sequence[str] | None = None) -> tuple[Path, str]:
    """Keep an uploaded embeddings file (and an NPY's ids) in :func:`folder`, checked before anything is written.

    name : the uploaded file's name (made safe: letters, digits, ``_ . -``; at most :data:`MAX_NAME` characters).
    ids : the ids file of an NPY (one id per line, or a CSV with ``track_id``), saved as ``<stem>.ids.txt``.
    track_ids : the corpus's tracks; when given, a file sharing too few of them is refused too.
    Returns ``(saved path, note)``. The folder is shared by every session, so a file already there is never
    replaced: a different file of the same name is kept as ``<stem>-2`` (the note says so), the same file
    is kept once. Raises :class:`BadInputError` naming the upload (nothing written) when it cannot be used.
    """
    safe = _SAFE.sub("_", Path(name).name).lstrip(".") or "embeddings.csv"
    suffix = Path(safe).suffix.lower()
    if suffix not in SUFFIXES:
        raise BadInputError(name, f"unknown embeddings file type {Path(safe).suffix or '(none)'!r}; "
                                  f"use one of {list(SUFFIXES)}")
    stem = Path(safe).stem[:MAX_NAME - len(suffix)] or "embeddings"
    ids_text = None
    if suffix == ".npy" and ids is not None:
        ids_text = "\n".join(_read_ids(io.BytesIO(ids), f"the ids file of {name}")) + "\n"
    vectors = _parse(data, suffix, None if ids_text is None else ids_text.encode("utf-8"), name)
    if track_ids is not None:
        align(vectors, track_ids)  # raises, naming the upload, when too few ids are tracks of the corpus
    path, note = _free_name(stem, suffix, data, ids_text)
    if path.exists():
        return path, note  # the same file was added before
    if ids_text is not None:  # the ids first: an NPY listed without its ids would not load
        atomic_write(path.with_suffix(".ids.txt"), ids_text)
    return atomic_write(path, data), note


def _free_name(stem: str, suffix: str, data: bytes, ids_text: str | None) -> tuple[Path, str]:
    """The path an upload is kept under: its own name, or ``stem-N`` when another file has that name."""
    wanted = folder() / f"{stem}{suffix}"
    for n in range(1, 1000):
        path = wanted if n == 1 else folder() / f"{stem[:MAX_NAME - len(suffix) - 4]}-{n}{suffix}"
        if not path.exists() or _same(path, data, ids_text):
            note = "" if n == 1 else f"{wanted.name} already holds other vectors, so these are kept as {path.name}"
            return path, note
    raise BadInputError(wanted.name, "too many files of this name; delete some from " + str(folder()))


def _same(path: Path, data: bytes, ids_text: str | None) -> bool:
    try:
        if path.stat().st_size != len(data) or path.read_bytes() != data:
            return False
        ids_file = path.with_suffix(".ids.txt")
        return ids_text is None or (ids_file.is_file() and ids_file.read_text(encoding="utf-8") == ids_text)
    except OSError:
        return False


# --------------------------------------------------------------------------- readers
def _from_frame(frame: pd.DataFrame, path: Path) -> tuple[list[str], np.ndarray]:
    if frame.empty:
        raise BadInputError(path, "has no rows")
    lower = {str(c).lower(): c for c in frame.columns}
    id_col = next((lower[c] for c in _ID_COLUMNS if c in lower), None)
    if id_col is None:
        id_col = next((c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])
                       and str(c).lower() not in _LIST_COLUMNS), None)
    if id_col is None:
        raise BadInputError(path, f"has no track id column: name one of {list(_ID_COLUMNS)} "
                                  f"(columns: {_few([str(c) for c in frame.columns])})")
    ids = frame[id_col]
    if ids.isna().any():
        raise BadInputError(path, f"column {id_col!r} is empty in {int(ids.isna().sum())} rows "
                                  f"(rows {_few([str(i + 2) for i in np.flatnonzero(ids.isna())])} of the file)")
    rest = frame.drop(columns=[id_col])
    list_col = next((lower[c] for c in _LIST_COLUMNS if c in lower), None)
    if list_col is not None and rest.shape[1] == 1:
        return ids.astype(str).tolist(), _stack(rest[list_col].tolist(), path, list_col)
    bad = [str(c) for c in rest.columns if not pd.api.types.is_numeric_dtype(rest[c])]
    if bad:
        raise BadInputError(path, f"column(s) {_few(bad)} are not numbers; besides {id_col!r}, every column must be "
                                  "one dimension of the vectors (or use one 'embedding' column of lists)")
    if rest.shape[1] == 0:
        raise BadInputError(path, f"has the id column {id_col!r} but no vector columns")
    return ids.astype(str).tolist(), rest.to_numpy(dtype=np.float64)


def _stack(cells: list, path: Path, column: str) -> np.ndarray:
    rows = []
    for i, cell in enumerate(cells):
        if isinstance(cell, str):
            try:
                cell = json.loads(cell)
            except ValueError:
                raise BadInputError(path, f"row {i + 1} of column {column!r} is not a list of numbers: {cell[:40]!r}") from None
        try:
            rows.append(np.asarray(cell, dtype=np.float64).ravel())
        except (TypeError, ValueError):
            raise BadInputError(path, f"row {i + 1} of column {column!r} is not a list of numbers") from None
    lengths = sorted({len(r) for r in rows})
    if len(lengths) > 1:
        raise BadInputError(path, f"the vectors in column {column!r} have different lengths {lengths[:5]}; "
                                  "every track needs the same number of dimensions")
    return np.vstack(rows)


def _from_npz(source, path) -> tuple[list[str], np.ndarray]:
    _check_npz(source, path)
    with np.load(source, allow_pickle=False) as archive:
        names = list(archive.files)
        id_key = next((k for k in ("ids", "track_ids", "track_id") if k in names), None)
        vec_key = next((k for k in ("vectors", "embeddings", "Z", "X", "z") if k in names), None)
        if id_key is None or vec_key is None:
            raise BadInputError(path, f"an NPZ needs arrays 'ids' and 'vectors'; it has {names}")
        return [str(t) for t in archive[id_key].tolist()], archive[vec_key]


def _ids_beside(path: Path) -> Path:
    for candidate in (path.with_suffix(".ids.txt"), path.with_name(path.stem + "_ids.txt"),
                      path.with_suffix(".ids.csv"), path.with_name(path.stem + "_ids.csv")):
        if candidate.is_file():
            return candidate
    raise BadInputError(path, f"an NPY file holds no track ids: put them, one per line, in {path.stem}.ids.txt "
                              "beside it (or pass the ids file), or save an NPZ with 'ids' and 'vectors'")


def _read_ids(source, name) -> list[str]:
    """Track ids, one per line, or the id column of a CSV (a ``.csv`` file, or a first line with a comma or
    naming an id column)."""
    raw = source.read_bytes() if isinstance(source, Path) else source.read()
    if len(raw) > MAX_BYTES:
        raise BadInputError(name, f"is {len(raw) / 2**20:,.0f} MiB; an ids file may hold at most "
                                  f"{MAX_BYTES // 2**20} MiB")
    text = raw.decode("utf-8", errors="replace")
    lines = text.splitlines()
    first = lines[0].strip().lower() if lines else ""
    named_csv = isinstance(source, Path) and source.suffix.lower() == ".csv"
    if lines and (named_csv or "," in first or first in _ID_COLUMNS):
        try:
            table = pd.read_csv(io.StringIO(text), dtype=str)
        except Exception as exc:  # the CSV parser's own errors (quoting, ragged rows...)
            raise BadInputError(name, f"cannot be read as a CSV of track ids ({type(exc).__name__}: "
                                      f"{_first_line(exc)})") from None
        if table.columns.empty:
            raise BadInputError(name, "has no columns")
        column = next((c for c in table.columns if str(c).lower() in _ID_COLUMNS), table.columns[0])
        if table[column].isna().any():
            raise BadInputError(name, f"column {column!r} is empty in {int(table[column].isna().sum())} rows")
        return table[column].astype(str).tolist()
    return [line.strip() for line in lines if line.strip()]


def _checked(ids: list[str], vectors, path, *, dim: int | None) -> Embeddings:
    if np.iscomplexobj(vectors):
        raise BadInputError(path, "the vectors are complex numbers; save their real values (or real and "
                                  "imaginary parts as separate dimensions)")
    try:
        vectors = np.asarray(vectors, dtype=np.float64)
    except (TypeError, ValueError):
        raise BadInputError(path, "the vectors are not numbers") from None
    if vectors.ndim != 2:
        raise BadInputError(path, f"the vectors must be a 2-D array (tracks x dimensions), got shape {vectors.shape}")
    if vectors.shape[1] == 0:
        raise BadInputError(path, "the vectors have 0 dimensions")
    if len(ids) != len(vectors):
        raise BadInputError(path, f"{len(ids)} track ids for {len(vectors)} vectors: every row needs one id")
    if dim is not None and vectors.shape[1] != dim:
        raise BadInputError(path, f"the vectors have {vectors.shape[1]} dimensions, expected {dim}")
    duplicated = pd.Series(ids).duplicated()
    if duplicated.any():
        raise BadInputError(path, f"{int(duplicated.sum())} duplicate track ids, e.g. "
                                  f"{_few(pd.Series(ids)[duplicated].unique().tolist())}")
    bad_rows = ~np.isfinite(vectors).all(axis=1)
    if bad_rows.any():
        raise BadInputError(path, f"{int(bad_rows.sum())} vectors hold NaN or infinite values, e.g. tracks "
                                  f"{_few([ids[i] for i in np.flatnonzero(bad_rows)])}")
    return Embeddings(list(ids), vectors.astype(np.float32), str(path))


# --------------------------------------------------------------------------- memory bounds
@contextlib.contextmanager
def _opened(source):
    if isinstance(source, Path):
        with open(source, "rb") as fh:
            yield fh
    else:
        yield source


def _check_npy_header(fh, name, *, entry: str = "") -> None:
    """Refuse, from its header alone, an array of more than MAX_BYTES or of complex numbers; ``fh`` is rewound."""
    where = f"array {entry!r}: " if entry else ""
    start = fh.tell()
    try:
        version = np.lib.format.read_magic(fh)
        # the header only, no data; format 3.0 differs from 2.0 only in the header's text encoding
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(fh)
    except (ValueError, UnicodeDecodeError, SyntaxError, TypeError) as exc:
        raise BadInputError(name, f"{where}not a NumPy array file ({_first_line(exc)})") from None
    finally:
        fh.seek(start)
    if dtype.kind == "c":
        raise BadInputError(name, f"{where}the vectors are complex numbers ({dtype}); save their real values (or "
                                  "real and imaginary parts as separate dimensions)")
    size = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if size > MAX_BYTES:
        raise BadInputError(name, f"{where}an array of shape {tuple(shape)} ({dtype}) is {_mib(size)}; at most "
                                  f"{_mib(MAX_BYTES)} of vectors can be read")


def _check_npz(source, name) -> None:
    """Refuse an NPZ whose entries would decompress to more than MAX_BYTES, from the zip directory and headers."""
    position = source.tell() if hasattr(source, "tell") else None
    try:
        with zipfile.ZipFile(source) as archive:
            entries = [e for e in archive.infolist() if e.filename.endswith(".npy")]
            total = sum(e.file_size for e in entries)
            if total > MAX_BYTES:
                raise BadInputError(name, f"holds {_mib(total)} once decompressed; at most {_mib(MAX_BYTES)} "
                                          "of vectors can be read")
            for e in entries:
                with archive.open(e) as member:
                    _check_npy_header(io.BytesIO(member.read(64 * 1024)), name, entry=e.filename[:-4])
    except zipfile.BadZipFile as exc:
        raise BadInputError(name, f"is not an NPZ (zip) archive ({_first_line(exc)})") from None
    finally:
        if position is not None:
            source.seek(position)


def _check_parquet(source, name) -> None:
    import pyarrow.parquet as pq  # pandas' Parquet engine, already a dependency

    position = source.tell() if hasattr(source, "tell") else None
    try:
        meta = pq.ParquetFile(source).metadata
    except Exception as exc:  # pyarrow's own error types
        raise BadInputError(name, f"cannot be read as PARQUET ({type(exc).__name__}: {_first_line(exc)})") from None
    finally:
        if position is not None:
            source.seek(position)
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if size > MAX_BYTES:
        raise BadInputError(name, f"holds {_mib(size)} once decompressed; at most {_mib(MAX_BYTES)} can be read")


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB" if n >= 2**20 else f"{n:,} bytes"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def _few(items: Sequence[str], n: int = 3) -> str:
    items = list(items)
    shown = ", ".join(repr(str(i)) for i in items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")
