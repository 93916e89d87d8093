"""Anchor rows: ground truth, a static frame, and the real video with shifted audio."""

from __future__ import annotations

import numpy as np
import pytest

import baselines
from baselines.anchors.rows import advance_frames
from baselines.base import Budget, frame_count
from bench.media import Clip


@pytest.mark.parametrize("name", ["ground_truth", "static_frame", "shifted_audio"])
def test_anchors_do_not_train(name, grid_faces):
    anchor = baselines.create(name)
    assert anchor.trainable is False
    report = anchor.fit(grid_faces, Budget(steps=1000))
    assert (report.steps, report.losses) == (0, {})


def test_ground_truth_is_the_reference(grid_faces):
    real = grid_faces[0]
    out = baselines.create("ground_truth").generate(real.frames[0], real.audio, real.sample_rate, reference=real)
    assert out is real
    silent = Clip(real.frames, real.fps)
    out = baselines.create("ground_truth").generate(real.frames[0], real.audio, real.sample_rate, reference=silent)
    assert np.array_equal(out.frames, real.frames) and np.array_equal(out.audio, real.audio)
    with pytest.raises(ValueError, match="reference"):
        baselines.create("ground_truth").generate(real.frames[0], real.audio, real.sample_rate)


def test_static_frame_on_real_grid(grid_clips):
    real = grid_clips[0]
    identity = real.frames[10]
    out = baselines.create("static_frame").generate(identity, real.audio, real.sample_rate, fps=25.0)
    expected = frame_count(real.audio.size, real.sample_rate, 25.0)
    assert expected == int(np.floor(real.audio.size / real.sample_rate * 25.0))
    assert out.frames.shape == (expected, *identity.shape) and out.fps == 25.0
    assert all(np.array_equal(frame, identity) for frame in out.frames)
    assert np.array_equal(out.audio, real.audio) and out.sample_rate == real.sample_rate
    assert out.meta["baseline"] == "static_frame"


def test_static_frame_length_follows_fps():
    audio = np.full(16000 * 2, 0.1, np.float32)
    out = baselines.create("static_frame").generate(np.zeros((4, 4, 3), np.uint8), audio, 16000, fps=30.0)
    assert out.num_frames == 60 and out.fps == 30.0


@pytest.mark.parametrize("shift", [5, -3, 0])
def test_shifted_audio_shows_the_real_frames_early_over_unchanged_audio(grid_faces, shift):
    real = grid_faces[1]
    out = baselines.create("shifted_audio", shift_frames=shift).generate(
        real.frames[0], real.audio, real.sample_rate, reference=real
    )
    t = real.num_frames
    assert out.num_frames == t and np.array_equal(out.audio, real.audio)
    for i in (0, 1, t // 2, t - 2, t - 1):  # frame i shows real frame i + shift, the end frames held
        assert np.array_equal(out.frames[i], real.frames[min(max(i + shift, 0), t - 1)])
    assert out.meta["audio_shift_frames"] == shift


def test_advance_frames_edges():
    frames = np.arange(1, 6)
    assert advance_frames(frames, 2).tolist() == [3, 4, 5, 5, 5]
    assert advance_frames(frames, -2).tolist() == [1, 1, 1, 2, 3]
    assert advance_frames(frames, 9).tolist() == [5] * 5
    with pytest.raises(ValueError, match="shift_frames"):
        baselines.create("shifted_audio", shift_frames=1.5)
