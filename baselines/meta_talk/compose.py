"""Crop adaption (section 2.1) and AudioDVP's compositing: a face crop sized to the face, pasted back under a mask.

The crop box of a video is fixed (AudioDVP crops every frame of a video with one box): a square of ``margin`` times
the median size of the landmark boxes, centred on their median centre. Its size in pixels is the smallest of the
configured crop sizes that holds the face at its own resolution (the largest when none does), or a fixed render size.
Compositing (AudioDVP ``comp.py``): the mask is eroded 3x3 ``erode`` times, blurred 5x5 Gaussian and used as alpha,
``out = m * fg + (1 - m) * bg``; pixels where the alpha is 0 are the target's, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CropBox:
    """A square face crop: top-left corner and side in frame pixels, and the crop's size in pixels."""

    x0: float
    y0: float
    side: float
    size: int

    @property
    def matrix(self) -> np.ndarray:
        """The 2x3 affine map frame -> crop pixels."""
        scale = self.size / self.side
        return np.array([[scale, 0.0, -self.x0 * scale], [0.0, scale, -self.y0 * scale]])

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Frame points ``[..., 2]`` in crop pixels."""
        return (np.asarray(points, np.float64) - [self.x0, self.y0]) * (self.size / self.side)


def face_side(landmarks: np.ndarray, margin: float) -> tuple[np.ndarray, float]:
    """Median centre ``[2]`` and crop side of a video's landmarks ``[T, 68, 2]`` (frames without a face skipped)."""
    valid = np.isfinite(landmarks).all(axis=(1, 2))
    if not valid.any():
        raise ValueError("meta_talk: no face found in the video, so no face crop can be made")
    points = landmarks[valid]
    low, high = points.min(1), points.max(1)
    centre = np.median((low + high) / 2, axis=0)
    return centre, float(margin * np.median((high - low).max(1)))


def choose_size(side: float, sizes: Sequence[int], fixed: int | None) -> int:
    """Crop adaption: the smallest crop size at least ``side`` px (the largest if none is), or ``fixed``.

    Example:
        >>> choose_size(600.0, (512, 768, 1024), None), choose_size(2000.0, (512, 768, 1024), None)
        (768, 1024)
        >>> choose_size(600.0, (512, 768, 1024), 256)
        256
    """
    if fixed:
        return int(fixed)
    fitting = [s for s in sorted(sizes) if s >= side]
    return int(fitting[0] if fitting else max(sizes))


def crop_box(landmarks: np.ndarray, margin: float, size: int) -> CropBox:
    """The fixed crop box of a video, rendered at ``size`` px."""
    centre, side = face_side(landmarks, margin)
    return CropBox(float(centre[0] - side / 2), float(centre[1] - side / 2), side, int(size))


def crop_frames(frames: np.ndarray, box: CropBox) -> np.ndarray:
    """Frames ``[T, H, W, 3]`` cut to the box and resized to ``box.size`` (edge pixels repeated past the frame)."""
    flags = cv2.INTER_AREA if box.side > box.size else cv2.INTER_LINEAR
    return np.stack([cv2.warpAffine(f, box.matrix, (box.size, box.size), flags=flags, borderMode=cv2.BORDER_REPLICATE)
                     for f in frames])  # fmt: skip


def alpha_mask(mask: np.ndarray, erode: int) -> np.ndarray:
    """float64 alpha ``[H, W]`` in [0, 1] from a 0/1 mask: eroded 3x3 ``erode`` times, then a 5x5 Gaussian blur."""
    eroded = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=erode) if erode else mask
    return cv2.GaussianBlur(eroded.astype(np.float64), (5, 5), 0)


def composite(foreground: np.ndarray, background: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``alpha * fg + (1 - alpha) * bg`` as uint8; where ``alpha`` is 0 the background pixel is kept exactly."""
    blend = alpha[..., None] * foreground.astype(np.float64) + (1.0 - alpha[..., None]) * background.astype(np.float64)
    out = np.clip(np.round(blend), 0, 255).astype(np.uint8)
    return np.where(alpha[..., None] > 0, out, background)


def paste(crop: np.ndarray, alpha: np.ndarray, frame: np.ndarray, box: CropBox) -> np.ndarray:
    """Composite a generated crop into the full frame under its alpha (mapped back through the crop box)."""
    h, w = frame.shape[:2]
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    back = cv2.warpAffine(crop, box.matrix, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    weight = cv2.warpAffine(alpha, box.matrix, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    return composite(back, frame, np.clip(weight, 0.0, 1.0))
