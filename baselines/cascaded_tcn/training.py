"""Training of the cascaded TCN: stage 1 (the landmark mapping, equations 1-4) and stage 2 (the renderer, pix2pixHD).

Stage 1 loss (equation 4): ``L_all = L_L2 + 0.05 L_pca + 0.6 L_int`` with squared Frobenius norms over a window
(``[window, dims]``, summed), averaged over the batch: ``L_pca = ||m - G1||^2`` on the 13 PCA coefficients,
``L_L2 = ||t - G2||^2`` on the 29 landmarks (58 values), ``L_int = ||(t_i - t_{i-1}) - (G2_i - G2_{i-1})||^2`` over
consecutive frames. The LSTM / BiLSTM baselines have the mouth only: there ``t`` is the 20 mouth points and ``G2`` the
mouth decoded from the predicted PCA coefficients.
Stage 2 (SPECS E): LSGAN on a conditional multi-scale discriminator (facial map and image), feature matching with
``lambda_feat * 4 / (n_layers + 1)``, VGG19 perceptual ``lambda_feat``, Adam(2e-4, 0.5, 0.999); D's loss halved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from baselines._gan import MultiScaleDiscriminator, feature_matching_loss, multiscale_loss
from baselines._perceptual import PerceptualLoss
from baselines._training import adam, resize_frames, to_tensor
from baselines.base import Budget, BudgetClock, FitReport
from baselines.cascaded_tcn.config import CascadedTCNConfig
from baselines.cascaded_tcn.features import face_frames, fill_missing, frame_audio, logfbank_features
from baselines.cascaded_tcn.maps import facial_map
from baselines.cascaded_tcn.model import Statistics
from bench.faces import track
from bench.media import Clip


@dataclass
class ClipData:
    """One training clip prepared for both stages."""

    audio: np.ndarray  # float32 [T, 104] logfbank rows per video frame (not normalised)
    pose: np.ndarray  # float32 [T, 3]
    cheek: np.ndarray  # float32 [T, 16]
    mouth: np.ndarray  # float32 [T, 40]
    talking: np.ndarray  # float32 [T, 58]
    frames: np.ndarray  # uint8 [T, S, S, 3] at the renderer's size
    points: np.ndarray  # float32 [T, 68, 2] landmarks at the renderer's size

    @property
    def num_frames(self) -> int:
        """Frames in the clip."""
        return len(self.pose)


def clip_landmarks(clip: Clip, source: str, who: str) -> np.ndarray:
    """The clip's 68 landmarks ``[T, 68, 2]``: dlib tracking (``"dlib"``) or ``clip.meta["landmarks"]`` (``"given"``)."""
    if source == "given":
        given = clip.meta.get("landmarks")
        if given is None or np.shape(given) != (clip.num_frames, 68, 2):
            raise ValueError(f"{who}: landmarks='given' but clip {clip.name} has no meta['landmarks'] [T, 68, 2]")
        return np.asarray(given, np.float32)
    return fill_missing(track(clip).landmarks, f"{who}: clip {clip.name}")


def prepare(clips: Sequence[Clip], config: CascadedTCNConfig, who: str) -> list[ClipData]:
    """Features, geometry and renderer-size frames of every clip (memoised on the clip)."""
    key = ("cascaded_tcn", config.landmarks, config.render_size)
    return [clip.memo(key, partial(_prepare_one, clip, config, who)) for clip in clips]


def _prepare_one(clip: Clip, config: CascadedTCNConfig, who: str) -> ClipData:
    if clip.audio is None:
        raise ValueError(f"{who}: training clip {clip.name} has no audio")
    landmarks = clip_landmarks(clip, config.landmarks, who)
    geometry = face_frames(landmarks, clip.size)
    audio = frame_audio(logfbank_features(clip.audio, clip.sample_rate), clip.num_frames, clip.fps)
    height, width = clip.size
    size = config.render_size
    points = landmarks * np.array([size / width, size / height], np.float32)
    frames = resize_frames(clip.frames, size)
    return ClipData(audio, geometry.pose, geometry.cheek, geometry.mouth, geometry.talking, frames, points)


def fit_statistics(stats: Statistics, data: Sequence[ClipData]) -> None:
    """Audio normalisation and the mouth PCA from every training frame."""
    audio = torch.from_numpy(np.concatenate([d.audio for d in data]))
    mouths = torch.from_numpy(np.concatenate([d.mouth for d in data]))
    stats.fit(audio, mouths)


def sequence_batch(data: Sequence[ClipData], window: int, size: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """``size`` random windows of ``window`` frames: audio, pose, cheek, mouth and talking, each ``[B, window, D]``."""
    usable = [d for d in data if d.num_frames >= window]
    if not usable:
        raise ValueError(f"cascaded_tcn: no training clip has {window} frames (a window)")
    picks: dict[str, list[np.ndarray]] = {k: [] for k in ("audio", "pose", "cheek", "mouth", "talking")}
    for _ in range(size):
        item = usable[int(rng.integers(len(usable)))]
        start = int(rng.integers(0, item.num_frames - window + 1))
        for key, values in picks.items():
            values.append(getattr(item, key)[start : start + window])
    return {k: torch.from_numpy(np.stack(v)) for k, v in picks.items()}


def frobenius(x: torch.Tensor) -> torch.Tensor:
    """Squared Frobenius norm of each window ``[B, T, D]``, averaged over the batch."""
    return x.pow(2).sum(dim=(1, 2)).mean()


def stage1_loss(
    stats: Statistics, mapping: nn.Module, batch: dict[str, torch.Tensor], config: CascadedTCNConfig
) -> dict[str, torch.Tensor]:
    """Equations 1-4 on one batch: ``{"pca", "l2", "int", "total"}``."""
    pca, talking = mapping(stats.normalise_audio(batch["audio"]), batch["pose"], batch["cheek"])
    if talking is None:  # the RNN baselines: the mouth, decoded from the PCA coefficients
        talking, truth = stats.decode(pca), batch["mouth"]
    else:
        truth = batch["talking"]
    l_pca = frobenius(stats.encode(batch["mouth"]) - pca)
    l_l2 = frobenius(truth - talking)
    l_int = frobenius(torch.diff(truth, dim=1) - torch.diff(talking, dim=1))
    total = l_l2 + config.lambda_pca * l_pca + config.lambda_int * l_int
    return {"pca": l_pca, "l2": l_l2, "int": l_int, "total": total}


def train_mapping(
    mapping: nn.Module, stats: Statistics, data: Sequence[ClipData], budget: Budget, config: CascadedTCNConfig,
    rng: np.random.Generator, device: torch.device,
) -> FitReport:  # fmt: skip
    """Stage 1: Adam on ``L_all`` over random windows until the budget is spent."""
    optimiser = adam(mapping.parameters(), config.lr, (0.9, 0.999))
    report, clock = FitReport(0, 0.0), BudgetClock(budget)
    mapping.train()
    while not clock.spent():
        batch = {k: v.to(device) for k, v in sequence_batch(data, config.window, config.batch_size, rng).items()}
        losses = stage1_loss(stats, mapping, batch, config)
        optimiser.zero_grad()
        losses["total"].backward()
        optimiser.step()
        report.log(**{k: v.item() for k, v in losses.items()})
        clock.tick()
    mapping.eval()
    report.steps, report.seconds = clock.steps, clock.elapsed
    return report


def render_batch(
    data: Sequence[ClipData], config: CascadedTCNConfig, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random training frames: facial maps from their own landmarks ``[B, C, S, S]`` and the frames ``[B, 3, S, S]``."""
    maps, targets = [], []
    for _ in range(config.render_batch):
        item = data[int(rng.integers(len(data)))]
        t = int(rng.integers(item.num_frames))
        maps.append(facial_map(item.frames[t], item.points[t], item.points[t], config)[0])
        targets.append(item.frames[t])
    return torch.from_numpy(np.stack(maps)), to_tensor(np.stack(targets))


class RendererTrainer:
    """Stage 2: one generator and one discriminator step per batch (pix2pixHD's losses, SPECS E)."""

    def __init__(self, renderer: nn.Module, disc: MultiScaleDiscriminator, perceptual: PerceptualLoss | None,
                 config: CascadedTCNConfig, device: torch.device) -> None:  # fmt: skip
        self.renderer, self.disc, self.perceptual, self.config, self.device = renderer, disc, perceptual, config, device
        self.g_opt = adam(renderer.parameters(), config.render_lr, config.render_betas)
        self.d_opt = adam(disc.parameters(), config.render_lr, config.render_betas)

    def step(self, maps: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
        """One G step (LSGAN + feature matching + VGG) and one D step (LSGAN, halved)."""
        cfg = self.config
        maps, real = maps.to(self.device), real.to(self.device)
        self.renderer.train()
        fake = self.renderer(maps)
        fake_out = self.disc(torch.cat([maps, fake], 1))
        real_out = self.disc(torch.cat([maps, real], 1))
        gan = multiscale_loss(MultiScaleDiscriminator.predictions(fake_out), "lsgan")
        feat = feature_matching_loss(fake_out, real_out, 4.0 / (cfg.n_layers_d + 1)) * cfg.lambda_feat
        loss = gan + feat
        l1 = F.l1_loss(fake, real)
        values = {"g_gan": gan.item(), "g_feat": feat.item(), "l1": l1.item()}
        if cfg.lambda_l1 > 0:
            loss = loss + cfg.lambda_l1 * l1
        if self.perceptual is not None:
            vgg = self.perceptual(fake, real) * cfg.lambda_feat
            loss = loss + vgg
            values["g_vgg"] = vgg.item()
        self.g_opt.zero_grad()
        loss.backward()
        self.g_opt.step()
        self.d_opt.zero_grad()
        preds = MultiScaleDiscriminator.predictions
        d_real = multiscale_loss(preds(self.disc(torch.cat([maps, real], 1))), "lsgan", real=True)
        d_fake = multiscale_loss(preds(self.disc(torch.cat([maps, fake.detach()], 1))), "lsgan", real=False)
        d_loss = 0.5 * (d_real + d_fake)
        d_loss.backward()
        self.d_opt.step()
        values.update(g_total=loss.item(), d_real=d_real.item(), d_fake=d_fake.item())
        return values

    def run(self, data: Sequence[ClipData], budget: Budget, rng: np.random.Generator) -> FitReport:
        """Train within ``budget``."""
        report, clock = FitReport(0, 0.0), BudgetClock(budget)
        while not clock.spent():
            report.log(**self.step(*render_batch(data, self.config, rng)))
            clock.tick()
        self.renderer.eval()
        report.steps, report.seconds = clock.steps, clock.elapsed
        return report
