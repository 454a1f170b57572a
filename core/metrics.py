"""Cluster metrics: internal (on the latent space) and external (against label columns).

Every metric comes back as a :class:`MetricValue`: a float, or ``None`` with the
reason it is undefined (one cluster, everything noise, one class...). Nothing
here raises on a degenerate clustering and nothing returns a silent NaN.

How noise (label ``-1``, from DBSCAN/HDBSCAN) enters each metric — one rule, used everywhere:

* **Internal metrics** (silhouette, Calinski–Harabasz, Davies–Bouldin) are
  computed on the **non-noise points only**: noise is not a cluster, and has no
  centre or cohesion. They are undefined when fewer than 2 clusters remain, and
  silhouette also when every remaining point is its own cluster.
* **External metrics** (ARI, NMI, homogeneity, completeness, purity) are
  computed on the **points that were clustered** (noise left out), and
  :func:`report` puts ``coverage``, the share of points clustered, beside them.
  Neither number alone can be trusted: a method raises purity and NMI by sending
  its mixed points to noise. (An earlier rule counted noise as one extra cluster
  and claimed this made such gaming impossible; it does not: a noise "cluster"
  holding the mixed points of every class costs little, and moving them there
  still raises purity and NMI.) Read the metrics with their coverage, and compare
  methods at similar coverage.
  Tracks whose label is unknown (``""`` or missing) are left out of that label's
  metrics only. With a single cluster they are undefined (completeness would read 1.0 and
  purity the largest class's share, numbers that look like findings).

Silhouette is O(n²): up to :data:`SILHOUETTE_FULL_MAX` points it is exact;
above that (or when ``sample_size`` is given and smaller than n) it is the mean
silhouette of the clustered points of one seeded sample: ``sample_size`` rows
(default :data:`SILHOUETTE_FULL_MAX`) drawn uniformly without replacement from
**all** n points with ``random_state`` (:func:`silhouette_rows`), noise then left
out. The sample does not depend on the clustering, so an eps slider compares its
moves on the same points, and a :class:`core.clustering.NeighbourIndex` keeps
that sample's distance matrix (one matrix product per move).

Speed at a million points: Calinski–Harabasz and Davies–Bouldin are computed here from per-cluster sums
(one pass over the points, whatever the number of clusters; scikit-learn's loop over clusters took seconds
with the thousands of clusters DBSCAN finds there), and the external metrics from one cluster × class
count table (scikit-learn's functions each sort every label again). Both give scikit-learn's values (the
tests compare them). A label column given as a pandas categorical is read by its codes, so a page that keeps
its labels as categories (``ui.caches``) never hashes a million strings per move.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numba
import numpy as np
import pandas as pd
from scipy import sparse
from sklearn import metrics as skm
from sklearn.neighbors import NearestNeighbors

__all__ = [
    "MetricValue", "INTERNAL", "EXTERNAL", "SILHOUETTE_FULL_MAX",
    "internal", "silhouette_from_distances", "silhouette_rows", "external", "purity", "contingency",
    "normalise_contingency", "coverage", "report", "neighbour_agreement", "known_labels", "truth_codes",
    "distinct_codes",
]

#: Internal metric names, in table order.
INTERNAL = ("silhouette", "calinski_harabasz", "davies_bouldin")
#: External metric names, in table order (each becomes ``<name>_<label column>`` in reports).
EXTERNAL = ("ari", "nmi", "purity", "homogeneity", "completeness")
#: Exact silhouette up to this many (non-noise) points; a random sample of this size above.
SILHOUETTE_FULL_MAX = 10_000

NOISE_NAME = "noise"
#: The row of :func:`contingency` that sums the clusters beyond its ``max_rows``.
OTHER_NAME = "other"


@dataclass(frozen=True)
class MetricValue:
    """A metric: ``value`` when defined, else ``value=None`` and the ``reason``."""

    value: float | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None

    def __float__(self) -> float:
        return float("nan") if self.value is None else float(self.value)

    def __str__(self) -> str:
        return f"{self.value:.4f}" if self.ok else f"n/a ({self.reason})"


def _undefined(reason: str, names: Iterable[str]) -> dict[str, MetricValue]:
    return {n: MetricValue(None, reason) for n in names}


def _labels(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D (n,), got shape {labels.shape}")
    return labels.astype(np.int64, copy=False)


def distinct_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(distinct values ascending, code of each value)`` of non-negative integers, as ``np.unique(values,
    return_inverse=True)`` gives them; by counting when the values are small (cluster ids), without a sort."""
    if len(values) and values.max() <= 4 * len(values) + 1024:
        present = np.bincount(values) > 0
        ids = np.flatnonzero(present)
        lut = np.cumsum(present) - 1
        return ids, lut[values]
    return np.unique(values, return_inverse=True)


def _calinski_harabasz(X: np.ndarray, codes: np.ndarray, k: int) -> float:
    """scikit-learn's ``calinski_harabasz_score`` from per-cluster sums: clusters ``codes`` in 0..k-1."""
    n = len(X)
    counts = np.bincount(codes, minlength=k).astype(np.float64)
    centres = np.column_stack([np.bincount(codes, weights=X[:, j], minlength=k) for j in range(X.shape[1])])
    centres /= counts[:, None]
    mean = X.mean(axis=0)
    extra = float((counts * ((centres - mean) ** 2).sum(axis=1)).sum())
    intra = float(((X - centres[codes]) ** 2).sum())
    return 1.0 if intra == 0.0 else extra * (n - k) / (intra * (k - 1.0))


def _davies_bouldin(X: np.ndarray, codes: np.ndarray, k: int) -> float:
    """scikit-learn's ``davies_bouldin_score`` from per-cluster sums: clusters ``codes`` in 0..k-1. The k x k
    centre distances are computed in one compiled pass (:func:`_worst_ratios`), never held: 5,000 clusters
    would need 200 MB for them."""
    counts = np.bincount(codes, minlength=k).astype(np.float64)
    centres = np.column_stack([np.bincount(codes, weights=X[:, j], minlength=k) for j in range(X.shape[1])])
    centres /= counts[:, None]
    spread = np.bincount(codes, weights=np.linalg.norm(X - centres[codes], axis=1), minlength=k) / counts
    if np.allclose(spread, 0):
        return 0.0
    worst, apart = _worst_ratios(np.ascontiguousarray(centres), spread)
    if apart <= 1e-8:  # every centre in one place (scikit-learn's allclose(centre distances, 0))
        return 0.0
    return float(worst.mean())


@numba.njit(cache=True)
def _worst_ratios(centres, spread):  # pragma: no cover (compiled)
    """For each cluster i, max over the others j of (spread_i + spread_j) / |centre_i - centre_j| (centres in
    one place are skipped, as scikit-learn's infinite distance makes them), and the largest centre distance."""
    k, d = centres.shape
    worst = np.zeros(k)
    apart = 0.0
    for i in range(k):
        best = 0.0
        for j in range(k):
            if i == j:
                continue
            total = 0.0
            for t in range(d):
                diff = centres[i, t] - centres[j, t]
                total += diff * diff
            dist = np.sqrt(total)
            if dist > apart:
                apart = dist
            if dist > 0.0:
                ratio = (spread[i] + spread[j]) / dist
                if ratio > best:
                    best = ratio
        worst[i] = best
    return worst, apart


# --------------------------------------------------------------------------- internal
def internal(
    Z: np.ndarray,
    labels: np.ndarray,
    *,
    sample_size: int | None = None,
    random_state: int = 0,
    index=None,
) -> dict[str, MetricValue]:
    """Silhouette, Calinski–Harabasz and Davies–Bouldin of ``labels`` on ``Z``, noise left out.

    Z : np.ndarray, shape=(n, d)
    labels : np.ndarray, shape=(n,), ``-1`` = noise.
    sample_size : silhouette on a random sample of this many points (None: exact up to
        SILHOUETTE_FULL_MAX points, sampled above).
    index : a :class:`core.clustering.NeighbourIndex` of ``Z``; when it holds the dense
        distance matrix (n <= DENSE_MAX) the exact silhouette is computed from it (same value,
        a few ms instead of ~100 ms at 2,617 points: the dashboard's eps slider).

    Returns ``{"silhouette", "calinski_harabasz", "davies_bouldin"} -> MetricValue``.
    """
    Z = np.asarray(Z, dtype=np.float64)
    labels = _labels(labels)
    if len(Z) != len(labels):
        raise ValueError(f"{len(Z)} latent rows but {len(labels)} labels")
    keep = labels >= 0
    if not keep.any():
        return _undefined("every point is noise", INTERNAL)
    Zk, lk = Z[keep], labels[keep]
    _, codes = distinct_codes(lk)
    n_clusters = int(codes.max()) + 1
    if n_clusters < 2:
        return _undefined("only one cluster (besides noise)", INTERNAL)
    if not np.isfinite(Zk).all():
        return _undefined("latent vectors contain non-finite values", INTERNAL)
    if n_clusters >= len(lk):
        return _undefined("every point is its own cluster", INTERNAL)
    out: dict[str, MetricValue] = {}
    n_sample = sample_size if sample_size is not None else (
        SILHOUETTE_FULL_MAX if len(Z) > SILHOUETTE_FULL_MAX else None)
    if n_sample is not None and n_sample >= len(Z):
        n_sample = None
    if n_sample is not None:
        rows = silhouette_rows(len(Z), int(n_sample), random_state=random_state)
        in_sample = labels[rows]
        if not 2 <= len(np.unique(in_sample[in_sample >= 0])) < int((in_sample >= 0).sum()):
            out["silhouette"] = MetricValue(None, f"the {n_sample}-point sample has too few clusters, "
                                                  "or one point per cluster")
        else:
            shared = index is not None and len(index) == len(Z)
            D = index.distances_among(rows) if shared else skm.pairwise_distances(Z[rows])
            out["silhouette"] = MetricValue(silhouette_from_distances(D, in_sample))
    else:
        D = index.distance_matrix() if index is not None and len(index) == len(Z) else None
        if D is not None:
            out["silhouette"] = MetricValue(silhouette_from_distances(D, labels))
        else:
            out["silhouette"] = MetricValue(float(skm.silhouette_score(Zk, lk)))
    spread = np.ptp(Zk, axis=0).max() if len(Zk) else 0.0
    if spread == 0:
        out["calinski_harabasz"] = MetricValue(None, "all points are identical")
    else:
        out["calinski_harabasz"] = MetricValue(_calinski_harabasz(Zk, codes, n_clusters))
    out["davies_bouldin"] = MetricValue(_davies_bouldin(Zk, codes, n_clusters))
    return out


def silhouette_rows(n: int, size: int, *, random_state: int = 0) -> np.ndarray:
    """The rows of the sampled silhouette: ``size`` of ``n`` drawn without replacement, sorted.

    Drawn from all points (noise included) with ``random_state``, so every clustering of
    the same latents is scored on the same sample. Returns np.ndarray, shape=(size,), int64.
    """
    return np.sort(np.random.default_rng(random_state).choice(n, size=size, replace=False))


def silhouette_from_distances(D: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette of the non-noise points from a dense distance matrix.

    D : np.ndarray, shape=(n, n), pairwise distances of all points (noise included).
    labels : np.ndarray, shape=(n,), ``-1`` = noise (left out, as in :func:`internal`).

    Per-cluster distance sums come from one product ``onehot.T @ D`` with a sparse
    one-hot matrix (noise rows empty): n² operations whatever the number of clusters.
    A point alone in its cluster scores 0, as in sklearn. Needs at least 2 clusters.
    """
    labels = _labels(labels)
    keep = labels >= 0
    ids, inverse = np.unique(labels[keep], return_inverse=True)
    k = len(ids)
    onehot = sparse.csr_matrix((np.ones(len(inverse)), (inverse, np.flatnonzero(keep))), shape=(k, len(labels)))
    sums = np.asarray(onehot @ D)[:, keep].T  # (m, k): distances from each kept point to each cluster (D symmetric)
    counts = np.bincount(inverse, minlength=k).astype(np.float64)
    own = counts[inverse]
    a = sums[np.arange(len(inverse)), inverse] / np.maximum(own - 1, 1)
    mean_to = sums / counts
    mean_to[np.arange(len(inverse)), inverse] = np.inf
    b = mean_to.min(axis=1)
    s = (b - a) / np.maximum(a, b)
    s = np.where(own > 1, np.nan_to_num(s), 0.0)
    return float(s.mean())


# --------------------------------------------------------------------------- external
def known_labels(truth: Iterable) -> np.ndarray:
    """Mask of rows whose label is known (not "", not missing)."""
    t = pd.Series(list(truth), dtype=object)
    return (t.notna() & (t.astype(str).str.strip() != "")).to_numpy()


def contingency(labels: np.ndarray, truth: Iterable, *, normalize: str | None = None,
                max_rows: int | None = None) -> pd.DataFrame:
    """Cluster × class counts: rows are clusters (``"noise"`` last), columns the classes.

    labels : np.ndarray, shape=(n,), ``-1`` = noise.
    truth : sequence of n class labels; unknown ones (``""``/missing) are left out.
    normalize : None for counts; ``"cluster"`` so each row sums to 1 (the class mix of a
        cluster: its max is the cluster's purity); ``"class"`` so each column sums to 1
        (where a class went).
    max_rows : keep the ``max_rows`` largest clusters (most counted points; ties: lower id) and sum
        the others into one row ``"other"`` before noise (None: every cluster). DBSCAN at a
        million points finds thousands of clusters: a table of each is neither readable nor
        drawable.
    """
    labels = _labels(labels)
    codes, uniques = truth_codes(truth)
    if len(codes) != len(labels):
        raise ValueError(f"{len(labels)} labels but {len(codes)} truth values")
    # counted on integer codes (a pandas crosstab of a million strings took 0.6 s); classes are named as text
    names = np.array([str(u) for u in uniques], dtype=object)
    keep = codes >= 0
    keep[keep] = np.array([name.strip() != "" for name in names], dtype=bool)[codes[keep]]
    class_names, class_of = np.unique(names, return_inverse=True) if len(names) else (names, np.zeros(0, np.int64))
    tc = np.asarray(class_of, dtype=np.int64).reshape(-1)[codes[keep]]
    cluster_ids, lc = distinct_codes(labels[keep] + 1)  # noise (-1) counts as 0 here
    counts = np.bincount(lc * len(class_names) + tc, minlength=len(cluster_ids) * len(class_names)).reshape(
        len(cluster_ids), len(class_names))
    seen = counts.sum(axis=0) > 0
    table = pd.DataFrame(counts[:, seen], index=pd.Index(cluster_ids - 1, name="cluster"),
                         columns=pd.Index(class_names[seen].tolist(), name="class"))
    clusters = [int(r) for r in table.index if r >= 0]
    rows = [table.loc[clusters]] if clusters else []
    if max_rows is not None and len(clusters) > max_rows:
        size = rows[0].sum(axis=1)
        largest = sorted(size.sort_values(ascending=False, kind="stable").index[:max_rows].tolist())
        kept = set(largest)
        other = table.loc[[c for c in clusters if c not in kept]].sum().rename(OTHER_NAME)
        rows = [table.loc[largest], other.to_frame().T]
    if -1 in table.index:
        rows.append(table.loc[[-1]].rename(index={-1: NOISE_NAME}))
    table = pd.concat(rows) if rows else table.iloc[:0]
    table.index = pd.Index([i if isinstance(i, str) else int(i) for i in table.index], dtype=object, name="cluster")
    return table if normalize is None else normalise_contingency(table, normalize)


def normalise_contingency(table: pd.DataFrame, normalize: str) -> pd.DataFrame:
    """A :func:`contingency` table of counts as shares of each row (``"cluster"``) or column (``"class"``)."""
    if normalize == "cluster":
        return table.div(table.sum(axis=1).replace(0, np.nan), axis=0).fillna(0.0)
    if normalize == "class":
        return table.div(table.sum(axis=0).replace(0, np.nan), axis=1).fillna(0.0)
    raise ValueError(f"normalize must be None, 'cluster' or 'class', got {normalize!r}")


def purity(labels: np.ndarray, truth: Iterable) -> MetricValue:
    """Share of the clustered points whose cluster's majority class is their own class (noise left out)."""
    table = contingency(labels, truth).drop(index=NOISE_NAME, errors="ignore")
    total = int(table.to_numpy().sum())
    if total == 0:
        return MetricValue(None, "no clustered point has a known label")
    return MetricValue(float(table.max(axis=1).sum() / total))


def external(labels: np.ndarray, truth: Iterable) -> dict[str, MetricValue]:
    """ARI, NMI, purity, homogeneity and completeness of ``labels`` against one label column.

    Computed on the clustered points: noise (-1) and tracks with an unknown label are
    left out (report :func:`coverage` beside them).
    Returns ``{name: MetricValue}`` for the names in :data:`EXTERNAL`.
    """
    labels = _labels(labels)
    codes, uniques = truth_codes(truth)
    if len(codes) != len(labels):
        raise ValueError(f"{len(labels)} labels but {len(codes)} truth values")
    blank = np.array([str(u).strip() == "" for u in uniques], dtype=bool)
    known = codes >= 0
    known[known] = ~blank[codes[known]]
    if known.sum() < 2:
        return _undefined("fewer than 2 points have a known label", EXTERNAL)
    if (labels[known] < 0).all():
        return _undefined("every point is noise", EXTERNAL)
    keep = known & (labels >= 0)
    lk = labels[keep]
    if len(lk) < 2:
        return _undefined("fewer than 2 clustered points have a known label", EXTERNAL)
    classes, tc = distinct_codes(codes[keep])
    if len(classes) < 2:
        return _undefined(f"only one class ({str(uniques[classes[0]])!r}) among the clustered labelled points",
                          EXTERNAL)
    clusters, lc = distinct_codes(lk)
    if len(clusters) < 2:
        # One cluster says nothing about the labels, yet completeness reads 1 and purity the largest class's
        # share: numbers that look like findings.
        return _undefined("only one cluster (besides noise): it cannot separate any labels", EXTERNAL)
    table = np.bincount(lc * len(classes) + tc, minlength=len(clusters) * len(classes)).reshape(
        len(clusters), len(classes))
    return {name: MetricValue(value) for name, value in _from_counts(table).items()}


def truth_codes(truth) -> tuple[np.ndarray, np.ndarray]:
    """``(codes (n,), the distinct values)`` of a label column, -1 where missing: a pandas categorical (a
    Series of category dtype or a Categorical) by its own codes, anything else by hashing (pd.factorize;
    sklearn's metrics sort their inputs, and sorting 100,000 strings costs ~50 ms each time)."""
    if isinstance(truth, pd.Series) and isinstance(truth.dtype, pd.CategoricalDtype):
        truth = truth.array
    if isinstance(truth, pd.Categorical):
        return np.asarray(truth.codes, dtype=np.int64), np.asarray(truth.categories, dtype=object)
    codes, uniques = pd.factorize(pd.Series(truth, dtype=object))  # missing -> -1
    return codes.astype(np.int64, copy=False), np.asarray(uniques, dtype=object)


def _entropy_of(counts: np.ndarray) -> float:
    """Plug-in entropy (nats) of a distribution given by counts (logs of counts, as scikit-learn takes them,
    so a perfect match reads exactly 1)."""
    counts = counts[counts > 0]
    total = counts.sum()
    return float(-((counts / total) * (np.log(counts) - np.log(total))).sum())


def _from_counts(table: np.ndarray) -> dict[str, float]:
    """ARI, NMI (arithmetic mean of the entropies), purity, homogeneity and completeness from a cluster x class
    count table with at least 2 clusters and 2 classes: scikit-learn's definitions, from the counts alone."""
    table = np.asarray(table, dtype=np.float64)
    n = table.sum()
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    # adjusted Rand index: pairs together in both, against what independent partitions would give
    def pairs(x: np.ndarray) -> float:
        return float((x * (x - 1)).sum() / 2)

    both, in_rows, in_cols, total = pairs(table), pairs(rows), pairs(cols), n * (n - 1) / 2
    expected = in_rows * in_cols / total if total else 0.0
    top = (in_rows + in_cols) / 2
    ari = 1.0 if top == expected else (both - expected) / (top - expected)
    # mutual information and entropies, in nats
    i, j = np.nonzero(table)
    nij = table[i, j]
    share = nij / n
    terms = share * (np.log(nij) - np.log(n)) + share * (2 * np.log(n) - np.log(rows[i] * cols[j]))
    terms[np.abs(terms) < np.finfo(np.float64).eps] = 0.0
    mi = float(max(terms.sum(), 0.0))
    h_class, h_cluster = _entropy_of(cols), _entropy_of(rows)
    nmi = 0.0 if mi == 0 else mi / ((h_class + h_cluster) / 2)
    return {"ari": float(ari), "nmi": float(nmi), "purity": float(table.max(axis=1).sum() / n),
            "homogeneity": mi / h_class if h_class else 1.0, "completeness": mi / h_cluster if h_cluster else 1.0}


def coverage(labels: np.ndarray) -> float:
    """Share of points that were clustered (not noise): the external metrics are computed on those."""
    labels = _labels(labels)
    return float((labels >= 0).mean()) if len(labels) else 0.0


def neighbour_agreement(Z: np.ndarray, truth: Iterable, *, k: int = 5) -> MetricValue:
    """Leave-one-out k-NN agreement: the mean share of each track's ``k`` nearest other tracks
    (Euclidean, in ``Z``) that share its label. Tracks with an unknown label are left out, as
    neighbours too. A neighbour measure: the map and "tracks like this one" rest on neighbours,
    and it needs no clustering. Chance is the sum of squared class shares.

    Ties at the k-th distance count by their expected share, as if broken at random: every track
    without lyrics has the same lyrics block, and breaking such ties by row order would hand each of
    them neighbours of its own class in a corpus listed by class. The result does not depend on the
    order of the rows.
    """
    known = known_labels(truth)
    y = np.asarray(list(truth), dtype=object)[known]
    if len(np.unique(y)) < 2:
        return MetricValue(None, "fewer than 2 label classes")
    if len(y) <= k:
        return MetricValue(None, f"needs more than k = {k} labelled tracks")
    X = np.asarray(Z, dtype=np.float64)[known]
    search = NearestNeighbors().fit(X)
    q = min(len(y), k + 1)
    while True:
        dist, idx = search.kneighbors(X, n_neighbors=q)
        kth = np.array([d[i != row][k - 1] for row, (d, i) in enumerate(zip(dist, idx))])
        tol = 1e-9 * np.maximum(1.0, kth)
        # a tie may reach past the q found: look further until the farthest found is beyond the k-th
        if q == len(y) or np.all(dist[:, -1] > kth + tol):
            break
        q = min(len(y), 2 * q)
    shares = np.empty(len(y))
    for row in range(len(y)):
        others = idx[row] != row
        d, same = dist[row][others], y[idx[row][others]] == y[row]
        inside, tied = d < kth[row] - tol[row], np.abs(d - kth[row]) <= tol[row]
        shares[row] = (same[inside].sum() + (k - inside.sum()) * same[tied].mean()) / k
    return MetricValue(float(shares.mean()))


# --------------------------------------------------------------------------- report
def report(
    Z: np.ndarray,
    labels: np.ndarray,
    truth: pd.DataFrame | None = None,
    *,
    label_columns: Iterable[str] | None = None,
    sample_size: int | None = None,
    random_state: int = 0,
    index=None,
) -> dict[str, object]:
    """One flat row for a results table.

    Z : np.ndarray, shape=(n, d); labels : np.ndarray, shape=(n,).
    truth : DataFrame with n rows holding the label columns (e.g. ``corpus.tracks``).
    label_columns : which columns of ``truth`` to score against (default: all of them).
    index : a ``core.clustering.NeighbourIndex`` of ``Z``, whose distances the silhouette reuses.

    Keys: ``silhouette, calinski_harabasz, davies_bouldin, n_clusters, coverage`` (share of
    points clustered), then ``ari_<L>, nmi_<L>, purity_<L>, homogeneity_<L>, completeness_<L>``
    per label column L (on the clustered points), and ``notes``: the reason of every
    undefined metric (those are ``None``).
    """
    labels = _labels(labels)
    row: dict[str, object] = {}
    notes: list[str] = []

    def put(key: str, mv: MetricValue) -> None:
        row[key] = mv.value
        if not mv.ok:
            notes.append(f"{key}: {mv.reason}")

    for key, mv in internal(Z, labels, sample_size=sample_size, random_state=random_state, index=index).items():
        put(key, mv)
    row["n_clusters"] = len(distinct_codes(labels[labels >= 0])[0])  # counted, not sorted (a million labels)
    row["coverage"] = coverage(labels)
    if truth is not None:
        if len(truth) != len(labels):
            raise ValueError(f"{len(labels)} labels but the truth table has {len(truth)} rows")
        cols = list(truth.columns) if label_columns is None else list(label_columns)
        for col in cols:
            for key, mv in external(labels, truth[col]).items():
                put(f"{key}_{col}", mv)
    row["notes"] = "; ".join(_dedupe(notes))
    return row


def _dedupe(notes: list[str]) -> list[str]:
    """Group notes that share a reason: 'a, b: reason'."""
    by_reason: dict[str, list[str]] = {}
    for note in notes:
        key, reason = note.split(": ", 1)
        by_reason.setdefault(reason, []).append(key)
    return [f"{', '.join(keys)}: {reason}" for reason, keys in by_reason.items()]
