"""Which latent dimension knows what: mutual information between each dimension and each label column.

Labels enter only this scoring, never training. For latents ``Z`` (n, d) and a label column y:

* ``I(z_j; y) / H(y)`` for every dimension j: the share of the label's entropy that dimension j
  alone carries (0: nothing, 1: the label can be read off z_j). ``I`` is estimated by
  scikit-learn's k-nearest-neighbour estimator for a continuous variable against a discrete one
  (Ross 2014, ``n_neighbors=3``); ``H`` is the plug-in entropy of the labels, in nats.
* the **mutual information gap** (MIG, Chen et al. 2018) per label: the normalised information of
  the best dimension minus that of the second best. High when one dimension holds the label alone
  (a factorised code), near 0 when the label is spread over many dimensions or held by none.
* per latent block (:mod:`core.blocks`), the best dimension's normalised information: which part of
  a multimodal latent knows the label.

Rows whose label is unknown (``""`` or missing) are left out of that label. Above
:data:`MAX_ROWS` rows the estimate uses a seeded sample of that many rows (the estimator is
O(n log n) per dimension). The estimator is noisy at a few hundred rows: a dimension that knows
nothing reads about 0.00-0.03, so compare gaps larger than that.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.feature_selection import mutual_info_classif

from core.blocks import LatentBlock
from core.metrics import known_labels

__all__ = ["MAX_ROWS", "dimension_information", "mig", "block_information", "label_entropy"]

#: Rows used for the estimate at most (a seeded sample above).
MAX_ROWS = 5_000


def label_entropy(y: np.ndarray) -> float:
    """Plug-in entropy of discrete labels ``y``, in nats."""
    _, counts = np.unique(y, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def dimension_information(Z: np.ndarray, labels: pd.DataFrame, *, random_state: int = 0,
                          names: Sequence[str] | None = None) -> pd.DataFrame:
    """Normalised mutual information ``I(z_j; y) / H(y)`` of every dimension with every label column.

    Z : (n, d) latents; labels : n rows, one column per label (:func:`core.scoring.label_table`).
    names : the d dimension names (default ``z0 …``).

    Returns a (d, labels) DataFrame in [0, 1]; a label with fewer than two known classes is left out.
    """
    Z = np.asarray(Z, dtype=np.float64)
    if len(labels) != len(Z):
        raise ValueError(f"labels have {len(labels)} rows, latents {len(Z)}")
    rng = np.random.default_rng(random_state)
    rows = np.sort(rng.choice(len(Z), MAX_ROWS, replace=False)) if len(Z) > MAX_ROWS else np.arange(len(Z))
    out = {}
    for column in labels.columns:
        known = rows[known_labels(labels[column].iloc[rows])]
        y = labels[column].astype("string").to_numpy()[known]
        if len(np.unique(y)) < 2 or len(known) < 10:
            continue
        info = mutual_info_classif(Z[known], y, discrete_features=False, n_neighbors=3, random_state=random_state)
        out[column] = np.clip(info / label_entropy(y), 0.0, 1.0)
    index = list(names) if names is not None else [f"z{i}" for i in range(Z.shape[1])]
    return pd.DataFrame(out, index=index)


def mig(information: pd.DataFrame) -> pd.Series:
    """Mutual information gap per label of a :func:`dimension_information` table (NaN with one dimension)."""
    if len(information) < 2:
        return pd.Series(np.nan, index=information.columns, dtype=float)
    top = np.sort(information.to_numpy(), axis=0)[::-1]
    return pd.Series(top[0] - top[1], index=information.columns, dtype=float)


def block_information(information: pd.DataFrame, blocks: Sequence[LatentBlock]) -> pd.DataFrame:
    """(blocks, labels): each block's best dimension's normalised information."""
    rows = {b.name: information.iloc[b.start:b.stop].max(axis=0) for b in blocks if b.stop > b.start}
    return pd.DataFrame(rows).T
