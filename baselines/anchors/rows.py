"""The three anchor rows: ``ground_truth``, ``static_frame`` and ``shifted_audio``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from baselines import register
from baselines.base import Baseline, Budget, FitReport
from bench.media import Clip


class _Anchor(Baseline):
    """An anchor: nothing to train, nothing to save but its config."""

    trainable = False

    def fit(self, clips: Sequence[Clip], budget: Budget) -> FitReport:
        """Nothing to learn: returns at once."""
        return FitReport(steps=0, seconds=0.0)

    def _reference(self, reference: Clip | None, audio: np.ndarray, sample_rate: int) -> Clip:
        """The reference clip with audio: its own audio, else the driving audio."""
        if reference is None:
            raise ValueError(f"{self.name}: needs the reference (real) clip of the item; got reference=None")
        if reference.audio is None:
            return reference.with_audio(audio, sample_rate)
        return reference


@dataclass
class GroundTruthConfig:
    """``ground_truth`` has no options."""


@register("ground_truth")
class GroundTruth(_Anchor):
    """The real video itself: the upper bound of every table (and, on LSE-C, sometimes not the best row).

    Example:
        >>> import numpy as np
        >>> real = Clip(np.zeros((5, 8, 8, 3), np.uint8), audio=np.full(3200, 0.1, np.float32))
        >>> GroundTruth().generate(real.frames[0], real.audio, 16000, reference=real) is real
        True
    """

    name = "ground_truth"
    Config = GroundTruthConfig

    def _synthesize(
        self, image: np.ndarray, samples: np.ndarray, sample_rate: int, fps: float, frames: int, reference: Clip | None
    ) -> np.ndarray | Clip:
        """The reference clip unchanged (with the driving audio attached when it has none)."""
        return self._reference(reference, samples, sample_rate)


@dataclass
class StaticFrameConfig:
    """``static_frame`` has no options."""


@register("static_frame")
class StaticFrame(_Anchor):
    """The identity image repeated for the audio's length: no motion, the lower bound of lip-sync metrics."""

    name = "static_frame"
    Config = StaticFrameConfig

    def _synthesize(
        self, image: np.ndarray, samples: np.ndarray, sample_rate: int, fps: float, frames: int, reference: Clip | None
    ) -> np.ndarray | Clip:
        """``frame_count`` copies of the identity image, carrying the driving audio."""
        return np.broadcast_to(image, (frames, *image.shape))


@dataclass
class ShiftedAudioConfig:
    """Options of ``shifted_audio``.

    Attributes:
        shift_frames: how many video frames the audio is delayed by (negative: advanced). 5 frames = 0.2 s at
            25 fps, well outside SyncNet's in-sync range yet inside its +-15 frame search.
    """

    shift_frames: int = 5


def shift_audio(audio: np.ndarray, shift_samples: int) -> np.ndarray:
    """Delay ``audio`` by ``shift_samples`` (advance if negative), zero-filled, same length.

    Example:
        >>> shift_audio(np.arange(1.0, 5.0, dtype=np.float32), 1).tolist(), shift_audio(np.arange(1.0, 5.0), -3)
        ([0.0, 1.0, 2.0, 3.0], array([4., 0., 0., 0.]))
    """
    out = np.zeros_like(audio)
    n = audio.shape[0]
    if abs(shift_samples) >= n:
        return out
    if shift_samples >= 0:
        out[shift_samples:] = audio[: n - shift_samples]
    else:
        out[: n + shift_samples] = audio[-shift_samples:]
    return out


@register("shifted_audio")
class ShiftedAudio(_Anchor):
    """The real video with its audio delayed by ``shift_frames`` frames: perfect lips, known AV offset."""

    name = "shifted_audio"
    Config = ShiftedAudioConfig

    def __init__(self, preset: str = "tiny", device: str = "cpu", seed: int = 0, **overrides: object) -> None:
        super().__init__(preset, device, seed, **overrides)
        shift = self.config.shift_frames
        if isinstance(shift, bool) or not isinstance(shift, (int, np.integer)):
            raise ValueError(f"{self.name}: shift_frames must be an integer number of frames, got {shift!r}")

    def _synthesize(
        self, image: np.ndarray, samples: np.ndarray, sample_rate: int, fps: float, frames: int, reference: Clip | None
    ) -> np.ndarray | Clip:
        """The reference frames with the reference's audio shifted by ``shift_frames`` (zero-filled)."""
        real = self._reference(reference, samples, sample_rate)
        samples = round(self.config.shift_frames * real.sample_rate / real.fps)
        audio = real.audio if real.audio is not None else np.zeros(0, np.float32)  # _reference attached audio
        shifted = real.with_audio(shift_audio(audio, samples))
        shifted.meta.update(baseline=self.name, audio_shift_frames=self.config.shift_frames)
        return shifted
