"""Grey frames: BT.601 luma rounded to uint8 exactly as OpenCV's ``cvtColor(RGB2GRAY)`` computes it.

Fixed point with 15-bit coefficients, since the field's reference scripts (fae, ATVGnet, Chen's LMD) read frames with
OpenCV and convert them so. One function for metrics and face analysis alike; :meth:`bench.media.Clip.grey` memoises
it per clip.
"""

from __future__ import annotations

import cv2
import numpy as np

_LUMA_15 = np.array([9798, 19235, 3735], np.int32)  # round(2**15 * (0.299, 0.587, 0.114)), OpenCV's RGB2GRAY
_CV_MAX_COLS = 32767  # OpenCV's SHRT_MAX limit on image width


def luma(frames: np.ndarray) -> np.ndarray:
    """BT.601 luma of RGB uint8 frames ``[..., H, W, 3]`` as uint8 ``[..., H, W]``, bit-exact with OpenCV.

    Example:
        >>> luma(np.array([[[255, 255, 255], [255, 0, 0]]], np.uint8)).tolist()
        [[255, 76]]
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.shape[-1:] != (3,):
        raise ValueError(f"grey conversion needs uint8 RGB frames [..., H, W, 3], got {frames.dtype} {frames.shape}")
    if frames.size == 0 or frames.shape[-2] > _CV_MAX_COLS:
        values = frames.astype(np.int32) @ _LUMA_15
        return ((values + (1 << 14)) >> 15).astype(np.uint8)
    # OpenCV itself on the frames stacked as one tall image: the same fixed point, ~30x faster than the int32 matmul
    rows = np.ascontiguousarray(frames).reshape(-1, frames.shape[-2], 3)
    return cv2.cvtColor(rows, cv2.COLOR_RGB2GRAY).reshape(frames.shape[:-1])
