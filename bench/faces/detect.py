"""dlib face detection: the HOG detector by default, the CNN (MMOD) detector as an option.

Model files come from the PyPI package ``face-recognition-models`` (located with ``importlib.util.find_spec``, never
imported, since importing it needs ``pkg_resources``). Frames are converted to grayscale before detection, as in
Chen et al.'s LMD code and Vougioukas' blink detector: on RGB input dlib's HOG misses faces that it finds on the
grayscale frame (e.g. frame 0 of GRID ``bbaf2n``).
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bench.media.luma import luma

DetectorName = Literal["hog", "cnn"]

_LOCK = threading.Lock()


def models_dir() -> Path:
    """The folder of dlib model files shipped in ``face-recognition-models``.

    Raises:
        FileNotFoundError: the package is not installed.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "the dlib model files come from the package face-recognition-models: pip install face-recognition-models"
        )
    return Path(spec.origin).parent / "models"


def model_file(filename: str) -> Path:
    """Path of one dlib model file; ``FileNotFoundError`` naming it when missing."""
    path = models_dir() / filename
    if not path.is_file():
        raise FileNotFoundError(f"dlib model file {filename} not found in {path.parent} (face-recognition-models)")
    return path


@functools.cache
def _dlib_model(kind: str) -> Any:
    import dlib

    if kind == "hog":
        return frontal_detector()
    if kind == "cnn":
        return dlib.cnn_face_detection_model_v1(str(model_file("mmod_human_face_detector.dat")))
    if kind == "landmarks":
        return dlib.shape_predictor(str(model_file("shape_predictor_68_face_landmarks.dat")))
    if kind == "descriptor":  # dlib's face-recognition network, run in torch (bench.faces.descriptor_net)
        from bench.faces.descriptor_net import DescriptorNet

        return DescriptorNet(model_file("dlib_face_recognition_resnet_model_v1.dat")).eval()
    raise ValueError(f"unknown dlib model {kind!r}")


def frontal_detector() -> Any:
    """The frontal HOG face detector of dlib, loaded from a copy saved in the cache on first use.

    ``get_frontal_face_detector`` decodes the detector from text in every process (0.3-0.4 s, a twentieth of a
    command-line evaluation of GRID clips); the saved binary copy loads in about 1 ms and detects exactly the same
    faces (tests/faces/test_detect.py). The copy is keyed by the dlib version; a damaged one is rebuilt, and an
    unwritable cache only costs the speed.
    """
    import dlib

    from bench.cache import cache_dir
    from bench.io import atomic_path

    try:
        path = cache_dir("dlib") / f"frontal_face_detector-{dlib.__version__}.svm"
    except OSError:  # no cache folder can be made
        return dlib.get_frontal_face_detector()
    if path.is_file():
        try:
            return dlib.fhog_object_detector(str(path))
        except RuntimeError:
            pass  # a damaged copy: rebuilt below
    detector = dlib.get_frontal_face_detector()
    try:
        with atomic_path(path) as tmp:
            detector.save(str(tmp))
    except OSError:
        pass
    return detector


def dlib_model(kind: str) -> Any:
    """A process-wide dlib model (``hog``, ``cnn``, ``landmarks``; ``descriptor``: dlib's network in torch), loaded once."""
    with _LOCK:
        return _dlib_model(kind)


def to_gray(frame: np.ndarray) -> np.ndarray:
    """uint8 grayscale of an RGB frame (ITU-R 601 weights, OpenCV rounding)."""
    if frame.ndim == 2:
        return np.ascontiguousarray(frame, dtype=np.uint8)
    return luma(np.asarray(frame[..., :3], dtype=np.uint8))


def auto_upsample(height: int, width: int, min_side: int = 256) -> int:
    """Upsampling steps so that the short side reaches ``min_side``: HOG's window is 80 px, small clips need it."""
    steps, side = 0, min(height, width)
    while side * 2**steps < min_side and steps < 3:
        steps += 1
    return steps


def detect_faces(
    image: np.ndarray, detector: DetectorName = "hog", upsample: int = 0, threshold: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Detect faces in one image.

    Args:
        image: uint8 ``[H, W, 3]`` RGB or ``[H, W]`` grayscale.
        detector: ``"hog"`` (dlib frontal HOG + linear SVM) or ``"cnn"`` (dlib MMOD CNN; slow on CPU).
        upsample: how many times dlib doubles the image before detecting.
        threshold: HOG score threshold (``adjust_threshold``; ignored by the CNN detector).

    Returns:
        Boxes float32 ``[N, 4]`` as ``(x0, y0, x1, y1)`` and scores float32 ``[N]``, best first.
    """
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"detect_faces needs a uint8 [H, W(, 3)] image, got {image.dtype} {image.shape}")
    if detector == "hog":
        rects, scores, _ = dlib_model("hog").run(to_gray(image), int(upsample), float(threshold))
        boxes = [(r.left(), r.top(), r.right() + 1, r.bottom() + 1) for r in rects]
    elif detector == "cnn":
        rgb = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
        found = dlib_model("cnn")(np.ascontiguousarray(rgb), int(upsample))
        boxes = [(d.rect.left(), d.rect.top(), d.rect.right() + 1, d.rect.bottom() + 1) for d in found]
        scores = [d.confidence for d in found]
    else:
        raise ValueError(f"unknown face detector {detector!r}; use 'hog' or 'cnn'")
    out = np.asarray(boxes, np.float32).reshape(-1, 4)
    conf = np.asarray(scores, np.float32).reshape(-1)
    order = np.argsort(-conf, kind="stable")
    return out[order], conf[order]


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0
