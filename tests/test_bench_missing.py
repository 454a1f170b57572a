"""bench_missing: what a group of the 57 features adds to a checkpoint's latents, on 5-NN agreement."""

from __future__ import annotations

import numpy as np

from bench.bench_missing import beside, feature_groups, standardised
from core.blocks import unit_variance
from core.corpus import FEATURE_NAMES
from core.metrics import neighbour_agreement


def test_the_57_features_fall_into_their_eleven_groups():
    groups = feature_groups()
    assert sorted(len(v) for v in groups.values()) == [1] + [2] * 8 + [20, 20]
    assert sorted(i for v in groups.values() for i in v) == list(range(len(FEATURE_NAMES)))
    assert [FEATURE_NAMES[i] for i in groups["perceptr"]] == ["perceptr_mean", "perceptr_var"]


def test_a_group_that_knows_the_label_raises_the_agreement_and_one_that_does_not_leaves_it_near():
    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(4), 30)
    # latents that know half of the label (pairs of classes share a centre), in large units
    Z = 100.0 * (rng.normal(size=(120, 6)) + 3.0 * (truth // 2)[:, None])
    knows = rng.normal(size=(120, 2)) + 4.0 * (truth % 2)[:, None]
    noise = rng.normal(size=(120, 2)) * 1000.0
    alone = neighbour_agreement(Z, truth, k=5).value
    assert neighbour_agreement(beside(Z, knows, weight=0.5), truth, k=5).value > alone + 0.3
    assert abs(neighbour_agreement(beside(Z, noise, weight=0.1), truth, k=5).value - alone) < 0.1
    cloud = unit_variance(standardised(noise))
    np.testing.assert_allclose(cloud.mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose((cloud ** 2).sum(1).mean(), 1.0)
