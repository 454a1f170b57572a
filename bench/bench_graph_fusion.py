"""A research probe, not a product path: does a neighbour-graph view of the two modalities help clustering?

For each saved multimodal checkpoint (audio and lyrics blocks) and the corpus given, it scores, with
``bench_quality``'s one scoring path (K-Means NMI per label over seeds, leave-one-out 5-NN agreement):

* ``balanced``: the balanced part (``core.blocks``: each modality centred, at unit total variance; the default
  part until the joint part replaced it);
* ``lyrics``: the lyrics block alone;
* ``graph kK dD``: the spectral embedding (D dimensions) of the sum of the two modalities' k-NN graphs
  (K neighbours, Gaussian weights with a self-tuning width: each track's distance to its 7th neighbour);
* ``balanced + graph kK dD``: the balanced part and that embedding side by side, each at unit total variance.

No label enters the representations; labels only score. The K and D grids are small on purpose: whichever
looks best was chosen by its scores, so read it as a lead, not a result::

    python -m bench.bench_graph_fusion demo checkpoints/conv.pt --seeds 3
    python -m bench.bench_graph_fusion manifest:../shared/data/hybrid_en_de_dev/manifest.csv hyb_conv_s0.pt --seeds 3

The spectral embedding is transductive (a new track changes every track's coordinates) and its eigensolver
grows quickly with the collection (``python -m bench.bench_graph_fusion random:10000`` times it alone), which
is why it is not a latent part of the dashboard yet.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np
from scipy import sparse

from bench.bench_quality import score_row
from core import blocks, checkpoint
from core.corpus import load_sources
from core.latents import encode_corpus
from core.scoring import label_table

#: The neighbour counts and embedding sizes tried (both grids scored against the labels: see the docstring).
NEIGHBOURS, DIMS = (10, 20), (8, 16)
#: Each track's Gaussian width is its distance to this neighbour (a self-tuning width).
WIDTH_NEIGHBOUR = 7


def neighbour_graph(X: np.ndarray, *, k: int) -> sparse.csr_matrix:
    """(n, n) symmetric k-NN affinities of the rows of ``X``, normalised as D^-1/2 W D^-1/2."""
    from sklearn.neighbors import NearestNeighbors

    n = len(X)
    k = min(k, n - 1)
    dist, idx = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)
    width = dist[:, min(WIDTH_NEIGHBOUR, k)] + 1e-9
    rows = np.repeat(np.arange(n), k + 1)
    weights = np.exp(-dist.ravel() ** 2 / (width[rows] * width[idx.ravel()]))
    W = sparse.csr_matrix((weights, (rows, idx.ravel())), shape=(n, n))
    W = W.maximum(W.T)
    scale = sparse.diags(1.0 / np.sqrt(np.asarray(W.sum(axis=1)).ravel()))
    return scale @ W @ scale


def graph_embedding(pieces: list[np.ndarray], *, k: int, dims: int) -> np.ndarray:
    """(n, dims) spectral embedding of the summed k-NN graphs of ``pieces`` (one array per modality),
    each row scaled to unit length."""
    from sklearn.manifold import spectral_embedding

    W = sum(neighbour_graph(p, k=k) for p in pieces)
    with warnings.catch_warnings():  # a graph in several components is embedded all the same
        warnings.simplefilter("ignore", UserWarning)
        E = spectral_embedding(W, n_components=dims, drop_first=True, random_state=0)
    return E / (np.linalg.norm(E, axis=1, keepdims=True) + 1e-12)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("source", help="the corpus, [KIND:]PATH (e.g. demo); random:N times the embedding alone")
    p.add_argument("checkpoints", nargs="*", help="multimodal checkpoints (audio and lyrics blocks)")
    p.add_argument("--seeds", type=int, default=3, help="K-Means seeds")
    args = p.parse_args()
    if args.source.startswith("random:"):  # the cost alone: random:N, one 32-d and one 16-d block of N rows
        n = int(args.source.partition(":")[2])
        rng = np.random.default_rng(0)
        t = time.perf_counter()
        graph_embedding([rng.normal(size=(n, 32)), rng.normal(size=(n, 16))], k=20, dims=8)
        print(f"graph k20 d8 of {n:,} random tracks: {time.perf_counter() - t:.1f} s")
        return
    corpus = load_sources([args.source])
    for path in args.checkpoints:
        model = checkpoint.load(path)
        ids, Z = encode_corpus(model, corpus)
        found = model.latent_blocks()
        if "lyrics" not in blocks.parts(found):
            raise SystemExit(f"{path}: not a model with audio and lyrics blocks")
        truth = label_table(corpus, ["genre", "language"], track_ids=ids)
        audio, lyrics = (blocks.view(Z, found, m) for m in ("audio", "lyrics"))
        balanced = blocks.view(Z, found, "balanced")
        views = {"balanced": balanced, "lyrics": lyrics}
        for k in NEIGHBOURS:
            for d in DIMS:
                t = time.perf_counter()
                E = graph_embedding([audio, lyrics], k=k, dims=d)
                print(f"  graph k{k} d{d}: {time.perf_counter() - t:.1f} s for {len(E)} tracks", flush=True)
                views[f"graph k{k} d{d}"] = E
                views[f"balanced + graph k{k} d{d}"] = np.concatenate([blocks.unit_variance(balanced), blocks.unit_variance(E)], axis=1)
        for name, V in views.items():
            rows = [score_row(V, truth, seed=s) for s in range(args.seeds)]
            cells = []
            for label in ("genre", "language"):
                nmi = [r[f"nmi_{label}"] for r in rows]
                cells.append(f"nmi_{label} {np.mean(nmi):.3f} ± {np.std(nmi):.3f}  knn_{label} {rows[0][f'knn_{label}']:.3f}")
            print(f"{path}  {name:26s} " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    from core.cli import report_errors
    sys.exit(report_errors(main))
