"""Songscape core: the pipeline from audio to clusters, with no UI.

The sub-packages follow the pipeline in order:

    demo/       the demo synthesiser: writes WAVs + a manifest (knows nothing of the corpus)
    audio       robust loading and conversion of one clip
    lyrics      Bengali-aware tokenisation and TF-IDF
    corpus/     one track table from any source: one module per loader kind, FEATURE_NAMES
    features/   57-value GTZAN vector, 128x128 log-mel, and the on-disk feature cache
    models/     VAE, ConvVAE, Beta-VAE (a loss setting) and the baselines, one registry
    training    one training loop for every torch model
    checkpoint  one safe checkpoint format
    latents     encode a corpus with a model (cached)
    clustering  K-Means, DBSCAN, Agglomerative (+ HDBSCAN, GMM), one registry
    metrics     internal and external cluster metrics
    projections t-SNE, UMAP and PCA (cached)
    evaluate    the study's results table

Utilities below everything: io (the one atomic writer), progress (the one
progress protocol), parallel, config, errors. `python -m core` (cli/) imports a
command's module only when that command runs. `core` never imports streamlit.
"""

__version__ = "0.1.0"
