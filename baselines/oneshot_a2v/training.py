"""OneShotA2V training: sync-discriminator and EAR-regressor pre-training, the curriculum GAN stage, adaptation.

Batches are windows of 5 consecutive frames of one clip (the sync discriminator's 0.2 s, 3.2.3) with the identity
image drawn from another frame of the same clip (the one-shot input). Per generator step: frame adversarial +
feature matching (+ perceptual when its weights are present) in every phase; phase 2 adds the temporal adversarial
term, the lower-half L1 and the contrastive sync term of the generated lower halves against their audio (y = 1);
phase 3 adds the blink loss. Each discriminator then takes one step on real and detached generated inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from baselines._gan import MultiScaleDiscriminator, feature_matching_loss, multiscale_loss
from baselines._perceptual import PerceptualLoss
from baselines._training import adam, resize_frames, to_tensor
from baselines.base import Budget, BudgetClock, FitReport
from baselines.oneshot_a2v.config import SYNC_FACE, SYNC_FRAMES, OneShotA2VConfig
from baselines.oneshot_a2v.losses import Curriculum, blink_loss, contrastive_loss, ear_labels, lr_factor
from baselines.oneshot_a2v.model import EyeNet, Generator, mfcc_windows, upper_half
from baselines.wav2lip import training as w2l
from baselines.wav2lip.model import SyncNet, expert_faces
from bench.media import Clip

AudioWindows = Callable[[np.ndarray, int, int, float], np.ndarray]  # (samples, rate, frames, fps) -> [T, rows, cols]


@dataclass
class ClipData:
    """One training clip, prepared once: faces at the generator's size, audio windows, sync data, EAR labels."""

    faces: torch.Tensor  # uint8 [T, S, S, 3]
    audio: torch.Tensor  # [T, 13, 20] MFCC or [T, hidden, 10] DeepSpeech2 windows
    sync: w2l.ClipData  # 96x96 faces and the 0.2 s mel window of each frame (Wav2Lip's SyncNet input)
    ear: torch.Tensor | None  # [T] EAR of dlib landmarks, NaN where no face; None when the blink loss is off

    @property
    def num_frames(self) -> int:
        """Frames in the clip."""
        return int(self.faces.shape[0])


def prepare(
    clips: Sequence[Clip], size: int, with_ear: bool, windows: AudioWindows = mfcc_windows, features: str = "mfcc-conv"
) -> list[ClipData]:
    """Prepare every clip (memoised on the clip per audio ``features``; EAR labels only when the blink loss needs them)."""
    out = []
    for clip, sync in zip(clips, w2l.prepare(clips), strict=True):
        faces, audio = clip.memo(("oneshot_a2v", size, features), partial(_faces_and_audio, clip, size, windows))
        ear = torch.from_numpy(clip.memo(("oneshot_a2v-ear",), partial(ear_labels, clip))) if with_ear else None
        out.append(ClipData(faces, audio, sync, ear))
    return out


def _faces_and_audio(clip: Clip, size: int, windows: AudioWindows) -> tuple[torch.Tensor, torch.Tensor]:
    assert clip.audio is not None  # usable_clips checked it
    audio = windows(clip.audio, clip.sample_rate, clip.num_frames, clip.fps)
    return torch.from_numpy(resize_frames(clip.frames, size)), torch.from_numpy(audio)


def window_batch(data: Sequence[ClipData], size: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """``size`` random 5-frame windows of the clips.

    Returns audio windows ``[B, 5, 1, rows, cols]`` (MFCC 13x20 or DeepSpeech2 hidden x 10), the window's mel
    ``[B, 1, 80, 16]``, identity ``[B, 3, S, S]`` (another frame of the clip), truth ``[B, 5, 3, S, S]``, EAR labels
    ``[B, 5]`` (NaN if none).
    """
    parts: dict[str, list[torch.Tensor]] = {"audio": [], "mel": [], "identity": [], "truth": [], "ear": []}
    for _ in range(size):
        item = data[int(rng.integers(len(data)))]
        start = int(rng.integers(0, item.num_frames - SYNC_FRAMES + 1))
        window = slice(start, start + SYNC_FRAMES)
        parts["audio"].append(item.audio[window].unsqueeze(1))
        parts["mel"].append(item.sync.sync_mels[start].unsqueeze(0))
        parts["identity"].append(to_tensor(item.faces[int(rng.integers(item.num_frames))].numpy()))
        parts["truth"].append(to_tensor(item.faces[window].numpy()))
        parts["ear"].append(item.ear[window] if item.ear is not None else torch.full((SYNC_FRAMES,), float("nan")))
    return {key: torch.stack(values) for key, values in parts.items()}


def sync_embeddings(sync: SyncNet, mels: torch.Tensor, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Video and audio embeddings of 5-frame windows ``[B, 5, 3, H, W]`` (lower halves at 96x96) and their mels."""
    faces = F.interpolate(frames.flatten(0, 1), size=(SYNC_FACE, SYNC_FACE), mode="area")
    faces = faces.view(*frames.shape[:3], SYNC_FACE, SYNC_FACE).transpose(1, 2)  # [B, 3, 5, 96, 96]
    audio, video = sync(mels, expert_faces(faces))
    return video, audio


def _pretrain(net: torch.nn.Module, loss_of_batch: Callable[[], torch.Tensor], budget: Budget, lr: float,
              name: str) -> FitReport:  # fmt: skip
    """Train ``net`` alone on ``loss_of_batch()`` (Adam, default betas) within ``budget``, then freeze it."""
    optimiser = adam(net.parameters(), lr, (0.9, 0.999))
    report, clock = FitReport(0, 0.0), BudgetClock(budget)
    net.train().requires_grad_(True)
    while not clock.spent():
        loss = loss_of_batch()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        report.log(**{name: loss.item()})
        clock.tick()
    net.eval().requires_grad_(False)
    report.steps, report.seconds = clock.steps, clock.elapsed
    return report


def train_sync(sync: SyncNet, data: Sequence[ClipData], budget: Budget, cfg: OneShotA2VConfig,
               rng: np.random.Generator, device: torch.device) -> FitReport:  # fmt: skip
    """Pre-train the sync discriminator with the contrastive loss (4.1.5).

    In-sync pairs (y=1) against the audio paired with another window of the same clip (y=0), 50/50 as Wav2Lip's
    expert batches.
    """

    def loss() -> torch.Tensor:
        mels, faces, labels = (t.to(device) for t in w2l.expert_batch([d.sync for d in data], cfg.sync_batch_size, rng))
        audio, video = sync(mels, faces)
        return contrastive_loss(video, audio, labels, cfg.sync_margin)

    return _pretrain(sync, loss, budget, cfg.aux_lr, "sync_pretrain")


def train_eye(eye: EyeNet, data: Sequence[ClipData], budget: Budget, cfg: OneShotA2VConfig,
              rng: np.random.Generator, device: torch.device) -> FitReport:  # fmt: skip
    """Pre-train the EAR regressor on real frames against the EAR of their dlib landmarks (L1)."""

    def loss() -> torch.Tensor:
        batch = window_batch(data, cfg.batch_size, rng)
        frames, labels = batch["truth"].flatten(0, 1).to(device), batch["ear"].flatten().to(device)
        return blink_loss(eye(upper_half(frames)), labels)

    return _pretrain(eye, loss, budget, cfg.aux_lr, "eye_pretrain")


def _paired(identity: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """``identity || frame`` per frame: ``[B, 3, S, S]`` and ``[B, 5, 3, S, S]`` -> ``[5B, 6, S, S]``."""
    ids = identity.unsqueeze(1).expand_as(frames)
    return torch.cat([ids, frames], dim=2).flatten(0, 1)


class GANTrainer:
    """The curriculum stage: one generator step and one step of each active discriminator per batch."""

    def __init__(self, nets: dict[str, Any], cfg: OneShotA2VConfig, perceptual: PerceptualLoss | None,
                 device: torch.device) -> None:  # fmt: skip
        self.generator: Generator = nets["generator"]
        self.frame_d: MultiScaleDiscriminator = nets["frame_d"]
        self.temporal_d: MultiScaleDiscriminator | None = nets.get("temporal_d")
        self.sync: SyncNet | None = nets.get("sync")
        self.eye: EyeNet | None = nets.get("eye")
        self.cfg, self.perceptual, self.device = cfg, perceptual, device
        self.g_opt = adam(self.generator.parameters(), cfg.lr, cfg.betas)
        self.d_opts = [adam(self.frame_d.parameters(), cfg.lr, cfg.betas)]
        if self.temporal_d is not None:
            self.d_opts.append(adam(self.temporal_d.parameters(), cfg.lr, cfg.betas))
        for net in (self.sync, self.eye):
            if net is not None:
                net.eval().requires_grad_(False)

    def set_lr(self, factor: float) -> None:
        """Scale every optimiser's rate to ``factor`` of the configured one."""
        for opt in (self.g_opt, *self.d_opts):
            for group in opt.param_groups:
                group["lr"] = self.cfg.lr * factor

    def generator_terms(self, batch: dict[str, torch.Tensor], fake: torch.Tensor, phase: int) -> dict[str, torch.Tensor]:
        """Each weighted generator term active in ``phase``."""
        cfg, identity, truth = self.cfg, batch["identity"], batch["truth"]
        fake_out = self.frame_d(_paired(identity, fake))
        with torch.no_grad():
            real_out = self.frame_d(_paired(identity, truth))
        terms = {
            "adv": multiscale_loss(MultiScaleDiscriminator.predictions(fake_out), cfg.gan_mode),
            "fm": cfg.lambda_feat * feature_matching_loss(fake_out, real_out),
        }
        if self.perceptual is not None:
            terms["perceptual"] = cfg.lambda_vgg * self.perceptual(fake.flatten(0, 1), truth.flatten(0, 1))
        if phase >= 2 and self.temporal_d is not None:
            preds = MultiScaleDiscriminator.predictions(self.temporal_d(fake.flatten(1, 2)))
            terms["temporal"] = cfg.lambda_temporal * multiscale_loss(preds, cfg.gan_mode)
        if phase >= 2 and cfg.use_rec:
            half = fake.size(-2) // 2
            terms["rec"] = cfg.lambda_rec * F.l1_loss(fake[..., half:, :], truth[..., half:, :])
        if phase >= 2 and self.sync is not None:
            video, audio = sync_embeddings(self.sync, batch["mel"], fake)
            ones = torch.ones(video.size(0), device=video.device)
            terms["sync"] = cfg.lambda_sync * contrastive_loss(video, audio, ones, cfg.sync_margin)
        if phase >= 3 and self.eye is not None:
            terms["blink"] = cfg.lambda_blink * blink_loss(self.eye(upper_half(fake.flatten(0, 1))), batch["ear"].flatten())
        return terms

    def discriminator_step(self, batch: dict[str, torch.Tensor], fake: torch.Tensor, phase: int) -> dict[str, float]:
        """One step of the frame discriminator (and the temporal one from phase 2) on real and detached fakes."""
        mode, identity, truth, fake = self.cfg.gan_mode, batch["identity"], batch["truth"], fake.detach()
        pairs = [(self.frame_d, _paired(identity, truth), _paired(identity, fake), "d_frame")]
        if phase >= 2 and self.temporal_d is not None:
            pairs.append((self.temporal_d, truth.flatten(1, 2), fake.flatten(1, 2), "d_temporal"))
        for opt in self.d_opts:
            opt.zero_grad()
        values = {}
        for disc, real, generated, name in pairs:
            loss = multiscale_loss(disc.predictions(disc(real)), mode, True) + \
                multiscale_loss(disc.predictions(disc(generated)), mode, False)  # fmt: skip
            loss.backward()
            values[name] = loss.item()
        for opt in self.d_opts:
            opt.step()
        return values

    def step(self, batch: dict[str, torch.Tensor], phase: int) -> dict[str, float]:
        """One generator and discriminator update; returns the logged values (``l1`` is a monitor, not a term)."""
        batch = {k: v.to(self.device) for k, v in batch.items()}
        self.generator.train()
        b, t = batch["truth"].shape[:2]
        identity = batch["identity"].repeat_interleave(t, dim=0)
        fake = self.generator(batch["audio"].flatten(0, 1), identity).view(b, t, *batch["truth"].shape[2:])
        terms = self.generator_terms(batch, fake, phase)
        total = torch.stack(list(terms.values())).sum()
        self.g_opt.zero_grad()
        total.backward()
        self.g_opt.step()
        values = {k: v.item() for k, v in terms.items()}
        values.update(g_total=total.item(), l1=F.l1_loss(fake.detach(), batch["truth"]).item(), phase=float(phase))
        values.update(self.discriminator_step(batch, fake, phase))
        return values

    def run(self, data: Sequence[ClipData], curriculum: Curriculum, rng: np.random.Generator) -> FitReport:
        """Train through the curriculum within its budget."""
        report, clock = FitReport(0, 0.0), BudgetClock(curriculum.budget)
        while not clock.spent():
            factor = lr_factor(curriculum.progress(clock.steps, clock.elapsed), self.cfg.constant_share)
            self.set_lr(factor)
            values = self.step(window_batch(data, self.cfg.batch_size, rng), curriculum.phase)
            report.log(**values, lr=self.cfg.lr * factor)
            clock.tick()
            curriculum.observe(values["g_total"], clock.steps, clock.elapsed)
        report.steps, report.seconds = clock.steps, clock.elapsed
        return report


def adapt_generator(generator: Generator, data: Sequence[ClipData], budget: Budget, cfg: OneShotA2VConfig,
                    perceptual: PerceptualLoss | None, rng: np.random.Generator, device: torch.device) -> FitReport:  # fmt: skip
    """Section 5: fine-tune the generator on the new subject.

    ``adapt_epochs`` epochs over its frames (or the budget, if shorter) with the reconstruction (L1) and, when
    available, perceptual losses; the identity is the subject's first frame.
    """
    frames = sum(d.num_frames for d in data)
    steps = max(1, round(cfg.adapt_epochs * frames / (cfg.batch_size * SYNC_FRAMES)))
    budget = Budget(min(steps, budget.steps) if budget.steps is not None else steps, budget.seconds)
    optimiser = adam(generator.parameters(), cfg.adapt_lr, cfg.betas)
    identity_frame = to_tensor(data[0].faces[0].numpy())
    report, clock = FitReport(0, 0.0), BudgetClock(budget)
    generator.train()
    while not clock.spent():
        batch = window_batch(data, cfg.batch_size, rng)
        truth = batch["truth"].to(device).flatten(0, 1)
        identity = identity_frame.to(device).expand(truth.size(0), -1, -1, -1)
        fake = generator(batch["audio"].to(device).flatten(0, 1), identity)
        l1 = F.l1_loss(fake, truth)
        loss = cfg.lambda_rec * l1
        if perceptual is not None:
            loss = loss + cfg.lambda_vgg * perceptual(fake, truth)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        report.log(adapt_l1=l1.item(), adapt_total=loss.item())
        clock.tick()
    generator.eval()
    report.steps, report.seconds = clock.steps, clock.elapsed
    return report


@torch.no_grad()
def sync_separation(sync: SyncNet, data: Sequence[ClipData], shift: int = SYNC_FRAMES) -> dict[str, Any]:
    """How well the sync discriminator tells in-sync windows from windows whose frames are ``shift`` frames late.

    For every window start t with frames ``t + shift .. t + shift + 4`` inside the clip, the embedding distance of
    the audio of window t to its own frames (in sync) and to the shifted frames. Returns the distances and the AUC:
    the probability that an in-sync distance is below a shifted one (0.5 = chance; ties count half).
    """
    sync.eval()
    device = next(sync.parameters()).device
    same: list[torch.Tensor] = []
    shifted: list[torch.Tensor] = []
    for item in data:
        starts = list(range(0, item.sync.num_frames - SYNC_FRAMES - shift + 1))
        if not starts:
            continue
        mels = torch.stack([item.sync.sync_mels[t].unsqueeze(0) for t in starts]).to(device)
        for offset, out in ((0, same), (shift, shifted)):
            faces = torch.stack([expert_faces(w2l._window(item.sync, t + offset).unsqueeze(0))[0] for t in starts])
            audio, video = sync(mels, faces.to(device))
            out.append((video - audio).norm(dim=1).cpu())
    d_same, d_shift = torch.cat(same).numpy(), torch.cat(shifted).numpy()
    below = (d_same[:, None] < d_shift[None, :]).mean() + 0.5 * (d_same[:, None] == d_shift[None, :]).mean()
    return {"auc": float(below), "in_sync": d_same, "shifted": d_shift}
