"""Songscape core: the pipeline from audio to clusters, with no UI.

The packages follow the pipeline, bottom to top; each imports only from the ones
above it in this list (`.importlinter` holds the contract and CI checks it):

    demo/        the demo synthesiser: writes WAVs + a manifest (knows nothing of the corpus)
    audio        robust loading and conversion of one clip
    lyrics       Bengali-aware tokenisation and TF-IDF
    corpus/      one track table from any source: one module per loader kind, FEATURE_NAMES
    features/    57-value GTZAN vector, log-mels, extraction (pool or Dask)
    inputs       ModelInputs: what a model reads, built from a corpus and its features
    training/    the generic training loop over (torch module, loss, tensors); device and threads
    models/      the one registry: Basic VAE, ConvVAE, Beta-VAE (a loss setting), AE, PCA, raw; configs
    checkpoint   the one safe checkpoint format (model I/O): fit-and-save, resume, load, describe
    latents      encode a corpus with a model (cached)
    clustering/  K-Means, DBSCAN, Agglomerative, HDBSCAN, GMM in one registry; neighbour graph, eps
    metrics      internal and external cluster metrics, coverage of noise-marking clusterers
    scoring      THE one cluster-and-score path (label table, scores per label), on latents alone
    model_scores scores of models: train and score, every checkpoint scored, the training monitor
    explore      decode, interpolate, traverse and listen (no presentation)
    projections  t-SNE, UMAP and PCA (cached)
    evaluate/    the study's tasks, their orchestration and the Markdown report
    workspace    the corpus the dashboard opens and where it may read (restricted loads)
    shelf        the checkpoint shelf: ready-made checkpoints and saved runs, listed, named, deleted
    jobs         background training and evaluation jobs
    warmup       prepare and the background warm-up: the dashboard's first caches, made ahead
    cli/         `python -m core`: a command's module is imported only when that command runs

Utilities below everything: io (the one atomic writer), cache (the one on-disk array cache) and
filehash (content hashes of files), progress (the one progress protocol), parallel (process pools),
params (every setting a person can choose, declared once: type, range, default, widget bounds, help),
distributed (Dask clients), config, errors.
`core` never imports streamlit, plotly or ui.

Read first: corpus/table.py (the track table), inputs.py, models/base.py,
training/loop.py, scoring.py.
"""

__version__ = "0.2.0"
#: The name pip installs Songscape under; the import package stays `core` (see the README's
#: "Install" section). A Dask cluster check uses it to tell Songscape's `core` from another one.
__distribution__ = "songscape"
