"""Features of audio clips: the 57-value GTZAN vector, the 128x128 log-mel, and their on-disk cache.

* :mod:`core.features.gtzan57` -- ``FEATURE_NAMES``, ``gtzan57`` (fast), ``gtzan57_reference``
* :mod:`core.features.mel` -- ``MelParams``, ``log_mel``, ``to_unit`` / ``from_unit``, ``mel_to_audio``
* :mod:`core.features.cache` -- ``FeatureCache``, the project's one on-disk array cache
* :mod:`core.features.extract` -- ``extract(corpus, kind=...)`` -> ``FeatureSet`` (batch, parallel, cached)

Submodules are imported on demand so that ``import core.features`` stays cheap.
"""
