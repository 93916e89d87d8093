"""Face models behind one interface: expression coefficients per frame and a synthetic lower face.

A face model turns a video's 68 landmarks (and frames) into a :class:`FaceCode` (identity shared by the video,
expression and pose per frame), decodes a code with any expression back to landmarks, and renders the synthetic face
for a code. Two backends:

* :class:`LandmarkFaceModel`, always available offline: a landmark PCA model learned from the training clips (mean
  shape, identity components from per-video mean shapes, expression components of the lower face), rendered by
  piecewise-affine warping of the target's own texture (Delaunay mesh of the landmarks, ``cv2.remap``).
* :class:`baselines.meta_talk.morphable.MorphableFaceModel`: the 3DMM of section 2.2 on user-supplied BFM files.

Expression here moves the lower face only (jaw, nose base, lips): the paper drives and re-renders only the lower
half, so the eyes and brows of a frame never change when its expression is replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
from scipy.spatial import Delaunay

from bench.faces import MEAN_FACE, STABLE_POINTS, similarity_fits

LOWER_POINTS = (*range(2, 15), 31, 32, 34, 35, *range(48, 68))  # jaw 2-14, nose base (tip 33 is a pose anchor), mouth
MASK_POINTS = (*range(2, 15), 35, 34, 33, 32, 31)  # the lower-face polygon: chin line closed under the nose
UPPER_LIP, LOWER_LIP = 62, 66  # inner-lip midpoints


@dataclass
class FaceCode:
    """A video's face parameters.

    Attributes:
        identity: float64 ``[I]`` identity coefficients, shared by the video.
        detail: float64 ``[68, 2]`` per-video shape the identity components do not span (0 for the 3DMM).
        expression: float64 ``[T, E]`` expression coefficients per frame.
        pose: float64 ``[T, P]`` per-frame pose (landmark model: similarity ``a, b, tx, ty``).
        extra: backend-specific per-video arrays (3DMM: texture and lighting), by name.
    """

    identity: np.ndarray
    detail: np.ndarray
    expression: np.ndarray
    pose: np.ndarray
    extra: dict[str, np.ndarray] | None = None

    def with_expression(self, expression: np.ndarray, pose_frame: int | None = None) -> FaceCode:
        """The same face with ``expression`` ``[T', E]``; the pose of frame ``pose_frame`` (or the first) for all."""
        expression = np.asarray(expression, np.float64)
        pose = self.pose[pose_frame or 0]
        return FaceCode(self.identity, self.detail, expression, np.repeat(pose[None], len(expression), 0), self.extra)


class FaceModel(Protocol):
    """What Meta Talk needs of a face model (both backends implement it)."""

    name: str
    expression_dim: int

    def encode(self, landmarks: np.ndarray, frames: np.ndarray | None = None) -> FaceCode:
        """Fit one video: landmarks float ``[T, 68, 2]`` (and its frames ``[T, H, W, 3]``)."""
        ...

    def decode(self, code: FaceCode) -> np.ndarray:
        """The 68 landmarks ``[T, 68, 2]`` of a code."""
        ...

    def render(self, code: FaceCode, texture: np.ndarray, texture_code: FaceCode) -> np.ndarray:
        """Synthetic faces uint8 ``[T, H, W, 3]`` for ``code``; ``texture`` is a target frame with its own code."""
        ...


def similarity_fit(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares similarity ``(a, b, tx, ty)`` per frame with ``target ~ [[a, -b], [b, a]] source + t``.

    :func:`bench.faces.similarity_fits` (the face alignment's fit) as a pose.

    Args:
        source: ``[K, 2]`` or ``[T, K, 2]`` points.
        target: ``[T, K, 2]`` points.
    """
    fits = similarity_fits(source, target)
    return np.stack([fits[:, 0, 0], fits[:, 1, 0], fits[:, 0, 2], fits[:, 1, 2]], 1)


def apply_pose(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Points ``[T, K, 2]`` moved by per-frame similarities ``[T, 4]``."""
    a, b, tx, ty = (pose[:, i, None] for i in range(4))
    x, y = points[..., 0], points[..., 1]
    return np.stack([a * x - b * y + tx, b * x + a * y + ty], -1)


def invert_pose(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """The inverse of :func:`apply_pose`."""
    a, b, tx, ty = (pose[:, i, None] for i in range(4))
    x, y = points[..., 0] - tx, points[..., 1] - ty
    det = a**2 + b**2
    return np.stack([(a * x + b * y) / det, (-b * x + a * y) / det], -1)


def piecewise_affine(image: np.ndarray, source: np.ndarray, target: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Warp ``image`` so that its points ``source`` ``[K, 2]`` move to ``target``, inside the box ``region``.

    Piecewise-affine: the Delaunay triangulation of the target points (plus fixed anchors on the box's corners and
    edge midpoints, so the warp meets the unchanged surroundings continuously) is rasterised over ``region``
    ``(x0, y0, x1, y1)``; each pixel is read (bilinearly) through its triangle's affine map to the source triangle.
    Pixels outside the region are the image's, unchanged.
    """
    h, w = image.shape[:2]
    x0, y0 = (int(max(0, np.floor(v))) for v in region[:2])
    x1, y1 = int(min(w, np.ceil(region[2]))), int(min(h, np.ceil(region[3])))
    if x1 - x0 < 3 or y1 - y0 < 3:
        return image.copy()
    ax, ay = [x0, (x0 + x1 - 1) / 2, x1 - 1], [y0, (y0 + y1 - 1) / 2, y1 - 1]
    anchors = np.array([(x, y) for x in ax for y in ay if (x, y) != (ax[1], ay[1])], np.float64)
    inside = np.all((target > [x0 + 0.5, y0 + 0.5]) & (target < [x1 - 1.5, y1 - 1.5]), axis=1)
    dst, src = np.concatenate([target[inside], anchors]), np.concatenate([source[inside], anchors])
    triangles = Delaunay(dst).simplices
    corners = np.concatenate([dst[triangles], np.ones((len(triangles), 3, 1))], 2)  # [M, 3, 3] rows (x, y, 1)
    usable = np.abs(np.linalg.det(corners)) > 1e-6
    affine = np.zeros((len(triangles), 3, 2))
    affine[usable] = np.linalg.solve(corners[usable], src[triangles[usable]])  # (x, y, 1) @ affine = source
    index = np.full((y1 - y0, x1 - x0), -1, np.int32)
    for k in np.flatnonzero(usable):  # rasterise the target mesh: which triangle holds each pixel
        cv2.fillConvexPoly(index, np.round((dst[triangles[k]] - [x0, y0]) * 16).astype(np.int32), int(k), shift=4)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    held = affine[np.maximum(index, 0)]
    map_x = np.where(index >= 0, xs * held[..., 0, 0] + ys * held[..., 1, 0] + held[..., 2, 0], xs)
    map_y = np.where(index >= 0, xs * held[..., 0, 1] + ys * held[..., 1, 1] + held[..., 2, 1], ys)
    maps = np.stack([map_x, map_y], -1).astype(np.float32)
    out = image.copy()
    out[y0:y1, x0:x1] = cv2.remap(image, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out


def lower_face_mask(points: np.ndarray, size: tuple[int, int], dilate: int) -> np.ndarray:
    """uint8 ``[H, W]`` 0/1 mask: the union of the lower-face polygons of each point set ``[N, 68, 2]``, dilated."""
    mask = np.zeros(size, np.uint8)
    for shape in points:
        hull = cv2.convexHull(np.round(shape[list(MASK_POINTS)] * 16).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1, lineType=cv2.LINE_8, shift=4)
    if dilate:
        return np.asarray(cv2.dilate(mask, np.ones((3, 3), np.uint8), iterations=dilate), np.uint8)
    return mask


def mouth_opening(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip gap (points 66 - 62) over the outer eye-corner distance (45 - 36), per frame ``[T]``."""
    gap = np.linalg.norm(landmarks[:, LOWER_LIP] - landmarks[:, UPPER_LIP], axis=-1)
    return gap / np.linalg.norm(landmarks[:, 45] - landmarks[:, 36], axis=-1)


class LandmarkFaceModel:
    """Landmark PCA face model with piecewise-affine rendering (the offline backend).

    Shapes are normalised by the similarity that maps their stable points (nose tip, eye corners) onto
    :data:`bench.faces.MEAN_FACE`'s; that similarity is the pose. A video's identity is its mean normalised shape:
    coefficients on the identity components (PCA of the training videos' means) plus the rest as ``detail``.
    Expression is a frame's deviation from that mean on :data:`LOWER_POINTS`, in expression components (PCA of
    all training deviations, in units of the first component's standard deviation), zero-padded when the data
    span fewer than ``expression_dim`` (or ``identity_dim``) directions, so that the saved arrays keep their shapes.
    """

    name = "landmark-pca"

    def __init__(self, expression_dim: int, identity_dim: int) -> None:
        self.expression_dim, self.identity_dim = int(expression_dim), int(identity_dim)
        self.mean = MEAN_FACE.astype(np.float64).copy()
        self.identity_basis = np.zeros((self.identity_dim, 68, 2))
        self.expression_basis = np.zeros((self.expression_dim, len(LOWER_POINTS), 2))
        self.expression_scale = np.ones(())
        self.open_expression = np.zeros(self.expression_dim)

    def normalise(self, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalised shapes ``[T, 68, 2]`` and poses ``[T, 4]`` (normalised -> image)."""
        landmarks = np.asarray(landmarks, np.float64)
        pose = similarity_fit(MEAN_FACE[list(STABLE_POINTS)], landmarks[:, list(STABLE_POINTS)])
        return invert_pose(landmarks, pose), pose

    def fit(self, videos: list[np.ndarray], open_scale: float = 1.5) -> None:
        """Learn mean, identity and expression components from training videos' landmarks ``[T_i, 68, 2]``."""
        shapes = [self.normalise(v)[0] for v in videos]
        means = np.stack([s.mean(0) for s in shapes])
        self.mean = means.mean(0)
        n_id = min(self.identity_dim, len(videos) - 1)
        self.identity_basis = np.zeros((self.identity_dim, 68, 2))
        if n_id > 0:
            _, _, vt = np.linalg.svd((means - self.mean).reshape(len(videos), -1), full_matrices=False)
            self.identity_basis[:n_id] = vt[:n_id].reshape(n_id, 68, 2)
        deviations = np.concatenate([(s - s.mean(0))[:, list(LOWER_POINTS)] for s in shapes])
        flat = deviations.reshape(len(deviations), -1)
        _, _, vt = np.linalg.svd(flat, full_matrices=False)
        basis = np.zeros((self.expression_dim, flat.shape[1]))
        keep = min(self.expression_dim, len(vt))
        basis[:keep] = vt[:keep]
        self.expression_basis = basis.reshape(self.expression_dim, len(LOWER_POINTS), 2)
        coefficients = flat @ basis.T
        self.expression_scale = np.asarray(max(float(coefficients[:, 0].std()), 1e-8))
        coefficients /= self.expression_scale
        lower = [LOWER_POINTS.index(UPPER_LIP), LOWER_POINTS.index(LOWER_LIP)]
        gaps = np.linalg.norm(deviations[:, lower[1]] - deviations[:, lower[0]], axis=-1) * np.sign(
            deviations[:, lower[1], 1] - deviations[:, lower[0], 1])  # fmt: skip
        self.open_expression = open_scale * coefficients[int(np.argmax(gaps))]

    def encode(self, landmarks: np.ndarray, frames: np.ndarray | None = None) -> FaceCode:
        """Identity from the video's mean normalised shape; expression per frame (0 for a single still)."""
        del frames  # the landmark model reads landmarks only
        shapes, pose = self.normalise(landmarks)
        video_mean = shapes.mean(0)
        offset = video_mean - self.mean
        identity = np.einsum("ikc,kc->i", self.identity_basis, offset)
        detail = offset - np.einsum("i,ikc->kc", identity, self.identity_basis)
        deviation = (shapes - video_mean)[:, list(LOWER_POINTS)]
        expression = np.einsum("tkc,ekc->te", deviation, self.expression_basis) / self.expression_scale
        return FaceCode(identity, detail, expression, pose)

    def project(self, landmarks: np.ndarray, code: FaceCode) -> FaceCode:
        """Expression and pose of new frames ``[T, 68, 2]`` of the video ``code`` was fitted on (identity kept)."""
        shapes, pose = self.normalise(landmarks)
        identity_shape = self.mean + np.einsum("i,ikc->kc", code.identity, self.identity_basis) + code.detail
        deviation = (shapes - identity_shape)[:, list(LOWER_POINTS)]
        expression = np.einsum("tkc,ekc->te", deviation, self.expression_basis) / self.expression_scale
        return FaceCode(code.identity, code.detail, expression, pose)

    def decode(self, code: FaceCode) -> np.ndarray:
        """Landmarks ``[T, 68, 2]``: mean + identity + detail, lower face + expression, moved by the pose."""
        shape = self.mean + np.einsum("i,ikc->kc", code.identity, self.identity_basis) + code.detail
        shapes = np.repeat(shape[None], len(code.expression), 0)
        shapes[:, list(LOWER_POINTS)] += self.expression_scale * np.einsum("te,ekc->tkc", code.expression,
                                                                          self.expression_basis)  # fmt: skip
        return apply_pose(shapes, code.pose)

    def render(self, code: FaceCode, texture: np.ndarray, texture_code: FaceCode) -> np.ndarray:
        """The texture frame warped piecewise-affinely from its own decoded landmarks to each frame's."""
        source = self.decode(texture_code)[0]
        targets = self.decode(code)
        region = _lower_region(np.concatenate([source[None], targets]), texture.shape[:2])
        return np.stack([piecewise_affine(texture, source, t, region) for t in targets])

    def mask(self, code: FaceCode, size: tuple[int, int], dilate: int) -> np.ndarray:
        """Per-frame uint8 ``[T, H, W]`` lower-face masks covering the neutral and the wide-open mouth."""
        neutral = self.decode(FaceCode(code.identity, code.detail, np.zeros_like(code.expression), code.pose))
        opened = self.decode(FaceCode(code.identity, code.detail, np.repeat(self.open_expression[None],
                                                                            len(code.pose), 0), code.pose))  # fmt: skip
        return np.stack([lower_face_mask(np.stack([n, o]), size, dilate) for n, o in zip(neutral, opened, strict=False)])

    def state(self) -> dict[str, np.ndarray]:
        """Arrays to save."""
        return {"mean": self.mean, "identity_basis": self.identity_basis, "expression_basis": self.expression_basis,
                "expression_scale": self.expression_scale, "open_expression": self.open_expression}  # fmt: skip

    def load(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state`."""
        for key, value in state.items():
            setattr(self, key, np.asarray(value, np.float64))


def _lower_region(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A box around the lower-face points of every shape ``[N, 68, 2]``, with a margin of 8 % of the face width."""
    lower = points[:, list(MASK_POINTS) + list(range(48, 68))].reshape(-1, 2)
    margin = 0.08 * float(np.ptp(points[..., 0]))
    x0, y0 = lower.min(0) - margin
    x1, y1 = lower.max(0) + margin
    return np.array([max(0.0, x0), max(0.0, y0), min(size[1], x1), min(size[0], y1)])
