"""The one training loop: callbacks, stop event, early stopping with best weights, the validation hook,
split, and the global torch state it must leave alone (seed, threads, the module's device)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from core.models.losses import VAELoss
from core.models.vae import MLPVAE
from core.training import TrainConfig, evaluate, init_parameters, resolve_device, split_indices, train

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def data(n=200, f=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(3, f, generator=g) * 3
    x = centers[torch.randint(0, 3, (n,), generator=g)] + torch.randn(n, f, generator=g) * 0.5
    return {"x": x}


def module(f=10, d=2, seed=0):
    return init_parameters(MLPVAE(f, (16,), d), generator=torch.Generator().manual_seed(seed))


class Recorder:
    def __init__(self, stop_at=None, event=None):
        self.batches, self.epochs = [], []
        self.stop_at, self.event = stop_at, event

    def on_batch(self, info):
        self.batches.append(info)
        if self.stop_at and (info["epoch"], info["batch"]) == self.stop_at:
            self.event.set()

    def on_epoch(self, info):
        self.epochs.append(info)


def test_split_is_deterministic_and_disjoint():
    tr, va = split_indices(100, val_fraction=0.2, random_state=1)
    tr2, va2 = split_indices(100, val_fraction=0.2, random_state=1)
    assert len(va) == 20 and len(tr) == 80 and not set(tr) & set(va)
    np.testing.assert_array_equal(va, va2)
    assert not np.array_equal(va, split_indices(100, val_fraction=0.2, random_state=2)[1])
    assert len(split_indices(5, val_fraction=0.2, random_state=0)[1]) == 0  # too few to hold any out


def test_callbacks_get_every_batch_and_epoch_with_loss_terms():
    rec = Recorder()
    history = train(module(), VAELoss(), data(), TrainConfig(epochs=3, batch_size=32), callback=rec, random_state=0)
    n_batches = int(np.ceil(180 / 32))
    assert len(rec.batches) == 3 * n_batches and len(rec.epochs) == 3 == len(history)
    b = rec.batches[0]
    assert b["n_batches"] == n_batches and b["epoch"] == 1 and b["batch"] == 1
    assert np.isclose(b["loss"], b["recon"] + b["kl"], rtol=1e-5) and len(b["kl_per_dim"]) == 2
    e = rec.epochs[-1]
    for key in ("loss", "recon", "kl", "kl_per_dim", "val_loss", "val_recon", "val_kl", "val_kl_per_dim",
                "beta", "metrics", "epochs"):
        assert key in e, key
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert np.isclose(e["val_loss"], e["val_recon"] + e["val_kl"], rtol=1e-5)
    assert np.isclose(sum(e["val_kl_per_dim"]), e["val_kl"], rtol=1e-5)


def test_a_plain_function_is_the_epoch_callback():
    seen = []
    train(module(), VAELoss(), data(), TrainConfig(epochs=2), callback=seen.append)
    assert [s["epoch"] for s in seen] == [1, 2]


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
def test_stop_event_ends_cleanly_with_the_best_weights(device):
    stop = threading.Event()
    rec = Recorder(stop_at=(3, 2), event=stop)
    m = module()
    history = train(m, VAELoss(), data(), TrainConfig(epochs=50), callback=rec, stop=stop, device=device)
    assert next(m.parameters()).device.type == "cpu"  # back where it started
    assert len(history) == 2  # the interrupted third epoch is discarded
    best = min(h["val_loss"] for h in history)
    # Validate where training validated: CUDA and the CPU draw different noise for the same seed.
    d = {k: v.to(device) for k, v in data().items()}
    _, va = split_indices(200, val_fraction=0.1, random_state=0)
    val, _ = evaluate(m.to(device), VAELoss(), d, torch.as_tensor(va, device=device), epoch=10**9, random_state=0)
    m.to("cpu")
    assert np.isclose(val["loss"], best, rtol=1e-5)


def test_stop_from_another_thread():
    stop = threading.Event()
    started = threading.Event()

    class Slow:
        def on_batch(self, info):
            started.set()

    result = {}
    t = threading.Thread(target=lambda: result.setdefault(
        "h", train(module(), VAELoss(), data(2000), TrainConfig(epochs=10_000, batch_size=8), callback=Slow(),
                   stop=stop)))
    t.start()
    assert started.wait(30)
    stop.set()
    t.join(60)
    assert not t.is_alive() and len(result["h"]) < 10_000


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
def test_early_stopping_keeps_the_best_epoch(device):
    m = module()
    # a huge learning rate makes the validation loss blow up after the first epochs
    history = train(m, VAELoss(), data(), TrainConfig(epochs=40, lr=0.5, patience=3), device=device)
    assert next(m.parameters()).device.type == "cpu"
    best_epoch = min(history, key=lambda h: h["val_loss"])["epoch"]
    assert len(history) == best_epoch + 3
    assert [h["epoch"] for h in history if h["best"]][-1] == best_epoch
    _, va = split_indices(200, val_fraction=0.1, random_state=0)
    val, _ = evaluate(m, VAELoss(), data(), torch.as_tensor(va), epoch=10**9, random_state=0)
    assert np.isclose(val["loss"], history[best_epoch - 1]["val_loss"], rtol=1e-5)


def test_warmup_epochs_are_not_compared_for_the_best():
    history = train(module(), VAELoss(beta=4.0, warmup_epochs=3), data(), TrainConfig(epochs=4))
    assert [h["beta"] for h in history] == [4 / 3, 8 / 3, 4.0, 4.0]
    assert all(h["best"] for h in history[:3])  # each warm-up epoch replaces the previous one


class FakeMonitor:
    """Stands in for core.model_scores.TrainingMonitor: the hook's contract, nothing else."""

    def __init__(self, every):
        self.every, self.calls = every, []

    def on_validation(self, *, epoch, latents):
        self.calls.append((epoch, latents.copy()))
        return {"spread": float(latents.std())} if epoch % self.every == 0 else None


def test_on_validation_gets_the_validation_latents_and_fills_metrics():
    m = module(d=3)
    monitor = FakeMonitor(every=2)
    history = train(m, VAELoss(), data(300), TrainConfig(epochs=4), callback=monitor)
    assert [e for e, _ in monitor.calls] == [1, 2, 3, 4]
    _, va = split_indices(300, val_fraction=0.1, random_state=0)
    assert all(z.shape == (len(va), 3) and z.dtype == np.float32 for _, z in monitor.calls)
    assert history[0]["metrics"] == {} and history[2]["metrics"] == {}
    assert history[1]["metrics"] == {"spread": pytest.approx(float(monitor.calls[1][1].std()))}
    # the latents are the validation rows' means: at the last epoch (the best here) the module's own
    assert history[-1]["best"]
    _, mu = evaluate(m, VAELoss(), data(300), torch.as_tensor(va), epoch=10**9, random_state=0)
    np.testing.assert_allclose(monitor.calls[-1][1], mu.numpy(), rtol=1e-5, atol=1e-6)


def test_callback_with_only_the_validation_hook_is_not_taken_for_a_function():
    class Only:
        def __init__(self):
            self.n = 0

        def on_validation(self, *, epoch, latents):
            self.n += 1
            return {}

        def __call__(self, info):  # would be used as on_epoch if the hook were missed
            raise AssertionError("called as a function")

    cb = Only()
    train(module(), VAELoss(), data(), TrainConfig(epochs=2), callback=cb)
    assert cb.n == 2


def test_same_seed_same_history():
    h1 = train(module(seed=5), VAELoss(), data(), TrainConfig(epochs=3), random_state=7)
    h2 = train(module(seed=5), VAELoss(), data(), TrainConfig(epochs=3), random_state=7)
    h3 = train(module(seed=5), VAELoss(), data(), TrainConfig(epochs=3), random_state=8)
    assert [h["loss"] for h in h1] == [h["loss"] for h in h2]
    assert [h["loss"] for h in h1] != [h["loss"] for h in h3]


def test_training_learns_something():
    history = train(module(), VAELoss(), data(), TrainConfig(epochs=30))
    assert history[-1]["val_recon"] < 0.5 * history[0]["val_recon"]


@pytest.mark.parametrize("threads", [1, 2])
def test_thread_count_is_used_while_training_and_restored_after(threads):
    before = torch.get_num_threads()
    seen = []
    train(module(), VAELoss(), data(50), TrainConfig(epochs=1), num_threads=threads,
          callback=lambda info: seen.append(torch.get_num_threads()))
    assert seen == [threads]
    assert torch.get_num_threads() == before


def test_the_default_thread_count_follows_the_machine_not_its_load(monkeypatch):
    """The thread count changes floating-point sums, so it must not follow the moment's load: a seeded run
    gave another model (the demo ConvVAE's genre NMI 0.39 vs 0.47) depending on how busy the cores were."""
    import os

    from core.errors import BadInputError
    from core.training import default_threads

    big = torch.nn.Linear(1000, 1000)  # 1 M parameters: not "small"
    monkeypatch.delenv("SONGSCAPE_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    counts = set()
    for load in (0.0, 3.0, 7.9, 40.0):
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, load, load))
        counts.add(default_threads(big))
    assert counts == {4}
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert default_threads(big) == 1 and default_threads(torch.nn.Linear(3, 3)) == 1
    monkeypatch.setenv("SONGSCAPE_THREADS", "3")
    assert default_threads(big) == 3 and default_threads(torch.nn.Linear(3, 3)) == 3
    monkeypatch.setenv("SONGSCAPE_THREADS", "many")
    with pytest.raises(BadInputError, match="SONGSCAPE_THREADS='many'"):
        default_threads(big)


def test_thread_count_is_restored_when_training_fails():
    before = torch.get_num_threads()
    with pytest.raises(KeyError):
        train(module(), VAELoss(), {"y": torch.zeros(20, 10)}, TrainConfig(epochs=1), num_threads=before + 1)
    assert torch.get_num_threads() == before


def test_training_leaves_the_global_torch_seed_alone():
    m = module()
    torch.manual_seed(1234)
    state = torch.get_rng_state()
    train(m, VAELoss(), data(), TrainConfig(epochs=2))
    assert torch.equal(torch.get_rng_state(), state)


def test_seeded_initialisation_uses_the_generator_only():
    a = module(seed=3)
    torch.manual_seed(0)
    b = module(seed=3)
    torch.manual_seed(99)
    c = module(seed=3)
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb) and torch.equal(pa, pc)
    assert not torch.equal(next(module(seed=4).parameters()), next(a.parameters()))
    # the same distribution as torch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    w = a.encoder[0].weight
    assert w.abs().max() <= 1 / np.sqrt(10) and w.abs().max() > 0.8 / np.sqrt(10)
    with pytest.raises(TypeError, match="Embedding"):
        init_parameters(torch.nn.Embedding(3, 2), generator=torch.Generator())


def test_device_auto_follows_the_model_and_the_environment(monkeypatch):
    monkeypatch.delenv("SONGSCAPE_DEVICE", raising=False)
    assert resolve_device("auto", cuda_pays_off=False).type == "cpu"  # never CUDA where it is slower
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto", cuda_pays_off=True).type == want
    assert resolve_device("cpu", cuda_pays_off=True).type == "cpu"
    monkeypatch.setenv("SONGSCAPE_DEVICE", "cpu")
    assert resolve_device("auto", cuda_pays_off=True).type == "cpu"


# ------------------------------------------------------------ schedules and what happened
class Exploding(MLPVAE):
    """An MLPVAE whose reconstruction error becomes NaN from the ``at``-th forward pass in training mode."""

    def __init__(self, *args, at: int, **kw):
        super().__init__(*args, **kw)
        self.at, self.calls = at, 0

    def reconstruction_error(self, out, batch):
        err = super().reconstruction_error(out, batch)
        if self.training:
            self.calls += 1
            if self.calls >= self.at:
                return err * float("nan")
        return err


def test_a_non_finite_loss_stops_training_says_so_and_keeps_the_best_weights():
    net = init_parameters(Exploding(10, (16,), 2, at=15), generator=torch.Generator().manual_seed(0))
    rec = Recorder()
    history = train(net, VAELoss(), data(), TrainConfig(epochs=10, batch_size=32), callback=rec, random_state=0)
    assert len(history) == 3 and history[-1]["diverged"] and not history[-1]["best"]
    assert history[-1]["warnings"][0].startswith("diverged: the loss became nan at step 15 (epoch 3)")
    assert rec.epochs[-1]["stopped_early"]
    assert all(torch.isfinite(p).all() for p in net.parameters())  # the best (epoch 2) weights are back
    assert all(not h.get("warnings") for h in history[:-1])


def test_collapse_is_reported_when_no_dimension_is_active():
    # a huge β drives every dimension to the prior: 0 active units once β has warmed up
    history = train(module(), VAELoss(beta=1e4), data(), TrainConfig(epochs=6, batch_size=32, lr=1e-2),
                    random_state=0)
    last = history[-1]
    assert last["active_units"] == 0
    assert any(w.startswith("collapse: no active latent dimension") for w in last["warnings"])
    fine = train(module(), VAELoss(), data(), TrainConfig(epochs=6, batch_size=32, lr=1e-2), random_state=0)
    assert fine[-1]["active_units"] > 0 and not any("collapse" in w for h in fine for w in h["warnings"])


def test_a_loss_still_falling_at_the_end_is_reported():
    short = train(module(), VAELoss(), data(), TrainConfig(epochs=4, batch_size=32, lr=5e-3), random_state=0)
    assert any(w.startswith("still falling") for w in short[-1]["warnings"])
    assert all(not any("still falling" in w for w in h["warnings"]) for h in short[:-1])
    from core.training.loop import _end_warnings

    noisy_flat = [{"val_loss": 10.0 + (0.3 if e % 2 else -0.3)} for e in range(40)]
    assert _end_warnings(noisy_flat) == []  # converged: noise alone is not "still falling"
    assert _end_warnings([{"val_loss": 10.0 - 0.1 * e} for e in range(40)])  # a steady fall is


def test_steps_per_epoch_and_per_step_schedules():
    """An epoch of 7 steps; the lr warms up over 5 steps then follows a cosine to 0; β warms up per step."""
    seen = []

    class Tracker:
        def on_batch(self, info):
            seen.append(info)

    loss = VAELoss(beta=2.0, warmup_steps=14)
    config = TrainConfig(epochs=3, steps_per_epoch=7, batch_size=16, lr=1e-2, lr_warmup_steps=5, lr_schedule="cosine",
                         clip_norm=0.5, weight_decay=1e-4)
    history = train(module(), loss, data(), config, random_state=0, callback=Tracker())
    assert len(seen) == 21 and [h["step"] for h in history] == [7, 14, 21]
    assert [h["beta"] for h in history] == [1.0, 2.0, 2.0]
    assert history[-1]["lr"] < 1e-4 and history[0]["lr"] > 5e-3  # cosine: near 0 at the end
    assert all(h["grad_norm"] is not None and h["batch_size"] == 16 for h in history)
    from core.training.loop import lr_factor

    f = [lr_factor(s, total_steps=20, warmup_steps=5, schedule="cosine") for s in range(20)]
    assert f[0] == pytest.approx(0.2) and max(f) <= 1.0 and f[-1] < 0.01
    assert np.all(np.diff(f[5:]) < 0)  # decreasing after the warm-up


def test_batch_sources_draw_new_rows_each_step_and_evaluate_deterministically():
    class Source:
        def __init__(self):
            self.x = data()["x"]
            self.calls = []

        def __len__(self):
            return len(self.x)

        def batch(self, idx, *, rng=None, device="cpu"):
            self.calls.append(rng is None)
            noise = 0.0 if rng is None else torch.from_numpy(rng.normal(0, 0.01, (len(idx), 1))).float()
            return {"x": (self.x[torch.as_tensor(idx)] + noise).to(device)}

    src = Source()
    history = train(module(), VAELoss(), src, TrainConfig(epochs=2, steps_per_epoch=5, batch_size=8), random_state=0)
    assert len(history) == 2 and src.calls.count(False) == 10 and src.calls.count(True) >= 2
