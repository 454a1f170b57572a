"""bench_quality's rows per latent part: an audio-only model whose default part also holds excerpt blocks gets a
second row with its track-level blocks alone, the part ``audio`` that ``core.blocks.parts`` offers."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd

from core.blocks import LatentBlock


class _Blocks:
    """A stand-in fitted model: only its blocks and inputs matter to the rows (no spectrogram: no reconstruction)."""

    needs = {"features"}

    def __init__(self, *blocks: LatentBlock):
        self._blocks = blocks

    def latent_blocks(self):
        return self._blocks


def _rows(model, Z, genre):
    bench = importlib.import_module("bench.bench_quality")
    truth = pd.DataFrame({"genre": genre})
    return bench.part_rows("m", model, Z, None, truth, {"corpus": "c", "seed": 0})


def test_an_audio_only_model_with_excerpt_blocks_also_scores_its_track_blocks_alone():
    rng = np.random.default_rng(0)
    genre = np.repeat(["a", "b", "c", "d"], 25)
    track = np.eye(4)[np.repeat(np.arange(4), 25)] * 3 + rng.normal(size=(100, 4)) * 0.5
    excerpt = rng.normal(size=(100, 6)) * 4  # loud blocks that know nothing of the genre
    model = _Blocks(LatentBlock("audio", "audio", 0, 4), LatentBlock("crop", "audio", 4, 8, False),
                    LatentBlock("temporal", "audio", 8, 10, False, decoded=False))
    rows = _rows(model, np.hstack([track, excerpt]), genre)
    assert [(r["representation"], r["dim"]) for r in rows] == [("m", 10), ("m [audio]", 4)]
    assert rows[1]["knn_genre"] > 0.9 > rows[0]["knn_genre"]


def test_a_model_whose_blocks_all_describe_the_track_gets_one_row():
    rng = np.random.default_rng(1)
    rows = _rows(_Blocks(LatentBlock("audio", "audio", 0, 3)), rng.normal(size=(40, 3)), np.repeat(["a", "b"], 20))
    assert [(r["representation"], r["dim"]) for r in rows] == [("m", 3)]
