"""The corpus: one table of tracks (:class:`Corpus`), whatever source they came from.

Load sources with ``load_sources(["gtzan:~/data/gtzan@eng", "banglabeats+join:~/bb"])``;
a spec is ``[KIND:]PATH[@LANG]`` (see :mod:`core.corpus.specs`). Modules:

* :mod:`~core.corpus.columns` -- ``REQUIRED_COLUMNS``, ``FEATURE_NAMES`` (the 57 GTZAN columns)
* :mod:`~core.corpus.table` -- ``Corpus``: the track table, precomputed features, skipped items
* :mod:`~core.corpus.specs` -- ``parse_spec``, ``detect_kind``, ``load_source``, ``load_sources``
* one module per loader kind: :mod:`~core.corpus.gtzan`, :mod:`~core.corpus.banglabeats`
  (+ :mod:`~core.corpus.join`, audio joining), :mod:`~core.corpus.merge`,
  :mod:`~core.corpus.feature_table`, :mod:`~core.corpus.manifest`, :mod:`~core.corpus.folder`,
  :mod:`~core.corpus.demo` (reads what :mod:`core.demo` writes);
  :mod:`~core.corpus.scan` holds the steps the folder loaders share.
"""

from core.corpus.columns import FEATURE_NAMES, REQUIRED_COLUMNS
from core.corpus.table import Corpus, language_name, normalise_language
from core.corpus.banglabeats import CLIPS_PER_TRACK, load_banglabeats
from core.corpus.demo import load_demo
from core.corpus.feature_table import read_feature_table
from core.corpus.folder import load_folder
from core.corpus.gtzan import load_gtzan
from core.corpus.manifest import load_manifest
from core.corpus.merge import load_merge
from core.corpus.specs import KINDS, detect_kind, load_source, load_sources, parse_spec

__all__ = [
    "CLIPS_PER_TRACK", "FEATURE_NAMES", "KINDS", "REQUIRED_COLUMNS", "Corpus", "detect_kind", "load_banglabeats",
    "load_demo", "load_folder", "load_gtzan", "load_manifest", "load_merge", "load_source", "load_sources",
    "language_name", "normalise_language", "parse_spec", "read_feature_table",
]
