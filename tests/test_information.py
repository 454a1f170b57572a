"""Which latent dimension knows what (mutual information, MIG) and the k-NN agreement metric."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import information
from core.blocks import LatentBlock
from core.metrics import neighbour_agreement


def coded(n: int = 400, seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    """z0 is the genre (plus a little noise), z1 and z2 both carry the language, z3..z5 are noise."""
    rng = np.random.default_rng(seed)
    genre = rng.integers(0, 4, n)
    language = rng.integers(0, 2, n)
    Z = rng.normal(0, 1, (n, 6))
    Z[:, 0] = genre + rng.normal(0, 0.05, n)
    Z[:, 1] = language * 3 + rng.normal(0, 0.3, n)
    Z[:, 2] = language * 3 + rng.normal(0, 0.3, n)
    labels = pd.DataFrame({"genre": [f"g{g}" for g in genre], "language": np.where(language, "eng", "bng")})
    return Z, labels


def test_information_finds_the_dimension_that_holds_each_label():
    Z, labels = coded()
    table = information.dimension_information(Z, labels)
    assert list(table.columns) == ["genre", "language"] and list(table.index) == [f"z{i}" for i in range(6)]
    assert table["genre"].idxmax() == "z0" and table.loc["z0", "genre"] > 0.8
    assert table.loc["z1", "language"] > 0.6 and table.loc["z2", "language"] > 0.6
    assert table.loc[["z3", "z4", "z5"]].to_numpy().max() < 0.05


def test_mig_is_high_for_a_label_held_by_one_dimension_and_low_when_two_share_it():
    Z, labels = coded()
    gaps = information.mig(information.dimension_information(Z, labels))
    assert gaps["genre"] > 0.6
    assert gaps["language"] < 0.15


def test_unknown_labels_are_left_out_and_a_one_class_label_is_skipped():
    Z, labels = coded()
    labels["language"] = labels["language"].where(np.arange(len(labels)) % 2 == 0, "")
    labels["source"] = "demo"
    table = information.dimension_information(Z, labels)
    assert "source" not in table.columns
    assert table.loc["z1", "language"] > 0.6  # estimated on the known half only


def test_block_information_says_which_block_knows_a_label():
    Z, labels = coded()
    table = information.dimension_information(Z, labels)
    found = (LatentBlock("audio", "audio", 0, 1), LatentBlock("lyrics", "lyrics", 1, 6))
    by_block = information.block_information(table, found)
    assert by_block.loc["audio", "genre"] > by_block.loc["lyrics", "genre"]
    assert by_block.loc["lyrics", "language"] > by_block.loc["audio", "language"]


def test_neighbour_agreement():
    rng = np.random.default_rng(0)
    truth = np.repeat(["a", "b"], 50)
    Z = np.where(truth[:, None] == "a", 0.0, 100.0) + rng.normal(0, 1, (100, 3))
    assert neighbour_agreement(Z, truth, k=5).value == pytest.approx(1.0)
    shuffled = rng.permutation(truth)
    assert 0.3 < neighbour_agreement(Z, shuffled, k=5).value < 0.7  # chance is 0.5
    unknown = truth.astype(object)
    unknown[::2] = ""
    assert neighbour_agreement(Z, unknown, k=5).value == pytest.approx(1.0)
    # 40 identical vectors (the block every track without lyrics shares), listed by class: each one's
    # neighbours are drawn from the 39 others, 19 of its own class, whatever the row order
    tied_truth = np.repeat(["a", "b"], 20)
    assert neighbour_agreement(np.zeros((40, 3)), tied_truth, k=5).value == pytest.approx(19 / 39, abs=1e-12)
    mixed = np.vstack([Z[:60], np.zeros((40, 3))])
    mixed_truth = np.concatenate([truth[:60], tied_truth])
    order = rng.permutation(100)
    assert neighbour_agreement(mixed[order], mixed_truth[order], k=5).value == pytest.approx(
        neighbour_agreement(mixed, mixed_truth, k=5).value, abs=1e-12)
    one = neighbour_agreement(Z, np.full(100, "a"), k=5)
    assert one.value is None and "2 label classes" in one.reason
