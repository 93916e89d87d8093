"""Frame helpers shared by the image metrics: option checks, luma, frame pairing, torch batches.

torch is imported only by the helpers that make tensors: the CPU paths of the weight-free metrics run on numpy and
OpenCV, so that scoring them never pays torch's import (about 1.5 s of a command-line run).

Grey frames are :func:`bench.media.luma.luma`: BT.601 luma rounded to uint8 exactly as OpenCV's
``cvtColor(RGB2GRAY)`` computes it, since the field's reference scripts (fae, ATVGnet) read frames with OpenCV.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.media.luma import luma
from metrics.base import MetricError

if TYPE_CHECKING:
    import torch

LENGTH_MISMATCH = ("truncate", "error")
COLOURS = ("rgb", "grey")
grey = luma  # the metrics' name for bench.media's OpenCV-exact luma


def check_choice(option: str, value: Any, choices: Sequence[Any]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{option} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def paired_length(generated: int, reference: int, policy: str, what: str) -> int:
    """Number of frame pairs to score: the shorter length, or ``MetricError`` when ``policy`` is ``"error"``."""
    check_choice("length_mismatch", policy, LENGTH_MISMATCH)
    if generated != reference and policy == "error":
        raise MetricError(
            f"{what}: generated has {generated} frames, reference {reference} (length_mismatch='error'; "
            f"use length_mismatch='truncate' to score the first {min(generated, reference)})"
        )
    if min(generated, reference) == 0:
        raise MetricError(f"{what}: no frames to compare (generated {generated}, reference {reference})")
    return min(generated, reference)


def check_same_size(generated: tuple[int, ...], reference: tuple[int, ...], what: str) -> None:
    """``MetricError`` naming both frame sizes when they differ (a silent resize changes PSNR by many dB)."""
    if tuple(generated) != tuple(reference):
        raise MetricError(
            f"{what}: frame size differs: generated {generated[0]}x{generated[1]} (HxW), "
            f"reference {reference[0]}x{reference[1]}; resize explicitly (or compare aligned face crops)"
        )


def as_batch(
    frames: np.ndarray | torch.Tensor, device: str | torch.device, dtype: torch.dtype, *, channels_last: bool = False
) -> torch.Tensor:
    """Frames ``[T, H, W]`` or ``[T, H, W, C]`` (channels last) as a ``[T, C, H, W]`` tensor on ``device``.

    ``channels_last=True`` keeps the ``[T, H, W, C]`` layout (no transposing copy).
    """
    import torch

    with warnings.catch_warnings():  # read-only frames (shared, memoised) are only read: converted to a new tensor
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable", category=UserWarning)
        tensor = torch.as_tensor(frames)
    if tensor.ndim == 3:
        tensor = tensor.unsqueeze(-1)
    if tensor.ndim != 4:
        raise ValueError(f"frames must be [T, H, W] or [T, H, W, C], got shape {tuple(tensor.shape)}")
    if channels_last:
        return tensor.to(device=device, dtype=dtype).contiguous()
    return tensor.to(device=device).permute(0, 3, 1, 2).contiguous().to(dtype)  # channels first in memory too


def check_pair(generated: np.ndarray | torch.Tensor, reference: np.ndarray | torch.Tensor) -> None:
    """``ValueError`` unless the two frame stacks have the same shape."""
    if tuple(generated.shape) != tuple(reference.shape):
        raise ValueError(f"generated and reference frames differ in shape: {tuple(generated.shape)} vs {tuple(reference.shape)}")


def on_numpy(device: str, *frames: object) -> bool:
    """True when the work can stay in numpy: a CPU device and every input a numpy array (no torch tensor)."""
    return str(device).split(":")[0] == "cpu" and all(isinstance(f, np.ndarray) for f in frames)


def to_numpy(values: np.ndarray | torch.Tensor) -> np.ndarray:
    """Per-frame values as a float64 numpy array (a tensor is detached and copied to the CPU)."""
    if isinstance(values, np.ndarray):
        return values.astype(np.float64, copy=False)
    return values.detach().cpu().double().numpy()
