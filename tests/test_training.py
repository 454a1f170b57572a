"""The one training loop: callbacks, stop event, early stopping with best weights, metrics, split."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from core.models.losses import VAELoss
from core.models.vae import MLPVAE
from core.training import evaluate, split_indices, train


def data(n=200, f=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(3, f, generator=g) * 3
    x = centers[torch.randint(0, 3, (n,), generator=g)] + torch.randn(n, f, generator=g) * 0.5
    return {"x": x}


def module(f=10, d=2, seed=0):
    torch.manual_seed(seed)
    return MLPVAE(f, (16,), d)


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
    tr, va = split_indices(100, val_fraction=0.2, seed=1)
    tr2, va2 = split_indices(100, val_fraction=0.2, seed=1)
    assert len(va) == 20 and len(tr) == 80 and not set(tr) & set(va)
    np.testing.assert_array_equal(va, va2)
    assert not np.array_equal(va, split_indices(100, val_fraction=0.2, seed=2)[1])
    assert len(split_indices(5, val_fraction=0.2, seed=0)[1]) == 0  # too few to hold any out


def test_callbacks_get_every_batch_and_epoch_with_loss_terms():
    rec = Recorder()
    history = train(module(), VAELoss(), data(), epochs=3, batch_size=32, callback=rec, seed=0)
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
    train(module(), VAELoss(), data(), epochs=2, callback=seen.append)
    assert [s["epoch"] for s in seen] == [1, 2]


def test_stop_event_ends_cleanly_with_the_best_weights():
    stop = threading.Event()
    rec = Recorder(stop_at=(3, 2), event=stop)
    m = module()
    history = train(m, VAELoss(), data(), epochs=50, callback=rec, stop=stop)
    assert len(history) == 2  # the interrupted third epoch is discarded
    best = min(h["val_loss"] for h in history)
    d = data()
    _, va = split_indices(200, val_fraction=0.1, seed=0)
    val, _ = evaluate(m, VAELoss(), d, torch.as_tensor(va), epoch=10**9, seed=0)
    assert np.isclose(val["loss"], best, rtol=1e-5)


def test_stop_from_another_thread():
    stop = threading.Event()
    started = threading.Event()

    class Slow:
        def on_batch(self, info):
            started.set()

    result = {}
    t = threading.Thread(target=lambda: result.setdefault(
        "h", train(module(), VAELoss(), data(2000), epochs=10_000, batch_size=8, callback=Slow(), stop=stop)))
    t.start()
    assert started.wait(30)
    stop.set()
    t.join(60)
    assert not t.is_alive() and len(result["h"]) < 10_000


def test_early_stopping_keeps_the_best_epoch():
    m = module()
    # a huge learning rate makes the validation loss blow up after the first epochs
    history = train(m, VAELoss(), data(), epochs=40, lr=0.5, patience=3)
    best_epoch = min(history, key=lambda h: h["val_loss"])["epoch"]
    assert len(history) == best_epoch + 3
    assert [h["epoch"] for h in history if h["best"]][-1] == best_epoch
    _, va = split_indices(200, val_fraction=0.1, seed=0)
    val, _ = evaluate(m, VAELoss(), data(), torch.as_tensor(va), epoch=10**9, seed=0)
    assert np.isclose(val["loss"], history[best_epoch - 1]["val_loss"], rtol=1e-5)


def test_warmup_epochs_are_not_compared_for_the_best():
    history = train(module(), VAELoss(beta=4.0, warmup_epochs=3), data(), epochs=4)
    assert [h["beta"] for h in history] == [4 / 3, 8 / 3, 4.0, 4.0]
    assert all(h["best"] for h in history[:3])  # each warm-up epoch replaces the previous one


def test_cluster_metrics_every_k_epochs():
    history = train(module(), VAELoss(), data(300), epochs=4, metrics_every=2, n_clusters=3)
    assert history[0]["metrics"] == {} and history[2]["metrics"] == {}
    sil = history[1]["metrics"]["silhouette"]
    assert -1 <= sil <= 1 and "silhouette" in history[3]["metrics"]


def test_same_seed_same_history():
    h1 = train(module(seed=5), VAELoss(), data(), epochs=3, seed=7)
    h2 = train(module(seed=5), VAELoss(), data(), epochs=3, seed=7)
    h3 = train(module(seed=5), VAELoss(), data(), epochs=3, seed=8)
    assert [h["loss"] for h in h1] == [h["loss"] for h in h2]
    assert [h["loss"] for h in h1] != [h["loss"] for h in h3]


def test_training_learns_something():
    history = train(module(), VAELoss(), data(), epochs=30)
    assert history[-1]["val_recon"] < 0.5 * history[0]["val_recon"]


@pytest.mark.parametrize("threads", [1, 2])
def test_thread_setting(threads):
    train(module(), VAELoss(), data(50), epochs=1, num_threads=threads)
    assert torch.get_num_threads() == threads
