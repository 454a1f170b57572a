"""Features of audio clips: the 57-value GTZAN vector, the 128x128 log-mel, and their extraction.

Extracted features are kept in :class:`core.cache.FeatureCache`, the project's one on-disk array cache.

* :mod:`core.features.gtzan57` -- ``gtzan57`` (fast), ``gtzan57_reference``
  (the 57 names are :data:`core.corpus.FEATURE_NAMES`)
* :mod:`core.features.median` -- ``median_filter_1d``, the numba running median behind HPSS
* :mod:`core.features.mel` -- ``MelParams``, ``log_mel``, ``to_unit`` / ``from_unit``, ``mel_to_audio``
* :mod:`core.features.extract` -- ``extract(corpus, kind=...)`` -> ``FeatureSet`` (batch, parallel, cached)

The package exports the functions ``extract`` and ``gtzan57``, which hide the
submodules of the same name as attributes: ``from core.features.extract import
IN_PROCESS_MAX`` still works; for the module object use
``importlib.import_module("core.features.extract")``.
"""

from core.features.extract import FeatureSet, extract
from core.features.gtzan57 import gtzan57
from core.features.mel import MelParams, log_mel, mel_to_audio

__all__ = ["FeatureSet", "MelParams", "extract", "gtzan57", "log_mel", "mel_to_audio"]
