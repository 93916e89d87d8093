"""Synthetic faces: identities made from a real photograph, animated by moving its 68 landmarks.

The photograph is scikit-image's ``astronaut`` (NASA portrait of Eileen Collins, public domain). Its 68 landmarks
are found once with dlib and cached. An identity changes face shape (a landmark-driven warp), skin tone, hair and
lip colour, background, and may be mirrored. A frame is drawn by a piecewise-affine warp of the identity's neutral
image onto moved landmarks: every pixel is mapped through the affine map of the mesh triangle that contains it
(triangles rasterised with OpenCV, one ``cv2.remap`` per frame), which costs about a millisecond at 128x128.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from scipy.spatial import Delaunay

from bench.cache import cache_dir, cache_key

CROP = (132, 35, 190)
"""``(x0, y0, side)`` of the face crop in the 512x512 ``skimage.data.astronaut`` photograph."""

# Index permutation of the 68-point layout under a horizontal flip.
MIRROR = np.array(
    [*range(16, -1, -1), *range(26, 16, -1), 27, 28, 29, 30, *range(35, 30, -1), 45, 44, 43, 42, 47, 46,
     39, 38, 37, 36, 41, 40, *range(54, 47, -1), 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]
)  # fmt: skip


_HAIR = np.array([[0.35, 0.32, 0.3], [0.75, 0.65, 0.55], [1.0, 1.0, 1.0], [1.3, 1.22, 0.95], [1.15, 0.75, 0.55],
                  [1.4, 1.42, 1.5]])  # fmt: skip
"""RGB gains of hair colours: black, dark brown, the photograph's, blond, auburn, grey."""


@dataclass(frozen=True)
class FaceTemplate:
    """The source photograph crop with its landmarks and person mask.

    Attributes:
        image: uint8 ``[S, S, 3]`` RGB crop of the photograph.
        landmarks: float32 ``[68, 2]`` (x, y) in crop pixels, found by dlib.
        foreground: float32 ``[S, S]`` in [0, 1], 1 on the person.
    """

    image: np.ndarray
    landmarks: np.ndarray
    foreground: np.ndarray


@dataclass(frozen=True)
class Identity:
    """A synthetic speaker's face at the output size: mouth closed, eyes open.

    Attributes:
        image: uint8 ``[size, size, 3]`` RGB neutral face.
        landmarks: float32 ``[68, 2]`` neutral landmarks.
        style: the identity's parameters (for the metadata).
    """

    image: np.ndarray
    landmarks: np.ndarray
    style: dict[str, Any]


class MeshWarper:
    """Piecewise-affine warp of an image whose control points are moved.

    The mesh is a Delaunay triangulation of the source points plus anchors just outside the image border, so every
    pixel lies in a triangle.
    """

    def __init__(self, points: np.ndarray, size: int) -> None:
        """Triangulate ``points`` ``[K, 2]`` of a ``size`` x ``size`` source image."""
        self.size = size
        self.anchors = _border_anchors(size)
        self.source = np.concatenate([np.asarray(points, np.float64), self.anchors])
        self.triangles = Delaunay(self.source).simplices.astype(np.int64)
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
        self._grid = (xs, ys)

    def warp(self, image: np.ndarray, points: np.ndarray, pose: np.ndarray | None = None) -> np.ndarray:
        """Warp ``image`` so that its control points move to ``points``, then apply ``pose``.

        Args:
            image: ``[size, size, C]`` image whose control points are this mesh's source points.
            points: float ``[K, 2]`` destination positions before the pose.
            pose: optional 2x3 similarity applied to the whole frame after the local warp.
        """
        dest = np.concatenate([np.asarray(points, np.float64), self.anchors])
        if pose is not None:
            dest = dest @ pose[:, :2].T + pose[:, 2]
        map_x, map_y = self._inverse_map(dest, pose)
        return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)

    def _inverse_map(self, dest: np.ndarray, pose: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """For every output pixel, its source position: the affine map of the destination triangle holding it."""
        tri_dst = dest[self.triangles]  # [M, 3, 2]
        tri_src = self.source[self.triangles]
        d = np.concatenate([tri_dst, np.ones((*tri_dst.shape[:2], 1))], axis=2)  # [M, 3, 3]
        area = np.abs(np.linalg.det(d)) / 2
        ok = area > 0.05
        index = np.full((self.size, self.size), -1, np.int32)
        fixed = np.round(tri_dst * 16).astype(np.int32)
        for m in np.nonzero(ok)[0]:
            cv2.fillConvexPoly(index, fixed[m], int(m), lineType=cv2.LINE_8, shift=4)
        affine = np.zeros((len(d), 2, 3))
        affine[ok] = np.linalg.solve(d[ok], tri_src[ok]).transpose(0, 2, 1)  # src = affine @ [x, y, 1]
        xs, ys = self._grid
        if pose is None:
            out_x, out_y = xs.copy(), ys.copy()
        else:  # pixels outside the moved mesh: undo the pose only
            inv = cv2.invertAffineTransform(pose.astype(np.float64))
            out_x = (inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]).astype(np.float32)
            out_y = (inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]).astype(np.float32)
        inside = index >= 0
        a = affine[index[inside]]
        px, py = xs[inside], ys[inside]
        out_x[inside] = a[:, 0, 0] * px + a[:, 0, 1] * py + a[:, 0, 2]
        out_y[inside] = a[:, 1, 0] * px + a[:, 1, 1] * py + a[:, 1, 2]
        return out_x, out_y


def _border_anchors(size: int) -> np.ndarray:
    """Twelve fixed points just outside the frame, so the mesh covers every pixel."""
    lo, hi, mid = -1.0, size, (size - 1) / 2
    q1, q3 = size * 0.25, size * 0.75
    return np.array(
        [[lo, lo], [q1, lo], [mid, lo], [q3, lo], [hi, lo], [hi, q1], [hi, mid], [hi, q3], [hi, hi], [q3, hi],
         [mid, hi], [q1, hi], [lo, hi], [lo, q3], [lo, mid], [lo, q1]], np.float64
    )  # fmt: skip


@functools.lru_cache(maxsize=1)
def face_template() -> FaceTemplate:
    """The astronaut crop, its dlib landmarks (computed once, cached on disk) and its person mask."""
    import skimage.data

    x0, y0, side = CROP
    image = np.ascontiguousarray(skimage.data.astronaut()[y0 : y0 + side, x0 : x0 + side])
    return FaceTemplate(image, _template_landmarks(image), _person_mask(image))


def _template_landmarks(image: np.ndarray) -> np.ndarray:
    """The template's 68 dlib landmarks, read from the cache or detected once."""
    import dlib

    path = cache_dir("synthgrid", "template") / f"astronaut-{cache_key(crop=CROP, dlib=dlib.__version__)}.npy"
    if path.is_file():
        return np.load(path).astype(np.float32)
    from bench.faces.detect import detect_faces
    from bench.faces.landmarks import predict_landmarks

    boxes, _ = detect_faces(image, "hog", upsample=1)
    if len(boxes) == 0:
        raise RuntimeError("dlib found no face in the skimage astronaut crop; the synthetic corpus needs it")
    points = predict_landmarks(image, boxes[0])
    from bench.io import atomic_path

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, points)
    return points


def _person_mask(image: np.ndarray) -> np.ndarray:
    """Soft person mask: the pale, unsaturated studio background connected to the top and sides is 0."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    pale = ((hsv[..., 1] < 60) & (hsv[..., 2] > 150)).astype(np.uint8)
    candidate = cv2.morphologyEx(pale, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    _, labels = cv2.connectedComponents(candidate)
    upper = int(image.shape[0] * 0.6)
    keep = set(labels[0].tolist()) | set(labels[:upper, 0].tolist()) | set(labels[:upper, -1].tolist())
    keep.discard(0)
    found = np.isin(labels, sorted(keep)).astype(np.uint8)
    background = cv2.morphologyEx(found, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    return cv2.GaussianBlur(1.0 - background.astype(np.float32), (5, 5), 1.0)


def _neutral_shape(points: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """The template landmarks with the mouth closed and a random face shape."""
    p = points.astype(np.float64).copy()
    for upper, lower, outer in ((61, 67, 58), (62, 66, 57), (63, 65, 56)):  # close the smile: inner lips meet
        shift = (p[lower, 1] - p[upper, 1]) / 2 - 0.15
        p[upper, 1] += shift
        p[[lower, outer], 1] -= shift
    iod = np.linalg.norm(p[36:42].mean(0) - p[42:48].mean(0))
    shape = {
        "face_width": float(rng.uniform(0.92, 1.08)),
        "chin_drop": float(rng.uniform(-0.08, 0.12)),
        "eye_spacing": float(rng.uniform(-0.04, 0.04)),
        "nose_width": float(rng.uniform(0.85, 1.2)),
        "mouth_width": float(rng.uniform(0.9, 1.1)),
        "lip_thickness": float(rng.uniform(-0.02, 0.04)),
    }
    cx = p[27:31, 0].mean()
    p[0:17, 0] = cx + (p[0:17, 0] - cx) * shape["face_width"]
    weights = np.zeros(68)
    weights[[4, 5, 6, 7, 8, 9, 10, 11, 12]] = [0.1, 0.4, 0.7, 0.9, 1.0, 0.9, 0.7, 0.4, 0.1]
    p[:, 1] += weights * shape["chin_drop"] * iod
    p[36:42, 0] -= shape["eye_spacing"] * iod
    p[17:22, 0] -= shape["eye_spacing"] * iod
    p[42:48, 0] += shape["eye_spacing"] * iod
    p[22:27, 0] += shape["eye_spacing"] * iod
    p[31:36, 0] = p[33, 0] + (p[31:36, 0] - p[33, 0]) * shape["nose_width"]
    mc = p[48:68].mean(0)
    p[48:68, 0] = mc[0] + (p[48:68, 0] - mc[0]) * shape["mouth_width"]
    p[49:54, 1] -= shape["lip_thickness"] * iod
    p[55:60, 1] += shape["lip_thickness"] * iod
    return p, shape


def make_identity(rng: np.random.Generator, size: int = 128) -> Identity:
    """A random identity: face shape, skin, hair and lip colour, background, and maybe a mirror image."""
    template = face_template()
    scale = size / template.image.shape[0]
    image = cv2.resize(template.image, (size, size), interpolation=cv2.INTER_AREA)
    mask = cv2.resize(template.foreground, (size, size), interpolation=cv2.INTER_AREA)
    points = template.landmarks.astype(np.float64) * scale + (scale - 1) / 2  # pixel-centre convention
    neutral, style = _neutral_shape(points, rng)
    warper = MeshWarper(points, size)
    both = warper.warp(np.dstack([image.astype(np.float32), mask]), neutral)
    rgb, mask = both[..., :3], np.clip(both[..., 3], 0, 1)
    skin = _skin_mask(neutral, size) * mask
    hair = mask * (1 - skin) * (np.arange(size)[:, None] < neutral[8, 1]).astype(np.float32)
    style["skin_gain"] = [float(v) for v in _skin_gain(rng)]
    style["hair_gain"] = [float(v) for v in _HAIR[rng.integers(len(_HAIR))] * rng.uniform(0.93, 1.07, 3)]
    style["lip_colour"] = [float(v) for v in rng.uniform([140, 50, 55], [205, 100, 110])]
    rgb = rgb * (1 + skin[..., None] * (np.asarray(style["skin_gain"]) - 1))
    rgb = rgb * (1 + hair[..., None] * (np.asarray(style["hair_gain"]) - 1))
    lips = polygon_mask(neutral[48:60], size, blur=0.7)[..., None] * 0.4
    rgb = rgb * (1 - lips) + lips * np.asarray(style["lip_colour"])
    background, style["background"] = _background(rng, size)
    rgb = rgb * mask[..., None] + background * (1 - mask[..., None])
    out = np.clip(np.round(rgb), 0, 255).astype(np.uint8)
    style["mirrored"] = bool(rng.random() < 0.5)
    if style["mirrored"]:
        out = np.ascontiguousarray(out[:, ::-1])
        neutral = neutral[MIRROR].copy()
        neutral[:, 0] = size - 1 - neutral[:, 0]
    return Identity(out, neutral.astype(np.float32), style)


def _skin_gain(rng: np.random.Generator) -> np.ndarray:
    """Per-channel RGB gain of the skin: from darker brown to paler tones."""
    tone = rng.uniform(0.0, 1.0)
    dark, pale = np.array([0.5, 0.4, 0.34]), np.array([1.05, 1.02, 1.0])
    return (dark + (pale - dark) * tone) * rng.uniform(0.96, 1.04, 3)


def _skin_mask(points: np.ndarray, size: int) -> np.ndarray:
    """Soft mask of face and neck skin: jaw hull with the forehead above the brows, plus the neck below the chin."""
    brows = points[17:27].copy()
    brows[:, 1] -= 0.35 * (points[8, 1] - points[27, 1])
    face = np.concatenate([points[0:17], brows[::-1]])
    neck_w = 0.32 * (points[16, 0] - points[0, 0])
    neck = np.array(
        [[points[8, 0] - neck_w, points[5, 1]], [points[8, 0] + neck_w, points[11, 1]],
         [points[8, 0] + neck_w, points[8, 1] + 0.18 * size], [points[8, 0] - neck_w, points[8, 1] + 0.18 * size]]
    )  # fmt: skip
    mask = np.maximum(polygon_mask(cv2.convexHull(face.astype(np.float32))[:, 0], size, 0),
                      polygon_mask(neck, size, 0))  # fmt: skip
    return cv2.GaussianBlur(mask, (0, 0), size / 60)


def polygon_mask(points: np.ndarray, size: int | tuple[int, int], blur: float) -> np.ndarray:
    """Anti-aliased float mask ``[H, W]`` of a polygon, optionally blurred (sigma in pixels)."""
    shape = (size, size) if isinstance(size, int) else size
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(np.asarray(points) * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    out = mask.astype(np.float32) / 255
    return cv2.GaussianBlur(out, (0, 0), blur) if blur > 0 else out


def _background(rng: np.random.Generator, size: int) -> tuple[np.ndarray, dict[str, Any]]:
    """A studio backdrop: a colour gradient with soft low-frequency texture."""
    top, bottom = rng.uniform(40, 230, 3), rng.uniform(40, 230, 3)
    t = np.linspace(0, 1, size)[:, None, None]
    image = top * (1 - t) + bottom * t
    texture = cv2.resize(rng.normal(0, 1, (6, 6)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    image = image + texture[..., None] * rng.uniform(4, 14)
    return np.broadcast_to(image, (size, size, 3)).astype(np.float32), {
        "top": [float(v) for v in top], "bottom": [float(v) for v in bottom]
    }  # fmt: skip
