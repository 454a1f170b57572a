"""An exact running median along one axis, compiled with numba: the slow step of HPSS, made fast."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _running_median_rows(x, k, out, top):  # pragma: no cover - compiled
    """Median over a window of ``k`` (odd) values along each row of ``x``, into ``out``.

    ``x`` and ``out`` are the float data viewed as integers of the same width, and
    ``top`` is the largest integer of that width. Each value is mapped to an integer
    key with the same order (negative floats get their magnitude bits flipped), so
    all comparisons are integer ones, which the compiler vectorises.

    Boundaries are mirrored like ``scipy.ndimage.median_filter(mode="reflect")``
    (``d c b a | a b c d | d c b a``), so the result is identical to it.

    The window is a ring buffer; the current median ``med`` is kept with the
    counts of window values below it (``lt``) and at or below it (``le``). When
    one value leaves and one enters, the counts are updated in O(1); only when
    the median's rank leaves ``[lt, le)`` does it move to the next larger (or
    smaller) value in the window, found by a branch-free scan (the buffer is
    padded to a multiple of 8 with ``top``, which no scan ever selects).
    """
    m, n = x.shape
    h = k // 2
    period = 2 * n
    kp = ((k + 7) // 8) * 8
    bottom = x.dtype.type(-top)
    src = np.empty(n + 2 * h, x.dtype)
    buf = np.full(kp, top, x.dtype)
    first = np.empty(k, x.dtype)
    for r in range(m):
        for j in range(n + 2 * h):
            i = j - h
            if i < 0 or i >= n:
                i = i % period
                if i >= n:
                    i = period - 1 - i
            b = x[r, i]
            src[j] = b ^ top if b < 0 else b
        for j in range(k):
            buf[j] = src[j]
            first[j] = src[j]
        first.sort()
        med = first[h]
        lt = 0
        le = 0
        for j in range(k):
            lt += buf[j] < med
            le += buf[j] <= med
        slot = 0
        for i in range(n):
            out[r, i] = med ^ top if med < 0 else med
            if i + 1 == n:
                break
            old = src[i]
            new = src[i + k]
            buf[slot] = new
            slot += 1
            if slot == k:
                slot = 0
            lt += (new < med) - (old < med)
            le += (new <= med) - (old <= med)
            if le <= h:  # the median is now the next larger value
                nxt = top
                for j in range(kp):
                    v = buf[j]
                    nxt = min(nxt, v if v > med else top)
                cnt = 0
                for j in range(kp):
                    cnt += buf[j] == nxt
                lt = le
                le = lt + cnt
                med = nxt
            elif lt > h:  # the median is now the next smaller value
                prv = bottom
                for j in range(kp):
                    v = buf[j]
                    prv = max(prv, v if v < med else bottom)
                cnt = 0
                for j in range(kp):
                    cnt += buf[j] == prv
                le = lt
                lt = le - cnt
                med = prv


def median_filter_1d(x: np.ndarray, *, size: int, axis: int = -1) -> np.ndarray:
    """Exact running median of ``x`` along ``axis`` with mirrored ("reflect") edges.

    Equal to ``scipy.ndimage.median_filter`` with a 1-D footprint of odd ``size``
    along ``axis`` and ``mode="reflect"``, and about 10x faster for ``size`` ~ 31.

    Parameters
    ----------
    x : np.ndarray [shape=(m, n), dtype=float32 or float64]
    size : int, odd
    axis : int, 0 or 1 (or -1, -2)

    Returns
    -------
    np.ndarray [shape=(m, n)], same dtype as ``x``
    """
    if size % 2 != 1:
        raise ValueError(f"median window size must be odd, got {size}")
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array, got shape {x.shape}")
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    if not np.isfinite(x).all():
        raise ValueError("median_filter_1d needs finite values")
    rows = np.ascontiguousarray(x if axis in (1, -1) else x.T)
    out = np.empty_like(rows)
    itype = np.int32 if rows.dtype == np.float32 else np.int64
    _running_median_rows(rows.view(itype), size, out.view(itype), itype(np.iinfo(itype).max))
    return out if axis in (1, -1) else np.ascontiguousarray(out.T)
