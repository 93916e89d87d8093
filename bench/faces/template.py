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
    0.0000, 0.2381, 0.0153, 0.3777, 0.0346, 0.5144, 0.0559, 0.6520,
    0.0950, 0.7791, 0.1641, 0.8920, 0.2607, 0.9857, 0.3760, 1.0539,
    0.5111, 1.0793, 0.6466, 1.0545, 0.7621, 0.9836, 0.8555, 0.8860,
    0.9188, 0.7661, 0.9532, 0.6357, 0.9705, 0.4964, 0.9856, 0.3591,
    1.0000, 0.2218, 0.0942, 0.0902, 0.1525, 0.0236, 0.2424, 0.0066,
    0.3352, 0.0234, 0.4218, 0.0598, 0.5900, 0.0553, 0.6784, 0.0181,
    0.7716, 0.0000, 0.8610, 0.0177, 0.9183, 0.0846, 0.5082, 0.1594,
    0.5089, 0.2467, 0.5094, 0.3325, 0.5098, 0.4222, 0.4068, 0.5081,
    0.4554, 0.5268, 0.5080, 0.5394, 0.5608, 0.5279, 0.6091, 0.5110,
    0.1983, 0.1925, 0.2525, 0.1618, 0.3187, 0.1602, 0.3795, 0.1973,
    0.3187, 0.2137, 0.2507, 0.2171, 0.6336, 0.1976, 0.6936, 0.1608,
    0.7601, 0.1609, 0.8134, 0.1909, 0.7640, 0.2172, 0.6961, 0.2152,
    0.3298, 0.7225, 0.3913, 0.6769, 0.4600, 0.6519, 0.5071, 0.6661,
    0.5551, 0.6537, 0.6237, 0.6812, 0.6859, 0.7259, 0.6258, 0.7878,
    0.5601, 0.8135, 0.5081, 0.8183, 0.4565, 0.8117, 0.3895, 0.7835,
    0.3617, 0.7220, 0.4595, 0.6992, 0.5070, 0.7035, 0.5552, 0.7002,
    0.6531, 0.7249, 0.5562, 0.7437, 0.5080, 0.7487, 0.4595, 0.7426,
], np.float64).reshape(68, 2)
# fmt: on
