"""The Data page opens sources only under the data roots, and offers only them when exposed."""

from __future__ import annotations

import socket
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from core.corpus.roots import ENV, is_local_address

SR = 22050


@pytest.fixture
def page_env(tmp_path, monkeypatch):
    root = tmp_path / "roots" / "music"
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        y = 0.3 * np.sin(2 * np.pi * (200 + 90 * i) * np.arange(SR * 2) / SR) + 0.02 * rng.standard_normal(SR * 2)
        sf.write(root / f"s{i}.wav", y.astype(np.float32), SR)
    pd.DataFrame({"path": [f"s{i}.wav" for i in range(3)]}).to_csv(root / "manifest.csv", index=False)
    (tmp_path / "roots" / "other").mkdir()
    monkeypatch.setenv("SONGSCAPE_CORPUS", f"manifest:{root / 'manifest.csv'}")
    monkeypatch.setenv(ENV, str(tmp_path / "roots"))
    # AppTest leaves the page script as __main__; spawned workers of later tests would re-run it
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    return tmp_path / "roots"


def _data_page() -> AppTest:
    return AppTest.from_file("../views/data_page.py", default_timeout=120)


def test_local_dashboard_refuses_a_source_outside_the_roots(page_env):
    at = _data_page().run()
    assert not at.exception
    at.radio[0].set_value("My data").run()
    at.text_area[0].set_value("folder:/usr").run()
    at.button[0].click().run()
    errors = " ".join(e.value for e in at.error)
    assert "/usr: source is outside the data roots" in errors
    assert at.metric[0].value == "3"  # the corpus in use is unchanged


def test_exposed_dashboard_offers_only_the_roots(page_env):
    assert is_local_address("127.0.0.1") and not is_local_address("0.0.0.0") and not is_local_address(None)
    previous = st_config.get_option("server.address")
    st_config.set_option("server.address", "0.0.0.0")
    try:
        at = _data_page().run()
        at.radio[0].set_value("My data").run()
        assert not at.exception and len(at.text_area) == 0  # no free path entry
        options = at.multiselect[0].options
        assert str(page_env) in options and str(page_env / "other") in options
        assert all(o.startswith(str(page_env)) or o.startswith(str(page_env / "music")) for o in options)
    finally:
        st_config.set_option("server.address", previous)


def test_extract_on_an_unreachable_cluster_is_a_message_and_the_page_stays(page_env):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    at = _data_page().run()
    at.text_input(key="dask_cluster_text").set_value(f"tcp://127.0.0.1:{port}").run()
    next(b for b in at.button if b.label.startswith("Extract features")).click().run()
    assert not at.exception, [e.value for e in at.exception]
    errors = " ".join(e.value for e in at.error)
    shown = errors.replace("\\", "")  # the message is escaped Markdown (ui.markdown.plain)
    assert shown.startswith(f"Features not extracted: --cluster tcp://127.0.0.1:{port}: no Dask scheduler answered")
    assert at.metric[0].value == "3"  # the corpus and the rest of the page are still there
