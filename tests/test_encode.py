"""`core encode` of a checkpoint whose model reads audio, on a corpus that has none, says so."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.cli import main as cli_main
from core.config import ROOT
from core.corpus import FEATURE_NAMES


def test_a_spectrogram_model_on_a_feature_table_says_it_needs_audio(tmp_path, capsys):
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.normal(size=(7, len(FEATURE_NAMES))), columns=list(FEATURE_NAMES))
    table.insert(0, "filename", [f"blues.{i:05d}.wav" for i in range(7)])
    table["label"] = "blues"
    source = tmp_path / "features_30_sec.csv"
    table.to_csv(source, index=False)
    out = tmp_path / "latents.csv"
    out.write_text("kept,as,it,was\n")
    checkpoint = ROOT / "checkpoints" / "conv.pt"
    code = cli_main(["encode", str(checkpoint), f"features:{source}", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"\nerror: {checkpoint}: its model (conv) reads spectrograms of the audio" in err
    assert f"features:{source} has no audio (a feature table): none of its 7 tracks can be encoded" in err
    assert out.read_text() == "kept,as,it,was\n"
