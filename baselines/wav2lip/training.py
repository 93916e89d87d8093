"""Wav2Lip training: the expert SyncNet stage and the generator stage, with the original's losses and schedule.

SPECS B. Generator step (``hq_wav2lip_train.py``): ``loss = sync_wt * E_sync + disc_wt * E_gen + (1 - sync_wt -
disc_wt) * L1``; one Adam step on G, then one on D from ``BCE(D(gt), 1)`` and ``BCE(D(G.detach()), 0)`` (separate
backward calls, one step). ``sync_wt`` starts at 0 and switches to its target once the average sync loss of an
evaluation (every ``eval_interval`` steps, ``eval_steps`` batches) drops below 0.75; the expert stays frozen.
Expert step (``color_syncnet_train.py``): 50/50 in-sync / off-sync pairs, BCE on the cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F

from baselines._training import adam, recalibrate_batchnorm, resize_frames, to_tensor
from baselines.base import Budget, BudgetClock, FitReport
from baselines.wav2lip.config import FACE_SIZE, SYNCNET_T, Wav2LipConfig
from baselines.wav2lip.model import Generator, QualityDiscriminator, SyncNet, expert_faces, sync_bce
from bench.audio import wav2lip_mel, wav2lip_mel_windows
from bench.media import Clip


@dataclass
class ClipData:
    """One training clip, prepared once: 96x96 faces and the two kinds of mel window per frame."""

    faces: torch.Tensor  # uint8 [T, 96, 96, 3]
    gen_mels: torch.Tensor  # [T, 80, 16], window of frame k - 1 (training's get_segmented_mels)
    sync_mels: torch.Tensor  # [T, 80, 16], window of frame k (crop_audio_window)

    @property
    def num_frames(self) -> int:
        """Frames in the clip."""
        return int(self.faces.shape[0])


def prepare(clips: Sequence[Clip]) -> list[ClipData]:
    """Resize every clip's faces to 96x96 and cut its mel windows (memoised on the clip)."""
    return [clip.memo(("wav2lip-train", FACE_SIZE), partial(_prepare_one, clip)) for clip in clips]


def _prepare_one(clip: Clip) -> ClipData:
    if clip.audio is None:
        raise ValueError(f"wav2lip: training clip {clip.name} has no audio")
    mel = wav2lip_mel(clip.audio, clip.sample_rate)
    gen = wav2lip_mel_windows(mel, clip.num_frames, clip.fps, offset=-1)
    sync = wav2lip_mel_windows(mel, clip.num_frames, clip.fps, offset=0)
    faces = torch.from_numpy(resize_frames(clip.frames, FACE_SIZE))
    return ClipData(faces, torch.from_numpy(gen), torch.from_numpy(sync))


def _window(item: ClipData, start: int) -> torch.Tensor:
    """Frames ``start .. start+4`` as float ``[3, 5, 96, 96]``."""
    return to_tensor(item.faces[start : start + SYNCNET_T].numpy()).permute(1, 0, 2, 3)


def _other_start(rng: np.random.Generator, item: ClipData, start: int) -> int:
    """A random window start of the same clip other than ``start``."""
    while True:
        other = int(rng.integers(0, item.num_frames - SYNCNET_T + 1))
        if other != start:
            return other


def generator_batch(
    data: Sequence[ClipData], size: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sample a generator batch as the original Dataset does.

    Returns:
        faces ``[B, 6, 5, 96, 96]`` (target window with rows >= 48 zeroed || a random other window), generator mel
        windows ``[B, 5, 1, 80, 16]``, the sync window of the block ``[B, 1, 80, 16]``, ground truth
        ``[B, 3, 5, 96, 96]``.
    """
    inputs, mels, syncs, truths = [], [], [], []
    for _ in range(size):
        item = data[int(rng.integers(len(data)))]
        start = int(rng.integers(1, item.num_frames - SYNCNET_T + 1))  # frame start-1 must exist
        truth = _window(item, start)
        masked = truth.clone()
        masked[:, :, FACE_SIZE // 2 :] = 0.0
        inputs.append(torch.cat([masked, _window(item, _other_start(rng, item, start))], dim=0))
        mels.append(item.gen_mels[start : start + SYNCNET_T].unsqueeze(1))
        syncs.append(item.sync_mels[start].unsqueeze(0))
        truths.append(truth)
    return torch.stack(inputs), torch.stack(mels), torch.stack(syncs), torch.stack(truths)


def expert_batch(
    data: Sequence[ClipData], size: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sample an expert batch: mel of an anchor window, lower halves of the anchor (y=1) or another window (y=0).

    Returns:
        mels ``[B, 1, 80, 16]``, faces ``[B, 15, 48, 96]``, labels ``[B]`` (1 in sync, 0 off sync).
    """
    mels, faces, labels = [], [], []
    for _ in range(size):
        item = data[int(rng.integers(len(data)))]
        anchor = int(rng.integers(0, item.num_frames - SYNCNET_T + 1))
        in_sync = bool(rng.integers(2))
        chosen = anchor if in_sync else _other_start(rng, item, anchor)
        faces.append(expert_faces(_window(item, chosen).unsqueeze(0))[0])
        mels.append(item.sync_mels[anchor].unsqueeze(0))
        labels.append(1.0 if in_sync else 0.0)
    return torch.stack(mels), torch.stack(faces), torch.tensor(labels)


@dataclass
class SyncWeightSchedule:
    """The expert sync-loss weight, switched on once and for good.

    ``weight`` starts at 0; the first evaluation whose average sync loss is strictly below ``threshold`` sets it
    to ``target`` (``hparams.set_hparam('syncnet_wt', ...)`` in the original), and it never switches back.
    """

    target: float
    threshold: float = 0.75
    weight: float = 0.0
    switched_at: int | None = None

    def observe(self, eval_sync_loss: float, step: int) -> float:
        """Record one evaluation at generator step ``step``; return the weight to use from now on."""
        if self.switched_at is None and eval_sync_loss < self.threshold:
            self.weight = self.target
            self.switched_at = step
        return self.weight


def sync_loss(expert: SyncNet, mels: torch.Tensor, generated: torch.Tensor) -> torch.Tensor:
    """``get_sync_loss``: the frozen expert on the lower halves of the 5 generated frames, target 1."""
    audio, face = expert(mels, expert_faces(generated))
    return sync_bce(audio, face, torch.ones(audio.size(0), device=audio.device))


def expert_step(expert: SyncNet, optimiser: torch.optim.Optimizer, batch: Sequence[torch.Tensor]) -> float:
    """One expert update on a batch from :func:`expert_batch`; returns its loss."""
    mels, faces, labels = batch
    audio, face = expert(mels, faces)
    loss = sync_bce(audio, face, labels)
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    return loss.item()


def train_expert(
    expert: SyncNet, data: Sequence[ClipData], budget: Budget, config: Wav2LipConfig, rng: np.random.Generator,
    device: torch.device,
) -> FitReport:
    """The first stage: train the expert lip-sync discriminator on its own (Adam, default betas)."""
    optimiser = adam(expert.parameters(), config.expert_lr, (0.9, 0.999))
    report, clock = FitReport(0, 0.0), BudgetClock(budget)
    for p in expert.parameters():
        p.requires_grad_(True)
    expert.train()
    while not clock.spent():
        batch = [t.to(device) for t in expert_batch(data, config.expert_batch_size, rng)]
        report.log(expert=expert_step(expert, optimiser, batch))
        clock.tick()
    recal_rng = np.random.default_rng((clock.steps, 2))  # its own stream: the training stream is left alone

    def forward() -> None:
        mels, faces, _ = expert_batch(data, config.expert_batch_size, recal_rng)
        expert(mels.to(device), faces.to(device))

    recalibrate_batchnorm(expert, forward, config.bn_recalibration)
    expert.eval()
    report.steps, report.seconds = clock.steps, clock.elapsed
    return report


@torch.no_grad()
def evaluate(
    generator: Generator, expert: SyncNet, data: Sequence[ClipData], config: Wav2LipConfig, rng: np.random.Generator,
    device: torch.device,
) -> float:
    """``eval_model``: the average expert sync loss of the generator over ``eval_steps`` held-out batches."""
    generator.eval()
    losses = []
    for _ in range(config.resolved_eval_steps):
        faces, mels, sync_mels, _ = (t.to(device) for t in generator_batch(data, config.batch_size, rng))
        losses.append(sync_loss(expert, sync_mels, generator(mels, faces)).item())
    generator.train()
    return float(np.mean(losses))


class GeneratorTrainer:
    """The generator stage: G (and D with GAN) steps against a frozen expert, with the sync-weight schedule."""

    def __init__(self, generator: Generator, expert: SyncNet, disc: QualityDiscriminator | None,
                 config: Wav2LipConfig, schedule: SyncWeightSchedule, device: torch.device) -> None:
        self.generator, self.expert, self.disc = generator, expert, disc
        self.config, self.schedule, self.device = config, schedule, device
        betas = config.resolved_betas
        self.optimiser = adam(generator.parameters(), config.lr, betas)
        self.disc_optimiser = adam(disc.parameters(), config.disc_lr, betas) if disc is not None else None
        for p in expert.parameters():
            p.requires_grad_(False)
        expert.eval()

    def step(self, batch: Sequence[torch.Tensor], report: FitReport) -> None:
        """One generator step (and one discriminator step with GAN) on a batch from :func:`generator_batch`."""
        faces, mels, sync_mels, truth = (t.to(self.device) for t in batch)
        sync_wt, disc_wt = self.schedule.weight, self.config.resolved_disc_wt
        self.generator.train()
        generated = self.generator(mels, faces)
        l1 = F.l1_loss(generated, truth)
        loss = (1.0 - sync_wt - disc_wt) * l1
        values = {"l1": l1.item()}
        if sync_wt > 0:
            sync = sync_loss(self.expert, sync_mels, generated)
            loss = loss + sync_wt * sync
            values["sync"] = sync.item()
        if self.disc is not None and disc_wt > 0:
            self.disc.train()
            perceptual = self.disc.perceptual_loss(generated)
            loss = loss + disc_wt * perceptual
            values["perceptual"] = perceptual.item()
        self.optimiser.zero_grad()
        loss.backward()
        self.optimiser.step()
        values["total"] = loss.item()
        if self.disc is not None and self.disc_optimiser is not None:
            self.disc_optimiser.zero_grad()  # drop what the perceptual term left in D
            pred = self.disc(truth)
            real = F.binary_cross_entropy(pred, torch.ones_like(pred))
            real.backward()
            pred = self.disc(generated.detach())
            fake = F.binary_cross_entropy(pred, torch.zeros_like(pred))
            fake.backward()
            self.disc_optimiser.step()
            values.update(disc_real=real.item(), disc_fake=fake.item())
        report.log(**values, sync_wt=sync_wt)

    def recalibrate(self, data: Sequence[ClipData], rng: np.random.Generator) -> None:
        """Re-estimate the generator's BatchNorm statistics at its final weights (``bn_recalibration`` batches)."""

        def forward() -> None:
            faces, mels, _, _ = generator_batch(data, self.config.batch_size, rng)
            self.generator(mels.to(self.device), faces.to(self.device))

        recalibrate_batchnorm(self.generator, forward, self.config.bn_recalibration)

    def run(self, data: Sequence[ClipData], eval_data: Sequence[ClipData], budget: Budget, rng: np.random.Generator,
            seed: int, start_step: int = 0) -> FitReport:
        """Train within ``budget``; evaluate every ``eval_interval`` steps (counted from ``start_step``)."""
        report, clock = FitReport(0, 0.0), BudgetClock(budget)
        while not clock.spent():
            self.step(generator_batch(data, self.config.batch_size, rng), report)
            clock.tick()
            step = start_step + clock.steps
            if step % self.config.eval_interval == 0:
                eval_rng = np.random.default_rng((seed, step))
                average = evaluate(self.generator, self.expert, eval_data, self.config, eval_rng, self.device)
                report.log(eval_sync=average)
                self.schedule.observe(average, step)
        self.recalibrate(data, np.random.default_rng((seed, start_step + clock.steps, 1)))  # own stream
        report.steps, report.seconds = clock.steps, clock.elapsed
        return report
