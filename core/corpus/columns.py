"""Column names shared by every corpus and feature table (plain data: importing this loads nothing).

``FEATURE_NAMES`` lives here, not in :mod:`core.features.gtzan57`, so that the
loaders can check a feature table's header without loading the extractors.
"""

from __future__ import annotations

#: Columns every corpus has, in this order.
REQUIRED_COLUMNS = ("track_id", "path", "genre", "language", "lyrics", "source")

#: The 57 GTZAN feature names, in the column order of the Kaggle/study CSV files.
FEATURE_NAMES: tuple[str, ...] = (
    "chroma_stft_mean", "chroma_stft_var", "rms_mean", "rms_var",
    "spectral_centroid_mean", "spectral_centroid_var",
    "spectral_bandwidth_mean", "spectral_bandwidth_var",
    "rolloff_mean", "rolloff_var", "zero_crossing_rate_mean", "zero_crossing_rate_var",
    "harmony_mean", "harmony_var", "perceptr_mean", "perceptr_var", "tempo",
) + tuple(f"mfcc{i}_{stat}" for i in range(1, 21) for stat in ("mean", "var"))

#: Non-feature columns a feature table may have.
FEATURE_TABLE_META = ("filename", "length", "label", "genre", "language")
