"""Wav2Lip (Prajwal et al., ACM MM 2020): lip-sync by a generator trained against a frozen expert SyncNet.

``baselines.create("wav2lip", preset="tiny")``; ``wav2lip-nogan`` is the variant trained without the visual
quality discriminator (``wav2lip_train.py``). Inference follows ``inference.py``: per frame, the identity face
resized to 96x96 with its lower half zeroed, stacked with the unmasked face as the reference, and the 16-step mel
window starting at ``int(80 * t / fps)``; the generated 96x96 face is resized back to the identity's size (the
identity is the face crop, so this is the original's paste-back with the whole image as the face box).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from baselines import register
from baselines._training import resize_frames, split_eval, to_tensor, to_uint8, usable_clips
from baselines.base import Baseline, Budget, BudgetClock, FitReport
from baselines.wav2lip.config import FACE_SIZE, PRESETS, SYNCNET_T, Wav2LipConfig
from baselines.wav2lip.model import Generator, QualityDiscriminator, SyncNet
from baselines.wav2lip.training import GeneratorTrainer, SyncWeightSchedule, prepare, train_expert
from bench.audio import wav2lip_mel, wav2lip_mel_windows
from bench.media import Clip

__all__ = ["Wav2Lip", "Wav2LipConfig", "paste_lower_half"]


def paste_lower_half(video: np.ndarray, image: np.ndarray) -> np.ndarray:
    """The identity image with the generated frames' lower half pasted in (``paste = "lower"``).

    Rows above ``H // 2`` are the identity's own (the generator was given them); the generated rows below follow
    after a linear blend over ``H // 16`` rows, so that no seam cuts across the face.
    """
    height = image.shape[0]
    top, ramp = height // 2, max(1, height // 16)
    weight = np.zeros(height, np.float32)
    weight[top : top + ramp] = (np.arange(ramp, dtype=np.float32) + 1.0) / (ramp + 1.0)
    weight[top + ramp :] = 1.0
    weight = weight[None, :, None, None]
    mixed = weight * video.astype(np.float32) + (1.0 - weight) * image[None].astype(np.float32)
    return np.rint(mixed).astype(np.uint8)


@register("wav2lip")
@register("wav2lip-nogan", gan=False)
class Wav2Lip(Baseline):
    """Wav2Lip: generator, expert SyncNet and (with GAN) visual quality discriminator.

    ``fit`` trains the expert on ``expert_fraction`` of the budget, then the generator on the rest;
    ``fit_expert`` and ``fit_generator`` run one stage each. Training clips: face-centred frames (any size,
    resized to 96x96), audio, more than 15 frames (shorter ones are skipped, as the original does).

    Example:
        >>> import baselines
        >>> model = baselines.create("wav2lip", preset="tiny")
        >>> clip = model.generate(np.zeros((64, 64, 3), np.uint8), np.full(8000, 0.1, np.float32), 16000)
        >>> clip.num_frames, clip.size, clip.fps
        (12, (64, 64), 25.0)
    """

    name = "wav2lip"
    Config = Wav2LipConfig
    PRESETS = PRESETS

    def __init__(self, preset: str = "tiny", device: str = "cpu", seed: int = 0, **overrides: Any) -> None:
        super().__init__(preset, device, seed, **overrides)
        cfg = self.config
        self.generator_net = Generator(cfg.width).to(self.device)
        self.expert = SyncNet(cfg.width).to(self.device)
        self.disc = QualityDiscriminator(cfg.width).to(self.device) if cfg.gan else None
        self.modules["generator"], self.modules["expert"] = self.generator_net, self.expert
        if self.disc is not None:
            self.modules["disc"] = self.disc
        self.schedule = SyncWeightSchedule(cfg.resolved_sync_wt_target, cfg.sync_threshold)
        self.generator_steps = 0
        self.expert_steps = 0
        self.rng = np.random.default_rng(seed)

    def fit(self, clips: Sequence[Clip], budget: Budget) -> FitReport:
        """Train the expert (``expert_fraction`` of the budget), then the generator (the rest).

        Preparing the clips (face resizing, mel spectrograms) counts against a time budget.
        """
        clock = BudgetClock(budget)
        prepare(usable_clips(clips, 3 * SYNCNET_T, self.name))  # memoised on the clips for both stages
        report = FitReport(0, 0.0)
        if self.config.expert_fraction > 0:
            report.merge(self.fit_expert(clips, budget.share(self.config.expert_fraction).remaining(0, clock.elapsed)))
        report.merge(self.fit_generator(clips, budget.remaining(report.steps, clock.elapsed)))
        report.seconds = clock.elapsed
        return report

    def fit_expert(self, clips: Sequence[Clip], budget: Budget) -> FitReport:
        """Stage one: train the expert lip-sync discriminator alone (on the clips the generator stage trains on)."""
        train, _ = split_eval(usable_clips(clips, 3 * SYNCNET_T, self.name), self.config.eval_fraction)
        report = train_expert(self.expert, prepare(train), budget, self.config, self.rng, self.device)
        self.expert_steps += report.steps
        return report

    def fit_generator(self, clips: Sequence[Clip], budget: Budget) -> FitReport:
        """Stage two: train the generator (and discriminator) against the frozen expert."""
        train, held_out = split_eval(usable_clips(clips, 3 * SYNCNET_T, self.name), self.config.eval_fraction)
        trainer = GeneratorTrainer(self.generator_net, self.expert, self.disc, self.config, self.schedule, self.device)
        report = trainer.run(prepare(train), prepare(held_out), budget, self.rng, self.seed, self.generator_steps)
        self.generator_steps += report.steps
        return report

    @torch.no_grad()
    def _synthesize(
        self, image: np.ndarray, samples: np.ndarray, sample_rate: int, fps: float, frames: int, reference: Clip | None
    ) -> np.ndarray | Clip:
        """Lip-synced frames for the identity face: one generator pass per frame, reference = the same face."""
        mels = wav2lip_mel_windows(wav2lip_mel(samples, sample_rate), frames, fps, offset=0)
        face = to_tensor(resize_frames(image, FACE_SIZE), self.device)
        masked = face.clone()
        masked[:, FACE_SIZE // 2 :] = 0.0
        faces = torch.cat([masked, face], dim=0)
        generator = self.generator_net
        generator.eval()
        out = []
        for start in range(0, frames, self.config.generate_batch):
            chunk = torch.from_numpy(mels[start : start + self.config.generate_batch]).unsqueeze(1).to(self.device)
            out.append(to_uint8(generator(chunk, faces.expand(chunk.size(0), -1, -1, -1))))
        video = resize_frames(np.concatenate(out), image.shape[0], image.shape[1])
        return paste_lower_half(video, image) if self.config.paste == "lower" else video

    def state(self) -> dict[str, Any]:
        """The sync-weight schedule and stage step counts."""
        return {
            "syncnet_wt": self.schedule.weight,
            "sync_switched_at": self.schedule.switched_at,
            "generator_steps": self.generator_steps,
            "expert_steps": self.expert_steps,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore the schedule and step counts."""
        self.schedule.weight = float(state.get("syncnet_wt", 0.0))
        self.schedule.switched_at = state.get("sync_switched_at")
        self.generator_steps = int(state.get("generator_steps", 0))
        self.expert_steps = int(state.get("expert_steps", 0))
