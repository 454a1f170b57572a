"""Re-create every shipped checkpoint with its command from checkpoints/README.md and compare it with the file.

    .venv/bin/python scripts/check_shipped.py [--only conv,beta] [--keep DIR]

Each command of the README's bash block (its ``for`` loop expanded) runs as a user would run it, with
``--out`` (and ``--refine-from``, which refines what an earlier command made) pointed at a temporary folder; then, per checkpoint, the largest weight difference from the
shipped file and K-Means genre NMI of both on the demo corpus (the Compare page's number). Exit
status 1 when a file differs from what its command makes now: re-create it (and say so in the
README). Training is seeded, so on one machine the weights match to the bit; another CPU may differ
slightly (look at the NMI). Takes about 10 minutes on 2 cores (``conv`` and ``beta`` 3 min each).
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "checkpoints" / "README.md"


def readme_train_commands(readme: Path = README) -> list[list[str]]:
    """The ``core train`` argument lists (from ``train`` on) of the README's bash block, loops expanded."""
    block = readme.read_text().split("```bash", 1)[1].split("```", 1)[0]
    commands, loop = [], None
    for line in (raw.strip() for raw in block.splitlines()):
        found = re.match(r"for (\w+) in ([^;]+); do$", line)
        if found:
            loop = (f"${found.group(1)}", found.group(2).split())
        elif line == "done":
            loop = None
        elif "-m core train" in line:
            words = shlex.split(line)
            words = words[words.index("train"):]
            for value in loop[1] if loop and loop[0] in line else [None]:
                commands.append([w.replace(loop[0], value) if value else w for w in words])
    return commands


def out_arg(command: list[str]) -> str:
    """The ``--out`` value of a ``core train`` argument list."""
    return command[command.index("--out") + 1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated checkpoint names (default: all of the README's)")
    ap.add_argument("--keep", type=Path, help="write the re-created files here instead of a temporary folder")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    import torch

    from core import checkpoint, workspace
    from core.latents import encode_corpus
    from core.scoring import label_table, score_by_label

    commands = readme_train_commands()
    if args.only:
        wanted = {f"{n}.pt" for n in args.only.split(",")}
        commands = [c for c in commands if Path(out_arg(c)).name in wanted]
    corpus = workspace.load_corpus(("demo",))
    stale = []
    with tempfile.TemporaryDirectory(prefix="songscape-shipped-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"{'checkpoint':<14} {'re-created in':>13} {'max |dw|':>10} {'NMI shipped':>12} {'NMI now':>9}")
        # a file made by two commands (a main stage, then --refine-from it) is compared after the last one
        last = {Path(out_arg(c)).name: i for i, c in enumerate(commands)}
        seconds = 0.0
        for i, command in enumerate(commands):
            shipped = ROOT / out_arg(command)
            fresh = folder / shipped.name
            run = [sys.executable, "-m", "core", *command[:command.index("--out")], "--out", str(fresh),
                   *command[command.index("--out") + 2:]]
            if "--refine-from" in run:  # refine what this run made, never the shipped file
                at = run.index("--refine-from") + 1
                run[at] = str(folder / Path(run[at]).name)
            t = time.perf_counter()
            subprocess.run(run, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            seconds += time.perf_counter() - t
            if last[shipped.name] != i:
                continue
            a = torch.load(shipped, weights_only=True, map_location="cpu")["weights"]
            b = torch.load(fresh, weights_only=True, map_location="cpu")["weights"]
            diff = (max(float((a[k].float() - b[k].float()).abs().max()) for k in a) if a.keys() == b.keys()
                    else float("inf"))
            nmi = []
            for path in (shipped, fresh):
                ids, Z = encode_corpus(checkpoint.load(path), corpus)
                nmi.append(score_by_label(Z, label_table(corpus, ["genre"], track_ids=ids))["nmi_genre"])
            print(f"{shipped.name:<14} {seconds:>11.0f} s {diff:>10.3g} {nmi[0]:>12.3f} {nmi[1]:>9.3f}", flush=True)
            seconds = 0.0
            if diff > 0:
                stale.append(shipped.name)
    if stale:
        print(f"differs from what its command makes now: {', '.join(stale)} (re-create it, see {README.name})")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
