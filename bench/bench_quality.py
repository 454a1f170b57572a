"""Benchmark: representation quality on real and demo music, every representation, several seeds.

Run:  .venv/bin/python -m bench.bench_quality [--seeds 3] [--corpora gtzan,demo] [--epochs-scale 1.0]
          [--models LABEL,...] [--out data/bench_quality.csv]

Corpora: ``gtzan`` = ../shared/data/gtzan_mini (100 real GTZAN clips, 10 genres, no lyrics),
``demo`` = data/demo (the synthetic demo corpus, genre + language + lyrics; make it with
``python -m core demo --out data/demo``) and ``hybrid`` = ../shared/data/hybrid_en_de_dev (493 real
English and German songs with lyrics, artist, language and a genre tag). Representations: the models of the study's tasks and of
the ``beyond`` and ``fusion`` tasks (:data:`core.evaluate.TASKS`), each built through the model
registry (``core.models.create``), so a new default (e.g. the ported ConvVAE) is picked up as is.
For each (corpus, representation, seed): fit without labels, encode, then the ONE scoring path
(``core.scoring.score_by_label``: K-Means with k = the number of classes of each label column,
NMI / ARI against genre and language, silhouette of the genre-k clustering) and, for models that
reconstruct a mel, ``core.reconstruction.model_reconstruction_measures`` (self-retrieval, the
onset-envelope correlation and the frame-to-frame change ratio, and the log-mel distances track ->
reconstruction and track -> corpus mean, on the model's mel excerpt).
Next to K-Means, the leave-one-out 5-NN agreement of every label (``core.metrics.neighbour_agreement``):
the map and "tracks like this one" rest on neighbours. A corpus with an ``artist`` column is scored
against it too, so that a "language" cluster that is really a few artists shows.
A model whose latent has an audio and a lyrics block (``core.blocks``) is scored on every part of it
from the same fit: ``[joint]`` (the default every page clusters), ``[balanced]``, ``[audio]``, ``[lyrics]`` and
``[all]`` (the raw concatenation). An audio-only spectrogram VAE's default part, ``all``, also holds its crop and
temporal blocks (an excerpt, not the track); its ``[audio]`` row is the track block alone.
Prints the command, a Markdown table (mean ± std over seeds) and what fusion adds over the best
single modality; writes the per-seed rows as CSV (``core.io.atomic_write``). CUDA is used by the
models that profit when present (``device="auto"``); everything runs on CPU.

**Transfer protocol** (``--transfer TRAIN:TEST``, ``--leave-one-out A,B[,C]``): does a representation
hold up on music it was not fitted on? Each representation is fitted on the TRAIN corpus (``a+b``:
several, combined) and encodes the TEST corpus without refitting; next to it, the in-corpus figure
(fitted on TEST itself). ``--leave-one-out`` scores each corpus fitted on all the others, and pooled
(fitted on all of them, itself included). Audio only: the lyrics are left out of every corpus, so a
model reads the same kind of input wherever it was fitted. Scored against the TEST corpus's labels
(never used in fitting): K-Means NMI, the 5-NN agreement and a cross-validated linear probe
(:func:`linear_probe`), which tell information the embedding lacks apart from information K-Means
cannot use. Prints the figures side by side (mean ± std over seeds) and writes the per-seed rows.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from core import blocks, checkpoint
from core.corpus import Corpus, load_sources
from core.errors import BadInputError
from core.evaluate import TASKS
from core.evaluate.run import _adapt, _needs, fit_latents, task_support
from core.evaluate.tasks import UMAP_BASELINE
from core.inputs import build_inputs
from core.io import atomic_write
from core.latents import encode_corpus, input_params, latent_part, with_collection_levels
from core.metrics import neighbour_agreement
from core.reconstruction import model_reconstruction_measures
from core.clustering import CLUSTERERS
from core.scoring import label_table, score, score_by_label

ROOT = Path(__file__).resolve().parent.parent

#: name -> (source kind, default folder); --gtzan / --demo override the folders.
CORPORA = {"gtzan": ("gtzan", ROOT.parent / "shared" / "data" / "gtzan_mini"), "demo": ("demo", ROOT / "data" / "demo"),
           "hybrid": ("manifest", ROOT.parent / "shared" / "data" / "hybrid_en_de_dev" / "manifest.csv")}
#: Label columns scored, where the corpus has them.
LABELS = ("genre", "language", "artist")
#: Neighbours of the leave-one-out agreement.
KNN = 5
#: The largest k the dashboard offers K-Means (a label with more classes is clustered with this k): the widget
#: bound of n_clusters in core.params (K-Means itself takes up to its range's end).
MAX_K = int(CLUSTERERS["kmeans"].params["n_clusters"].widget_range[1])
#: Tasks whose models are benchmarked, in table order (a model in several tasks runs once).
BENCH_TASKS = ("beyond", "easy", "medium", "hard", "fusion")
METRICS = ("nmi_genre", "ari_genre", "knn_genre", "nmi_language", "ari_language", "knn_language", "nmi_artist",
           "knn_artist", "silhouette", "self_retrieval", "onset_r", "frame_change_ratio", "dist_recon_db",
           "dist_corpus_mean_db", "fit_s")
#: Single-modality representations every fused one is compared with (where they ran), besides the fused
#: model's own ``[audio]`` and ``[lyrics]`` parts.
SINGLE = ("ConvVAE audio only", "ConvVAE lyrics only", "TF-IDF lyrics", "PCA mel")
#: Fused representations that are not a model part: (label, its single modalities).
FUSION = {"PCA mel+lyrics balanced": ("PCA mel", "TF-IDF lyrics"), "PCA mel+lyrics": ("PCA mel", "TF-IDF lyrics")}
#: What the fusion comparison reports.
FUSION_METRICS = ("nmi_genre", "nmi_language", "knn_genre", "knn_language")
#: Labels the transfer protocol scores, where the test corpus has them.
TRANSFER_LABELS = ("genre", "language")
#: What the transfer protocol reports, per label: K-Means NMI, 5-NN agreement, linear probe.
TRANSFER_METRICS = tuple(f"{m}_{label}" for label in TRANSFER_LABELS for m in ("nmi", "knn", "probe"))
#: Folds of the linear probe (stratified); a class with fewer tracks is left out of the probe.
PROBE_FOLDS = 5


def fusion_pairs(labels) -> dict[str, tuple[str, ...]]:
    """(fused, its single modalities) of the representations present: every ``X [joint]``, ``X [balanced]``
    and ``X [all]`` against ``X [audio]``, ``X [lyrics]`` and :data:`SINGLE`, and :data:`FUSION`."""
    pairs = {k: v for k, v in FUSION.items() if k in labels}
    for label in labels:
        stem, _, part = label.rpartition(" [")
        if part in ("joint]", "balanced]", "all]"):
            pairs[label] = (f"{stem} [audio]", f"{stem} [lyrics]", *SINGLE)
    return pairs


def specs_for(corpus) -> list:
    """The distinct model specs of :data:`BENCH_TASKS` that ``corpus`` supports, with distinct labels.

    A label that two different specs share (e.g. "PCA" on features and on mel + lyrics) gets the
    inputs it reads appended to the later one.
    """
    seen, labels, out = set(), set(), []
    for name in BENCH_TASKS:
        task = TASKS[name]
        if task_support(corpus, task) is not None:
            continue
        for spec in task.models:
            spec, _ = _adapt(spec, corpus)  # no lyrics in the corpus: the audio-only variant, as evaluate does
            key = (spec.model, tuple(sorted(spec.config.items(), key=str)))
            if key in seen:
                continue
            seen.add(key)
            if spec.label in labels:
                inputs = spec.config.get("inputs", "features")
                extra = {"both": "+lyrics", "lyrics": " lyrics"}.get(spec.config.get("modality"), "")
                spec = dataclasses.replace(spec, label=f"{spec.label} ({inputs}{extra})")
            labels.add(spec.label)
            out.append(spec)
    return out


def run_corpus(name: str, source: str, *, seeds: int, epochs_scale: float, only: set[str] | None,
               checkpoints: list[str] = (), collection_levels: bool = False) -> list[dict]:
    corpus = load_sources([source])
    specs = [s for s in specs_for(corpus) if not only or s.label in only]
    needs = set().union(*(_needs(s) for s in specs))
    inputs, _ = build_inputs(corpus, needs=needs)
    columns = [c for c in LABELS if c in corpus.tracks.columns and (corpus.tracks[c].astype(str).str.strip() != "").any()]
    truth = label_table(corpus, columns, track_ids=inputs.track_ids)
    rows = []
    for spec in specs:
        for seed in range(seeds):
            t = time.perf_counter()
            Z, model = fit_latents(spec, inputs, seed=seed, epochs_scale=epochs_scale, part="all")
            base = {"corpus": name, "model": spec.model, "seed": seed, "n_tracks": len(inputs),
                    "fit_s": time.perf_counter() - t}
            rows += part_rows(spec.label, model, Z, inputs, truth, base)
    groups = checkpoint_groups(checkpoints)
    for label, paths in [(f"{lb} (collection levels)", ps) for lb, ps in groups.items() if collection_levels] + list(
            groups.items()):
        # saved models, encoded as they are: the files of one label are its seeds (one file: K-Means's seeds)
        runs = list(enumerate(paths)) if len(paths) > 1 else [(seed, paths[0]) for seed in range(seeds)]
        loaded = {}  # one load, encoding and inputs per file, however many K-Means seeds score it
        for seed, path in runs:
            if path not in loaded:
                model = checkpoint.load(path)
                mine, _ = build_inputs(corpus, needs=set(model.needs), **input_params(model))
                if label.endswith(" (collection levels)"):
                    trained = getattr(model.prep_, "band_mean", None)
                    model = with_collection_levels(model, mine)
                    if trained is not None:
                        shift = model.prep_.band_mean - trained
                        print(f"  {name}: band levels of the collection minus {Path(path).name}'s: mean "
                              f"{shift.mean():+.1f} dB, largest {shift[np.argmax(np.abs(shift))]:+.1f} dB", flush=True)
                ids, Z = encode_corpus(model, corpus)
                if list(ids) != list(mine.track_ids):  # the encoded tracks, in their order
                    where = {t: i for i, t in enumerate(mine.track_ids)}
                    mine = mine.subset([where[t] for t in ids])
                loaded[path] = model, ids, Z, mine, label_table(corpus, columns, track_ids=ids)
            model, ids, Z, mine, truth_here = loaded[path]
            base = {"corpus": name, "model": model.name, "seed": seed, "n_tracks": len(ids), "fit_s": None}
            rows += part_rows(label, model, Z, mine, truth_here, base, reconstruction=len(paths) > 1 or seed == 0)
    return rows


def checkpoint_groups(specs: list[str]) -> dict[str, list[str]]:
    """``--checkpoint`` values (``FILE`` or ``LABEL=FILE``) grouped by label (default: the file's name)."""
    groups: dict[str, list[str]] = {}
    for spec in specs:
        label, sep, path = spec.partition("=")
        if not sep:
            label, path = Path(spec).name, spec
        groups.setdefault(label, []).append(path)
    return groups


def part_rows(label: str, model, Z: np.ndarray, inputs, truth: pd.DataFrame, base: dict, *,
              reconstruction: bool = True) -> list[dict]:
    """One scored row per latent part of ``model`` (one row for a one-block model or a non-model baseline);
    the reconstruction measures go on the first (the default part). An audio-only spectrogram VAE's default part,
    ``all``, also holds its crop and temporal blocks; its ``[audio]`` row leaves them out (``core.blocks.parts``)."""
    found = model.latent_blocks() if model is not None else ()
    offered = blocks.parts(found) if model is not None else ["all"]
    views = [(part, blocks.view(Z, found, part) if model is not None else Z) for part in offered]
    rows = []
    for i, (part, Zp) in enumerate(views):
        name = label if i == 0 and part == "all" else f"{label} [{part}]"
        row = {**base, "representation": name, "dim": Zp.shape[1]}
        row.update(score_row(Zp, truth, seed=base["seed"]))
        if reconstruction and i == 0 and model is not None and {"mel", "clips"} & set(model.needs):
            try:
                row.update(model_reconstruction_measures(model, inputs))
            except BadInputError:
                pass  # no mel reconstruction (e.g. a lyrics-only model)
        rows.append(row)
        print(f"  {base['corpus']} {row['representation']} seed {base['seed']}: " + " ".join(
            f"{m} {row[m]:.3f}" for m in METRICS[:6] if row.get(m) is not None), flush=True)
    return rows


def score_row(Z: np.ndarray, truth: pd.DataFrame, *, seed: int) -> dict:
    """K-Means NMI/ARI per label (the one scoring path) and the leave-one-out k-NN agreement per label.

    A label with more classes than K-Means may be asked for (the artist: 277 on hybrid_en_de_dev) is
    clustered with the largest k allowed, :data:`MAX_K`: its NMI then says how far clusters follow artists.
    """
    many = [c for c in truth.columns if truth[c].replace("", np.nan).nunique() > MAX_K]
    row = {k: v for k, v in score_by_label(Z, truth.drop(columns=many), random_state=seed).items() if k in METRICS}
    for column in many:
        found = score(Z, clusterer="kmeans", params={"n_clusters": MAX_K}, labels=truth[[column]], random_state=seed)
        row[f"nmi_{column}"] = found[f"nmi_{column}"]
    for column in truth.columns:
        row[f"knn_{column}"] = neighbour_agreement(Z, truth[column].to_numpy(), k=KNN).value
    return row


def table(df: pd.DataFrame) -> str:
    cols = [m for m in METRICS if m in df.columns and df[m].notna().any()]
    g = df.groupby(["corpus", "representation"], sort=False)
    lines = ["| corpus | representation | seeds | " + " | ".join(cols) + " |",
             "|---|---|---|" + "---|" * len(cols)]
    for (corpus, rep), part in g:
        cells = []
        for m in cols:
            v = part[m].dropna()
            cells.append("" if v.empty else f"{v.mean():.3f} ± {v.std(ddof=0):.3f}")
        lines.append(f"| {corpus} | {rep} | {len(part)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fusion_gain(df: pd.DataFrame) -> list[str]:
    """What each fused representation adds over its best single modality, per corpus and label."""
    out = []
    means = df.groupby(["corpus", "representation"]).mean(numeric_only=True)
    for corpus in df["corpus"].unique():
        for fused, singles in fusion_pairs(set(df.loc[df["corpus"] == corpus, "representation"])).items():
            for col in FUSION_METRICS:
                single = {s: means.loc[(corpus, s), col] for s in singles
                          if (corpus, s) in means.index and col in means.columns}
                single = {s: v for s, v in single.items() if np.isfinite(v)}
                if not single or col not in means.columns:
                    continue
                best = max(single, key=single.get)
                f = means.loc[(corpus, fused), col]
                out.append(f"{corpus}: {fused} {col} {f:.3f} vs best single modality ({best}) "
                           f"{single[best]:.3f}: {f - single[best]:+.3f}")
    return out


# ------------------------------------------------------------------------------------ transfer protocol
def linear_probe(Z: np.ndarray, labels, *, folds: int = PROBE_FOLDS, seed: int = 0) -> float:
    """Cross-validated accuracy of a logistic regression reading ``labels`` from ``Z``.

    Parameters
    ----------
    Z : np.ndarray [shape=(n, d)]
        The embedding of n tracks.
    labels : array-like [shape=(n,)]
        One label per track; ``""`` or None = unknown (left out).
    folds, seed : stratified ``folds``-fold split, shuffled with ``seed``.

    Returns
    -------
    float in [0, 1], the mean accuracy over the held-out folds; the columns are z-scored on each training
    fold. Classes with fewer than ``folds`` tracks are left out (a fold could not hold one of each); NaN
    when fewer than 2 classes remain. The labels only score: they never change the embedding.
    """
    Z = np.asarray(Z, dtype=np.float64)
    y = pd.Series(labels, dtype="object").fillna("").astype(str).to_numpy()
    counts = pd.Series(y[y != ""]).value_counts()
    keep = np.isin(y, counts[counts >= folds].index.to_numpy())
    if len(np.unique(y[keep])) < 2:
        return float("nan")
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(cross_val_score(probe, Z[keep], y[keep], cv=split).mean())


def audio_only(corpus: Corpus) -> Corpus:
    """``corpus`` without its lyrics, so that a model fitted on it reads what it reads on any other corpus."""
    return Corpus(corpus.tracks.assign(lyrics=""), corpus.features57, list(corpus.skipped), corpus.name,
                  corpus.sources)


def transfer_plan(pairs: list[str], leave_one_out: str = "") -> list[tuple[tuple[str, ...], str]]:
    """Every (training corpora, test corpus) the protocol fits and scores, the in-corpus ones included.

    ``pairs``: ``TRAIN:TEST`` values, TRAIN one corpus name or several joined with ``+``; each adds TEST's
    in-corpus run. ``leave_one_out``: a comma list of corpora; each is scored fitted on itself, on all the
    others and on all of them. Raises SystemExit naming a value it cannot read.
    """
    plan: list[tuple[tuple[str, ...], str]] = []

    def add(train, test) -> None:
        for run in (((test,), test), (tuple(sorted(set(train))), test)):
            if run not in plan:
                plan.append(run)

    for pair in pairs:
        train, sep, test = pair.partition(":")
        names = [n.strip() for n in train.split("+")]
        if not sep or not test.strip() or not all(names):
            raise SystemExit(f"--transfer {pair!r}: expected TRAIN:TEST, e.g. gtzan:hybrid or gtzan+demo:hybrid")
        add(names, test.strip())
    group = [n.strip() for n in leave_one_out.split(",") if n.strip()]
    if leave_one_out and len(group) < 2:
        raise SystemExit(f"--leave-one-out {leave_one_out!r}: needs at least two corpora, e.g. gtzan,hybrid")
    for test in group:
        add([n for n in group if n != test], test)
        add(group, test)
    return plan


def protocol(train: tuple[str, ...], test: str) -> str:
    """``in-corpus`` (fitted on the test corpus itself), ``pooled`` (on it and others) or ``transfer``."""
    return "in-corpus" if train == (test,) else "pooled" if test in train else "transfer"


def run_transfer(sources: dict[str, str], plan: list[tuple[tuple[str, ...], str]], *, seeds: int,
                 epochs_scale: float, only: set[str] | None, collection_levels: bool = False) -> list[dict]:
    """Fit every representation on each training set of ``plan`` and score it on its test corpora.

    sources : corpus name -> source spec (every name ``plan`` uses).
    collection_levels : also score each spectrogram model with the test corpus's own band levels
        (:func:`core.latents.with_collection_levels`), as ``"<label> (collection levels)"``; in-corpus, where
        the levels are the model's own, those rows repeat the plain ones.
    Returns one row per (training set, test corpus, representation, seed): the test corpus's
    :data:`TRANSFER_METRICS` of the default latent part, ``train``, ``test``, ``protocol``, ``fit_s``.
    """
    names = sorted({n for train, test in plan for n in (*train, test)})
    unknown = [n for n in names if n not in sources]
    if unknown:
        raise SystemExit(f"transfer: unknown corpus {unknown}; choose from {sorted(sources)}")
    corpora = {n: audio_only(load_sources([sources[n]])) for n in names}
    specs = [s for s in specs_for(corpora[names[0]]) if not only or s.label in only]
    for spec in [s for s in specs if s.model == UMAP_BASELINE]:
        print(f"  {spec.label}: left out of the transfer (it embeds only the tracks it was fitted on)", flush=True)
    specs = [s for s in specs if s.model != UMAP_BASELINE]
    needs = set().union(*(_needs(s) for s in specs)) if specs else set()
    inputs = {n: build_inputs(corpora[n], needs=needs)[0] for n in names}
    truth = {}
    for n in names:
        columns = [c for c in TRANSFER_LABELS if c in corpora[n].tracks.columns
                   and (corpora[n].tracks[c].astype(str).str.strip() != "").any()]
        truth[n] = label_table(corpora[n], columns, track_ids=inputs[n].track_ids)
    rows = []
    for train in dict.fromkeys(t for t, _ in plan):
        tests = [test for t, test in plan if t == train]
        fit_on = inputs[train[0]] if len(train) == 1 else build_inputs(
            Corpus.combine([corpora[n] for n in train], name="+".join(train)), needs=needs)[0]
        for spec in specs:
            for seed in range(seeds):
                t = time.perf_counter()
                Z_fit, model = fit_latents(spec, fit_on, seed=seed, epochs_scale=epochs_scale)
                fit_s = time.perf_counter() - t
                for test in tests:
                    encodings = [(spec.label, model)]
                    if collection_levels and model is not None and "clips" in model.needs:
                        encodings.append((f"{spec.label} (collection levels)",
                                          model if train == (test,) else with_collection_levels(model, inputs[test])))
                    for label, encoder in encodings:
                        Z = Z_fit if train == (test,) else np.asarray(
                            latent_part(encoder, encoder.encode(inputs[test]), None), dtype=np.float64)
                        row = {"test": test, "train": "+".join(train), "protocol": protocol(train, test),
                               "representation": label, "model": spec.model, "seed": seed,
                               "n_train": len(fit_on), "n_test": len(Z), "dim": Z.shape[1], "fit_s": fit_s}
                        row.update(score_row(Z, truth[test], seed=seed))
                        for column in truth[test].columns:
                            row[f"probe_{column}"] = linear_probe(Z, truth[test][column].to_numpy(), seed=seed)
                        rows.append(row)
                        print(f"  {row['train']} -> {test} {label} seed {seed}: " + " ".join(
                            f"{m} {row[m]:.3f}" for m in TRANSFER_METRICS if row.get(m) is not None), flush=True)
    return rows


def transfer_table(df: pd.DataFrame) -> str:
    """The transfer figures next to the in-corpus ones: one line per (test corpus, representation, training
    set other than the test corpus alone), each metric as in-corpus | fitted on the training set (mean ± std)."""
    cols = [m for m in TRANSFER_METRICS if m in df.columns and df[m].notna().any()]
    head = " | ".join(f"{m} in-corpus | {m} here" for m in cols)
    lines = [f"| test corpus | representation | fitted on (here) | protocol | seeds | {head} |",
             "|---|---|---|---|---|" + "---|" * (2 * len(cols))]

    def cell(part: pd.DataFrame, m: str) -> str:
        v = part[m].dropna() if m in part else pd.Series(dtype=float)
        return "" if v.empty else f"{v.mean():.3f} ± {v.std(ddof=0):.3f}"

    for (test, rep), part in df.groupby(["test", "representation"], sort=False):
        own = part[part["protocol"] == "in-corpus"]
        for train, other in part[part["protocol"] != "in-corpus"].groupby("train", sort=False):
            cells = " | ".join(f"{cell(own, m)} | {cell(other, m)}" for m in cols)
            lines.append(f"| {test} | {rep} | {train} | {other['protocol'].iloc[0]} | {len(other)} | {cells} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--corpora", default="gtzan,demo", help="comma list of " + ", ".join(CORPORA))
    p.add_argument("--epochs-scale", type=float, default=1.0, help="multiplies every torch model's epochs")
    p.add_argument("--models", default="", help="comma list of representation labels (default: all)")
    p.add_argument("--gtzan", default=str(CORPORA["gtzan"][1]), help="the gtzan_mini folder")
    p.add_argument("--demo", default=str(CORPORA["demo"][1]), help="the demo corpus folder")
    p.add_argument("--hybrid", default=str(CORPORA["hybrid"][1]), help="the hybrid_en_de_dev manifest.csv")
    p.add_argument("--checkpoint", action="append", default=[], metavar="[LABEL=]FILE",
                   help="also score this saved checkpoint as it is, every latent part (repeatable: the files given "
                        "one LABEL are its seeds; a label with one file is clustered with --seeds K-Means seeds); "
                        "with --models none only checkpoints are scored")
    p.add_argument("--collection-levels", action="store_true",
                   help="also score each --checkpoint (and, in the transfer protocol, each spectrogram model) "
                        "with the mel band levels of the corpus it encodes (core.latents.with_collection_levels), "
                        "labelled '(collection levels)'")
    p.add_argument("--transfer", action="append", default=[], metavar="TRAIN:TEST",
                   help="the transfer protocol instead of the per-corpus benchmark: fit on TRAIN (a corpus, or "
                        "several joined with +), encode TEST without refitting, next to TEST's in-corpus figures "
                        "(repeatable), e.g. gtzan:hybrid")
    p.add_argument("--leave-one-out", default="", metavar="A,B[,C]",
                   help="the transfer protocol on these corpora: each scored fitted on the others, on all of them "
                        "and on itself")
    p.add_argument("--out", default=None, help="per-seed rows (default data/bench_quality.csv, "
                                               "data/bench_quality_transfer.csv for the transfer protocol)")
    args = p.parse_args()
    command = "python -m bench.bench_quality " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    print("command:", command, flush=True)
    only = {m.strip() for m in args.models.split(",") if m.strip()} or None
    t0 = time.perf_counter()
    if args.transfer or args.leave_one_out:
        out = args.out or str(ROOT / "data" / "bench_quality_transfer.csv")
        plan = transfer_plan(args.transfer, args.leave_one_out)
        for name in sorted({n for train, test in plan for n in (*train, test)} & set(CORPORA)):
            if not Path(getattr(args, name)).exists():
                raise SystemExit(f"--{name}: {getattr(args, name)} not found (the {name} corpus of the transfer)")
        sources = {name: f"{kind}:{getattr(args, name)}" for name, (kind, _) in CORPORA.items()}
        df = pd.DataFrame(run_transfer(sources, plan, seeds=args.seeds, epochs_scale=args.epochs_scale, only=only,
                                       collection_levels=args.collection_levels))
        if df.empty:
            raise SystemExit("nothing was benchmarked (check --models)")
        atomic_write(out, df.to_csv(index=False))
        print(f"\n{command}\n(total {time.perf_counter() - t0:.0f} s, {os.cpu_count()} CPUs; per-seed rows in {out})\n")
        print(transfer_table(df))
        return
    args.out = args.out or str(ROOT / "data" / "bench_quality.csv")
    rows = []
    for name in [c.strip() for c in args.corpora.split(",") if c.strip()]:
        if name not in CORPORA:
            raise SystemExit(f"--corpora: unknown corpus {name!r}; choose from {sorted(CORPORA)}")
        folder = Path(getattr(args, name))
        if not folder.exists():
            print(f"skipping {name}: {folder} not found"
                  + (" (python -m core demo --out data/demo)" if name == "demo" else ""), flush=True)
            continue
        rows += run_corpus(name, f"{CORPORA[name][0]}:{folder}", seeds=args.seeds, epochs_scale=args.epochs_scale,
                           only=only, checkpoints=args.checkpoint, collection_levels=args.collection_levels)
        atomic_write(args.out, pd.DataFrame(rows).to_csv(index=False))  # after each corpus: a long run keeps what finished
    if not rows:
        raise SystemExit("nothing was benchmarked")
    df = pd.DataFrame(rows)
    print(f"\n{command}\n(total {time.perf_counter() - t0:.0f} s, {os.cpu_count()} CPUs; per-seed rows in {args.out})\n")
    print(table(df))
    gains = fusion_gain(df)
    if gains:
        print("\nFusion over the best single modality (K-Means NMI and 5-NN agreement, mean over seeds):")
        print("\n".join("- " + g for g in gains))


if __name__ == "__main__":
    from core.cli import report_errors
    sys.exit(report_errors(main))
