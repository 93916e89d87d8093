"""Helpers shared by the harness tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_clip(seed: int, frames: int = 10, size: int = 32, black: bool = False):
    from bench.media import Clip

    rng = np.random.default_rng(seed)
    video = np.zeros((frames, size, size, 3), np.uint8) if black else rng.integers(0, 256, (frames, size, size, 3), np.uint8)
    t = np.arange(int(16000 * frames / 25)) / 16000
    audio = (0.3 * np.sin(2 * np.pi * (200 + 20 * seed) * t)).astype(np.float32)
    return Clip(video, 25.0, audio, 16000)


def killed_copy(clean: Path, killed: Path) -> list[str]:
    """A copy of the finished run ``clean`` as a kill leaves it: its config, three journaled rows and a torn line.

    Returns the journal lines of the clean run.
    """
    import shutil

    killed.mkdir()
    shutil.copy(clean / "config.json", killed / "config.json")
    lines = (clean / "rows.jsonl").read_text().splitlines()
    (killed / "rows.jsonl").write_text("\n".join(lines[:3]) + '\n{"video": "u1", "sta')
    return lines
