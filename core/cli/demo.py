"""`python -m core demo`: synthesise the demo corpus (English and Bangla music with lyrics)."""

from __future__ import annotations

import argparse
from pathlib import Path

from core import config, demo
from core.cli import setting
from core.corpus import load_demo
from core.progress import tqdm_progress


def register(subparsers) -> None:
    classes = ", ".join(f"{s.language}/{s.genre}" for s in demo.STYLES)
    p = subparsers.add_parser(
        "demo",
        description=(
            "Synthesise the embedded demo corpus: procedurally generated music in "
            f"{len(demo.STYLES)} genre/language classes ({classes}), with English and Bangla lyrics. "
            "Writes OUT/audio/*.wav (16-bit mono), OUT/manifest.csv and OUT/demo.json. "
            "The same seed gives byte-identical files."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--out", type=Path, default=config.DEMO_DIR, help="output folder")
    setting(p, "tracks", default=demo.DEFAULT_TRACKS)
    setting(p, "random_state", "--seed", default=demo.DEFAULT_SEED)
    setting(p, "seconds", default=demo.DEFAULT_SECONDS)
    setting(p, "workers")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    demo.generate(args.out, n_tracks=args.tracks, seed=args.seed, duration=args.seconds, workers=args.workers,
                  progress=tqdm_progress("demo"))
    corpus = load_demo(args.out)  # the folder just written: its stamp matches, nothing is rendered again
    n_lyrics = int((corpus.tracks["lyrics"] != "").sum())
    print(f"wrote {len(corpus)} tracks ({n_lyrics} with lyrics) to {Path(args.out).resolve()}")
    print(corpus.counts().to_string(index=False))
    return 0
