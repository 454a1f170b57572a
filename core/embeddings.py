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
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from core import config
from core.errors import BadInputError
from core.io import atomic_write

__all__ = ["Embeddings", "SUFFIXES", "load_embeddings", "align", "vector_table", "write_table", "table_bytes",
           "folder", "list_files", "save_upload"]

#: File types :func:`load_embeddings` reads.
SUFFIXES = (".csv", ".parquet", ".npy", ".npz")
#: Fewest tracks an embeddings file must share with the corpus to be explored.
MIN_MATCHED = 5
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
    try:
        if suffix == ".csv":
            ids, vectors = _from_frame(pd.read_csv(path, dtype={c: str for c in _ID_COLUMNS}), path)
        elif suffix == ".parquet":
            ids, vectors = _from_frame(pd.read_parquet(path), path)
        elif suffix == ".npz":
            ids, vectors = _from_npz(path)
        else:
            vectors = np.load(path, allow_pickle=False)
            ids = _read_ids(Path(ids_path) if ids_path else _ids_beside(path), path)
    except BadInputError:
        raise
    except Exception as exc:  # a parser's own error (bad CSV quoting, not Parquet...): name the file
        raise BadInputError(path, f"cannot be read as {suffix[1:].upper()} ({type(exc).__name__}: {exc})") from None
    return _checked(ids, vectors, path, dim=dim)


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


def save_upload(name: str, data: bytes, *, ids: bytes | None = None) -> Path:
    """Keep an uploaded embeddings file (and an NPY's ids) in :func:`folder`, checked before it is kept.

    name : the uploaded file's name (made safe: letters, digits, ``_ . -``).
    ids : the ids file of an NPY (one id per line, or a CSV with ``track_id``), saved as ``<stem>.ids.txt``.
    Returns the saved path; raises :class:`BadInputError` (nothing kept) when the file cannot be used.
    """
    safe = _SAFE.sub("_", Path(name).name).lstrip(".") or "embeddings.csv"
    path = folder() / safe
    if path.suffix.lower() not in SUFFIXES:
        raise BadInputError(name, f"unknown embeddings file type {path.suffix or '(none)'!r}; use one of {list(SUFFIXES)}")
    written = [atomic_write(path, data)]
    try:
        if ids is not None:
            text = ids.decode("utf-8", errors="replace")
            if "," in (text.splitlines() or [""])[0]:  # a CSV: take its id column
                table = pd.read_csv(io.StringIO(text), dtype=str)
                column = next((c for c in table.columns if str(c).lower() in _ID_COLUMNS), table.columns[0])
                text = "\n".join(table[column].astype(str)) + "\n"
            written.append(atomic_write(path.with_suffix(".ids.txt"), text))
        load_embeddings(path)
    except BadInputError as exc:
        for p in written:
            p.unlink(missing_ok=True)
        raise BadInputError(name, exc.problem) from None
    return path


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


def _from_npz(path: Path) -> tuple[list[str], np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
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


def _read_ids(ids_path: Path, path: Path) -> list[str]:
    if not ids_path.is_file():
        raise BadInputError(ids_path, f"no such ids file (for {path.name})")
    if ids_path.suffix.lower() == ".csv":
        table = pd.read_csv(ids_path, dtype=str)
        column = next((c for c in table.columns if str(c).lower() in _ID_COLUMNS), table.columns[0])
        return table[column].astype(str).tolist()
    return [line.strip() for line in ids_path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _checked(ids: list[str], vectors, path: Path, *, dim: int | None) -> Embeddings:
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


def _few(items: Sequence[str], n: int = 3) -> str:
    items = list(items)
    shown = ", ".join(repr(str(i)) for i in items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")
