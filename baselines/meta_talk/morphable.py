"""The 3DMM face model of section 2.2 on the user's Basel Face Model files (Deng et al.'s layout).

Shape ``s = s_mean + id_basis alpha + exp_basis delta`` (identity 80, expression 64), reflectance ``r = r_mean +
tex_basis beta`` (80), Lambertian shading by 3-band spherical harmonics (27 coefficients, ambient 0.8 added to the
first of each channel), rotation ``R = Rz Ry Rx`` from Euler angles, translation, and Deng's pinhole camera (focal
1015 at 224 px, camera at z = 10, image y flipped). Files: ``BFM_model_front.mat`` as Deep3DFaceReconstruction builds
it from BFM 2009 and Guo et al.'s expression basis (``meanshape``, ``idBase``, ``exBase``, ``meantex``, ``texBase``,
``tri`` and ``keypoints``, 1-based); BFM 2009 cannot be redistributed, so the weights manager names it and says where
to register for it (``bfm-deng-front``).

Fitting (AudioDVP's reconstruction losses, SPECS G, by direct optimisation of the coefficients instead of a
ResNet-50 regressor): identity and reflectance shared by the video, expression, lighting and pose per frame; loss
``1.9 * photometric + 1.6e-3 * landmarks + 3e-4 * (|alpha|^2 + 1.7e-3 |beta|^2 + 0.8 |delta|^2)``, landmark weights
50 on brows, eyes and mouth (points 17-26, 36-67); the photometric term compares each camera-facing vertex's shaded
colour with the frame's pixel under it. Rendering rasterises the mesh (painter's algorithm, flat-shaded triangles).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from baselines.meta_talk.face_model import FaceCode

BFM_WEIGHTS = "bfm-deng-front"
FOCAL, CENTRE, CAMERA_Z = 1015.0, 112.0, 10.0  # Deng et al., for a 224-px image
LOSS = {"photo": 1.9, "land": 1.6e-3, "reg": 3e-4, "alpha": 1.0, "beta": 1.7e-3, "delta": 0.8}  # AudioDVP options
OPEN_DELTA = -8.0  # AudioDVP's MouthMask: delta[0] = -8 renders the mouth wide open
_PI = np.pi
_SH = (_PI / np.sqrt(4 * _PI), 2 * _PI / np.sqrt(3) * np.sqrt(3) / np.sqrt(4 * _PI),
       2 * _PI / np.sqrt(8) * 3 * np.sqrt(5) / np.sqrt(12 * _PI))  # fmt: skip  # a0 c0, a1 c1, a2 c2


@dataclass
class MorphableBasis:
    """A 3DMM: vertex arrays ``[N, 3]`` / bases ``[N, 3, K]``, triangles ``[F, 3]`` and 68 keypoint vertices (0-based)."""

    mean_shape: np.ndarray
    id_basis: np.ndarray
    exp_basis: np.ndarray
    mean_tex: np.ndarray
    tex_basis: np.ndarray
    triangles: np.ndarray
    keypoints: np.ndarray

    @classmethod
    def from_mat(cls, path: str | Path) -> MorphableBasis:
        """Read Deng et al.'s ``BFM_model_front.mat`` (or any .mat with the same keys)."""
        from scipy.io import loadmat

        data = loadmat(str(path))
        missing = [k for k in ("meanshape", "idBase", "exBase", "meantex", "texBase", "tri", "keypoints") if k not in data]
        if missing:
            raise ValueError(f"{path}: not a BFM_model_front.mat (missing {', '.join(missing)})")
        n = data["meanshape"].size // 3

        def basis(key: str) -> np.ndarray:
            return np.asarray(data[key], np.float64).reshape(n, 3, -1)

        return cls(np.asarray(data["meanshape"], np.float64).reshape(n, 3), basis("idBase"), basis("exBase"),
                   np.asarray(data["meantex"], np.float64).reshape(n, 3), basis("texBase"),
                   np.asarray(data["tri"], np.int64) - 1, np.asarray(data["keypoints"], np.int64).ravel() - 1)  # fmt: skip


def load_basis() -> MorphableBasis:
    """The user's BFM file through the weights manager (clear error naming ``bfm-deng-front`` when missing)."""
    from bench import weights

    return MorphableBasis.from_mat(weights.path(BFM_WEIGHTS))


def rotation(angles: torch.Tensor) -> torch.Tensor:
    """``Rz Ry Rx`` ``[T, 3, 3]`` from Euler angles ``[T, 3]`` (x, y, z), as Deng et al."""
    x, y, z = angles.unbind(-1)
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    rx = torch.stack([one, zero, zero, zero, x.cos(), -x.sin(), zero, x.sin(), x.cos()], -1).view(-1, 3, 3)
    ry = torch.stack([y.cos(), zero, y.sin(), zero, one, zero, -y.sin(), zero, y.cos()], -1).view(-1, 3, 3)
    rz = torch.stack([z.cos(), -z.sin(), zero, z.sin(), z.cos(), zero, zero, zero, one], -1).view(-1, 3, 3)
    return rz @ ry @ rx


def sh_shading(normals: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """Irradiance ``[T, N, 3]`` of unit normals ``[T, N, 3]`` under SH coefficients ``[T, 27]`` (+0.8 ambient)."""
    g = gamma.view(-1, 3, 9) + torch.tensor([0.8, *[0.0] * 8], dtype=gamma.dtype)
    nx, ny, nz = normals.unbind(-1)
    a0c0, a1c1, a2c2 = _SH
    basis = torch.stack([torch.full_like(nx, a0c0), -a1c1 * ny, a1c1 * nz, -a1c1 * nx, a2c2 * nx * ny,
                         -a2c2 * ny * nz, a2c2 * 0.5 / np.sqrt(3) * (3 * nz**2 - 1), -a2c2 * nx * nz,
                         a2c2 * 0.5 * (nx**2 - ny**2)], -1)  # fmt: skip
    return torch.einsum("tnk,tck->tnc", basis, g)


class MorphableFaceModel:
    """The 3DMM backend of :class:`~baselines.meta_talk.face_model.FaceModel` (basis read on first use)."""

    name = "bfm-3dmm"

    def __init__(self, expression_dim: int, steps: int, basis: MorphableBasis | None = None, lr: float = 0.01) -> None:
        self.expression_dim, self.steps, self.lr = int(expression_dim), int(steps), float(lr)
        self._basis = basis
        self._cache: dict[str, torch.Tensor] = {}

    @property
    def basis(self) -> MorphableBasis:
        """The 3DMM (loaded from the weights manager when not given)."""
        if self._basis is None:
            self._basis = load_basis()
        if self._basis.exp_basis.shape[2] < self.expression_dim:
            raise ValueError(f"meta_talk: the 3DMM has {self._basis.exp_basis.shape[2]} expression components, "
                             f"expression_dim is {self.expression_dim}")  # fmt: skip
        return self._basis

    def _tensors(self) -> dict[str, torch.Tensor]:
        if self._cache:
            return self._cache
        b = self.basis
        arrays = {"mean": b.mean_shape, "id": b.id_basis, "exp": b.exp_basis[:, :, : self.expression_dim],
                  "tex_mean": b.mean_tex / 255.0, "tex": b.tex_basis / 255.0}  # fmt: skip
        self._cache = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
        return self._cache

    def vertices(self, alpha: torch.Tensor, delta: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        """Camera-space vertices ``[T, N, 3]``: shape from ``alpha`` ``[I]``, ``delta`` ``[T, E]``, pose ``[T, 6]``."""
        t = self._tensors()
        shape = t["mean"] + torch.einsum("nci,i->nc", t["id"], alpha) + torch.einsum("nce,te->tnc", t["exp"], delta)
        return shape @ rotation(pose[:, :3]).transpose(1, 2) + pose[:, None, 3:]

    def project(self, vertices: torch.Tensor, size: int) -> torch.Tensor:
        """Pixel positions ``[T, N, 2]`` (x right, y down) in a ``size`` image: Deng's camera scaled from 224 px."""
        scale = size / 224.0
        depth = CAMERA_Z - vertices[..., 2]
        x = FOCAL * scale * vertices[..., 0] / depth + CENTRE * scale
        y = FOCAL * scale * vertices[..., 1] / depth + CENTRE * scale
        return torch.stack([x, size - 1 - y], -1)

    def normals(self, vertices: torch.Tensor) -> torch.Tensor:
        """Unit vertex normals ``[T, N, 3]``: the sum of the adjacent triangles' normals."""
        tri = torch.from_numpy(self.basis.triangles)
        v0, v1, v2 = vertices[:, tri[:, 0]], vertices[:, tri[:, 1]], vertices[:, tri[:, 2]]
        face = torch.cross(v1 - v0, v2 - v0, dim=-1)
        total = torch.zeros_like(vertices).index_add_(1, tri.reshape(-1), face.repeat_interleave(3, dim=1))
        return total / total.norm(dim=-1, keepdim=True).clamp_min(1e-12)

    def colours(self, vertices: torch.Tensor, beta: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        """Shaded vertex colours ``[T, N, 3]`` in [0, 1] units: reflectance times SH irradiance."""
        t = self._tensors()
        tex = t["tex_mean"] + torch.einsum("nck,k->nc", t["tex"], beta)
        return tex * sh_shading(self.normals(vertices), gamma)

    def encode(self, landmarks: np.ndarray, frames: np.ndarray | None = None) -> FaceCode:
        """Fit a video's coefficients to its landmarks ``[T, 68, 2]`` and (when given) its frames ``[T, S, S, 3]``."""
        lm = torch.from_numpy(np.asarray(landmarks, np.float64))
        count, size = len(lm), int(frames.shape[1]) if frames is not None else int(np.ceil(lm.max().item())) + 1
        b = self.basis
        params = {"alpha": torch.zeros(b.id_basis.shape[2]), "beta": torch.zeros(b.tex_basis.shape[2]),
                  "delta": torch.zeros(count, self.expression_dim), "gamma": torch.zeros(count, 27),
                  "pose": torch.zeros(count, 6)}  # fmt: skip
        params = {k: v.double().requires_grad_(True) for k, v in params.items()}
        image = None if frames is None else torch.from_numpy(frames).double().div(255.0)
        weights = torch.ones(68, dtype=torch.float64)
        weights[17:27], weights[36:68] = 50.0, 50.0
        optimiser = torch.optim.Adam(params.values(), lr=self.lr)
        for _ in range(self.steps):
            loss = self._loss(params, lm, image, weights, size)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        p = {k: v.detach().numpy() for k, v in params.items()}
        return FaceCode(p["alpha"], np.zeros((68, 2)), p["delta"], p["pose"],
                        {"texture": p["beta"], "lighting": p["gamma"], "size": np.array([size])})  # fmt: skip

    def _loss(self, p: dict[str, torch.Tensor], lm: torch.Tensor, image: torch.Tensor | None, weights: torch.Tensor,
              size: int) -> torch.Tensor:  # fmt: skip
        verts = self.vertices(p["alpha"], p["delta"], p["pose"])
        points = self.project(verts, size)
        unit = 256.0 / size  # AudioDVP's weights are for 256-px images
        land = (weights * ((points[:, self.basis.keypoints] - lm) * unit).pow(2).sum(-1)).sum(1).mean() / 68
        reg = LOSS["alpha"] * p["alpha"].pow(2).sum() + LOSS["beta"] * p["beta"].pow(2).sum()
        reg = reg + LOSS["delta"] * p["delta"].pow(2).sum(1).mean()
        loss = LOSS["land"] * land + LOSS["reg"] * reg
        if image is not None:
            colours = self.colours(verts, p["beta"], p["gamma"])
            grid = (points / (size - 1) * 2 - 1).unsqueeze(2)  # [T, N, 1, 2]
            seen = torch.nn.functional.grid_sample(image.permute(0, 3, 1, 2), grid, align_corners=True)[..., 0]
            visible = (self.normals(verts)[..., 2] > 0).unsqueeze(-1).double()
            photo = ((colours - seen.transpose(1, 2)).pow(2) * visible).sum() / visible.sum().clamp_min(1) / 3
            loss = loss + LOSS["photo"] * photo
        return loss

    def decode(self, code: FaceCode) -> np.ndarray:
        """The 68 projected keypoints ``[T, 68, 2]`` of a code."""
        size = int(code.extra["size"][0]) if code.extra else 224
        with torch.no_grad():
            return self.project(self._code_vertices(code), size)[:, self.basis.keypoints].numpy()

    def _code_vertices(self, code: FaceCode) -> torch.Tensor:
        """Camera-space vertices of a code (no gradients)."""
        alpha, delta, pose = (torch.from_numpy(np.asarray(a, np.float64)) for a in (code.identity, code.expression,
                                                                                     code.pose))  # fmt: skip
        with torch.no_grad():
            return self.vertices(alpha, delta, pose)

    def render(self, code: FaceCode, texture: np.ndarray, texture_code: FaceCode) -> np.ndarray:
        """The shaded mesh over ``texture`` (the target frame as background), one image per frame ``[T, S, S, 3]``."""
        del texture_code  # the 3DMM renders its own reflectance
        extra = code.extra or {}
        size = texture.shape[0]
        with torch.no_grad():
            verts = self._code_vertices(code)
            delta = code.expression
            lighting = np.asarray(extra.get("lighting", np.zeros((1, 27))), np.float64)
            gamma = torch.from_numpy(np.repeat(lighting[:1], len(delta), 0) if len(lighting) != len(delta) else lighting)
            colours = self.colours(verts, torch.from_numpy(extra.get("texture", np.zeros(80))), gamma).numpy()
            points, depth = self.project(verts, size).numpy(), verts[..., 2].numpy()
        return np.stack([self._raster(texture.copy(), points[t], depth[t], colours[t]) for t in range(len(points))])

    def _raster(self, canvas: np.ndarray, points: np.ndarray, depth: np.ndarray, colours: np.ndarray,
                triangles: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
        """Painter's algorithm: camera-facing triangles far to near, each filled with its mean vertex colour."""
        tri = self.basis.triangles if triangles is None else triangles
        p = points[tri]
        facing = (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 1, 1] - p[:, 0, 1]) * (p[:, 2, 0] - p[:, 0, 0])
        order = np.argsort(depth[tri].mean(1))  # smallest z (farthest from the camera at z = 10) first
        fill = np.clip(colours[tri].mean(1) * 255.0, 0, 255)
        for k in order:
            if facing[k] != 0:
                cv2.fillConvexPoly(canvas, np.round(p[k] * 16).astype(np.int32), fill[k].tolist(), shift=4)
        return canvas

    def mask(self, code: FaceCode, size: tuple[int, int], dilate: int) -> np.ndarray:
        """AudioDVP's mouth mask per frame: the lower face rendered at delta = 0 and at delta[0] = -8, dilated."""
        b = self.basis
        nose = b.mean_shape[b.keypoints[33], 1]
        lower = b.triangles[(b.mean_shape[b.triangles, 1] < nose).all(1)]
        open_delta = np.zeros(self.expression_dim)
        open_delta[0] = OPEN_DELTA
        masks = []
        for t in range(len(code.pose)):
            layer = np.zeros((*size, 3), np.uint8)
            for delta in (np.zeros(self.expression_dim), open_delta):
                frame = FaceCode(code.identity, code.detail, delta[None], code.pose[t : t + 1], code.extra)
                verts = self._code_vertices(frame)
                with torch.no_grad():
                    points = self.project(verts, size[0])[0].numpy()
                self._raster(layer, points, verts[0, :, 2].numpy(), np.ones((len(points), 3)) / 255.0, lower)
            masks.append((layer[..., 0] > 0).astype(np.uint8))
        return np.stack([cv2.dilate(m.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=dilate) for m in masks])

    def state(self) -> dict[str, np.ndarray]:
        """Nothing: the basis is the user's file and is never saved with a model."""
        return {}
