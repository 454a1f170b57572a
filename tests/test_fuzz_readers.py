"""Fuzzing the readers of files a user hands Songscape: manifests, feature tables, embeddings files and
checkpoints. Each starts from a valid file the test writes, then Hypothesis mutates its bytes (flips,
truncations, insertions) or its cells. The contract: a result, or a SongscapeError whose message names the
file; never another exception (a traceback in the CLI or on a page), never a hang (each example has a
deadline).

The budget is fixed, so CI time is too: a set number of examples per reader, derandomized (the same
inputs on every run, so a failure reproduces), and no example database written into the checkout.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from core import checkpoint  # noqa: E402
from core.config import ROOT  # noqa: E402
from core.corpus import FEATURE_NAMES, load_manifest, read_feature_table  # noqa: E402
from core.embeddings import load_embeddings  # noqa: E402
from core.errors import SongscapeError  # noqa: E402

FUZZ = settings(max_examples=150, deadline=5000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """``seed`` with a few bytes changed, a chunk inserted, and maybe cut short."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 6))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(max_size=48))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


def _outcome(read, path: Path) -> None:
    try:
        read(path)
    except SongscapeError as exc:
        assert str(path.name) in str(exc) or "--" in str(exc), f"the message does not name the file: {exc}"


_FOLDER = Path(tempfile.mkdtemp(prefix="songscape-fuzz-"))


@pytest.fixture(scope="module", autouse=True)
def _clean_up():
    yield
    shutil.rmtree(_FOLDER, ignore_errors=True)


def _scratch(name: str, data: bytes) -> Path:
    path = _FOLDER / name
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------------------------------------- manifests
def _manifest_seed() -> bytes:
    sr = 22050
    for i in range(2):
        sf.write(_FOLDER / f"a{i}.wav", (0.3 * np.sin(np.arange(sr) * (0.05 + i / 50))).astype(np.float32), sr)
    return pd.DataFrame({"path": ["a0.wav", "a1.wav"], "track_id": ["x", "y"], "genre": ["rock", "pop"],
                         "language": ["en", "bn"], "lyrics": ["la la", "না না"]}).to_csv(index=False).encode()


MANIFEST = _manifest_seed()


@FUZZ
@given(mutated(MANIFEST))
def test_manifest_reader(data):
    _outcome(load_manifest, _scratch("manifest.csv", data))


# ---------------------------------------------------------------------------------------- feature tables
_rng = np.random.default_rng(0)
_table = pd.DataFrame(_rng.normal(size=(3, len(FEATURE_NAMES))), columns=list(FEATURE_NAMES))
_table.insert(0, "filename", ["blues.00000.wav", "rock.00001.wav", "pop.00002.wav"])
_table.insert(1, "length", 661794)
_table["label"] = ["blues", "rock", "pop"]
FEATURE_TABLE = _table.to_csv(index=False).encode()
CELLS = st.one_of(st.just(""), st.just("nan"), st.just("inf"), st.just("-1e309"), st.text(max_size=12),
                  st.floats(allow_nan=True, allow_infinity=True).map(repr))


def _edited(row: int, column: int, value: str) -> bytes:
    table = _table.astype(object).copy()
    table.iat[row, column] = value
    return table.to_csv(index=False).encode()


@FUZZ
@given(st.one_of(mutated(FEATURE_TABLE),
                 st.tuples(st.integers(0, 2), st.integers(0, _table.shape[1] - 1), CELLS).map(
                     lambda edit: _edited(*edit))))
@example(_edited(0, 0, ""))  # a row without a filename
def test_feature_table_reader(data):
    _outcome(read_feature_table, _scratch("features_30_sec.csv", data))


# ----------------------------------------------------------------------------------------- embeddings
def _embeddings_seeds() -> dict[str, bytes]:
    ids = [f"t{i}" for i in range(4)]
    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)
    frame = pd.DataFrame(vectors, columns=["a", "b", "c"]).assign(track_id=ids)
    parquet, npy, npz = io.BytesIO(), io.BytesIO(), io.BytesIO()
    frame.to_parquet(parquet, index=False)
    np.save(npy, vectors)
    np.savez(npz, ids=np.array(ids), vectors=vectors)
    (_FOLDER / "v.ids.txt").write_text("\n".join(ids))
    return {"v.csv": frame.to_csv(index=False).encode(), "v.parquet": parquet.getvalue(), "v.npy": npy.getvalue(),
            "v.npz": npz.getvalue()}


EMBEDDINGS = _embeddings_seeds()


@FUZZ
@given(st.sampled_from(sorted(EMBEDDINGS)).flatmap(lambda name: st.tuples(st.just(name), mutated(EMBEDDINGS[name]))))
def test_embeddings_reader(named):
    name, data = named
    _outcome(load_embeddings, _scratch(name, data))


# ---------------------------------------------------------------------------------------------- checkpoints
CHECKPOINT = (ROOT / "checkpoints" / "basic.pt").read_bytes()


@settings(FUZZ, max_examples=80)
@given(mutated(CHECKPOINT))
def test_checkpoint_reader(data):
    _outcome(checkpoint.load, _scratch("fuzzed.pt", data))
