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
    0.0000, 0.2381, 0.0153, 0.3776, 0.0338, 0.5145, 0.0555, 0.6521,
    0.0948, 0.7798, 0.1641, 0.8927, 0.2607, 0.9867, 0.3759, 1.0549,
    0.5117, 1.0800, 0.6476, 1.0551, 0.7629, 0.9838, 0.8563, 0.8862,
    0.9197, 0.7660, 0.9539, 0.6359, 0.9711, 0.4965, 0.9860, 0.3588,
    1.0000, 0.2218, 0.0948, 0.0889, 0.1538, 0.0228, 0.2432, 0.0060,
    0.3354, 0.0230, 0.4213, 0.0588, 0.5907, 0.0550, 0.6789, 0.0177,
    0.7714, 0.0000, 0.8606, 0.0167, 0.9182, 0.0834, 0.5085, 0.1601,
    0.5090, 0.2468, 0.5092, 0.3322, 0.5101, 0.4217, 0.4079, 0.5077,
    0.4559, 0.5264, 0.5081, 0.5392, 0.5603, 0.5276, 0.6090, 0.5110,
    0.1983, 0.1930, 0.2525, 0.1615, 0.3190, 0.1598, 0.3795, 0.1975,
    0.3188, 0.2141, 0.2506, 0.2172, 0.6341, 0.1978, 0.6936, 0.1604,
    0.7601, 0.1604, 0.8134, 0.1911, 0.7642, 0.2178, 0.6967, 0.2155,
    0.3299, 0.7234, 0.3914, 0.6767, 0.4599, 0.6521, 0.5075, 0.6661,
    0.5552, 0.6539, 0.6238, 0.6810, 0.6862, 0.7264, 0.6262, 0.7884,
    0.5601, 0.8141, 0.5083, 0.8189, 0.4567, 0.8124, 0.3897, 0.7843,
    0.3615, 0.7228, 0.4592, 0.6992, 0.5071, 0.7036, 0.5554, 0.7003,
    0.6538, 0.7255, 0.5562, 0.7442, 0.5082, 0.7494, 0.4600, 0.7432,
], np.float64).reshape(68, 2)
# fmt: on
