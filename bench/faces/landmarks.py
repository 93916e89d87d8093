"""dlib's 68-point landmarks (iBUG 300-W layout) and measures built on them (eye aspect ratio, mouth opening).

0-based point ranges: jaw 0-16, brows 17-26, nose 27-35, right eye 36-41, left eye 42-47, mouth 48-67
(outer lip 48-59, inner lip 60-67).
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np

from bench.faces.detect import dlib_model, to_gray

MOUTH = slice(48, 68)
RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)
STABLE_POINTS = (33, 36, 39, 42, 45)  # nose tip and the four eye corners (Vougioukas' face-processor)


def _rectangle(box: np.ndarray) -> Any:
    import dlib

    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    return dlib.rectangle(x0, y0, max(x0, x1 - 1), max(y0, y1 - 1))


def predict_landmarks(image: np.ndarray, box: np.ndarray, min_size: float = 0.0) -> np.ndarray:
    """The 68 landmarks float32 ``[68, 2]`` (x, y) inside ``box`` ``(x0, y0, x1, y1)`` of a uint8 image.

    The image is converted to grayscale as in the detectors, so detection and landmarks see the same pixels. The
    predictor runs on a crop of the box plus 30 % of its width on each side, which gives exactly the landmarks of the
    whole frame (dlib reads pixels near the shape only) at less cost. A face box narrower than ``min_size`` pixels is
    predicted on a bicubically upscaled crop (at most 4x) and mapped back: dlib's predictor reads single pixels, so on
    small faces (128-px clips) upscaling lets eyelids and lips follow the image more closely.
    """
    gray = image if image.ndim == 2 else to_gray(image)
    width = float(box[2] - box[0])
    factor = min(4.0, max(1.0, min_size / width)) if width > 0 else 1.0
    margin = 0.3 * width
    h, w = gray.shape
    x0, y0 = max(int(box[0] - margin), 0), max(int(box[1] - margin), 0)
    x1, y1 = min(int(np.ceil(box[2] + margin)), w), min(int(np.ceil(box[3] + margin)), h)
    if x1 - x0 < 2 or y1 - y0 < 2:  # box off the frame: predict on the whole image
        shape = dlib_model("landmarks")(gray, _rectangle(box))
        return np.array([(p.x, p.y) for p in shape.parts()], np.float32)
    crop = np.ascontiguousarray(gray[y0:y1, x0:x1])
    if factor > 1.0:
        crop = cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    local = (np.asarray(box, np.float64) - [x0, y0, x0, y0]) * factor
    shape = dlib_model("landmarks")(crop, _rectangle(local))
    points = np.array([(p.x, p.y) for p in shape.parts()], np.float64)
    if factor > 1.0:
        points = (points + 0.5) / factor - 0.5
    return (points + [x0, y0]).astype(np.float32)


def landmark_box(points: np.ndarray) -> np.ndarray:
    """Bounding box ``(x0, y0, x1, y1)`` of a ``[N, 2]`` point set."""
    return np.array([*points.min(axis=0), *points.max(axis=0)], np.float32)


def eye_aspect_ratio(landmarks: np.ndarray) -> np.ndarray:
    """Eye aspect ratio per frame (Soukupova & Cech 2016), the mean of both eyes.

    Per eye with 0-based points p0..p5: ``(|p1 - p5| + |p2 - p4|) / (2 |p0 - p3|)``; right eye 36-41, left 42-47.

    Args:
        landmarks: float ``[T, 68, 2]`` (or one frame ``[68, 2]``); NaN rows give NaN.

    Returns:
        float64 ``[T]`` (a 0-d array for one frame).
    """
    pts = np.asarray(landmarks, np.float64)
    if pts.shape[-2:] != (68, 2):
        raise ValueError(f"eye_aspect_ratio needs [T, 68, 2] landmarks, got shape {pts.shape}")

    def one_eye(eye: np.ndarray) -> np.ndarray:
        a = np.linalg.norm(eye[..., 1, :] - eye[..., 5, :], axis=-1)
        b = np.linalg.norm(eye[..., 2, :] - eye[..., 4, :], axis=-1)
        c = np.linalg.norm(eye[..., 0, :] - eye[..., 3, :], axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (a + b) / (2.0 * c)

    return (one_eye(pts[..., RIGHT_EYE, :]) + one_eye(pts[..., LEFT_EYE, :])) / 2.0


INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))  # upper and lower inner-lip points facing each other


def mouth_opening(landmarks: np.ndarray, normalise: Literal["inter-ocular", "mouth-width"] = "inter-ocular") -> np.ndarray:
    """Inner-lip height per frame: mean distance of the points 61-67, 62-66, 63-65, over a face-size length.

    Args:
        landmarks: float ``[T, 68, 2]`` (or one frame ``[68, 2]``); NaN rows give NaN.
        normalise: ``"inter-ocular"`` divides by the distance of the outer eye corners 36 and 45 (does not move
            with speech); ``"mouth-width"`` by the distance of the mouth corners 48 and 54.

    Returns:
        float64 ``[T]`` (a 0-d array for one frame): 0 for a closed mouth.
    """
    pts = np.asarray(landmarks, np.float64)
    if pts.shape[-2:] != (68, 2):
        raise ValueError(f"mouth_opening needs [T, 68, 2] landmarks, got shape {pts.shape}")
    corners = {"inter-ocular": (36, 45), "mouth-width": (48, 54)}
    if normalise not in corners:
        raise ValueError(f"mouth_opening normalise must be 'inter-ocular' or 'mouth-width', got {normalise!r}")
    upper, lower = [list(side) for side in zip(*INNER_LIP_PAIRS, strict=True)]
    height = np.linalg.norm(pts[..., upper, :] - pts[..., lower, :], axis=-1).mean(axis=-1)
    a, b = corners[normalise]
    with np.errstate(divide="ignore", invalid="ignore"):
        return height / np.linalg.norm(pts[..., a, :] - pts[..., b, :], axis=-1)
