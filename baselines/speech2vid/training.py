"""Speech2Vid training: the generator with an L1 loss, then the deblurring network on its outputs (SPECS A).

A training sample (3P, Sindhu-Hegde/you_said_that): a random target frame of a clip, the 35-column MFCC window
centred on it, and ``identity_frames`` distinct random frames of the same clip more than ``identity_gap`` frames
away from the target, stacked on channels. The deblurring network learns the residual from the frozen
generator's output to the real frame, also with L1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

import numpy as np
import torch

from baselines._training import adam, recalibrate_batchnorm, resize_frames, to_tensor
from baselines.base import Budget, BudgetClock, FitReport
from baselines.speech2vid.config import FACE_SIZE, Speech2VidConfig
from baselines.speech2vid.model import DeblurNet, Speech2VidNet, l1
from bench.audio import speech2vid_mfcc, speech2vid_windows
from bench.media import Clip

Alignment = Literal["centred", "demo"]


@dataclass
class ClipData:
    """One training clip, prepared once: 112x112 faces and the MFCC window of every frame."""

    faces: torch.Tensor  # uint8 [T, 112, 112, 3]
    mfcc: torch.Tensor  # [T, 12, 35]

    @property
    def num_frames(self) -> int:
        """Frames in the clip."""
        return int(self.faces.shape[0])


def prepare(clips: Sequence[Clip], alignment: Alignment = "centred") -> list[ClipData]:
    """Resize every clip's faces to 112x112 and cut its MFCC windows (memoised on the clip)."""
    key = ("speech2vid-train", FACE_SIZE, alignment)
    return [clip.memo(key, partial(_prepare_one, clip, alignment)) for clip in clips]


def _prepare_one(clip: Clip, alignment: Alignment) -> ClipData:
    if clip.audio is None:
        raise ValueError(f"speech2vid: training clip {clip.name} has no audio")
    mfcc = speech2vid_mfcc(clip.audio, clip.sample_rate)
    windows = speech2vid_windows(mfcc, clip.num_frames, clip.fps, alignment=alignment)
    return ClipData(torch.from_numpy(resize_frames(clip.frames, FACE_SIZE)), torch.from_numpy(windows))


def identity_stack(faces: np.ndarray) -> torch.Tensor:
    """``k`` faces uint8 ``[k, H, W, 3]`` -> the identity input ``[3k, H, W]`` (face after face on channels)."""
    return to_tensor(faces).flatten(0, 1)


def sample_batch(
    data: Sequence[ClipData], config: Speech2VidConfig, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sample ``(mfcc [B, 1, 12, 35], identity [B, 3k, 112, 112], target [B, 3, 112, 112])``."""
    mfccs, identities, targets = [], [], []
    for _ in range(config.batch_size):
        item = data[int(rng.integers(len(data)))]
        target = int(rng.integers(item.num_frames))
        frames = np.arange(item.num_frames)
        allowed = frames[np.abs(frames - target) > config.identity_gap]
        chosen = np.sort(rng.choice(allowed, size=config.identity_frames, replace=False))
        identities.append(identity_stack(item.faces[chosen].numpy()))
        mfccs.append(item.mfcc[target].unsqueeze(0))
        targets.append(to_tensor(item.faces[target].numpy()))
    return torch.stack(mfccs), torch.stack(identities), torch.stack(targets)


def train_generator(
    net: Speech2VidNet, data: Sequence[ClipData], budget: Budget, config: Speech2VidConfig, rng: np.random.Generator,
    device: torch.device,
) -> FitReport:
    """Stage one: the encoder-decoder with the L1 loss."""
    optimiser = adam(net.parameters(), config.lr, (0.9, 0.999))
    report, clock = FitReport(0, 0.0), BudgetClock(budget)
    net.train()
    while not clock.spent():
        mfcc, identity, target = (t.to(device) for t in sample_batch(data, config, rng))
        loss = l1(net(mfcc, identity), target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        report.log(l1=loss.item())
        clock.tick()
    recal_rng = np.random.default_rng((clock.steps, 1))  # its own stream: the training stream is left alone

    def forward() -> None:
        mfcc, identity, _ = sample_batch(data, config, recal_rng)
        net(mfcc.to(device), identity.to(device))

    recalibrate_batchnorm(net, forward, config.bn_recalibration)
    net.eval()
    report.steps, report.seconds = clock.steps, clock.elapsed
    return report


def train_deblur(
    deblur: DeblurNet, net: Speech2VidNet, data: Sequence[ClipData], budget: Budget, config: Speech2VidConfig,
    rng: np.random.Generator, device: torch.device,
) -> FitReport:
    """Stage two: the residual deblurring network on the frozen generator's outputs, L1 to the real frames."""
    optimiser = adam(deblur.parameters(), config.lr, (0.9, 0.999))
    report, clock = FitReport(0, 0.0), BudgetClock(budget)
    net.eval()
    deblur.train()
    while not clock.spent():
        mfcc, identity, target = (t.to(device) for t in sample_batch(data, config, rng))
        with torch.no_grad():
            blurred = net(mfcc, identity)
        loss = l1(deblur(blurred), target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        report.log(deblur_l1=loss.item(), generator_l1=l1(blurred, target).item())
        clock.tick()
    deblur.eval()
    report.steps, report.seconds = clock.steps, clock.elapsed
    return report
