"""Crops that lip-reading and sync networks expect: LipNet mouth crops and SyncNet face-track crops.

Mouth crops (LipNet, rizkiarm/LipNet ``videos.py``, sizes of VIPL LipNet-PyTorch): each frame is scaled so that the
mouth width (points 48-67) plus ``pad`` on each side becomes ``width`` pixels, with the scale taken from the first
frame with a face and kept for the clip (as LipNet), and a ``width x height`` window is cut around the mouth centroid
of each frame. Deviation: LipNet multiplies the absolute x coordinates by ``1 -/+ pad``, which makes the padding
depend on where the mouth is in the frame; here the padding is ``pad`` times the mouth width on each side.

Face-track crops (syncnet_python ``run_pipeline.py crop_video``): box half-size ``s`` and centre smoothed by a
median filter of 13 frames; the frame is padded with value 110, and the window ``y in [cy - s, cy + s(1 + 2c)]``,
``x in [cx - s(1 + c), cx + s(1 + c)]`` with crop scale ``c = 0.4`` is resized to 224x224. Deviation: the boxes
come from dlib's HOG detector and landmark tracking, not S3FD; frames without a face take the box interpolated
from their neighbours and are flagged in ``found``.
"""

from __future__ import annotations

import cv2
import numpy as np

from bench.faces.landmarks import MOUTH
from bench.faces.tracking import TrackSettings, track
from bench.media import Clip

LIPNET_PAD = 0.19
SYNCNET_PAD_VALUE = 110
SYNCNET_MEDIAN = 13


def _interpolate(values: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Fill rows of ``[T, K]`` where ``found`` is False by linear interpolation (constant at the ends)."""
    index = np.flatnonzero(found)
    out = values.astype(np.float64).copy()
    for k in range(values.shape[1]):
        out[:, k] = np.interp(np.arange(len(values)), index, values[index, k])
    return out


def mouth_crops(
    clip: Clip, width: int = 128, height: int = 64, settings: TrackSettings | None = None, pad: float = LIPNET_PAD
) -> tuple[np.ndarray, np.ndarray]:
    """LipNet-style mouth crops uint8 ``[T, height, width, 3]`` and ``found`` ``[T]`` (black where no face)."""
    if width < 8 or height < 8 or pad < 0:
        raise ValueError(f"{clip.name}: mouth crop needs width, height >= 8 and pad >= 0, got {width}, {height}, {pad}")

    def compute() -> tuple[np.ndarray, np.ndarray]:
        face_track = track(clip, settings)
        found = face_track.found.copy()
        crops = np.zeros((clip.num_frames, height, width, 3), np.uint8)
        if not found.any():
            return crops, found
        mouth = face_track.landmarks[:, MOUTH].astype(np.float64)
        first = mouth[np.flatnonzero(found)[0]]
        mouth_width = max(float(np.ptp(first[:, 0])), 1.0)
        ratio = width / (mouth_width * (1.0 + 2.0 * pad))
        for t in np.flatnonzero(found):
            cx, cy = mouth[t].mean(axis=0)
            matrix = np.array([[ratio, 0.0, width / 2 - ratio * cx], [0.0, ratio, height / 2 - ratio * cy]])
            crops[t] = cv2.warpAffine(
                clip.frames[t], matrix, (width, height), flags=cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REPLICATE
            )
        return crops, found

    return clip.memo(("bench.faces.mouth_crops", width, height, settings, pad), compute)


def face_track_crops(
    clip: Clip, scale: float = 0.4, size: int = 224, settings: TrackSettings | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """SyncNet face-track crops uint8 ``[T, size, size, 3]`` and ``found`` ``[T]``; all black if no face at all."""
    if scale < 0 or size < 8:
        raise ValueError(f"{clip.name}: face-track crop needs scale >= 0 and size >= 8, got {scale}, {size}")

    def compute() -> tuple[np.ndarray, np.ndarray]:
        from scipy.signal import medfilt  # scipy.signal takes ~1 s to import; only SyncNet crops need it

        face_track = track(clip, settings)
        found = face_track.found.copy()
        crops = np.zeros((clip.num_frames, size, size, 3), np.uint8)
        if not found.any():
            return crops, found
        boxes = _interpolate(face_track.boxes, found)
        half = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) / 2
        cy, cx = (boxes[:, 1] + boxes[:, 3]) / 2, (boxes[:, 0] + boxes[:, 2]) / 2
        kernel = min(SYNCNET_MEDIAN, len(boxes) if len(boxes) % 2 else len(boxes) - 1)
        half, cy, cx = (medfilt(v, kernel_size=max(kernel, 1)) for v in (half, cy, cx))
        for t in range(clip.num_frames):
            bs = half[t]
            bsi = int(bs * (1 + 2 * scale))
            padded = np.pad(clip.frames[t], ((bsi, bsi), (bsi, bsi), (0, 0)), constant_values=SYNCNET_PAD_VALUE)
            my, mx = cy[t] + bsi, cx[t] + bsi
            top, left = max(int(my - bs), 0), max(int(mx - bs * (1 + scale)), 0)
            face = padded[top : int(my + bs * (1 + 2 * scale)), left : int(mx + bs * (1 + scale))]
            if face.size:
                crops[t] = cv2.resize(face, (size, size))
        return crops, found

    return clip.memo(("bench.faces.face_track_crops", scale, size, settings), compute)
