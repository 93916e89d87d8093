"""Training utilities shared by the trained baselines: face resizing, clip checks, tensors, optimisers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import cv2
import numpy as np
import torch

from bench.media import Clip


def resize_frames(frames: np.ndarray, height: int, width: int | None = None) -> np.ndarray:
    """Resize uint8 frames ``[T, H, W, 3]`` (or one image ``[H, W, 3]``) to ``height x width``.

    Area averaging when shrinking (no aliasing), bilinear when enlarging; the same in training and generation.
    """
    width = width or height
    single = frames.ndim == 3
    stack = frames[None] if single else frames
    if stack.shape[1:3] == (height, width):
        out = np.ascontiguousarray(stack)
    else:
        shrink = stack.shape[1] >= height and stack.shape[2] >= width
        interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        out = np.stack([cv2.resize(f, (width, height), interpolation=interpolation) for f in stack])
    return out[0] if single else out


def to_tensor(frames: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """Frames uint8 ``[..., H, W, 3]`` -> float ``[..., 3, H, W]`` in [0, 1]."""
    tensor = torch.from_numpy(np.ascontiguousarray(frames)).to(device)
    return tensor.movedim(-1, -3).float().div_(255.0)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Images float ``[..., 3, H, W]`` in [0, 1] -> uint8 ``[..., H, W, 3]`` (rounded, clipped)."""
    scaled = images.detach().float().clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
    return scaled.movedim(-3, -1).cpu().numpy()


def usable_clips(clips: Sequence[Clip], min_frames: int, who: str) -> list[Clip]:
    """The training clips a method can sample from: with audio and more than ``min_frames`` frames.

    Raises:
        ValueError: a clip is not a Clip or has no audio (named), or no clip is long enough.
    """
    kept = []
    for clip in clips:
        if not isinstance(clip, Clip):
            raise ValueError(f"{who}: training data must be Clip objects, got {type(clip).__name__}")
        if clip.audio is None:
            raise ValueError(f"{who}: training clip {clip.name} has no audio")
        if clip.num_frames > min_frames:
            kept.append(clip)
    if not kept:
        raise ValueError(f"{who}: no training clip has more than {min_frames} frames (got {len(clips)} clips)")
    return kept


def split_eval(clips: list[Clip], fraction: float) -> tuple[list[Clip], list[Clip]]:
    """Hold out the last ``fraction`` of the clips (at least one when there are two or more) for evaluation.

    With a single clip, it is both the training and the evaluation clip.
    """
    if len(clips) < 2 or fraction <= 0:
        return clips, clips
    held = min(len(clips) - 1, max(1, round(len(clips) * fraction)))
    return clips[:-held], clips[-held:]


def adam(params: Iterable[torch.nn.Parameter], lr: float, betas: Sequence[float]) -> torch.optim.Adam:
    """Adam with the given learning rate and betas (the originals use no weight decay)."""
    beta1, beta2 = betas
    return torch.optim.Adam([p for p in params if p.requires_grad], lr=lr, betas=(float(beta1), float(beta2)))


def scaled(channels: int, width: float, minimum: int = 8) -> int:
    """A layer's channel count at width multiplier ``width`` (paper: 1.0), never below ``minimum``.

    The floor of 8 keeps the full-resolution layers of the tiny presets wide enough to pass colour through (with 4,
    Wav2Lip's first 6-channel stage became a bottleneck and its tiny outputs lost the face's colours).
    """
    return max(minimum, int(round(channels * width)))


@torch.no_grad()
def recalibrate_batchnorm(module: torch.nn.Module, forward: Callable[[], object], passes: int) -> int:
    """Replace every BatchNorm's running statistics by their average over ``passes`` calls of ``forward``.

    ``forward`` runs the module on a fresh training batch. BatchNorm normalises with batch statistics in training
    and with running averages (momentum 0.1) in eval mode; with tiny batches and a high learning rate those averages
    trail the weights, and the eval-mode network is a different one (the tiny GAN Wav2Lip came out as a grey-blue
    ghost). Here the statistics are re-estimated at the final weights as a cumulative average (``momentum=None``),
    with no gradient and no weight change. Returns the number of BatchNorm layers recalibrated.
    """
    layers = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not layers or passes < 1:
        return 0
    was_training, momenta = module.training, [m.momentum for m in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None
    module.train()
    for _ in range(passes):
        forward()
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum
    module.train(was_training)
    return len(layers)
