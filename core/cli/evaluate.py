"""`python -m core evaluate`: the study's results table (easy, medium, hard tasks) on any corpus."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli import setting
from core.errors import BadInputError
from core.evaluate.tasks import BETAS, DEFAULT_TASKS, TASKS
from core.io import atomic_write, check_target
from core.params import describe
from core.progress import tqdm_progress


def register(subparsers) -> None:
    tasks = "; ".join(f"{t.name}: {t.title.split(': ', 1)[-1]}" for t in TASKS.values())
    p = subparsers.add_parser(
        "evaluate",
        help="run the study's tasks on a corpus and write the results table (CSV + Markdown)",
        description=(
            "Fit every model of the chosen tasks on the corpus (labels are never used in training), "
            "cluster the latent means and score them: silhouette, Calinski-Harabasz, Davies-Bouldin, "
            "coverage (share of points clustered), and ARI/NMI/purity of the clustered points against "
            "every label column. One row per "
            "(task, model, clustering, k or eps), mean and std over seeds. Tasks: " + tasks + ". "
            "Tasks the corpus cannot support (no audio: no spectrograms) are listed with the reason. "
            f"Also writes a Markdown version and, unless --no-beta-sweep, a beta sweep (beta in {list(BETAS)}) "
            "of the Beta-VAE network."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--data", action="append", required=True, metavar="SOURCE",
                   help="a source [KIND:]PATH[@LANG] or 'demo'; repeat to combine sources")
    p.add_argument("--out", type=Path, required=True, help="results CSV; the Markdown goes beside it (.md)")
    setting(p, "seeds")
    setting(p, "epochs_scale")
    p.add_argument("--tasks", default=",".join(DEFAULT_TASKS),
                   help=f"comma-separated tasks among {', '.join(TASKS)}")
    setting(p, "n_clusters", "--k", many=True, default=None,
            help="comma-separated cluster counts for K-Means/Agglomerative/GMM, each "
                 f"{describe('n_clusters')} (default: number of languages and number of genres)")
    p.add_argument("--labels", default=None,
                   help="comma-separated label columns for the external metrics (default: all label columns)")
    p.add_argument("--no-beta-sweep", action="store_true", help="skip the beta sweep")
    p.set_defaults(func=run)


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def run(args: argparse.Namespace) -> int:
    # Imported when the command runs, not when the parser is built: `python -m core --help`
    # must not load torch or pandas.
    from core.corpus import load_sources
    from core.evaluate.report import to_markdown
    from core.evaluate.run import beta_sweep, evaluate

    ks = None if args.k is None else list(args.k)
    out = Path(args.out)
    # every file this run writes is checked before the evaluation, which can take an hour
    for target in [out, out.with_suffix(".md")] + ([] if args.no_beta_sweep else [_sweep_path(out)]):
        check_target(target)
    corpus = load_sources(args.data, progress=tqdm_progress("load"))
    labels = _split(args.labels)
    if labels:
        missing = [c for c in labels if c not in corpus.tracks.columns]
        if missing:
            raise BadInputError(None, f"--labels: the corpus has no column(s) {missing}; "
                                      f"it has {corpus.label_columns()}")
    df = evaluate(corpus, seeds=args.seeds, tasks=_split(args.tasks), epochs_scale=args.epochs_scale, ks=ks,
                  label_columns=labels, progress=tqdm_progress("evaluate"))
    atomic_write(out, df.to_csv(index=False))
    sources = ", ".join(args.data)
    md = [f"# Results on {sources}", "",
          f"Command: `python -m core evaluate {' '.join(_argv(args))}`", "",
          to_markdown(df, corpus_name=f"{len(corpus)} tracks from {sources}")]
    written = [out]
    if not args.no_beta_sweep:
        sweep = beta_sweep(corpus, seeds=args.seeds, epochs_scale=args.epochs_scale, ks=ks, label_columns=labels,
                           progress=tqdm_progress("beta sweep"))
        sweep_path = _sweep_path(out)
        atomic_write(sweep_path, sweep.to_csv(index=False))
        written.append(sweep_path)
        md += ["## β sweep (Beta-VAE network, K-Means on the latent means)", ""]
        if "task" not in sweep.columns:
            md += [f"_{sweep['note'].iloc[0]}_", ""]
        else:
            md += [to_markdown(sweep).split("\n", 2)[-1]]
    md_path = out.with_suffix(".md")
    atomic_write(md_path, "\n".join(md))
    written.append(md_path)
    main_labels = [c for c in ("genre", "language") if c in df.attrs["label_columns"]] or df.attrs["label_columns"][:2]
    shown = ["task", "model", "clustering", "params", "silhouette", "n_clusters", "coverage"]
    shown += [f"{m}_{c}" for c in main_labels for m in ("ari", "nmi")] + ["note"]
    print(df[[c for c in shown if c in df.columns]].to_string(index=False, max_colwidth=50, float_format="%.4f"))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _sweep_path(out: Path) -> Path:
    return out.with_name(out.stem + "_beta_sweep.csv")


def _argv(args: argparse.Namespace) -> list[str]:
    parts = []
    for d in args.data:
        parts += ["--data", d]
    parts += ["--out", str(args.out), "--seeds", str(args.seeds)]
    if args.epochs_scale != 1.0:
        parts += ["--epochs-scale", f"{args.epochs_scale:g}"]
    parts += ["--tasks", args.tasks]
    if args.k:
        parts += ["--k", ",".join(map(str, args.k))]
    if args.labels:
        parts += ["--labels", args.labels]
    if args.no_beta_sweep:
        parts.append("--no-beta-sweep")
    return parts
