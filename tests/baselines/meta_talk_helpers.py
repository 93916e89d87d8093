"""A tiny synthetic 3DMM in Deng et al.'s file layout, for the Meta Talk 3DMM backend tests (made here, no BFM data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.io import savemat
from scipy.spatial import Delaunay

from baselines.meta_talk.morphable import MorphableBasis
from bench.faces import MEAN_FACE


def synthetic_basis(seed: int = 0, n_id: int = 3, n_exp: int = 4, n_tex: int = 2) -> MorphableBasis:
    """A dome-shaped face: the 68 mean-face points (vertices 0-67, the keypoints) plus a 9x9 grid, Delaunay-meshed.

    Identity, expression (lower face only: below the nose tip) and reflectance bases are smooth random fields.
    """
    rng = np.random.default_rng(seed)
    g = np.linspace(-1, 1, 9)
    grid = np.array([(x, y) for x in g for y in g])
    keys = np.stack([MEAN_FACE[:, 0] * 1.6 - 0.8, 0.85 - MEAN_FACE[:, 1] * 1.6], 1)
    far = np.min(np.linalg.norm(grid[:, None] - keys[None], axis=-1), 1) > 0.12
    xy = np.concatenate([keys, grid[far]]) * 0.8
    mean = np.c_[xy, 0.5 * (1 - (xy**2).sum(1) / 2)]
    lower = (mean[:, 1] < mean[33, 1]).astype(float)[:, None]

    def smooth() -> np.ndarray:
        a, b = rng.uniform(1, 3, 2)
        p, q = rng.uniform(0, 6, 2)
        return np.stack([np.sin(a * mean[:, 0] + p), np.cos(b * mean[:, 1] + q), np.zeros(len(mean))], 1)

    id_basis = np.stack([0.03 * smooth() for _ in range(n_id)], 2)
    exp_basis = np.stack([0.03 * smooth() * lower for _ in range(n_exp)], 2)
    tex_basis = np.stack([20 * np.abs(smooth()) for _ in range(n_tex)], 2)
    mean_tex = np.full((len(mean), 3), 150.0) + 40 * np.sin(3 * mean[:, :1])
    return MorphableBasis(mean, id_basis, exp_basis, mean_tex, tex_basis, Delaunay(xy).simplices, np.arange(68))


def write_basis(basis: MorphableBasis, path: Path) -> None:
    """Save as BFM_model_front.mat does: flattened [3N] vectors, [3N, K] bases, 1-based tri and keypoints."""
    n = len(basis.mean_shape)
    savemat(str(path), {
        "meanshape": basis.mean_shape.reshape(1, 3 * n), "idBase": basis.id_basis.reshape(3 * n, -1),
        "exBase": basis.exp_basis.reshape(3 * n, -1), "meantex": basis.mean_tex.reshape(1, 3 * n),
        "texBase": basis.tex_basis.reshape(3 * n, -1), "tri": basis.triangles + 1, "keypoints": basis.keypoints[None] + 1,
    })  # fmt: skip
