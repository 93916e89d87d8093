"""A user's own method, outside the ``baselines`` package, for the test that runs it through ``talkbench run``.

Loaded by subprocesses through ``TALKBENCH_PLUGINS=plugin_baselines`` (never imported by the test process, whose
registry would then list it for every other test).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from baselines import Budget, register
from baselines.base import Baseline, FitReport
from bench.media import Clip


@dataclass
class LoudMouthConfig:
    """How much the lower third darkens at full loudness."""

    strength: float = 0.5


@register("loud_mouth")
class LoudMouth(Baseline):
    """The identity image with its lower third darkened by the driving audio's loudness under each frame."""

    name = "loud_mouth"
    Config = LoudMouthConfig
    trainable = False

    def fit(self, clips: Sequence[Clip], budget: Budget) -> FitReport:
        """Nothing to learn."""
        return FitReport(steps=0, seconds=0.0)

    def _synthesize(
        self, image: np.ndarray, samples: np.ndarray, sample_rate: int, fps: float, frames: int, reference: Clip | None
    ) -> np.ndarray:
        """One frame per video frame of audio: the RMS under it, times 10 and capped at 1, scales the darkening."""
        hop = len(samples) // frames
        rms = np.sqrt(np.mean(samples[: hop * frames].reshape(frames, hop) ** 2, axis=1))
        out = np.repeat(image[None].astype(np.float32), frames, axis=0)
        lower = image.shape[0] * 2 // 3
        out[:, lower:] *= (1 - self.config.strength * np.minimum(1.0, 10 * rms))[:, None, None, None]
        return out.clip(0, 255).astype(np.uint8)
