"""Frame helpers shared by the image metrics: option checks, luma, frame pairing, torch batches.

torch is imported only by the helpers that make tensors: the CPU paths of the weight-free metrics run on numpy and
OpenCV, so that scoring them never pays torch's import (about 1.5 s of a command-line run).

Grey frames are BT.601 luma rounded to uint8 exactly as OpenCV's ``cvtColor(RGB2GRAY)`` computes it (fixed point,
15-bit coefficients), since the field's reference scripts (fae, ATVGnet) read frames with OpenCV and convert them so.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from metrics.base import MetricError

if TYPE_CHECKING:
    import torch

LENGTH_MISMATCH = ("truncate", "error")
COLOURS = ("rgb", "grey")
_LUMA_15 = np.array([9798, 19235, 3735], np.int32)  # round(2**15 * (0.299, 0.587, 0.114)), OpenCV's RGB2GRAY
_CV_MAX_COLS = 32767  # OpenCV's SHRT_MAX limit on image width


def check_choice(option: str, value: Any, choices: Sequence[Any]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{option} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def grey(frames: np.ndarray) -> np.ndarray:
    """BT.601 luma of RGB uint8 frames ``[..., H, W, 3]`` as uint8 ``[..., H, W]``, bit-exact with OpenCV.

    Example:
        >>> grey(np.array([[[255, 255, 255], [255, 0, 0]]], np.uint8)).tolist()
        [[255, 76]]
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.shape[-1:] != (3,):
        raise ValueError(f"grey() needs uint8 RGB frames [..., H, W, 3], got {frames.dtype} {frames.shape}")
    if frames.size == 0 or frames.shape[-2] > _CV_MAX_COLS:
        luma = frames.astype(np.int32) @ _LUMA_15
        return ((luma + (1 << 14)) >> 15).astype(np.uint8)
    # OpenCV itself on the frames stacked as one tall image: the same fixed point, ~30x faster than the int32 matmul
    rows = np.ascontiguousarray(frames).reshape(-1, frames.shape[-2], 3)
    return cv2.cvtColor(rows, cv2.COLOR_RGB2GRAY).reshape(frames.shape[:-1])


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
