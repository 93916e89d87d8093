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
    0.0000, 0.2375, 0.0156, 0.3774, 0.0348, 0.5138, 0.0561, 0.6513,
    0.0953, 0.7787, 0.1643, 0.8916, 0.2608, 0.9852, 0.3764, 1.0533,
    0.5119, 1.0791, 0.6476, 1.0543, 0.7630, 0.9835, 0.8560, 0.8860,
    0.9194, 0.7659, 0.9537, 0.6361, 0.9705, 0.4968, 0.9859, 0.3596,
    1.0000, 0.2221, 0.0952, 0.0892, 0.1536, 0.0232, 0.2433, 0.0062,
    0.3353, 0.0229, 0.4219, 0.0583, 0.5912, 0.0548, 0.6791, 0.0178,
    0.7723, 0.0000, 0.8610, 0.0172, 0.9185, 0.0835, 0.5088, 0.1593,
    0.5097, 0.2461, 0.5099, 0.3320, 0.5105, 0.4215, 0.4078, 0.5078,
    0.4563, 0.5263, 0.5086, 0.5387, 0.5612, 0.5271, 0.6098, 0.5107,
    0.1989, 0.1929, 0.2531, 0.1614, 0.3193, 0.1600, 0.3798, 0.1974,
    0.3189, 0.2138, 0.2511, 0.2170, 0.6344, 0.1978, 0.6942, 0.1608,
    0.7608, 0.1607, 0.8140, 0.1907, 0.7648, 0.2176, 0.6968, 0.2149,
    0.3304, 0.7223, 0.3916, 0.6763, 0.4605, 0.6514, 0.5073, 0.6653,
    0.5556, 0.6535, 0.6244, 0.6805, 0.6860, 0.7262, 0.6263, 0.7881,
    0.5606, 0.8138, 0.5085, 0.8184, 0.4566, 0.8119, 0.3899, 0.7836,
    0.3623, 0.7220, 0.4598, 0.6987, 0.5074, 0.7032, 0.5558, 0.6998,
    0.6536, 0.7249, 0.5566, 0.7437, 0.5087, 0.7487, 0.4600, 0.7428,
], np.float64).reshape(68, 2)
# fmt: on
