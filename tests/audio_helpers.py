"""Shared test signals for the bench.audio tests."""

from __future__ import annotations

import numpy as np

SR = 16000


def speechlike(seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Deterministic test signal: amplitude-modulated harmonics plus noise, with silent gaps."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voice = sum(np.sin(k * phase) / k for k in range(1, 15))
    envelope = np.clip(np.sin(2 * np.pi * 2.1 * t), 0, None) ** 2
    x = 0.3 * envelope * voice + 0.01 * rng.standard_normal(t.size)
    return (x / np.abs(x).max() * 0.8).astype(np.float32)
