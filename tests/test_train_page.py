"""The Train page trains exactly what was typed; runs never collide; a running job survives a reload (AppTest).

Also the caps on training jobs. The jobs run for real on the
tiny demo corpus (a few epochs); the registry is the dashboard's own (``ui.jobs.registry``).
"""

from __future__ import annotations

import dataclasses

import pytest

from core import checkpoint, config, params, shelf
from core.jobs import Job, JobLimitError, JobRegistry
from core.models import MODELS, create
from tests.test_app import _app, app_env, monkeypatch_module  # noqa: F401  (fixtures)
from ui import jobs as ui_jobs

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _no_job_left_running():
    """A job thread alive at interpreter exit would abort it: stop every job a test leaves behind."""
    yield
    for job in ui_jobs.registry().jobs(running=True):
        job.stop()
        job.join(60)


def _train_page():
    at = _app()
    at.run()
    at.switch_page("views/train_page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _wait(job, timeout: float = 120.0) -> None:
    job.join(timeout)
    assert not job.running, f"{job.name} still running after {timeout} s"


def _start(at, model: str, **values) -> None:
    at.selectbox(key="train_model").set_value(model).run()
    for name, value in values.items():
        widget = at.text_input(key=f"train_{name}") if name == "name" else at.number_input(key=f"train_{name}")
        widget.set_value(value)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _my_job(at):
    job = ui_jobs.registry().get(at.session_state["job:job"])
    assert job is not None
    return job


def test_the_form_trains_the_typed_model_epochs_and_name(app_env):
    """ConvVAE, 2 epochs, "mine": the checkpoint is mine.pt with a conv model trained 2 epochs (and its refinement)."""
    at = _train_page()
    _start(at, "conv", epochs=2, steps_per_epoch=3, width=16, free_bits=0.5, name="mine")
    job = _my_job(at)
    assert job.settings["model"] == "conv" and job.settings["epochs"] == 2
    # While it trains the page shows the run's own settings, not another model's defaults.
    shown = next((d.value for d in at.dataframe if "setting" in d.value.columns), None) if job.running else None
    _wait(job)
    assert job.status == "done", job.error
    assert job.save_to == config.RUNS_DIR / "mine.pt"
    info = checkpoint.describe(job.save_to)
    assert info["model"] == "conv" and info["epochs_trained"] == 2 + 1  # then one epoch of refinement
    # the spectrogram VAE's own knobs reach the model: width, steps per epoch, free bits
    assert info["model_config"]["width"] == 16
    assert info["train_config"]["steps_per_epoch"] == 3 and info["train_config"]["free_bits"] == 0.5
    assert info["history"]["steps"] == 9 and info["history"]["refine_epochs"] == 1
    if shown is not None:
        values = dict(zip(shown["setting"], shown["value"]))
        assert values["model"] == "ConvVAE" and values["epochs"] == "2"


def test_the_typed_beta_is_the_trained_beta(app_env):
    at = _train_page()
    _start(at, "beta", beta=2.0, epochs=1, name="beta-two")
    job = _my_job(at)
    _wait(job)
    assert job.status == "done", job.error
    assert checkpoint.describe(job.save_to)["train_config"]["beta"] == 2.0


def test_a_model_change_shows_that_models_values_and_labels(app_env):
    at = _train_page()
    at.selectbox(key="train_model").set_value("conv").run()
    # the model's own defaults (its config classes), not copies kept on the page
    conv = MODELS["conv"]
    config, training = conv.config_class(), conv.training_class(**conv.training_defaults)
    for key, value in {"epochs": training.epochs, "batch_size": training.batch_size, "lr": training.lr,
                       "latent_dim": config.latent_dim, "beta": training.beta, "width": config.width,
                       "steps_per_epoch": training.steps_per_epoch, "free_bits": training.free_bits}.items():
        assert at.number_input(key=f"train_{key}").value == value, key
    help_line = next(c.value for c in at.caption if c.value.startswith("ConvVAE:"))
    assert "4 conv layers" not in help_line and "128×128" not in help_line
    assert f"track latent of {config.latent_dim} beside a crop latent of {config.crop_latent_dim}" in help_line
    assert f"lyrics latent {config.lyrics_latent_dim}" in help_line
    normalised = conv(config, training).beta_normalised()
    assert any(f"β normalised = {normalised:.3g}" in c.value for c in at.caption), [c.value for c in at.caption]
    at.selectbox(key="train_model").set_value("beta").run()
    assert at.number_input(key="train_beta").value == MODELS["beta"].training_defaults["beta"] == 4.0
    at.selectbox(key="train_model").set_value("basic").run()
    assert at.number_input(key="train_epochs").value == 120
    assert at.text_input(key="train_name").value == "basic-run"
    labels = list(at.selectbox(key="train_model").proto.options)  # the labels the browser shows
    assert "PCA" in labels and not any(label.endswith(".") for label in labels), labels  # labels, not help sentences


def test_typed_values_survive_a_model_change_untouched_ones_follow_the_model(app_env):
    """Type epochs 6 and the name "mine" on the Basic VAE, switch to the ConvVAE: both stay; the fields
    not typed in show the ConvVAE's defaults; the run trains 6 epochs into mine.pt. Back on the
    Basic VAE the typed values are still there (they survive the conv-only fields being dropped)."""
    at = _train_page()
    assert at.selectbox(key="train_model").value == "basic"
    at.number_input(key="train_epochs").set_value(6)
    at.text_input(key="train_name").set_value("mine")
    at.run()
    at.selectbox(key="train_model").set_value("conv").run()
    assert not at.exception, [e.value for e in at.exception]
    conv = MODELS["conv"]
    config, training = conv.config_class(), conv.training_class(**conv.training_defaults)
    assert at.number_input(key="train_epochs").value == 6
    assert at.text_input(key="train_name").value == "mine"
    assert at.number_input(key="train_batch_size").value == training.batch_size != 32  # untouched: conv's default
    assert at.number_input(key="train_latent_dim").value == config.latent_dim
    at.number_input(key="train_steps_per_epoch").set_value(2)
    at.number_input(key="train_width").set_value(16)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]
    job = _my_job(at)
    _wait(job)
    assert job.status == "done", job.error
    assert job.save_to.name.startswith("mine") and job.save_to.suffix == ".pt"
    info = checkpoint.describe(job.save_to)
    # 6 epochs, then a refinement of the temporal latent cut to a third of them
    assert info["model"] == "conv" and info["epochs_trained"] == 6 + 2 and info["train_config"]["epochs"] == 6
    at.run()  # the run ended: the form is back, with what was typed and a name no run has taken
    assert at.selectbox(key="train_model").value == "conv"
    assert at.text_input(key="train_name").value == shelf.next_run_name(job.save_to)
    at.selectbox(key="train_model").set_value("basic").run()
    assert at.number_input(key="train_epochs").value == 6
    assert at.text_input(key="train_name").value == shelf.next_run_name(job.save_to)
    assert at.number_input(key="train_batch_size").value == 32  # untouched: the Basic VAE's default again
    at.selectbox(key="train_model").set_value("conv").run()
    assert at.number_input(key="train_steps_per_epoch").value == 2  # a conv-only field typed, dropped, put back


def test_a_second_run_under_a_taken_name_gets_a_fresh_name(app_env):
    first = _train_page()
    _start(first, "basic", epochs=2, name="shared")
    _wait(_my_job(first))
    before = (config.RUNS_DIR / "shared.pt").read_bytes()

    second = _train_page()  # another session, same default-style name
    _start(second, "basic", epochs=3, name="shared")
    job = _my_job(second)
    _wait(job)
    assert job.save_to == config.RUNS_DIR / "shared-2.pt"
    assert (config.RUNS_DIR / "shared.pt").read_bytes() == before, "the first run was overwritten"
    second.run()
    assert any("shared-2" in i.value for i in second.info), [i.value for i in second.info]


def test_a_running_job_survives_a_reload_and_can_be_stopped(app_env):
    at = _train_page()
    _start(at, "conv", epochs=500, name="long")
    job = _my_job(at)
    assert job.running
    assert at.query_params["job"] in (job.id, [job.id])

    reloaded = _app()  # a reload: a new session whose URL still carries ?job=...
    reloaded.query_params["job"] = job.id
    reloaded.run()
    reloaded.switch_page("views/train_page.py").run()
    assert not reloaded.exception, [e.value for e in reloaded.exception]
    assert reloaded.session_state["job:job"] == job.id
    stop = reloaded.button(key="stop-training")
    assert "Start training" not in [b.label for b in reloaded.button]  # the form waits for the run
    stop.click().run()
    _wait(job)
    assert job.status == "stopped"
    assert (config.RUNS_DIR / "long.pt").exists(), "a stopped run keeps its best weights"


def test_the_server_wide_cap_is_said_clearly(app_env):
    registry = ui_jobs.registry()
    busy = _Sleeper("someone else's run")
    registry.add(busy, owner="another-session")
    old = registry.total
    registry.total = 1
    try:
        busy.start()
        at = _train_page()
        at.selectbox(key="train_model").set_value("basic").run()
        next(b for b in at.button if b.label == "Start training").click().run()
        assert not at.exception
        assert any("SONGSCAPE_MAX_JOBS=1" in e.value for e in at.error), [e.value for e in at.error]
        assert any("1 other training run" in c.value for c in at.caption)
    finally:
        registry.total = old
        busy.stop()
        busy.join(10)


def test_training_warnings_and_active_units_are_shown(app_env):
    """History records may carry ``active_units`` and ``warnings``: the page shows both, and a warning box."""
    at = _train_page()
    job = _Sleeper("collapsing")
    job.epochs = [{"epoch": 1, "loss": 2.0, "recon": 1.5, "kl": 0.5, "active_units": 3, "warnings": []},
                  {"epoch": 2, "loss": 1.5, "recon": 1.4, "kl": 0.01, "active_units": 0,
                   "warnings": ["posterior collapse: no active latent units"]}]
    job.settings = {"model": "basic", "epochs": 2, "latent_dim": 4}
    job.status = "done"
    ui_jobs.registry().add(job, owner="test")
    at.session_state["job:job"] = job.id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("posterior collapse" in w.value for w in at.warning), [w.value for w in at.warning]
    assert any("active latent units" in c.value and "**0** of 4" in c.value for c in at.caption)
    # a multimodal latent: the count is out of every dimension whose KL was measured, not the audio block's
    job.epochs[-1] = {**job.epochs[-1], "active_units": 40, "val_kl_per_dim": [0.5] * 40 + [0.0] * 16}
    job.settings = {"model": "conv", "epochs": 2, "latent_dim": 32}
    at.run()
    assert any("**40** of 56" in c.value for c in at.caption), [c.value for c in at.caption]
    # records without the new keys still render
    job.epochs = [{"epoch": 1, "loss": 2.0, "recon": 1.5, "kl": 0.5}]
    at.run()
    assert not at.exception, [e.value for e in at.exception]


class _Sleeper(Job):
    """A stand-in training job that runs until stopped."""

    kind = "train"

    def __init__(self, name):
        super().__init__(name=name)
        self.epochs, self.settings, self.save_to = [], {}, None

    def history(self):  # what the page reads: a snapshot, like TrainingJob.history
        return list(self.epochs)

    def work(self):
        while not self._stop.wait(0.05):
            pass


def test_registry_caps_per_session_and_in_total():
    registry = JobRegistry(per_session=1, total=2)
    a = registry.add(_Sleeper("a"), owner="s1").start()
    with pytest.raises(JobLimitError, match="SONGSCAPE_MAX_JOBS_PER_SESSION=1"):
        registry.add(_Sleeper("b"), owner="s1")
    b = registry.add(_Sleeper("b"), owner="s2").start()
    with pytest.raises(JobLimitError, match="SONGSCAPE_MAX_JOBS=2"):
        registry.add(_Sleeper("c"), owner="s3")
    a.stop(), a.join(5)
    registry.add(_Sleeper("c"), owner="s3")  # a slot is free again
    b.stop(), b.join(5)
    assert [j.name for j in registry.jobs(owner="s2")] == ["b"]
    registry.adopt(b.id, "s9")
    assert registry.owner(b.id) == "s9"


def test_before_start_the_page_says_how_long_and_offers_a_quick_run(app_env):
    """The ConvVAE's defaults: an estimate from steps timed here, the β warm-up in steps, and a quick
    preset that fills the form (and shortens the warm-up with the run)."""
    at = _train_page()
    assert any("On this machine this run takes **about" in m.value for m in at.markdown)  # the Basic VAE too
    at.selectbox(key="train_model").set_value("conv").run()
    assert not at.exception, [e.value for e in at.exception]
    estimate = next(m.value for m in at.markdown if "On this machine this run takes **about" in m.value)
    # 3,000 steps of the main stage, then 1,000 of the refinement
    assert "4,000 steps" in estimate and "the last 10 epochs a refinement" in estimate, estimate
    assert any("over the first **1,000** of the main stage's 3,000 steps" in c.value for c in at.caption)
    quick = at.button(key="train_quick")
    assert quick.label.startswith("Quick run: about"), quick.label
    quick.click().run()
    assert not at.exception, [e.value for e in at.exception]
    preset = MODELS["conv"].quick_training  # its keys are the form's fields
    assert {k: at.number_input(key=f"train_{k}").value for k in preset} == preset
    steps = preset["epochs"] * preset["steps_per_epoch"]
    assert any(f"over the first **{steps // 3:,}** of the main stage's {steps:,} steps" in c.value for c in at.caption)


def test_the_forms_fields_are_the_config_fields_with_their_bounds_from_the_one_spec(app_env, monkeypatch):
    """Each number box is keyed by the config field it sets, enabled only for a model that takes it, and takes
    its bounds, label and help from core.params: narrow a spec and the box follows."""
    specs = params.SPECS
    monkeypatch.setitem(specs, "epochs", dataclasses.replace(specs["epochs"], widget_max=321))
    monkeypatch.setitem(specs, "width", dataclasses.replace(specs["width"], widget_min=16, widget_max=256,
                                                            label="channels, from the spec", help="from the spec"))
    at = _train_page()
    epochs = at.number_input(key="train_epochs")
    assert (epochs.min, epochs.max, epochs.label) == (1, 321, specs["epochs"].title)
    for name in ("basic", "conv", "ae", "pca"):
        at.selectbox(key="train_model").set_value(name).run()
        assert not at.exception, [e.value for e in at.exception]
        settings = create(name).get_params()
        boxes = {b.key.removeprefix("train_"): b for b in at.number_input if b.key and b.key.startswith("train_")}
        assert boxes and set(boxes) <= set(specs), boxes.keys()
        for field, box in boxes.items():
            assert box.proto.disabled == (field not in settings), (name, field)
            if field in settings and settings[field] is not None:
                assert box.value == settings[field], (name, field)
    assert "width" not in boxes  # the last model, PCA, has no width box
    at.selectbox(key="train_model").set_value("conv").run()
    width = at.number_input(key="train_width")
    assert (width.min, width.max, width.label, width.help) == (16, 256, "channels, from the spec", "from the spec")
