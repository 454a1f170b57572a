"""The research probe's neighbour-graph embedding (bench/bench_graph_fusion.py) on data the test makes."""

from __future__ import annotations

import numpy as np

from bench.bench_graph_fusion import graph_embedding, neighbour_graph


def test_groups_both_modalities_agree_on_lie_apart_in_the_embedding():
    rng = np.random.default_rng(0)
    group = np.repeat([0, 1], 40)
    # close enough that a few neighbours cross between the groups: one connected graph, as real collections give
    audio = rng.normal(size=(80, 6)) + 1.5 * group[:, None]
    lyrics = rng.normal(size=(80, 4)) - 1.5 * group[:, None]
    W = neighbour_graph(audio, k=10)
    assert W.shape == (80, 80) and abs(W - W.T).max() < 1e-12 and (W.diagonal() > 0).all()
    assert W[:40, :40].sum() > 3 * W[:40, 40:].sum()  # most of the weight stays within a group
    E = graph_embedding([audio, lyrics], k=10, dims=2)
    assert E.shape == (80, 2) and np.allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-6)
    # the first coordinate (the graph's main cut) tells the groups apart
    side = E[:, 0] > 0
    assert max(np.mean(side == group), np.mean(side != group)) >= 0.95

def test_a_modality_given_twice_embeds_as_given_once():
    X = np.random.default_rng(1).normal(size=(60, 5))
    once, twice = graph_embedding([X], k=8, dims=3), graph_embedding([X, X], k=8, dims=3)
    # the summed graph is the one graph doubled: the same eigenvectors, up to their signs
    assert np.allclose(np.abs(once), np.abs(twice), atol=1e-4)
    assert not np.allclose(np.abs(once), np.abs(graph_embedding([X, X[::-1]], k=8, dims=3)), atol=1e-2)
