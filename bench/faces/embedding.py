"""dlib's 128-d face descriptor (ResNet, ``dlib_face_recognition_resnet_model_v1.dat``) per frame and per image.

The descriptor is computed on dlib's own aligned 150x150 face chip built from the tracked 68 landmarks (padding 0.25,
no jitter). Two faces of the same person are usually closer than 0.6 (Euclidean), dlib's recommended threshold.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from typing import Any

import numpy as np

from bench.faces.cache import load_or_compute
from bench.faces.detect import auto_upsample, detect_faces, dlib_model
from bench.faces.landmarks import predict_landmarks
from bench.faces.tracking import TrackSettings, track
from bench.media import Clip

EMBED_DIM = 128
_BATCH = 16
_IMAGE_CACHE: dict[tuple, np.ndarray] = {}


class FaceNotFoundError(ValueError):
    """No face was found in an image that must contain one (e.g. the identity image)."""


def _detections(box: np.ndarray, points: np.ndarray) -> Any:
    """A dlib ``full_object_detections`` holding one face (box and 68 points)."""
    import dlib

    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    rect = dlib.rectangle(x0, y0, max(x0, x1 - 1), max(y0, y1 - 1))
    out = dlib.full_object_detections()
    out.append(dlib.full_object_detection(rect, [dlib.point(int(round(x)), int(round(y))) for x, y in points]))
    return out


def descriptors(images: list[np.ndarray], boxes: list[np.ndarray], points: list[np.ndarray]) -> np.ndarray:
    """Descriptors float32 ``[N, 128]`` of one face per RGB image, given its box and 68 landmarks."""
    model = dlib_model("descriptor")
    out = np.zeros((len(images), EMBED_DIM), np.float32)
    for start in range(0, len(images), _BATCH):
        stop = min(start + _BATCH, len(images))
        batch = [np.ascontiguousarray(images[i]) for i in range(start, stop)]
        shapes = [_detections(boxes[i], points[i]) for i in range(start, stop)]
        result = model.compute_face_descriptor(batch, shapes, 0, 0.25)
        out[start:stop] = np.array([np.asarray(r[0]) for r in result], np.float32)
    return out


def embed(
    clip: Clip, settings: TrackSettings | None = None, *, stride: int = 1, cache: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """128-d descriptors of frames ``0, stride, 2 * stride, ...``: float32 ``[N, 128]`` (NaN where no face), ``found``.

    With ``stride=1`` (default) every frame is embedded, ``N = T``. Memoised on the clip and cached on disk like
    :func:`bench.faces.track`. A descriptor costs about 0.1-0.25 s on one CPU core.
    """
    settings = settings or TrackSettings()
    if stride < 1:
        raise ValueError(f"{clip.name}: embedding stride must be >= 1, got {stride}")

    def compute() -> dict[str, np.ndarray]:
        face_track = track(clip, settings, cache=cache)
        frames = np.arange(0, clip.num_frames, stride)
        found = face_track.found[frames]
        out = np.full((len(frames), EMBED_DIM), np.nan, np.float32)
        index = frames[found]
        if index.size:
            out[found] = descriptors(
                [clip.frames[t] for t in index], [face_track.boxes[t] for t in index], [face_track.landmarks[t] for t in index]
            )
        return {"embeddings": out, "found": found}

    arrays = load_or_compute(clip, "embed-dlib", {**asdict(settings), "stride": stride}, compute, cache)
    return arrays["embeddings"], arrays["found"].astype(bool)


def embed_image(image: np.ndarray, upsample: int | None = None) -> np.ndarray:
    """The 128-d descriptor float32 ``[128]`` of the most confident face in an RGB uint8 ``[H, W, 3]`` image.

    Results are kept for the last 256 images (keyed by their bytes): one identity image usually serves many items.

    Raises:
        ValueError: the image is not uint8 RGB.
        FaceNotFoundError: no face was detected.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"embed_image needs a uint8 [H, W, 3] RGB image, got {image.dtype} {image.shape}")
    key = (hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest(), image.shape, upsample)
    if key not in _IMAGE_CACHE:
        steps = auto_upsample(*image.shape[:2]) if upsample is None else upsample
        boxes, _ = detect_faces(image, "hog", steps)
        if len(boxes) == 0:
            raise FaceNotFoundError(f"no face detected in the {image.shape[1]}x{image.shape[0]} image")
        points = predict_landmarks(image, boxes[0], TrackSettings().landmark_min_size)
        if len(_IMAGE_CACHE) >= 256:
            _IMAGE_CACHE.pop(next(iter(_IMAGE_CACHE)))
        _IMAGE_CACHE[key] = descriptors([image], [boxes[0]], [points])[0]
    return _IMAGE_CACHE[key].copy()
