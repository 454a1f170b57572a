"""One declaration per setting (core.params): its words, and every reader following it.

The command line, ``core.models.create``, the clusterers and the checkpoints read a setting's range from its
spec; narrowing a spec here (monkeypatch) must be seen by each of them. Every model of the registry answers
``label`` and ``get_params()``. The dashboard's widgets are checked in test_train_page.py and
test_clusters_page.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core import params
from core.cli import build_parser
from core.clustering import CLUSTERERS, cluster
from core.models import MODELS, create
from core.models.configs import field_names
from core.params import SPECS, Spec, check, check_settings, describe
from core.projections import PROJECTION_PARAMS


def _narrowed(monkeypatch, name: str, **changes) -> Spec:
    spec = dataclasses.replace(SPECS[name], **changes)
    monkeypatch.setitem(params.SPECS, name, spec)
    return spec


# ------------------------------------------------------------------------------------ the spec's words
def test_a_range_in_words_and_the_messages_that_name_it():
    assert describe("epochs") == "a whole number from 1 to 100000"
    assert describe("lr") == "a number > 0 and ≤ 10"
    assert describe("metric") == "one of ['euclidean', 'manhattan', 'cosine']"
    with pytest.raises(ValueError, match=r"^epochs must be a whole number from 1 to 100000, got 0$"):
        check("epochs", 0)
    with pytest.raises(ValueError, match=r"^parameter eps=-3 must be a number from 0.001 to 20$"):
        SPECS["eps"].check(-3, parameter=True)
    assert check("epochs", "12") == 12 and check("lr", "0.5") == 0.5 and check("no_such_setting", "x") == "x"
    for bad in (True, float("nan"), float("inf"), 2.5, "two"):
        with pytest.raises(ValueError):
            check("epochs", bad)
    with pytest.raises(ValueError, match="lr must be"):
        check("lr", 0.0)  # an exclusive end


def test_check_settings_checks_numbers_and_each_element_of_a_tuple_and_leaves_choices_to_their_users():
    check_settings({"epochs": None, "hidden": (32, 16), "modality": "video", "clip_params": {"x": 1}})
    with pytest.raises(ValueError, match="hidden must be"):
        check_settings({"hidden": (32, 0)})
    with pytest.raises(ValueError, match="hidden must not be empty"):
        check_settings({"hidden": ()})


def test_every_spec_is_coherent():
    for name, spec in SPECS.items():
        assert spec.name == name and spec.help, name
        if spec.kind == "choice":
            assert spec.default is None or spec.default in spec.choices, name
            continue
        low, high = spec.widget_range
        assert spec.low is None or low is None or spec.low <= low, name  # a widget offers at most the range
        assert spec.high is None or high is None or high <= spec.high, name
        if spec.default is not None:
            assert spec.check(spec.default) == spec.default, name
        if spec.step is not None:
            assert spec.step > 0, name


def test_a_widget_range_narrows_the_range_and_clip_can_use_either():
    k = SPECS["n_clusters"]
    assert k.widget_range == (2, 50) and (k.low, k.high) == (2, 10_000)
    assert k.clip(70) == 70 and k.clip(70, widget=True) == 50 and k.clip(0, widget=True) == 2
    assert SPECS["eps"].widget_range == (SPECS["eps"].low, SPECS["eps"].high)  # none declared: the range


# ------------------------------------------------------------------------------------ its readers
def test_the_command_line_refuses_an_out_of_range_value_in_the_specs_words(capsys, tmp_path, monkeypatch):
    base = ["train", "--model", "basic", "--data", "demo", "--out", str(tmp_path / "x.pt")]
    with pytest.raises(SystemExit) as exit_:
        build_parser("train").parse_args(base + ["--n-clusters", "1"])
    assert exit_.value.code == 2
    assert f"argument --n-clusters: must be {describe('n_clusters')}, got '1'" in capsys.readouterr().err
    # the spec narrowed: the same command follows it, in the new words
    narrowed = _narrowed(monkeypatch, "epochs", high=50)
    with pytest.raises(SystemExit):
        build_parser("train").parse_args(base + ["--epochs", "60"])
    assert f"argument --epochs: must be {narrowed.describe()}, got '60'" in capsys.readouterr().err
    assert build_parser("train").parse_args(base + ["--epochs", "50"]).epochs == 50
    with pytest.raises(SystemExit):
        build_parser("evaluate").parse_args(["evaluate", "--data", "demo", "--out", "r.csv", "--k", "2,1"])
    assert "argument --k: must be comma-separated values, each a whole number from 2" in capsys.readouterr().err


def test_the_command_lines_choices_and_help_are_the_specs():
    parser = build_parser("train")
    train = next(a for a in parser._actions if a.dest == "command").choices["train"]
    actions = {a.dest: a for a in train._actions}
    assert tuple(actions["model"].choices) == SPECS["model"].choices == tuple(sorted(MODELS))
    assert tuple(actions["modality"].choices) == SPECS["modality"].choices
    for name in ("epochs", "latent_dim", "free_bits", "n_clusters", "random_state"):
        assert actions[name].help == SPECS[name].help, name


def test_create_refuses_an_out_of_range_setting_in_the_specs_words(monkeypatch):
    with pytest.raises(ValueError, match=r"^epochs must be a whole number from 1 to 100000, got 0$"):
        create("basic", epochs=0)
    with pytest.raises(ValueError, match="random_state must be"):
        create("pca", random_state=-1)
    _narrowed(monkeypatch, "latent_dim", high=3)
    with pytest.raises(ValueError, match="latent_dim must be a whole number from 1 to 3, got 4"):
        create("basic", latent_dim=4)
    assert create("basic", latent_dim=3).latent_dim == 3


def test_the_clusterers_follow_the_spec_and_keep_their_own_defaults(monkeypatch):
    Z = np.random.default_rng(0).normal(size=(30, 2))
    assert CLUSTERERS["kmeans"].params["n_init"].default == 10 and CLUSTERERS["gmm"].params["n_init"].default == 3
    assert CLUSTERERS["kmeans"].params["n_init"].high == CLUSTERERS["gmm"].params["n_init"].high  # one range
    _narrowed(monkeypatch, "n_clusters", high=3)
    with pytest.raises(ValueError, match="parameter n_clusters=4 must be a whole number from 2 to 3"):
        cluster("kmeans", Z, n_clusters=4)
    assert CLUSTERERS["kmeans"].params["n_clusters"].high == 3
    assert cluster("kmeans", Z, n_clusters=3, n_init=1).n_clusters == 3


def test_clusterers_and_projections_declare_no_range_of_their_own():
    for entry in CLUSTERERS.values():
        for name, spec in entry.params.items():
            assert dataclasses.replace(spec, default=None) == dataclasses.replace(SPECS[name], default=None), name
    for method in PROJECTION_PARAMS.values():
        for name, spec in method.items():
            assert spec is SPECS[name]


# ------------------------------------------------------------------------------------ the models
@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_has_a_label_and_every_setting_in_get_params(name):
    model = create(name)
    assert model.label and model.label != name and not model.label.endswith(".")
    settings = model.get_params()
    expected = field_names(model.config_class) | field_names(model.training_class) | {"random_state", "device"}
    assert set(settings) == expected
    assert all(settings[f.name] == getattr(model.config, f.name) for f in dataclasses.fields(model.config))
    for key, value in settings.items():  # every number a model holds is inside its spec's range
        if key in SPECS and value is not None and SPECS[key].kind != "choice":
            for v in value if isinstance(value, tuple) else (value,):
                SPECS[key].check(v)
    # what create() takes is what get_params() gives back
    rebuilt = create(name, **{k: v for k, v in settings.items() if k not in ("random_state", "device")},
                     random_state=settings["random_state"], device=settings["device"])
    assert rebuilt.get_params() == settings


def test_labels_are_distinct_and_get_params_holds_what_was_asked():
    assert len({cls.label for cls in MODELS.values()}) == len(MODELS)
    settings = create("conv", beta=2.0, width=16, random_state=7).get_params()
    assert (settings["beta"], settings["width"], settings["random_state"]) == (2.0, 16, 7)
    assert "beta" not in create("ae").get_params() and "epochs" not in create("pca").get_params()
    assert [n for n, cls in MODELS.items() if cls.spectrogram_vae] == ["conv", "beta"]
