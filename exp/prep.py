"""Cache whole-clip log-mels (absolute dB) of a corpus as one .npz (labels kept apart, for scoring only).

    python -m exp.prep gtzan /work/shared/data/gtzan_mini/genres  OUT.npz
    python -m exp.prep demo  data/demo                             OUT.npz

Each track: mel power with core.features.mel's analysis (sr 22,050, n_fft 2048, hop 1024,
128 Slaney mel bands, librosa-centred frames) over the WHOLE clip, then
``10·log10(max(S, 1e-10))`` -- dB re. full-scale power 1, NOT re. the clip's peak, so loudness
and spectral balance survive -- stored float16, padded with NaN to the longest clip.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from core.audio import load_audio
from core.features.mel import MelParams, mel_power
from core.lyrics import LyricsTfidf

AMIN = 1e-10


def whole_clip_db(path: Path) -> np.ndarray:
    """(128, t) float32 log-mel of the whole clip in dB re. power 1 (floor -100 dB)."""
    y = load_audio(path)
    n_total = 1 + y.shape[0] // 1024
    S = mel_power(y=y, params=MelParams(n_frames=n_total, position="start"))
    return (10.0 * np.log10(np.maximum(S, AMIN))).astype(np.float32)


def main(kind: str, root: str, out: str) -> None:
    root_p = Path(root)
    if kind == "gtzan":
        paths = sorted(root_p.glob("*/*.flac"))
        meta = pd.DataFrame({"track_id": [p.stem for p in paths], "genre": [p.parent.name for p in paths],
                             "language": "", "lyrics": ""})
    else:
        meta = pd.read_csv(root_p / "manifest.csv", keep_default_na=False)
        paths = [root_p / p for p in meta["path"]]
    mels = [whole_clip_db(p) for p in paths]
    T = max(m.shape[1] for m in mels)
    X = np.full((len(mels), 128, T), np.nan, dtype=np.float16)
    for i, m in enumerate(mels):
        X[i, :, :m.shape[1]] = m
    lengths = np.array([m.shape[1] for m in mels])
    tf = LyricsTfidf(max_features=512, min_df=1)
    L, lmask = tf.fit_transform(list(meta["lyrics"].astype(str)))
    np.savez(out, mel=X, lengths=lengths, lyr=L.astype(np.float16), lmask=lmask,
             genre=np.array(meta["genre"].astype(str).tolist()),
             language=np.array(meta["language"].astype(str).tolist()),
             track_id=np.array(meta["track_id"].astype(str).tolist()))
    print(out, X.shape, "lengths", lengths.min(), lengths.max(), "lyrics", L.shape, int(lmask.sum()))


if __name__ == "__main__":
    main(*sys.argv[1:4])
