"""Stage 1's inputs and targets: logfbank audio features, head pose, and nose-centred landmarks (sections 2.1, 3.1).

* Audio: ``python_speech_features.logfbank`` with 26 filters at 100 frames per second (25 ms windows), so a
  window of 64 video frames at 25 fps spans 256 feature frames; the 4 feature frames of each video frame are
  stacked into one 104-d vector per frame (CHOICE: the paper does not say how the 256 frames meet the 64).
* Head pose: ``cv2.solvePnP`` of nine rigid landmarks (nose 27, 30, 31, 33, 35 and the eye corners 36, 39, 42, 45)
  against a generic 3D face (:data:`GENERIC_FACE_3D`: ``bench.faces.MEAN_FACE`` in x and y, with depths set from
  the proportions of the usual 6-point head-pose model), pinhole camera with the focal length equal to the image
  width; returned as (pitch, yaw, roll) in radians. Mouth and jaw points are left out so that the pose carries no
  trace of the speech.
* Landmarks: relative to the nose centre (mean of points 27-35) and divided by the face scale (distance of the
  outer eye corners 36 and 45), rotations kept (section 3.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from baselines.cascaded_tcn.config import CHEEK_POINTS, FBANK_DIM, FBANK_FPS, MOUTH_POINTS, TALKING_POINTS
from bench.faces import MEAN_FACE

POSE_POINTS = (27, 30, 31, 33, 35, 36, 39, 42, 45)
_DEPTHS = (0.13, 0.0, 0.08, 0.06, 0.08, 0.185, 0.16, 0.16, 0.185)  # behind the nose tip, in face widths
GENERIC_FACE_3D = np.column_stack([MEAN_FACE[list(POSE_POINTS)] - [0.5, 0.0], _DEPTHS]).astype(np.float64)
NOSE = slice(27, 36)
FEATURES_PER_FRAME = 4  # feature frames stacked per video frame (100 / 25)
LOG_FLOOR = -16.0  # floor of the log filterbank energies (CHOICE, see logfbank_features)


def logfbank_features(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """``python_speech_features.logfbank`` (26 filters, 25 ms / 10 ms), float32 ``[N, 26]``, floored at ``LOG_FLOOR``.

    psf floors filterbank energies at machine epsilon, so digital silence gives -36 where a recording's quiet noise
    floor gives about -16; flooring the log energies at -16 (CHOICE: about synthgrid's noise floor; 8 % of its
    speech values lie below) makes the two alike: a silent stretch of driving audio reads as the silences of training.
    """
    import python_speech_features as psf

    nfft = 1 << int(np.ceil(np.log2(0.025 * sample_rate)))  # at least one window (512 at 16 kHz, psf's default)
    energies, _ = psf.fbank(np.asarray(samples, np.float64), sample_rate, winlen=0.025, winstep=1.0 / FBANK_FPS,
                            nfilt=FBANK_DIM, nfft=nfft)  # fmt: skip
    return np.maximum(np.log(energies), LOG_FLOOR).astype(np.float32)


def frame_audio(feats: np.ndarray, num_frames: int, fps: float) -> np.ndarray:
    """Stack the feature frames under each video frame: float32 ``[T, 4 * 26]``.

    Video frame ``t`` takes feature rows ``floor((t + j / 4) * 100 / fps)`` for ``j = 0..3`` (rows ``4t .. 4t + 3``
    at 25 fps), clipped to the last row.
    """
    offsets = (np.arange(num_frames)[:, None] + np.arange(FEATURES_PER_FRAME)[None] / FEATURES_PER_FRAME) * FBANK_FPS / fps
    rows = np.minimum(np.floor(offsets + 1e-9).astype(np.int64), len(feats) - 1)
    return np.ascontiguousarray(feats[rows].reshape(num_frames, -1))


def head_pose(landmarks: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """(pitch, yaw, roll) in radians per frame, float32 ``[T, 3]``, from ``[T, 68, 2]`` landmarks by solvePnP."""
    height, width = frame_size
    camera = np.array([[width, 0, width / 2], [0, width, height / 2], [0, 0, 1]], np.float64)
    out = np.zeros((len(landmarks), 3), np.float32)
    for t, points in enumerate(np.asarray(landmarks, np.float64)):
        image_points = np.ascontiguousarray(points[list(POSE_POINTS)])
        ok, rvec, tvec = cv2.solvePnP(GENERIC_FACE_3D, image_points, camera, None, flags=cv2.SOLVEPNP_EPNP)
        if ok:
            ok, rvec, tvec = cv2.solvePnP(GENERIC_FACE_3D, image_points, camera, None, rvec, tvec, True,
                                          cv2.SOLVEPNP_ITERATIVE)  # fmt: skip
        if not ok:
            raise ValueError(f"cascaded_tcn: head pose of frame {t} could not be estimated (solvePnP failed)")
        rotation, _ = cv2.Rodrigues(rvec)
        out[t] = (np.arctan2(rotation[2, 1], rotation[2, 2]), np.arcsin(np.clip(-rotation[2, 0], -1, 1)),
                  np.arctan2(rotation[1, 0], rotation[0, 0]))  # fmt: skip
    return out


def fill_missing(landmarks: np.ndarray, who: str) -> np.ndarray:
    """Frames without a face (NaN) get landmarks interpolated linearly in time from the nearest found frames."""
    points = np.asarray(landmarks, np.float64).copy()
    found = np.isfinite(points).all(axis=(1, 2))
    if not found.any():
        raise ValueError(f"{who}: no face found on any frame")
    if not found.all():
        t = np.arange(len(points))
        flat = points.reshape(len(points), -1)
        for k in range(flat.shape[1]):
            flat[:, k] = np.interp(t, t[found], flat[found, k])
    return points.astype(np.float32)


@dataclass
class FaceFrames:
    """A template's per-frame geometry: head pose, nose centre, face scale and nose-centred landmarks."""

    pose: np.ndarray  # float32 [T, 3]
    centre: np.ndarray  # float32 [T, 2], nose centre in pixels
    scale: np.ndarray  # float32 [T], outer-eye-corner distance in pixels
    normalised: np.ndarray  # float32 [T, 68, 2]

    @property
    def cheek(self) -> np.ndarray:
        """The 8 cheek keypoints, float32 ``[T, 16]``."""
        return self.normalised[:, list(CHEEK_POINTS)].reshape(len(self.pose), -1)

    @property
    def mouth(self) -> np.ndarray:
        """The 20 mouth keypoints, float32 ``[T, 40]``."""
        return self.normalised[:, list(MOUTH_POINTS)].reshape(len(self.pose), -1)

    @property
    def talking(self) -> np.ndarray:
        """The 29 talking-related landmarks (20 mouth + 9 jaw), float32 ``[T, 58]``."""
        return self.normalised[:, list(TALKING_POINTS)].reshape(len(self.pose), -1)

    def recover(self, talking: np.ndarray) -> np.ndarray:
        """Normalised talking landmarks ``[T, 58]`` (or ``[T, 40]``, mouth only) back in pixels, ``[T, K, 2]``."""
        points = np.asarray(talking, np.float32).reshape(len(self.pose), -1, 2)
        return points * self.scale[:, None, None] + self.centre[:, None]


def face_frames(landmarks: np.ndarray, frame_size: tuple[int, int]) -> FaceFrames:
    """Pose and normalised landmarks of ``[T, 68, 2]`` pixel landmarks (section 3.1)."""
    points = np.asarray(landmarks, np.float32)
    centre = points[:, NOSE].mean(axis=1)
    scale = np.linalg.norm(points[:, 45] - points[:, 36], axis=1)
    if not np.all(scale > 0):
        raise ValueError("cascaded_tcn: degenerate landmarks (outer eye corners coincide)")
    normalised = (points - centre[:, None]) / scale[:, None, None]
    return FaceFrames(head_pose(points, frame_size), centre, scale, normalised.astype(np.float32))
