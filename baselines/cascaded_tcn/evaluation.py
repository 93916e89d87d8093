"""The landmark regression measure of Table 1: MSE of the predicted mouth and jawline against the true landmarks.

For each test clip, the template is the clip itself (the paper's setting: the head pose and cheek keypoints of the
target frames are inputs), its true 68 landmarks (``clip.meta["landmarks"]``, e.g. synthgrid's ground truth) give
the pose, the cheek points and the targets, and the clip's audio drives the mapping. Errors are taken in the
mapping's own coordinates, nose-centred and divided by the face scale (outer eye corner distance = 1): per clip,
the mean over frames, points and both coordinates of the squared difference, then the mean over clips (CHOICE: the
paper does not say how its normalised MSE is scaled). Mouth: the 20 points 48-67; jawline: the 9 points 4-12
(NaN for the LSTM / BiLSTM baselines, which predict the mouth only). Timing: the mapping's forward pass on
5 minutes of audio features (7500 frames at 25 fps), as the paper's "inference time".
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from baselines.cascaded_tcn.config import JAW_POINTS, MOUTH_POINTS
from baselines.cascaded_tcn.features import face_frames
from baselines.cascaded_tcn.model import AUDIO_DIM, CHEEK_DIM
from bench.media import Clip


def landmark_mse(model: Any, clips: Sequence[Clip]) -> dict[str, float]:
    """Mean squared landmark error of ``model`` (a fitted ``CascadedTCN``) on clips with true landmarks.

    Returns:
        ``{"mouth": ..., "jaw": ..., "clips": n, "frames": total}`` (jaw NaN when the mapping has no jaw).

    Raises:
        ValueError: a clip has no ``meta["landmarks"]`` of shape ``[T, 68, 2]`` or no audio.
    """
    predicted_points = list(model.predicted_points)
    mouth_errors: list[float] = []
    jaw_errors: list[float] = []
    frames = 0
    for clip in clips:
        truth = clip.meta.get("landmarks")
        if truth is None or np.shape(truth) != (clip.num_frames, 68, 2) or clip.audio is None:
            raise ValueError(f"landmark_mse: clip {clip.name} needs audio and meta['landmarks'] [T, 68, 2]")
        geometry = face_frames(np.asarray(truth, np.float32), clip.size)
        predicted = model.map_landmarks(geometry, clip.audio, clip.sample_rate, clip.fps).reshape(clip.num_frames, -1, 2)
        where = {point: k for k, point in enumerate(predicted_points)}
        for points, errors in ((MOUTH_POINTS, mouth_errors), (JAW_POINTS, jaw_errors)):
            if all(p in where for p in points):
                diff = predicted[:, [where[p] for p in points]] - geometry.normalised[:, list(points)]
                errors.append(float(np.mean(diff.astype(np.float64) ** 2)))
        frames += clip.num_frames
    return {"mouth": float(np.mean(mouth_errors)), "jaw": float(np.mean(jaw_errors)) if jaw_errors else float("nan"),
            "clips": len(clips), "frames": frames}  # fmt: skip


@torch.no_grad()
def inference_seconds(model: Any, minutes: float = 5.0, fps: float = 25.0, repeats: int = 3) -> float:
    """Fastest of ``repeats`` wall times of the mapping's forward pass on ``minutes`` of (random) features."""
    frames = int(round(minutes * 60 * fps))
    generator = torch.Generator().manual_seed(0)
    audio = torch.randn(1, frames, AUDIO_DIM, generator=generator).to(model.device)
    pose = torch.zeros(1, frames, 3, device=model.device)
    cheek = torch.zeros(1, frames, CHEEK_DIM, device=model.device)
    model.mapping.eval()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.mapping(audio, pose, cheek)
        times.append(time.perf_counter() - start)
    return min(times)
