"""dlib's face-recognition ResNet read into torch: the same descriptors as dlib's ``compute_face_descriptor``."""

from __future__ import annotations

from pathlib import Path

import dlib
import numpy as np
import pytest
import torch

from bench.faces import models_dir, track
from bench.faces.descriptor_net import DescriptorNet, _add_padded, read_weights
from bench.faces.detect import dlib_model
from bench.faces.embedding import _detections, descriptors, face_chips
from bench.media import Clip

WEIGHTS = "dlib_face_recognition_resnet_model_v1.dat"


def test_descriptors_equal_dlib_on_real_faces(grid_clips: dict[str, Clip]) -> None:
    """Every 10th frame of the four GRID clips (32 faces, four speakers), batched as ACD embeds them."""
    model = dlib.face_recognition_model_v1(str(models_dir() / WEIGHTS))
    images, boxes, points, shapes = [], [], [], []
    for clip in grid_clips.values():
        face_track = track(clip)
        for t in range(0, clip.num_frames, 10):
            images.append(clip.frames[t])
            boxes.append(face_track.boxes[t])
            points.append(face_track.landmarks[t])
            shapes.append(_detections(boxes[-1], points[-1]))
    ours = descriptors(images, boxes, points)
    expected = np.array([np.asarray(d[0]) for d in model.compute_face_descriptor(images, shapes, 0, 0.25)])
    assert ours.shape == (len(images), 128) == expected.shape and len(images) >= 30
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-6)  # measured <= 4e-7 (float32 summation order)
    assert np.abs(ours - expected).max() > 0  # a real second implementation, not a call of dlib's


def test_one_face_alone_equals_the_same_face_in_a_batch(grid_clips: dict[str, Clip]) -> None:
    clip = grid_clips["lrwp9a"]
    face_track = track(clip)
    chips = face_chips([clip.frames[t] for t in (0, 40)], [face_track.boxes[t] for t in (0, 40)],
                       [face_track.landmarks[t] for t in (0, 40)])  # fmt: skip
    with torch.inference_mode():
        batch = dlib_model("descriptor")(torch.from_numpy(chips)).numpy()
        alone = dlib_model("descriptor")(torch.from_numpy(chips[1:])).numpy()
    np.testing.assert_allclose(alone[0], batch[1], rtol=0, atol=1e-6)


def test_shortcut_addition_pads_the_smaller_tensor_with_zeros_at_the_end() -> None:
    small = torch.ones(1, 1, 1, 2)
    large = torch.arange(12.0).reshape(1, 2, 2, 3)
    expected = large.clone()
    expected[0, 0, 0, :2] += 1
    torch.testing.assert_close(_add_padded(small, large), expected)
    torch.testing.assert_close(_add_padded(large, small), expected)


def test_weights_from_another_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="shape_predictor_68_face_landmarks.dat: not dlib's face-recognition ResNet"):
        read_weights(models_dir() / "shape_predictor_68_face_landmarks.dat")
    junk = tmp_path / "junk.dat"
    junk.write_bytes(b"\x01\x05con_4" + b"\x00" * 64)
    with pytest.raises(ValueError, match="junk.dat: unknown dlib tensor version"):
        DescriptorNet(junk)
