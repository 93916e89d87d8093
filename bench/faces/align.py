"""Similarity alignment of faces to the canonical mean face (Vougioukas et al.'s face-processor protocol).

Per frame, the stable points 33, 36, 39, 42, 45 (nose tip, eye corners), averaged over a 7-frame window centred on
the frame (frames without a face are skipped; the window shrinks at the clip ends, where face-processor reuses the
last transform instead), are mapped onto the same points of the canonical face by the least-squares similarity
(rotation, uniform scale, translation; :func:`similarity_fits`, the fit of
``skimage.transform.estimate_transform("similarity", ...)``); the frame is warped bilinearly to ``size x size``.

The canonical face is :data:`bench.faces.template.MEAN_FACE` scaled by ``0.6 * size`` and shifted by
``(0.2, 0.25) * size``: the 68 points span x in [0.2, 0.8] and y in [0.25, 0.9] of the crop, leaving forehead above.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from bench.faces.landmarks import STABLE_POINTS
from bench.faces.template import MEAN_FACE
from bench.faces.tracking import TrackSettings, track
from bench.media import Clip

SMOOTH_WINDOW = 7
_SCALE, _OFFSET = 0.6, (0.2, 0.25)


@dataclass(frozen=True)
class AlignedFaces:
    """Faces of a clip warped to the canonical face.

    Attributes:
        crops: uint8 ``[T, S, S, 3]``; black where no face.
        found: bool ``[T]``.
        transforms: float64 ``[T, 3, 3]`` mapping frame pixels ``(x, y, 1)`` to crop pixels; NaN where no face.
    """

    crops: np.ndarray
    found: np.ndarray
    transforms: np.ndarray


def canonical_face(size: int) -> np.ndarray:
    """The 68 canonical points float64 ``[68, 2]`` in a ``size x size`` crop."""
    return MEAN_FACE * (_SCALE * size) + np.array(_OFFSET) * size


def smooth_points(points: np.ndarray, found: np.ndarray, window: int = SMOOTH_WINDOW) -> np.ndarray:
    """Average ``[T, K, 2]`` points over a centred window of found frames (window forced odd)."""
    half = window // 2
    points = np.asarray(points, np.float64)
    out = np.full_like(points, np.nan)
    for t in np.flatnonzero(found):
        lo, hi = max(0, t - half), min(len(points), t + half + 1)
        keep = found[lo:hi]
        out[t] = points[lo:hi][keep].mean(axis=0)
    return out


def similarity_fits(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares similarities float64 ``[T, 3, 3]`` with ``target ~ M source`` per point set.

    ``source`` and ``target`` are ``[K, 2]`` or ``[T, K, 2]`` (a single set is broadcast against the other's frames).
    Umeyama's fit restricted to rotations (as ``skimage.transform.estimate_transform("similarity", ...)``, which
    tests/faces/test_align.py checks it against) in the closed form of two dimensions: for centred points,
    ``scale * cos`` and ``scale * sin`` are the summed dot and cross products over the source's summed squares. All
    frames at once: a scikit-image fit per frame costs 0.1 ms, and importing it 0.09 s of every command that aligns
    faces. A source whose points coincide has no fit (NaN).
    """
    source, target = np.broadcast_arrays(np.asarray(source, np.float64), np.asarray(target, np.float64))
    if source.ndim == 2:
        source, target = source[None], target[None]
    ps, qs = source - source.mean(1, keepdims=True), target - target.mean(1, keepdims=True)
    norm = (ps**2).sum((1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (ps * qs).sum((1, 2)) / norm
        b = (ps[..., 0] * qs[..., 1] - ps[..., 1] * qs[..., 0]).sum(1) / norm
    pc, qc = source.mean(1), target.mean(1)
    out = np.zeros((len(source), 3, 3))
    out[:, 0, 0], out[:, 0, 1], out[:, 1, 0], out[:, 1, 1] = a, -b, b, a
    out[:, 0, 2] = qc[:, 0] - (a * pc[:, 0] - b * pc[:, 1])
    out[:, 1, 2] = qc[:, 1] - (b * pc[:, 0] + a * pc[:, 1])
    out[:, 2, 2] = 1.0
    out[norm == 0] = np.nan
    return out


def alignment_transforms(
    clip: Clip, size: int = 128, settings: TrackSettings | None = None, window: int = SMOOTH_WINDOW
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame similarity transforms (frame -> ``size`` crop) float64 ``[T, 3, 3]`` and ``found`` ``[T]``."""
    if size < 8:
        raise ValueError(f"{clip.name}: alignment size must be at least 8 px, got {size}")

    def compute() -> tuple[np.ndarray, np.ndarray]:
        face_track = track(clip, settings)
        stable = smooth_points(face_track.landmarks[:, STABLE_POINTS], face_track.found, window)
        target = canonical_face(size)[list(STABLE_POINTS)]
        transforms = np.full((clip.num_frames, 3, 3), np.nan)
        transforms[face_track.found] = similarity_fits(stable[face_track.found], target)
        return transforms, face_track.found.copy()

    return clip.memo(("bench.faces.align.transforms", size, settings, window), compute)


def transform_points(points: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """Apply per-frame ``[T, 3, 3]`` transforms to ``[T, N, 2]`` points (NaN stays NaN)."""
    linear = np.einsum("tij,tnj->tni", transforms[:, :2, :2], points.astype(np.float64))
    return linear + transforms[:, None, :2, 2]


def warp_frames(frames: np.ndarray, transforms: np.ndarray, width: int, height: int) -> np.ndarray:
    """Warp each frame by its transform into ``[T, height, width, 3]``; frames with a NaN transform stay black."""
    out = np.zeros((len(frames), height, width, 3), np.uint8)
    for t, matrix in enumerate(transforms):
        if np.isfinite(matrix).all():
            out[t] = cv2.warpAffine(
                frames[t], matrix[:2], (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
            )
    return out


def align(clip: Clip, size: int = 128, settings: TrackSettings | None = None) -> AlignedFaces:
    """Faces of ``clip`` aligned to the canonical face at ``size x size`` (memoised on the clip).

    Example:
        >>> import numpy as np
        >>> from bench.media import Clip
        >>> faces = align(Clip(np.zeros((2, 64, 64, 3), np.uint8)), size=96)
        >>> faces.crops.shape, bool(faces.found.any())
        ((2, 96, 96, 3), False)
    """

    def compute() -> AlignedFaces:
        transforms, found = alignment_transforms(clip, size, settings)
        return AlignedFaces(warp_frames(clip.frames, transforms, size, size), found, transforms)

    return clip.memo(("bench.faces.align", size, settings), compute)
