"""Helpers shared by the harness tests."""

from __future__ import annotations

import numpy as np


def make_clip(seed: int, frames: int = 10, size: int = 32, black: bool = False):
    from bench.media import Clip

    rng = np.random.default_rng(seed)
    video = np.zeros((frames, size, size, 3), np.uint8) if black else rng.integers(0, 256, (frames, size, size, 3), np.uint8)
    t = np.arange(int(16000 * frames / 25)) / 16000
    audio = (0.3 * np.sin(2 * np.pi * (200 + 20 * seed) * t)).astype(np.float32)
    return Clip(video, 25.0, audio, 16000)
