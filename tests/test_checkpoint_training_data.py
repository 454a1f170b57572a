"""What a checkpoint records about the data it was trained on: sources, track count, corpus fingerprint.

Written by `core train`, by `core.checkpoint.fit` / `resume` and by the dashboard's training jobs; shown by
`core info` and in the Compare page's checkpoint table; files without the record still load."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from core import checkpoint
from core.cli import main
from core.corpus import load_sources
from core.errors import CheckpointError
from core.inputs import build_inputs
from core.jobs import prepare_job
from core.models import create
from core.model_scores import score_checkpoints
from tests.test_models import feature_inputs
from tests.test_resume import feature_table

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> tuple[str, str]:
    """Two feature-table sources of different tracks (40 and 30)."""
    folder = tmp_path_factory.mktemp("tables")
    a = feature_table(folder / "a.csv", 40)
    b = feature_table(folder / "b.csv", 30)
    return f"features:{a}", f"features:{b}"


def test_a_corpus_keeps_the_specs_it_was_loaded_from(tables):
    a, b = tables
    one = load_sources([a])
    both = load_sources([a, b])
    assert one.sources == (a,)
    assert both.sources == (a, b)
    assert both.subset(both.track_ids[:5]).sources == (a, b)


def test_core_train_records_the_sources_count_and_fingerprint_and_info_shows_them(tmp_path, tables, capsys):
    a, _ = tables
    out = tmp_path / "basic.pt"
    assert main(["train", "--model", "basic", "--data", a, "--epochs", "2", "--out", str(out)]) == 0
    record = checkpoint.describe(out)["training_data"]
    corpus = load_sources([a])
    assert record["sources"] == [a]
    assert record["n_tracks"] == len(corpus) == 40
    assert record["fingerprint"] == corpus.fingerprint()
    inputs, _ = build_inputs(corpus, needs={"features"})
    assert record["inputs_hash"] == inputs.content_hash()
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    shown = capsys.readouterr().out
    assert f"trained on  {a}, 40 tracks (fingerprint {corpus.fingerprint()})" in shown
    assert f"inputs hash      {inputs.content_hash()}" in shown


def test_a_file_without_the_record_loads_and_says_not_recorded(tmp_path, capsys):
    # what every file written before the record existed looks like: the same format, no training_data key
    path = checkpoint.save(create("basic", epochs=2).fit(feature_inputs(n=30)), tmp_path / "old.pt")
    assert checkpoint.DATA_KEY not in torch.load(path, weights_only=True)
    assert checkpoint.load(path).training_data_ is None
    assert checkpoint.describe(path)["training_data"] is None
    assert main(["info", str(path)]) == 0
    assert "trained on  not recorded" in capsys.readouterr().out
    shipped = ROOT / "checkpoints" / "basic.pt"
    assert checkpoint.load(shipped).name == "basic"  # the shipped files keep loading


def test_fit_without_a_corpus_still_records_the_count_and_the_inputs(tmp_path):
    inputs = feature_inputs(n=30)
    path = tmp_path / "b.pt"
    checkpoint.fit(create("basic", epochs=2), inputs, path)
    record = checkpoint.load(path).training_data_
    assert record == {"sources": [], "n_tracks": 30, "fingerprint": None, "inputs_hash": inputs.content_hash()}
    assert checkpoint.data_summary(record) == "sources not recorded, 30 tracks"


def test_an_unfinished_run_records_its_data_and_resume_keeps_it(tmp_path, tables):
    a, _ = tables
    corpus = load_sources([a])
    inputs, _ = build_inputs(corpus, needs={"features"})
    path = tmp_path / "run.pt"
    stop = threading.Event()
    checkpoint.fit(create("basic", epochs=4), inputs, path, corpus=corpus, callback=lambda info: stop.set(),
                   stop=stop)
    saved = checkpoint.read(path)
    assert saved.get("train_state") is not None  # unfinished, and already says what it trains on
    assert saved[checkpoint.DATA_KEY]["fingerprint"] == corpus.fingerprint()
    resumed = checkpoint.resume(path, inputs)
    assert len(resumed.history_) == 4
    assert checkpoint.read(path)[checkpoint.DATA_KEY] == saved[checkpoint.DATA_KEY]


@pytest.mark.parametrize("record, message", [
    ("demo", "training_data must be a dict"),
    ({"sources": "demo", "n_tracks": 3}, "training_data.sources must be a list"),
    ({"sources": ["demo"], "n_tracks": -1}, "training_data.n_tracks must be a whole number"),
    ({"sources": ["demo"], "n_tracks": 3, "fingerprint": 7}, "training_data.fingerprint must be text"),
])
def test_a_malformed_record_is_refused_naming_the_field(tmp_path, record, message):
    good = tmp_path / "good.pt"
    checkpoint.save(create("basic", epochs=1).fit(feature_inputs(n=20)), good)
    crafted = dict(torch.load(good, weights_only=True), training_data=record)
    crafted.pop("checksum")
    bad = tmp_path / "bad.pt"
    torch.save(dict(crafted, checksum=checkpoint.content_checksum(crafted)), bad)
    with pytest.raises(CheckpointError, match=message) as err:
        checkpoint.load(bad)
    assert str(bad) in str(err.value)


def test_a_dashboard_training_job_records_the_corpus_and_compare_tells_this_corpus_from_other_data(tmp_path, tables):
    a, b = tables
    corpus_a, corpus_b = load_sources([a]), load_sources([b])
    job, _ = prepare_job(corpus_a, "basic", {"epochs": 2}, save_to=tmp_path / "job.pt")
    job.start()
    job.join(120)
    assert job.status == "done", job.error
    record = checkpoint.load(tmp_path / "job.pt").training_data_
    assert (record["sources"], record["n_tracks"], record["fingerprint"]) == ([a], 40, corpus_a.fingerprint())

    old = checkpoint.save(create("basic", epochs=1).fit(feature_inputs(n=20)), tmp_path / "old.pt")
    entries = [SimpleNamespace(name="job", path=tmp_path / "job.pt"), SimpleNamespace(name="old", path=old)]
    on_a = score_checkpoints(corpus_a, entries).set_index("checkpoint")["trained_on"]
    on_b = score_checkpoints(corpus_b, entries).set_index("checkpoint")["trained_on"]
    assert on_a["job"].startswith(f"this corpus: {a}, 40 tracks")
    assert on_b["job"].startswith(f"other data: {a}, 40 tracks")
    assert on_a["old"] == on_b["old"] == checkpoint.NOT_RECORDED


def test_a_file_written_before_the_record_gets_one_and_keeps_everything_else(tmp_path, tables, capsys):
    from scripts.record_training_data import main as record_main

    a, _ = tables
    corpus = load_sources([a])
    inputs, _ = build_inputs(corpus, needs={"features"})
    path = checkpoint.save(create("basic", epochs=2).fit(inputs), tmp_path / "old.pt")
    before = torch.load(path, weights_only=True)
    fingerprint = checkpoint.load(path).fingerprint()

    assert record_main([str(path), a]) == 0
    assert f"trained on {a}, 40 tracks" in capsys.readouterr().out
    after = torch.load(path, weights_only=True)
    assert after[checkpoint.DATA_KEY] == {"sources": [a], "n_tracks": 40, "fingerprint": corpus.fingerprint(),
                                          "inputs_hash": inputs.content_hash()}
    assert set(after) - set(before) == {checkpoint.DATA_KEY}
    for key in before.keys() - {"checksum", "weights"}:
        assert after[key] == before[key], key
    assert all(torch.equal(after["weights"][k], before["weights"][k]) for k in before["weights"])
    assert checkpoint.load(path).fingerprint() == fingerprint  # the same latents, the same cache entries
    assert checkpoint.load(path).training_data_["n_tracks"] == 40  # and the checksum agrees with the content
    # a record made at training time is never replaced; a source that cannot be read is named
    assert record_main([str(path), a]) == 2
    assert "already records what it was trained on" in capsys.readouterr().err
    assert record_main([str(tmp_path / "old.pt"), f"features:{tmp_path / 'missing.csv'}"]) == 2
    err = capsys.readouterr().err
    assert "missing.csv" in err and "Traceback" not in err


def test_a_model_trained_on_several_sources_knows_each_of_them_again(tmp_path, tables):
    a, b = tables
    corpus_a, corpus_b, both = load_sources([a]), load_sources([b]), load_sources([a, b])
    assert both.source_fingerprints() == [corpus_a.fingerprint(), corpus_b.fingerprint()]
    assert corpus_a.source_fingerprints() == [corpus_a.fingerprint()]
    out = tmp_path / "both.pt"
    assert main(["train", "--model", "basic", "--data", a, "--data", b, "--epochs", "2", "--out", str(out)]) == 0
    record = checkpoint.load(out).training_data_
    assert record["source_fingerprints"] == both.source_fingerprints()
    assert checkpoint.trained_on(record, both.fingerprint()) == "this corpus"
    assert checkpoint.trained_on(record, corpus_b.fingerprint()) == "one of its sources"
    assert checkpoint.trained_on(record, "0123456789abcdef") == "other data"
    on_b = score_checkpoints(corpus_b, [SimpleNamespace(name="both", path=out)]).set_index("checkpoint")["trained_on"]
    assert on_b["both"].startswith(f"one of its sources: {a} + {b}, 70 tracks")


def test_an_older_record_of_several_sources_is_completed_with_their_fingerprints_and_nothing_else(tmp_path, tables):
    from scripts.record_training_data import main as record_main

    a, b = tables
    both = load_sources([a, b])
    inputs, _ = build_inputs(both, needs={"features"})
    older = {k: v for k, v in checkpoint.training_data(inputs, both).items() if k != "source_fingerprints"}
    older["sources"] = ["features:/elsewhere/a.csv", "features:/elsewhere/b.csv"]  # as written on another machine
    path = checkpoint.save(create("basic", epochs=2).fit(inputs), tmp_path / "older.pt", data=older)
    assert record_main([str(path), a, b]) == 0
    record = checkpoint.load(path).training_data_
    assert record == {**older, "source_fingerprints": both.source_fingerprints()}  # its own sources are kept
    assert record_main([str(path), a, b]) == 2  # complete: nothing more to add
    # another corpus is not this file's training data, so its fields are never added
    other = checkpoint.save(create("basic", epochs=2).fit(inputs), tmp_path / "other.pt", data=older)
    assert record_main([str(other), b, a]) == 2  # in another order: another corpus fingerprint
    assert "source_fingerprints" not in checkpoint.load(other).training_data_


def test_the_real_music_checkpoint_knows_each_real_corpus_as_one_of_its_sources(shared_data):
    from core.latents import levels_choice

    real = checkpoint.load(ROOT / "checkpoints" / "real.pt")
    gtzan = load_sources([f"gtzan:{shared_data / 'gtzan_mini'}"])
    assert checkpoint.trained_on(real.training_data_, gtzan.fingerprint()) == "one of its sources"
    assert levels_choice(real, gtzan) == "trained"  # read as it was trained, not with its own band levels
