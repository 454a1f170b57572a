"""Whole-clip log-mels of a corpus in ONE memory-mapped file: what the spectrogram VAEs train on.

A corpus' clips (:func:`core.features.mel.clip_log_mel`, dB re. full-scale power) are computed
into the feature cache one file at a time (``extract(kind="mel_clip")``), then streamed into a
single ``.npy`` file under the cache root::

    melstore/<key>.npy          (total frames, n_mels) float16, the clips one after another
    melstore/<key>-index.npy    (n, 2) int64: first frame and length of each clip

``key`` hashes the clips' content hashes and the mel parameters, so the same audio gives the
same store and file. :class:`MelClips` opens it with ``np.load(mmap_mode="r")`` (``frames``: the
shape and dtype, nothing read) and reads every block it needs with ``os.pread`` on a descriptor
opened with it (:class:`StoreFile`): training reads only the crops it draws (frames-major layout:
a crop is one contiguous block of ``crop × n_mels`` values), and peak memory does not grow with the
corpus. Not through the map: pages read through a map stay in the process's resident set until the
kernel needs them, so a long training run's RSS would grow to the size of the store (measured:
+420 MB at 10,000 clips); pread copies into a small buffer and leaves the pages to the page cache.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from core.cache import FeatureCache, params_hash
from core.features.extract import extract
from core.features.mel import CLIP_PARAMS, MelParams
from core.io import atomic_write

#: On-disk dtype of the frames (0.06 dB resolution at -100 dB; halves the file).
STORE_DTYPE = np.float16


def centre_start(length: int, crop: int) -> int:
    """First frame of the centre ``crop`` frames of a clip of ``length`` frames (0 when shorter)."""
    return max(int(length) - int(crop), 0) // 2


def crop_starts(length: int, crop: int, hop: int) -> np.ndarray:
    """First frames of the crops every ``hop`` frames over a whole clip, the last flush with its end."""
    if length <= crop:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, length - crop + 1, hop, dtype=np.int64)
    if starts[-1] != length - crop:
        starts = np.append(starts, length - crop)
    return starts


class StoreFile:
    """The frames of a store file read with ``os.pread`` on a descriptor opened once.

    The descriptor keeps the file that was opened, as a map does (a store rewritten under the same
    name is not mixed in); pickling carries the path and offset, and the receiver opens its own."""

    def __init__(self, path: str | Path, offset: int, n_mels: int, dtype):
        self.path, self.offset, self.n_mels, self.dtype = str(path), int(offset), int(n_mels), np.dtype(dtype)
        self._fd: int | None = os.open(self.path, os.O_RDONLY)

    def read(self, start: int, count: int) -> np.ndarray:
        """(count, n_mels) rows ``start``, ``start + 1``... of the frames (a new array)."""
        out = np.empty((max(int(count), 0), self.n_mels), self.dtype)
        view, pos = memoryview(out).cast("B"), self.offset + int(start) * self.n_mels * self.dtype.itemsize
        while len(view):
            got = os.preadv(self._fd, [view], pos)
            if got <= 0:
                raise OSError(f"{self.path}: the mel store ends before frame {start + count} (truncated file)")
            view, pos = view[got:], pos + got
        return out

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_fd"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._fd = os.open(self.path, os.O_RDONLY)

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)
            self._fd = None


class MelClips:
    """Read-only, row-aligned access to whole-clip log-mels in a memory-mapped store.

    Attributes
    ----------
    frames : np.memmap (total_frames, n_mels) float16, dB (shared by every subset); its shape and
        dtype; the blocks are read through ``file`` (module docstring). An in-memory array works too.
    index : (n, 2) int64, first frame and length of each row's clip
    params : the ``MelParams.to_dict()`` of the clips
    store_key : content key of the store file (same audio and parameters -> same key)
    file : :class:`StoreFile` of ``frames`` (None for an in-memory array), shared by every subset
    """

    def __init__(self, frames: np.ndarray, index: np.ndarray, *, params: dict, key: str,
                 file: StoreFile | None = None):
        self.frames, self.index, self.params, self.store_key = frames, np.asarray(index, np.int64), params, key
        if file is None and isinstance(frames, np.memmap) and frames.filename is not None:
            file = StoreFile(frames.filename, frames.offset, frames.shape[1], frames.dtype)
        self.file = file

    def with_index(self, index: np.ndarray) -> "MelClips":
        """The same store with rows ``index`` ((m, 2) first frame and length; nothing copied or reopened)."""
        return MelClips(self.frames, index, params=self.params, key=self.store_key, file=self.file)

    def _block(self, start: int, count: int) -> np.ndarray:
        """(count, n_mels) frames from ``start``, in the store's dtype: the one place frames are read."""
        if self.file is None:
            return np.asarray(self.frames[start:start + count])
        return self.file.read(start, count)

    @property
    def key(self) -> str:
        """Content key of these rows: the store's key and which of its clips, in which order."""
        return hashlib.sha1(self.store_key.encode() + self.index.tobytes()).hexdigest()[:16]

    def __len__(self) -> int:
        return len(self.index)

    def __repr__(self) -> str:
        return f"MelClips({len(self)} clips, {int(self.lengths.sum())} frames, store {self.store_key})"

    @property
    def n_mels(self) -> int:
        return int(self.frames.shape[1])

    @property
    def lengths(self) -> np.ndarray:
        """(n,) frames of each clip."""
        return self.index[:, 1]

    @property
    def floor_db(self) -> float:
        return -float(self.params.get("top_db", CLIP_PARAMS.top_db))

    def subset(self, idx: Sequence[int] | np.ndarray) -> "MelClips":
        """The rows ``idx`` (the frames are not copied)."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return self.with_index(self.index[idx.astype(np.int64)])

    def clip(self, i: int) -> np.ndarray:
        """(n_mels, length) float32 dB of row ``i``'s whole clip."""
        a, n = self.index[i]
        return self._block(a, n).astype(np.float32).T

    def crops(self, rows: Iterable[int], starts: Iterable[int], crop: int) -> np.ndarray:
        """(B, n_mels, crop) float32 dB: ``crop`` frames of each row from its start; a clip shorter
        than ``crop`` is padded at the end with the dB floor."""
        rows, starts = np.asarray(list(rows), np.int64), np.asarray(list(starts), np.int64)
        out = np.full((len(rows), crop, self.n_mels), self.floor_db, dtype=np.float32)
        for b, (r, s) in enumerate(zip(rows, starts)):
            a, n = self.index[r]
            take = max(0, min(crop, int(n) - int(s)))
            if take:
                out[b, :take] = self._block(a + s, take)
        return out.transpose(0, 2, 1)

    def band_sums(self, *, chunk_frames: int = 65_536) -> tuple[np.ndarray, np.ndarray, int]:
        """Per-band sum and sum of squares ((n_mels,) float64 each, dB) over every frame, and the frame count.

        Sums, not means, so that the statistics of chunks of a collection (one Dask task each) add up to
        the whole collection's exactly."""
        total = np.zeros(self.n_mels)
        square = np.zeros(self.n_mels)
        count = 0
        for a, n in self.index:
            for s in range(0, int(n), chunk_frames):
                block = self._block(a + s, min(n, s + chunk_frames) - s).astype(np.float64)
                total += block.sum(0)
                square += (block ** 2).sum(0)
                count += len(block)
        return total, square, count

    def band_stats(self, *, chunk_frames: int = 65_536, min_std: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Per-band mean and std (each (n_mels,) float32) over every frame of these clips, read in chunks.

        The std is at least ``min_std`` dB, so that a band that never leaves the floor (e.g. above a
        low-pass) is not blown up into noise by the standardisation."""
        total, square, count = self.band_sums(chunk_frames=chunk_frames)
        mean = total / max(count, 1)
        std = np.sqrt(np.maximum(square / max(count, 1) - mean ** 2, 0.0))
        return mean.astype(np.float32), np.maximum(std, min_std).astype(np.float32)

    # ---------------------------------------------------------------- building
    @classmethod
    def open(cls, file: str | Path, *, params: dict, key: str) -> "MelClips":
        file = Path(file)
        frames = np.load(file, mmap_mode="r", allow_pickle=False)
        index = np.load(file.with_name(file.stem + "-index.npy"), allow_pickle=False)
        return cls(frames, index, params=params, key=key)

    @classmethod
    def write(cls, file: str | Path, clips: Iterable[np.ndarray], *, params: dict, key: str) -> "MelClips":
        """Stream ``clips`` (each (n_mels, length) dB) into ``file`` (atomically) and open it.

        ``clips`` is iterated twice (lengths first, then the frames), one clip in memory at a time.
        """
        file = Path(file)
        clips = list(clips) if not callable(getattr(clips, "__getitem__", None)) else clips
        lengths = np.asarray([c.shape[1] for c in _iter(clips)], dtype=np.int64)
        n_mels = int(next(iter(_iter(clips))).shape[0]) if len(lengths) else int(params.get("n_mels", 128))
        index = np.stack([np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths], 1) if len(lengths) \
            else np.zeros((0, 2), np.int64)

        def write_frames(fh) -> None:
            np.lib.format.write_array_header_2_0(
                fh, {"descr": np.dtype(STORE_DTYPE).str, "fortran_order": False,
                     "shape": (int(lengths.sum()), n_mels)})
            for c in _iter(clips):
                fh.write(np.ascontiguousarray(np.asarray(c).T, dtype=STORE_DTYPE).tobytes())

        atomic_write(file.with_name(file.stem + "-index.npy"), lambda fh: np.save(fh, index, allow_pickle=False))
        atomic_write(file, write_frames)
        return cls.open(file, params=params, key=key)


class _Lazy:
    """Clips read from the feature cache one at a time (a sequence that can be iterated twice)."""

    def __init__(self, cache: FeatureCache, paths: list[str], params: dict):
        self.cache, self.paths, self.params = cache, paths, params

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> np.ndarray:
        arr = self.cache.get(self.paths[i], "mel_clip", self.params)
        if arr is None:
            raise FileNotFoundError(f"{self.paths[i]}: its whole-clip mel left the cache while building the store")
        return arr


def _iter(clips) -> Iterable[np.ndarray]:
    return (clips[i] for i in range(len(clips)))


def build_store(corpus, *, params: MelParams | dict | None = None, progress=None,
                cache: FeatureCache | None = None) -> tuple[list[str], MelClips, list]:
    """The whole-clip log-mels of ``corpus`` in a memory-mapped store (built once, then reopened).

    Returns
    -------
    track_ids : the tracks whose clips could be used, in corpus order (rows of the store)
    clips : :class:`MelClips` over those rows
    skipped : :class:`~core.errors.Skipped` for the others
    """
    if isinstance(params, dict):
        params = MelParams.from_dict(params)
    params = params or CLIP_PARAMS
    cache = cache or FeatureCache()
    fs = extract(corpus, kind="mel_clip", params=params, progress=progress, cache=cache)
    path_of = dict(zip(corpus.track_ids, corpus.tracks["path"].tolist()))
    paths = [path_of[t] for t in fs.track_ids]
    pdict = params.to_dict()
    h = hashlib.sha1(params_hash(pdict).encode())
    for p in paths:
        h.update(cache.file_hash(p).encode())
    key = h.hexdigest()[:16]
    file = cache.root / "melstore" / f"{key}.npy"
    try:
        store = MelClips.open(file, params=pdict, key=key)
        if len(store) != len(paths):
            raise ValueError("stale store")
    except (OSError, ValueError):
        store = MelClips.write(file, _Lazy(cache, paths, pdict), params=pdict, key=key)
    return list(fs.track_ids), store, list(fs.skipped)
