"""dlib's 128-d face descriptor (ResNet, ``dlib_face_recognition_resnet_model_v1.dat``) per frame and per image.

The descriptor is computed on dlib's own aligned 150x150 face chip built from the tracked 68 landmarks (padding 0.25,
no jitter), by dlib's network run in torch (:mod:`bench.faces.descriptor_net`; equal to dlib's within 1e-6). Two
faces of the same person are usually closer than 0.6 (Euclidean), dlib's recommended threshold.
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
CHIP = 150  # dlib's chip size for its descriptor
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


def face_chips(images: list[np.ndarray], boxes: list[np.ndarray], points: list[np.ndarray]) -> np.ndarray:
    """The aligned 150x150 face chips of dlib, uint8 ``[N, 150, 150, 3]`` (padding 0.25), what its descriptor looks at."""
    import dlib

    chips = np.empty((len(images), CHIP, CHIP, 3), np.uint8)
    for i, (image, box, face) in enumerate(zip(images, boxes, points, strict=True)):
        chips[i] = dlib.get_face_chip(np.ascontiguousarray(image), _detections(box, face)[0], size=CHIP, padding=0.25)
    return chips


def descriptors(images: list[np.ndarray], boxes: list[np.ndarray], points: list[np.ndarray]) -> np.ndarray:
    """Descriptors float32 ``[N, 128]`` of one face per RGB image, given its box and 68 landmarks.

    dlib's chips and dlib's network weights, run in torch in batches: within 1e-6 of dlib's own
    ``compute_face_descriptor`` and an order of magnitude faster (:mod:`bench.faces.descriptor_net`).
    """
    import torch

    chips = face_chips(images, boxes, points)
    net = dlib_model("descriptor")
    out = np.zeros((len(images), EMBED_DIM), np.float32)
    with torch.inference_mode():
        for start in range(0, len(chips), _BATCH):
            out[start : start + _BATCH] = net(torch.from_numpy(chips[start : start + _BATCH])).numpy()
    return out


def embed(
    clip: Clip, settings: TrackSettings | None = None, *, stride: int = 1, cache: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """128-d descriptors of frames ``0, stride, 2 * stride, ...``: float32 ``[N, 128]`` (NaN where no face), ``found``.

    With ``stride=1`` (default) every frame is embedded, ``N = T``. Memoised on the clip and cached on disk like
    :func:`bench.faces.track`. A descriptor costs about 5-10 ms on the CPU (dlib's own: 75-100 ms).
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

    arrays = load_or_compute(clip, "embed-dlib-torch", {**asdict(settings), "stride": stride}, compute, cache)
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
