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


def advance_frames(frames: np.ndarray, shift: int) -> np.ndarray:
    """Frame ``t`` of the output is frame ``t + shift`` of the input (the first or last frame held at the ends).

    Showing each frame ``shift`` frames early against unchanged audio is the same as delaying the audio by
    ``shift`` frames: the AV offset becomes ``-shift``.

    Example:
        >>> advance_frames(np.arange(5), 2).tolist(), advance_frames(np.arange(5), -1).tolist()
        ([2, 3, 4, 4, 4], [0, 0, 1, 2, 3])
    """
    index = np.clip(np.arange(len(frames)) + int(shift), 0, len(frames) - 1)
    return frames[index]


@register("shifted_audio")
class ShiftedAudio(_Anchor):
    """The real video out of sync by ``shift_frames``: its audio delayed that much relative to the lips.

    Every method's output carries the driving audio unchanged, and so does this one: the real frames are shown
    ``shift_frames`` early (:func:`advance_frames`) over it, which is the same relative delay as delaying the audio
    (AV offset ``-shift_frames``) whichever soundtrack a sync metric reads, the output's or the reference's.
    Full-reference metrics see the same frames moved by that many frames.
    """

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
        """The reference frames advanced by ``shift_frames``, with the reference's (or the driving) audio unchanged."""
        real = self._reference(reference, samples, sample_rate)
        shifted = real.with_frames(advance_frames(real.frames, self.config.shift_frames))
        shifted.meta.update(baseline=self.name, audio_shift_frames=self.config.shift_frames)
        return shifted
