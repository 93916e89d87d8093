"""Temporal GAN training (paper 2.3): frame and sequence discriminators, lower-half L1, Adam, decay, early stop.

One step: a batch of ``seq_frames``-frame windows of training clips (mirrored with probability 0.5, 3.1), each with
the clip's first frame as the still image x_1 (eq. 1) and one raw-audio window per frame. The discriminators step
first on the real and the (detached) generated videos: the frame discriminator on ``frame_samples`` frames per video
drawn uniformly, S(x), stacked with x_1; the sequence discriminator on whole videos with their audio. Then the
generator steps on ``L_adv + lambda * L1`` (eq. 3), L1 being the mean absolute error on the lower half of the frames
(eq. 2, as a mean rather than a sum, so that lambda = 400 weighs it against the mean adversarial terms).
An epoch is one pass over the training clips (one window each); the rates decay per epoch after epoch 20, and the
``paper`` preset stops once the validation L1 has not improved for 10 epochs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F

from baselines._gan import discriminator_loss, generator_loss
from baselines._training import adam, resize_frames, to_tensor
from baselines.base import Budget, BudgetClock, FitReport
from baselines.temporal_gan.config import TemporalGANConfig
from baselines.temporal_gan.model import FrameDiscriminator, Generator, SequenceDiscriminator
from bench.audio import raw_audio_windows, resample
from bench.media import Clip


@dataclass
class ClipData:
    """One training clip, prepared once: the model-size faces and one raw-audio window per frame."""

    faces: torch.Tensor  # uint8 [T, H, W, 3]
    windows: torch.Tensor  # float32 [T, L] at the model's audio rate

    @property
    def num_frames(self) -> int:
        """Frames in the clip."""
        return int(self.faces.shape[0])


def face_crop(frames: np.ndarray, config: TemporalGANConfig) -> np.ndarray:
    """Face-centred frames (or one image) -> the model's ``image_height x image_width`` input (centre columns)."""
    square = resize_frames(frames, config.face_size)
    left = (config.face_size - config.image_width) // 2
    top = (config.face_size - config.image_height) // 2
    return np.ascontiguousarray(square[..., top : top + config.image_height, left : left + config.image_width, :])


def audio_windows(samples: np.ndarray, sample_rate: int, frames: int, fps: float, config: TemporalGANConfig) -> np.ndarray:
    """One ``audio_window_s`` raw window per frame at the model's rate (resampled if needed), ``[frames, L]``."""
    if sample_rate != config.audio_rate:
        samples = resample(samples, sample_rate, config.audio_rate)
    return raw_audio_windows(samples, config.audio_rate, frames, fps, config.audio_window_s)


def prepare(clips: Sequence[Clip], config: TemporalGANConfig) -> list[ClipData]:
    """Crop every clip's faces and cut its audio windows (memoised on the clip)."""
    key = ("temporal_gan-train", config.face_size, config.image_height, config.image_width, config.audio_rate,
           config.audio_window_s)  # fmt: skip
    return [clip.memo(key, partial(_prepare_one, clip, config)) for clip in clips]


def _prepare_one(clip: Clip, config: TemporalGANConfig) -> ClipData:
    if clip.audio is None:
        raise ValueError(f"temporal_gan: training clip {clip.name} has no audio")
    windows = audio_windows(clip.audio, clip.sample_rate, clip.num_frames, clip.fps, config)
    return ClipData(torch.from_numpy(face_crop(clip.frames, config)), torch.from_numpy(windows))


def to_unit(frames: torch.Tensor) -> torch.Tensor:
    """uint8 ``[..., H, W, 3]`` -> float ``[..., 3, H, W]`` in [-1, 1] (sda's Normalize(0.5, 0.5))."""
    return to_tensor(frames.numpy()).mul_(2.0).sub_(1.0)


def sample_batch(
    data: Sequence[ClipData], config: TemporalGANConfig, rng: np.random.Generator, mirror: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(still [B, 3, H, W], windows [B, T, L], video [B, T, 3, H, W])`` from random ``seq_frames`` windows."""
    stills, windows, videos = [], [], []
    for _ in range(config.batch_size):
        item = data[int(rng.integers(len(data)))]
        start = int(rng.integers(item.num_frames - config.seq_frames + 1))
        still, video = to_unit(item.faces[0]), to_unit(item.faces[start : start + config.seq_frames])
        if mirror and rng.random() < 0.5:
            still, video = still.flip(-1), video.flip(-1)
        stills.append(still)
        videos.append(video)
        windows.append(item.windows[start : start + config.seq_frames])
    return torch.stack(stills), torch.stack(windows), torch.stack(videos)


def lower_half_l1(generated: torch.Tensor, real: torch.Tensor, from_row: float = 0.5) -> torch.Tensor:
    """Mean absolute error on the rows from ``from_row`` of the height down (0.5: the lower half, eq. 2 as a mean)."""
    top = int(generated.size(-2) * from_row)
    return F.l1_loss(generated[..., top:, :], real[..., top:, :])


class EarlyStopping:
    """Stops once a validation loss has not improved for ``patience`` evaluations (None: never stops).

    Example:
        >>> stop = EarlyStopping(2)
        >>> [stop.update(v) for v in (1.0, 0.9, 0.95, 0.91)]
        [False, False, False, True]
    """

    def __init__(self, patience: int | None) -> None:
        self.patience = patience
        self.best = float("inf")
        self.since_best = 0

    def update(self, loss: float) -> bool:
        """Record one evaluation; True when training should stop."""
        if loss < self.best:
            self.best, self.since_best = loss, 0
        else:
            self.since_best += 1
        return self.patience is not None and self.since_best >= self.patience


class Trainer:
    """The optimisers and one adversarial step of the generator and its discriminators."""

    def __init__(self, generator: Generator, frame_disc: FrameDiscriminator, seq_disc: SequenceDiscriminator | None,
                 config: TemporalGANConfig, device: torch.device) -> None:  # fmt: skip
        self.generator, self.frame_disc, self.seq_disc = generator, frame_disc, seq_disc
        self.config, self.device = config, device
        self.opt_g = adam(generator.parameters(), config.lr_generator, config.betas)
        self.opt_frame = adam(frame_disc.parameters(), config.lr_frame_disc, config.betas)
        self.opt_seq = adam(seq_disc.parameters(), config.lr_seq_disc, config.betas) if seq_disc is not None else None

    def set_epoch(self, epoch: int) -> None:
        """Apply the decay of epoch ``epoch`` to the generator's and frame discriminator's rates (2.3)."""
        factor = self.config.lr_factor(epoch)
        for opt, base in ((self.opt_g, self.config.lr_generator), (self.opt_frame, self.config.lr_frame_disc)):
            for group in opt.param_groups:
                group["lr"] = base * factor

    def step(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], noise: torch.Tensor,
             picks: torch.Tensor) -> dict[str, float]:  # fmt: skip
        """One discriminator and one generator update; ``picks`` ``[B, S]`` are the frames S(x) samples."""
        still, windows, real = (t.to(self.device) for t in batch)
        fake = self.generator(still, windows, noise.to(self.device))
        rows = torch.arange(real.size(0), device=self.device)[:, None]
        picks = picks.to(self.device)
        stills = still[:, None].expand(-1, picks.size(1), -1, -1, -1).flatten(0, 1)
        real_frames, fake_frames = real[rows, picks].flatten(0, 1), fake[rows, picks].flatten(0, 1)
        d_frame = discriminator_loss(self.frame_disc(real_frames, stills), self.frame_disc(fake_frames.detach(), stills),
                                     "bce")  # fmt: skip
        self.opt_frame.zero_grad()
        d_frame.backward()
        self.opt_frame.step()
        losses = {"d_frame": d_frame.item()}
        adv = generator_loss(self.frame_disc(fake_frames, stills), "bce")
        if self.seq_disc is not None and self.opt_seq is not None:
            d_seq = discriminator_loss(self.seq_disc(real, windows), self.seq_disc(fake.detach(), windows), "bce")
            self.opt_seq.zero_grad()
            d_seq.backward()
            self.opt_seq.step()
            losses["d_seq"] = d_seq.item()
            adv = adv + generator_loss(self.seq_disc(fake, windows), "bce")
        l1 = lower_half_l1(fake, real, self.config.l1_from_row)
        total = adv + self.config.l1_weight * l1
        self.opt_g.zero_grad()
        total.backward()
        self.opt_g.step()
        return {**losses, "g_adv": adv.item(), "l1": l1.item(), "g_total": total.item()}


@torch.no_grad()
def validation_l1(generator: Generator, data: Sequence[ClipData], config: TemporalGANConfig, device: torch.device,
                  seed: int) -> float:  # fmt: skip
    """Mean lower-half L1 of whole held-out clips generated from their first frame, with seeded noise."""
    generator.eval()
    g = torch.Generator().manual_seed(seed)
    losses = []
    for item in data:
        real = to_unit(item.faces).to(device)
        noise = torch.randn(1, item.num_frames, config.noise_dim, generator=g) * config.noise_std
        fake = generator(real[:1], item.windows[None].to(device), noise.to(device))[0]
        losses.append(lower_half_l1(fake, real, config.l1_from_row).item())
    generator.train()
    return float(np.mean(losses))


def train(trainer: Trainer, train_data: Sequence[ClipData], val_data: Sequence[ClipData], budget: Budget,
          rng: np.random.Generator, generator: torch.Generator, start_step: int = 0) -> FitReport:  # fmt: skip
    """Steps until the budget is spent or (with ``patience_epochs``) validation stops improving."""
    config = trainer.config
    per_epoch = -(-len(train_data) // config.batch_size)  # ceil: one window per training clip
    stopper = EarlyStopping(config.patience_epochs)
    report, clock = FitReport(0, 0.0), BudgetClock(budget)
    modules = [m for m in (trainer.generator, trainer.frame_disc, trainer.seq_disc) if m is not None]
    for module in modules:
        module.train()
    while not clock.spent():
        step = start_step + clock.steps
        trainer.set_epoch(step // per_epoch)
        batch = sample_batch(train_data, config, rng, config.mirror)
        noise = torch.randn(config.batch_size, config.seq_frames, config.noise_dim, generator=generator) * config.noise_std
        picks = torch.stack([torch.randperm(config.seq_frames, generator=generator)[: config.frame_samples]
                             for _ in range(config.batch_size)])  # fmt: skip
        report.log(**trainer.step(batch, noise, picks))
        clock.tick()
        if (step + 1) % per_epoch == 0 and config.patience_epochs is not None:
            val = validation_l1(trainer.generator, val_data, config, trainer.device, step)
            report.log(val_l1=val)
            if stopper.update(val):
                break
    for module in modules:
        module.eval()
    report.steps, report.seconds = clock.steps, clock.elapsed
    return report
