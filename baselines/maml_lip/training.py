"""maml_lip training: tasks from subjects, the auto-encoder stage, MAML meta-training, transfer learning, fine-tuning.

A task is one subject (IV-C): its samples (16-frame lip videos with their audio windows) and its lip frames, from
which each sample's identity image is drawn at random (V-B: "a randomly chosen image of the target"). Clips carry
their subject in ``meta["speaker"]``; a clip without one is a subject of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from baselines._meta import InnerLoop, Params, forward_with, meta_step
from baselines._training import adam
from baselines.base import Budget, BudgetClock, FitReport
from baselines.maml_lip.config import MamlLipConfig
from baselines.maml_lip.data import clip_lips, feature_windows, sample_starts, to_video
from baselines.maml_lip.model import LipAutoEncoder, LipGenerator, composite_loss
from bench.media import Clip

Features = Callable[[np.ndarray, int], tuple[np.ndarray, float]]  # audio, rate -> (steps x dims, steps per second)
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # audio [N, 1, steps, dims], identity, target video


@dataclass
class TaskData:
    """One subject's samples: lip videos uint8 ``[S, T, L, L, 3]``, audio windows ``[S, steps, dims]``, lip frames."""

    videos: torch.Tensor
    audio: torch.Tensor
    frames: torch.Tensor

    @property
    def num_samples(self) -> int:
        """Samples of this subject."""
        return int(self.videos.shape[0])


def build_tasks(clips: Sequence[Clip], config: MamlLipConfig, features: Features) -> list[TaskData]:
    """Group the clips by subject and cut every clip into samples (``window`` frames every ``stride``)."""
    groups: dict[str, list[Clip]] = {}
    for index, clip in enumerate(clips):
        if not isinstance(clip, Clip) or clip.audio is None:
            raise ValueError(f"maml_lip: training data must be Clip objects with audio (item {index})")
        groups.setdefault(str(clip.meta.get("speaker") or f"clip-{index}"), []).append(clip)
    tasks = []
    for subject_clips in groups.values():
        videos, audio, frames = [], [], []
        for clip in subject_clips:
            starts = sample_starts(clip.num_frames, config.window, config.stride)
            if starts.size == 0:
                continue
            lips, _ = clip_lips(clip, config.lip_size, config.lip_scale)
            seq, rate = features(clip.audio, clip.sample_rate)  # type: ignore[arg-type]  # audio checked above
            videos.append(np.stack([lips[s : s + config.window] for s in starts]))
            audio.append(feature_windows(seq, rate, starts, clip.fps, config.window))
            frames.append(lips)
        if videos:
            tasks.append(TaskData(torch.from_numpy(np.concatenate(videos)), torch.from_numpy(np.concatenate(audio)),
                                  torch.from_numpy(np.concatenate(frames))))  # fmt: skip
    if not tasks:
        raise ValueError(f"maml_lip: no clip has the {config.window} frames of one sample (got {len(clips)} clips)")
    return tasks


def make_batch(task: TaskData, index: np.ndarray, rng: np.random.Generator, device: torch.device) -> Batch:
    """The samples ``index`` of a task, each with a random lip frame of the subject as its identity."""
    picks = torch.from_numpy(rng.integers(0, task.frames.shape[0], size=len(index)))
    chosen = torch.from_numpy(np.asarray(index, np.int64))
    identity = to_video(task.frames[picks].unsqueeze(1).numpy())[:, :, 0]
    return task.audio[chosen].unsqueeze(1).to(device), identity.to(device), to_video(task.videos[chosen].numpy()).to(device)


def split_indices(task: TaskData, sizes: Sequence[int], rng: np.random.Generator) -> list[np.ndarray]:
    """Disjoint random sample sets of the given sizes (with repeats only when the subject has too few samples)."""
    total = int(sum(sizes))
    if total <= task.num_samples:
        order = rng.permutation(task.num_samples)[:total]
    else:
        order = np.concatenate([rng.permutation(task.num_samples), rng.integers(0, task.num_samples, total - task.num_samples)])
    return list(np.split(order, np.cumsum(sizes)[:-1]))


def episode(tasks: Sequence[TaskData], config: MamlLipConfig, rng: np.random.Generator,
            device: torch.device) -> list[tuple[Batch, Batch]]:  # fmt: skip
    """``config.tasks`` subjects (distinct while there are enough), each with trn support and qry query samples."""
    chosen = rng.choice(len(tasks), size=config.tasks, replace=len(tasks) < config.tasks)
    out = []
    for t in chosen:
        support, query = split_indices(tasks[t], (config.support, config.query), rng)
        out.append((make_batch(tasks[t], support, rng, device), make_batch(tasks[t], query, rng, device)))
    return out


def loss_function(net: LipGenerator, tau: LipAutoEncoder, config: MamlLipConfig) -> Callable[[Params, Any], torch.Tensor]:
    """Eq. 3 on a batch under given generator parameters (the functional forward MAML needs)."""

    def loss(params: Params, batch: Batch) -> torch.Tensor:
        audio, identity, target = batch
        return composite_loss(forward_with(net, params, audio, identity), target, tau, config.alpha_pixel,
                              config.pixel_loss)[0]  # fmt: skip

    return loss


def train_autoencoder(ae: LipAutoEncoder, tasks: Sequence[TaskData], budget: Budget, config: MamlLipConfig,
                      rng: np.random.Generator, device: torch.device) -> FitReport:  # fmt: skip
    """The first stage: the auto-encoder reconstructs training lip videos (L1, Adam at ``meta_lr``; CHOICE)."""
    optimiser = adam(ae.parameters(), config.meta_lr, (0.9, 0.999))
    report, clock = FitReport(0, 0.0), BudgetClock(budget)
    ae.train()
    while not clock.spent():
        videos = torch.cat([make_batch(tasks[t], index, rng, device)[2] for t, index in _pooled(tasks, config, rng)])
        loss = F.l1_loss(ae(videos), videos)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        report.log(autoencoder=loss.item())
        clock.tick()
    ae.eval()
    report.steps, report.seconds = clock.steps, clock.elapsed
    return report


def _pooled(tasks: Sequence[TaskData], config: MamlLipConfig, rng: np.random.Generator) -> list[tuple[int, np.ndarray]]:
    """An episode's worth of samples as (task, indices) pairs: ``tasks`` subjects x (trn + qry) samples."""
    chosen = rng.choice(len(tasks), size=config.tasks, replace=len(tasks) < config.tasks)
    return [(int(t), split_indices(tasks[t], (config.support + config.query,), rng)[0]) for t in chosen]


def meta_train(net: LipGenerator, tau: LipAutoEncoder, tasks: Sequence[TaskData], budget: Budget,
               config: MamlLipConfig, rng: np.random.Generator, device: torch.device) -> FitReport:  # fmt: skip
    """MAML (IV-C, Fig. 2): one global Adam step per episode on the summed query losses after the inner updates."""
    optimiser = adam(net.parameters(), config.meta_lr, (0.9, 0.999))
    inner = InnerLoop(config.inner_steps, config.inner_lr, config.inner_optimizer, config.second_order)
    loss = loss_function(net, tau, config)
    report, clock = FitReport(0, 0.0), BudgetClock(budget)
    net.train()
    while not clock.spent():
        result = meta_step(net, loss, episode(tasks, config, rng, device), inner, optimiser)
        first = [losses[0] for losses in result.support_losses if losses]
        report.log(query=float(np.mean(result.query_losses)), support=float(np.mean(first)) if first else float("nan"))
        clock.tick()
    net.eval()
    report.steps, report.seconds = clock.steps, clock.elapsed
    return report


def transfer_train(net: LipGenerator, tau: LipAutoEncoder, tasks: Sequence[TaskData], budget: Budget,
                   config: MamlLipConfig, rng: np.random.Generator, device: torch.device) -> FitReport:  # fmt: skip
    """The no-meta-learning ablation (Figs. 4-5): the same samples per step pooled into one batch, Adam at meta_lr."""

    def pooled_batch() -> Batch:
        batches = [make_batch(tasks[t], index, rng, device) for t, index in _pooled(tasks, config, rng)]
        audio, identity, target = (torch.cat(parts) for parts in zip(*batches, strict=True))
        return audio, identity, target

    optimiser = adam(net.parameters(), config.meta_lr, (0.9, 0.999))
    return _supervised(net, tau, optimiser, pooled_batch, budget, config, "query")


def fine_tune(net: LipGenerator, tau: LipAutoEncoder, support: Batch, budget: Budget, config: MamlLipConfig) -> FitReport:
    """Fine-tuning on an unseen subject (IV-C, Fig. 2 steps 5-6): the inner loop's optimiser, one task, in place.

    Each step is one update on all K support samples (one epoch); the budget's steps count epochs. PyTorch's Adam
    (or SGD) at ``adapt_lr``: the same arithmetic as the inner loop's update, with its state kept across epochs.
    """
    lr = config.resolved_adapt_lr
    params = [p for p in net.parameters() if p.requires_grad]
    optimiser = adam(params, lr, (0.9, 0.999)) if config.inner_optimizer == "adam" else torch.optim.SGD(params, lr=lr)
    return _supervised(net, tau, optimiser, lambda: support, budget, config, "adapt")


def _supervised(net: LipGenerator, tau: LipAutoEncoder, optimiser: torch.optim.Optimizer, batch: Callable[[], Batch],
                budget: Budget, config: MamlLipConfig, key: str) -> FitReport:  # fmt: skip
    """Plain training steps on eq. 3 until the budget is spent; the total loss is logged under ``key``."""
    report, clock = FitReport(0, 0.0), BudgetClock(budget)
    net.train()
    while not clock.spent():
        audio, identity, target = batch()
        total, pix, per = composite_loss(net(audio, identity), target, tau, config.alpha_pixel, config.pixel_loss)
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
        report.log(**{key: total.item()}, pixel=pix.item(), perceptual=per.item())
        clock.tick()
    net.eval()
    report.steps, report.seconds = clock.steps, clock.elapsed
    return report
