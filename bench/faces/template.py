"""The canonical 68-point mean face used for alignment, and the generalised Procrustes analysis that derived it.

``MEAN_FACE`` was computed by :func:`procrustes_mean` from dlib's 68 landmarks (``bench.faces.track`` with default
settings) on all 300 frames of the four real GRID clips in ``shared/data/grid`` (speakers s1, s2 and two more), then
rotated so that the line through the eye centres is horizontal, and scaled and shifted so that the points' bounding
box spans [0, 1] horizontally with its top at 0. ``tests/faces/test_align.py`` re-derives it from those clips.
"""

from __future__ import annotations

import numpy as np


def _fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """``src`` mapped onto ``dst`` by the least-squares similarity (Umeyama); both centred ``[N, 2]``."""
    u, s, vt = np.linalg.svd(dst.T @ src)
    d = np.sign(np.linalg.det(u @ vt))
    rotation = u @ np.diag([1.0, d]) @ vt
    scale = (s * [1.0, d]).sum() / (src**2).sum()
    return scale * src @ rotation.T


def normalise_template(shape: np.ndarray) -> np.ndarray:
    """Eye line horizontal, bounding box spanning [0, 1] in x with its top at y = 0."""
    shape = np.asarray(shape, np.float64)
    eyes = shape[42:48].mean(axis=0) - shape[36:42].mean(axis=0)
    angle = np.arctan2(eyes[1], eyes[0])
    c, s = np.cos(-angle), np.sin(-angle)
    rotated = shape @ np.array([[c, -s], [s, c]]).T
    rotated -= rotated.min(axis=0)
    return rotated / rotated[:, 0].max()


def procrustes_mean(shapes: np.ndarray, iterations: int = 20) -> np.ndarray:
    """Generalised Procrustes mean of ``[K, 68, 2]`` landmark sets (similarity), normalised as ``MEAN_FACE``.

    Sets containing NaN (frames without a face) are skipped.
    """
    shapes = np.asarray(shapes, np.float64)
    shapes = shapes[np.isfinite(shapes).all(axis=(1, 2))]
    if len(shapes) == 0:
        raise ValueError("procrustes_mean needs at least one landmark set without NaN")
    centred = shapes - shapes.mean(axis=1, keepdims=True)
    centred /= np.linalg.norm(centred, axis=(1, 2), keepdims=True)
    mean = centred[0]
    for _ in range(iterations):
        aligned = np.stack([_fit_similarity(s, mean) for s in centred])
        new = aligned.mean(axis=0)
        new /= np.linalg.norm(new)
        if np.abs(new - mean).max() < 1e-9:
            break
        mean = new
    return normalise_template(mean)


# fmt: off
MEAN_FACE = np.array([
    0.0000, 0.2392, 0.0153, 0.3788, 0.0340, 0.5156, 0.0555, 0.6531,
    0.0954, 0.7807, 0.1646, 0.8936, 0.2609, 0.9875, 0.3764, 1.0552,
    0.5122, 1.0804, 0.6480, 1.0554, 0.7632, 0.9838, 0.8564, 0.8865,
    0.9198, 0.7664, 0.9540, 0.6362, 0.9712, 0.4972, 0.9863, 0.3599,
    1.0000, 0.2227, 0.0943, 0.0890, 0.1535, 0.0234, 0.2430, 0.0064,
    0.3353, 0.0235, 0.4214, 0.0595, 0.5906, 0.0555, 0.6786, 0.0180,
    0.7712, 0.0000, 0.8603, 0.0167, 0.9180, 0.0834, 0.5085, 0.1604,
    0.5093, 0.2474, 0.5093, 0.3327, 0.5103, 0.4223, 0.4082, 0.5081,
    0.4559, 0.5268, 0.5082, 0.5395, 0.5602, 0.5277, 0.6088, 0.5112,
    0.1981, 0.1935, 0.2521, 0.1619, 0.3186, 0.1603, 0.3791, 0.1977,
    0.3184, 0.2142, 0.2503, 0.2173, 0.6340, 0.1981, 0.6936, 0.1611,
    0.7600, 0.1608, 0.8133, 0.1914, 0.7643, 0.2179, 0.6965, 0.2156,
    0.3297, 0.7236, 0.3912, 0.6768, 0.4598, 0.6523, 0.5079, 0.6667,
    0.5552, 0.6542, 0.6241, 0.6811, 0.6867, 0.7268, 0.6263, 0.7886,
    0.5604, 0.8144, 0.5086, 0.8193, 0.4570, 0.8126, 0.3896, 0.7849,
    0.3614, 0.7232, 0.4593, 0.6994, 0.5075, 0.7039, 0.5553, 0.7006,
    0.6541, 0.7258, 0.5563, 0.7448, 0.5081, 0.7500, 0.4600, 0.7437,
], np.float64).reshape(68, 2)
# fmt: on
