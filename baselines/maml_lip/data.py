"""maml_lip's data path: lip crops from dlib landmarks, LMS audio features, 16-frame samples, lip paste-back.

Lip box (Chen et al., SPECS D): a square of side ``lip_scale * max(w, h)`` of the box of landmarks 48-67, around the
mouth centroid. Choice: one box per clip, from the median centroid and size over the frames with a face, so that
the crop does not jitter and the paste-back is the exact inverse of the crop. Crops are resized to ``lip_size``.

LMS (V-B): 16 kHz audio, mel power spectrogram with 128 bands, FFT window 1024, hop 512 (librosa, centred), in dB
(``power_to_db``, ref 1, amin 1e-10, top_db 80 over the utterance, as Chen's ``logamplitude``) divided by 20. A
sample of frames ``[s, s + 16)`` takes the feature steps from ``round(s / fps * rate)``, ``ceil(16 / fps * rate)``
of them (20 LMS columns at 31.25 per second; past the end, the last column repeats).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from bench.audio import resample
from bench.faces import MOUTH, track
from bench.media import Clip

LMS_DB_SCALE = 20.0  # dB -> network input (CHOICE)


@dataclass(frozen=True)
class LipBox:
    """A square lip box in frame coordinates: centre and side (pixels)."""

    cx: float
    cy: float
    side: float

    def matrix(self, size: int) -> np.ndarray:
        """The 2x3 affine map from the frame to the ``size x size`` crop."""
        s = size / self.side
        return np.array([[s, 0.0, size / 2 - s * self.cx], [0.0, s, size / 2 - s * self.cy]])


def lip_box(mouth: np.ndarray, found: np.ndarray, scale: float) -> LipBox | None:
    """The clip's lip box from mouth landmarks ``[T, 20, 2]`` on the frames where ``found``; None without a face."""
    if not found.any():
        return None
    points = mouth[found].astype(np.float64)
    centre = np.median(points.mean(axis=1), axis=0)
    extent = np.median(points.max(axis=1) - points.min(axis=1), axis=0)
    return LipBox(float(centre[0]), float(centre[1]), float(scale * max(extent[0], extent[1], 1.0)))


def crop_lips(frames: np.ndarray, box: LipBox, size: int) -> np.ndarray:
    """Lip crops uint8 ``[T, size, size, 3]`` of frames ``[T, H, W, 3]`` (area resampling; edges replicated)."""
    matrix = box.matrix(size)
    return np.stack([cv2.warpAffine(f, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
                     for f in frames])  # fmt: skip


def clip_lips(clip: Clip, size: int, scale: float) -> tuple[np.ndarray, LipBox]:
    """The clip's lip crops and box (memoised on the clip).

    Raises:
        ValueError: dlib finds no face on any frame (named by the clip).
    """

    def compute() -> tuple[np.ndarray, LipBox]:
        face_track = track(clip)
        box = lip_box(face_track.landmarks[:, MOUTH], face_track.found, scale)
        if box is None:
            raise ValueError(f"maml_lip: no face found in {clip.name} ({face_track.describe_missing()}); lips are cut "
                             f"around dlib's mouth landmarks")  # fmt: skip
        return crop_lips(clip.frames, box, size), box

    return clip.memo(("maml_lip.lips", size, scale), compute)


def paste_lips(image: np.ndarray, lips: np.ndarray, box: LipBox, feather: float = 0.15) -> np.ndarray:
    """Frames ``[T, H, W, 3]``: the identity image with the generated lips ``[T, L, L, 3]`` blended into ``box``.

    The inverse of the crop's affine map; the blending weight is 1 inside the box and falls linearly to 0 over the
    outer ``feather`` of its side, so no seam shows.
    """
    size = lips.shape[1]
    ramp = np.minimum(np.arange(size) + 0.5, size - np.arange(size) - 0.5) / max(feather * size, 1e-6)
    weight = np.clip(np.minimum.outer(ramp, ramp), 0.0, 1.0).astype(np.float32)
    h, w = image.shape[:2]
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    matrix = box.matrix(size)
    alpha = cv2.warpAffine(weight, matrix, (w, h), flags=flags)[..., None]
    out = np.empty((len(lips), h, w, 3), np.uint8)
    base = image.astype(np.float32)
    for t, lip in enumerate(lips):
        placed = cv2.warpAffine(lip, matrix, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        out[t] = np.clip(alpha * placed + (1.0 - alpha) * base + 0.5, 0, 255).astype(np.uint8)
    return out


def lms_features(audio: np.ndarray, sample_rate: int, n_mels: int = 128, n_fft: int = 1024, hop: int = 512) -> np.ndarray:
    """The LMS sequence float32 ``[steps, n_mels]`` at ``16000 / hop`` steps per second."""
    import librosa

    samples = resample(audio, sample_rate, 16000).astype(np.float32)
    if samples.size < n_fft // 2 + 1:  # reflect padding of the centred STFT needs half a window
        samples = np.pad(samples, (0, n_fft // 2 + 1 - samples.size))
    mel = librosa.feature.melspectrogram(y=samples, sr=16000, n_fft=n_fft, hop_length=hop, n_mels=n_mels, power=2.0)
    db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=80.0)
    return np.ascontiguousarray((db / LMS_DB_SCALE).T, dtype=np.float32)


def window_steps(window: int, fps: float, rate: float) -> int:
    """Feature steps per sample of ``window`` frames: ``ceil(window / fps * rate)`` (20 for 16 frames of LMS)."""
    return int(math.ceil(window / fps * rate - 1e-9))


def feature_windows(features: np.ndarray, rate: float, starts: np.ndarray, fps: float, window: int) -> np.ndarray:
    """The feature window of each sample start frame: float32 ``[S, steps, dims]``; the last step repeats past the end."""
    steps = window_steps(window, fps, rate)
    first = np.round(np.asarray(starts, np.float64) / fps * rate).astype(np.int64)
    index = np.clip(first[:, None] + np.arange(steps)[None, :], 0, len(features) - 1)
    return np.ascontiguousarray(features[index], dtype=np.float32)


def sample_starts(num_frames: int, window: int, stride: int) -> np.ndarray:
    """Start frames of the samples of a clip: every ``stride`` frames while a whole window fits (V-B)."""
    if num_frames < window:
        return np.zeros(0, np.int64)
    return np.arange(0, num_frames - window + 1, stride, dtype=np.int64)


def generation_starts(num_frames: int, window: int) -> np.ndarray:
    """Windows that cover ``num_frames`` at generation: back to back, the last one ending on the last frame."""
    if num_frames <= window:
        return np.zeros(1, np.int64)
    starts = np.arange(0, num_frames - window + 1, window, dtype=np.int64)
    if starts[-1] + window < num_frames:
        starts = np.append(starts, num_frames - window)
    return starts


def to_video(lips: np.ndarray) -> torch.Tensor:
    """uint8 ``[..., T, L, L, 3]`` -> float ``[..., 3, T, L, L]`` in [-1, 1]."""
    tensor = torch.from_numpy(np.ascontiguousarray(lips)).float().div_(127.5).sub_(1.0)
    return tensor.movedim(-1, -4)


def from_video(video: torch.Tensor) -> np.ndarray:
    """Float ``[3, T, L, L]`` in [-1, 1] -> uint8 ``[T, L, L, 3]``."""
    scaled = video.detach().float().add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)
    return scaled.movedim(0, -1).cpu().numpy()
