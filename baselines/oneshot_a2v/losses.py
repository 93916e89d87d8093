"""OneShotA2V's own loss terms and schedules.

The contrastive sync loss (4.1.5), EAR labels and blink loss (4.1.6), the curriculum of section 4 and the
learning-rate schedule of 6.1.

The adversarial, feature-matching and perceptual terms are the shared ones (``baselines._gan``,
``baselines._perceptual``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from baselines.base import Budget
from bench.faces import detect_faces, eye_aspect_ratio, predict_landmarks
from bench.faces.detect import auto_upsample
from bench.media import Clip


def contrastive_loss(video: torch.Tensor, audio: torch.Tensor, same: torch.Tensor, margin: float) -> torch.Tensor:
    """Eq. 4.1.5: ``1/(2N) sum_n y_n d_n^2 + (1 - y_n) max(margin - d_n, 0)^2`` with ``d_n = ||v_n - a_n||_2``.

    Example:
        >>> v, a = torch.tensor([[0.0, 0.0], [0.0, 0.0]]), torch.tensor([[3.0, 4.0], [0.6, 0.8]])
        >>> float(contrastive_loss(v, a, torch.tensor([1.0, 0.0]), margin=2.0))  # (25 + (2 - 1)^2) / 4
        6.5
    """
    d = (video - audio).norm(dim=1)
    y = same.to(d.dtype)
    return (y * d.pow(2) + (1 - y) * (margin - d).clamp(min=0).pow(2)).sum() / (2 * d.numel())


def blink_loss(predicted: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eq. 4.1.6: mean L1 between the EAR of generated frames and the real frames' EAR, over frames with a label.

    Labels are NaN where dlib found no face; with no labelled frame the loss is 0 (and carries no gradient).
    """
    known = torch.isfinite(labels)
    if not bool(known.any()):
        return predicted.sum() * 0.0
    return (predicted[known] - labels[known]).abs().mean()


def ear_labels(clip: Clip) -> np.ndarray:
    """EAR per frame of a face-centred clip, from dlib's 68 landmarks (``bench.faces``): float32 ``[T]``, NaN = no face.

    The face is detected once (first frame where dlib finds one, upsampled as small clips need) and its box reused
    for the landmarks of every frame: the clips are face-centred, so the box barely moves.
    """
    frames = clip.frames
    upsample = auto_upsample(*frames.shape[1:3])
    box = None
    for frame in frames[:: max(1, len(frames) // 8)]:
        boxes, _ = detect_faces(frame, upsample=upsample)
        if len(boxes):
            box = boxes[0]
            break
    if box is None:
        return np.full(len(frames), np.nan, np.float32)
    points = np.stack([predict_landmarks(frame, box, min_size=100.0) for frame in frames])
    return eye_aspect_ratio(points).astype(np.float32)


def lr_factor(progress: float, constant_share: float) -> float:
    """6.1: the rate stays constant for the first ``constant_share`` of training, then decays linearly to 0.

    Example:
        >>> [round(lr_factor(p, 1 / 3), 3) for p in (0.0, 0.3, 2 / 3, 1.0)]
        [1.0, 1.0, 0.5, 0.0]
    """
    if progress <= constant_share:
        return 1.0
    return max(0.0, (1.0 - progress) / (1.0 - constant_share))


@dataclass
class Curriculum:
    """Section 4's phases of training.

    Phase 1: frame D + adversarial, feature matching, perceptual; 2 adds the temporal and sync discriminators,
    reconstruction and contrastive terms; 3 adds the blink loss.

    A phase ends at its share of the budget, or (``stable``) earlier once the generator loss of the phase has
    stabilised: the means of the two halves of its last ``window`` steps differ by less than ``tol`` (relative).
    Phases without an enabled term are skipped (their share goes to the others).
    """

    budget: Budget
    shares: tuple[float, float, float]
    enabled: tuple[bool, bool, bool]
    stable: bool = False
    window: int = 200
    tol: float = 0.02
    phase: int = 1
    switched_at: list[int] = field(default_factory=list)
    _since: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.phase = self._next(0)

    def _next(self, after: int) -> int:
        for phase in range(after + 1, 4):
            if self.enabled[phase - 1]:
                return phase
        return after

    def _end(self, phase: int) -> float:
        """Fraction of the budget at which ``phase`` ends."""
        shares = [s if on else 0.0 for s, on in zip(self.shares, self.enabled, strict=True)]
        return sum(shares[:phase]) / sum(shares)

    def progress(self, steps: int, seconds: float) -> float:
        """Fraction of the budget spent (the larger of the step and time fractions)."""
        parts = []
        if self.budget.steps:
            parts.append(steps / self.budget.steps)
        if self.budget.seconds:
            parts.append(seconds / self.budget.seconds)
        return min(1.0, max(parts, default=1.0))

    def observe(self, loss: float, steps: int, seconds: float) -> int:
        """Record one step's generator loss; return the phase of the next step."""
        self._since.append(loss)
        last = self._next(self.phase) == self.phase
        done = self.progress(steps, seconds) >= self._end(self.phase) - 1e-9
        if self.stable and len(self._since) >= self.window:
            recent = self._since[-self.window :]
            half = self.window // 2
            first, second = float(np.mean(recent[:half])), float(np.mean(recent[half:]))
            done = done or abs(first - second) <= self.tol * max(abs(first), 1e-8)
        if done and not last:
            self.phase = self._next(self.phase)
            self.switched_at.append(steps)
            self._since = []
        return self.phase
