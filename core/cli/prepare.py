"""`python -m core prepare`: make the demo corpus and warm the caches the dashboard opens with."""

from __future__ import annotations

import argparse
import time

from core.progress import tqdm_progress


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "prepare",
        help="make the corpus and warm the dashboard's caches (scripts/start.sh runs it)",
        description=("Synthesise the demo corpus if needed (or load the sources given), extract and cache its "
                     "features, encode it with every shipped checkpoint and cache the t-SNE projections, so the "
                     "dashboard's first page opens in seconds. Safe to re-run: cached work is skipped."),
    )
    p.add_argument("--data", action="append", default=None, metavar="SOURCE",
                   help="a source spec [kind:]PATH[@lang]; repeat to combine (default: the demo corpus)")
    p.add_argument("--first-view", action="store_true",
                   help="only what the dashboard's first page draws (the checkpoint it opens with: its latents "
                        "and t-SNE); the dashboard prepares the other checkpoints in the background when it "
                        "starts (scripts/start.sh uses this)")
    p.add_argument("--dashboard-next", action="store_true",
                   help="say that the dashboard starts next instead of how to start it (scripts/start.sh)")
    p.set_defaults(func=run)


def staged_progress(desc: str):
    """A progress callback that opens a new tqdm bar for each stage (a new total, or a count that starts
    again): one bar closed at the end of the first stage would leave every later stage silent."""
    state = {"bar": None, "done": -1, "total": None}
    started: list[tuple[str, float]] = []  # (stage, when it started), for the closing line's breakdown

    def update(done: int, total: int, message: str = "") -> None:
        if state["bar"] is None or total != state["total"] or done < state["done"]:
            stage = message.split(":")[0] if ":" in message else desc
            state["bar"] = tqdm_progress(stage)
            started.append((stage, time.monotonic()))
        state["done"], state["total"] = done, total
        state["bar"](done, total, message)

    def breakdown() -> str:
        """``"corpus 32 s, Encoding 78 s"``: the seconds each stage took, stages of one name added up."""
        ends = [t for _, t in started[1:]] + [time.monotonic()]
        spent: dict[str, float] = {}
        for (stage, start), end in zip(started, ends):
            spent[stage] = spent.get(stage, 0.0) + end - start
        return ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in spent.items())

    update.breakdown = breakdown
    return update


def run(args: argparse.Namespace) -> int:
    # Imported when the command runs: `python -m core --help` must not load torch or pandas.
    from core.warmup import prepare

    started = time.monotonic()
    progress = staged_progress("prepare")
    corpus = prepare(tuple(args.data) if args.data else None, progress=progress, first_view=args.first_view)
    what = "the dashboard's first view" if args.first_view else "every shipped checkpoint"
    took = f"{time.monotonic() - started:.0f} s" + (f" ({progress.breakdown()})" if progress.breakdown() else "")
    following = ("starting the dashboard" if args.dashboard_next
                 else "start the dashboard with: streamlit run app.py")
    print(f"ready in {took}: {len(corpus)} tracks ({corpus.name}), {what}; {following}")
    return 0
