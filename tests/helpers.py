"""Test helpers shared by several test files."""

from __future__ import annotations

from pathlib import Path


def tiny_demo(out_dir: Path, *, n_tracks: int = 24, seconds: float = 4.0, seed: int = 3) -> Path:
    """A small demo corpus written by the project's own generator (a few seconds to make)."""
    from core.demo import generate

    if not (out_dir / "manifest.csv").exists():
        generate(out_dir, n_tracks=n_tracks, seed=seed, duration=seconds)
    return out_dir
