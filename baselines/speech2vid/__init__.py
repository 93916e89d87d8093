"""Speech2Vid, "You said that?" (Chung, Jamaludin, Zisserman, BMVC 2017): an encoder-decoder talking face.

``baselines.create("speech2vid", preset="tiny")``. The generator maps a 0.35 s MFCC window and 5 stacked identity
faces to one 112x112 face per video frame; a residual deblurring network trained afterwards sharpens it (the
demo's ``im + imb``). Generation from one identity image stacks that image 5 times; the face is resized to
112x112 on the way in and back to the identity's size on the way out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from baselines import register
from baselines._training import resize_frames, to_uint8, usable_clips
from baselines.base import Baseline, Budget, BudgetClock, FitReport
from baselines.speech2vid.config import FACE_SIZE, PRESETS, Speech2VidConfig
from baselines.speech2vid.model import DeblurNet, Speech2VidNet
from baselines.speech2vid.training import ClipData, identity_stack, prepare, train_deblur, train_generator
from bench.audio import speech2vid_mfcc, speech2vid_windows
from bench.media import Clip

__all__ = ["Speech2Vid", "Speech2VidConfig"]


@register("speech2vid")
class Speech2Vid(Baseline):
    """Speech2Vid: audio encoder + identity encoder -> decoder with skips, L1 loss, then a deblurring network.

    Example:
        >>> import baselines
        >>> model = baselines.create("speech2vid", preset="tiny")
        >>> clip = model.generate(np.zeros((80, 80, 3), np.uint8), np.full(16000, 0.1, np.float32), 16000)
        >>> clip.num_frames, clip.size
        (25, (80, 80))
    """

    name = "speech2vid"
    Config = Speech2VidConfig
    PRESETS = PRESETS

    def __init__(self, preset: str = "tiny", device: str = "cpu", seed: int = 0, **overrides: Any) -> None:
        super().__init__(preset, device, seed, **overrides)
        cfg = self.config
        net = Speech2VidNet(cfg.identity_frames, cfg.width, cfg.decoder_seed_channels, cfg.bn_momentum)
        self.net = net.to(self.device)
        self.deblur = DeblurNet(cfg.deblur_depth, cfg.deblur_width).to(self.device)
        self.modules["generator"], self.modules["deblur"] = self.net, self.deblur
        self.rng = np.random.default_rng(seed)

    def fit(self, clips: Sequence[Clip], budget: Budget) -> FitReport:
        """Train the generator, then the deblurring network (``deblur_fraction`` of the budget).

        Preparing the clips (face resizing, MFCC) counts against a time budget.
        """
        clock = BudgetClock(budget)
        self._data(clips)  # memoised on the clips for both stages
        first = budget.share(1.0 - self.config.deblur_fraction).remaining(0, clock.elapsed)
        report = self.fit_generator(clips, first)
        if self.config.deblur_fraction > 0:
            report.merge(self.fit_deblur(clips, budget.remaining(report.steps, clock.elapsed)))
        report.seconds = clock.elapsed
        return report

    def fit_generator(self, clips: Sequence[Clip], budget: Budget) -> FitReport:
        """Stage one: the encoder-decoder."""
        data = self._data(clips)
        return train_generator(self.net, data, budget, self.config, self.rng, self.device)

    def fit_deblur(self, clips: Sequence[Clip], budget: Budget) -> FitReport:
        """Stage two: the deblurring network on the (frozen) generator's outputs."""
        data = self._data(clips)
        return train_deblur(self.deblur, self.net, data, budget, self.config, self.rng, self.device)

    def _data(self, clips: Sequence[Clip]) -> list[ClipData]:
        """The usable training clips, prepared (memoised on each clip)."""
        return prepare(usable_clips(clips, self.config.min_frames - 1, self.name), self.config.mfcc_alignment)

    @torch.no_grad()
    def _synthesize(
        self, image: np.ndarray, samples: np.ndarray, sample_rate: int, fps: float, frames: int, reference: Clip | None
    ) -> np.ndarray | Clip:
        """One generated (then deblurred) face per frame, from the MFCC window centred on that frame."""
        mfcc = speech2vid_mfcc(samples, sample_rate)
        windows = speech2vid_windows(mfcc, frames, fps, alignment=self.config.mfcc_alignment)
        face = resize_frames(image, FACE_SIZE)
        faces = identity_stack(np.repeat(face[None], self.config.identity_frames, axis=0)).to(self.device)
        net, deblur = self.net, self.deblur
        self.eval()
        out = []
        for start in range(0, frames, self.config.generate_batch):
            chunk = torch.from_numpy(windows[start : start + self.config.generate_batch]).unsqueeze(1).to(self.device)
            out.append(to_uint8(deblur(net(chunk, faces.expand(chunk.size(0), -1, -1, -1)))))
        video = resize_frames(np.concatenate(out), image.shape[0], image.shape[1])
        return video
