"""The dashboard says which latent part it clusters, lets the user choose it, and shows what each dimension knows."""

from __future__ import annotations

import pytest

from tests.test_app import _app, _texts, app_env, monkeypatch_module  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow


def _open(page: str, checkpoint: str):
    at = _app()
    at.run()
    box = at.selectbox(key="checkpoint")
    box.select_index(next(i for i, label in enumerate(box.options) if label.startswith(checkpoint))).run()
    at.switch_page(f"views/{page}_page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_multimodal_checkpoint_clusters_its_joint_part_and_the_user_can_choose_another(app_env):
    at = _open("clusters", "conv")
    part = at.selectbox(key="latent_part")
    assert part.value == "joint" and part.options == [
        "audio + lyrics, joint", "audio + lyrics, balanced", "audio only (track level)", "lyrics only", "all dimensions as encoded"]
    assert "audio + lyrics, joint (48 dims)" in _texts(at)
    joint = {m.label: m.value for m in at.metric}
    part.select("lyrics").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "lyrics only (16 dims)" in _texts(at)
    assert {m.label: m.value for m in at.metric} != joint  # the metrics follow the part
    at.switch_page("views/explore_page.py").run()
    assert "lyrics only (16 dims)" in _texts(at)  # the map projects the same part


def test_the_sidebar_says_which_band_levels_a_spectrogram_model_reads_the_corpus_with(app_env):
    # the test's own small demo is not the corpus the shipped models were trained on, and has 24 tracks
    at = _open("latent", "conv")
    assert "Band levels: **this collection's own** (it is not the model's training corpus)" in _texts(at)
    at = _open("latent", "basic")  # the 57-value feature model has no band levels
    assert "Band levels" not in _texts(at)


def test_a_one_block_checkpoint_offers_no_part(app_env):
    at = _open("clusters", "basic")
    assert not [s for s in at.selectbox if s.key == "latent_part"]
    assert "(48 dims)" not in _texts(at)


def test_the_latent_page_shows_what_each_dimension_knows(app_env):
    at = _open("latent", "conv")
    assert any(h.value == "Which dimensions know what" for h in at.subheader)
    table = next(d for d in at.dataframe if "best dimension" in d.value.columns)
    assert "genre" in table.value.index and "language" in table.value.index
    assert table.value.loc["language", "best dimension"].startswith("lyrics_")
    assert {"best in audio", "best in lyrics"} <= set(table.value.columns)


def test_a_corpus_without_lyrics_is_said_to_be_placed_by_its_audio(app_env):
    import pandas as pd

    from ui import state

    manifest = pd.read_csv(app_env / "demo" / "manifest.csv", keep_default_na=False)
    manifest["lyrics"] = ""
    manifest["path"] = [str(app_env / "demo" / p) for p in manifest["path"]]
    plain = app_env / "no_lyrics.csv"
    manifest.to_csv(plain, index=False)
    at = _app()
    at.session_state[state.SPECS] = [f"manifest:{plain}"]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "no track here has lyrics, so the audio alone places the tracks" in _texts(at)


def test_a_corpus_with_too_few_lyrics_for_the_joint_part_is_told_it_sees_the_balanced_part(app_env):
    import pandas as pd

    from core.blocks import MIN_PAIRED
    from ui import state

    manifest = pd.read_csv(app_env / "demo" / "manifest.csv", keep_default_na=False)
    manifest["path"] = [str(app_env / "demo" / p) for p in manifest["path"]]
    keep = manifest.index[manifest["lyrics"].str.strip() != ""][:3]
    manifest.loc[~manifest.index.isin(keep), "lyrics"] = ""
    few = app_env / "few_lyrics.csv"
    manifest.to_csv(few, index=False)
    at = _app()
    at.session_state[state.SPECS] = [f"manifest:{few}"]
    at.run()
    at.switch_page("views/clusters_page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="latent_part").value == "joint"
    said = f"only 3 tracks here have lyrics, too few to relate the audio to them ({MIN_PAIRED} needed)"
    assert said in _texts(at)
