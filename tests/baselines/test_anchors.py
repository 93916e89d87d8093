"""Anchor rows: ground truth, a static frame, and the real video with shifted audio."""

from __future__ import annotations

import numpy as np
import pytest

import baselines
from baselines.anchors.rows import shift_audio
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
def test_shifted_audio_delays_reference_audio(grid_faces, shift):
    real = grid_faces[1]
    out = baselines.create("shifted_audio", shift_frames=shift).generate(
        real.frames[0], real.audio, real.sample_rate, reference=real
    )
    n = abs(shift) * 640  # 16000 / 25 samples per frame
    assert out.frames is real.frames and out.audio.shape == real.audio.shape
    if shift > 0:
        assert np.array_equal(out.audio[:n], np.zeros(n, np.float32))
        assert np.array_equal(out.audio[n:], real.audio[:-n])
    elif shift < 0:
        assert np.array_equal(out.audio[:-n], real.audio[n:])
        assert np.array_equal(out.audio[-n:], np.zeros(n, np.float32))
    else:
        assert np.array_equal(out.audio, real.audio)
    assert out.meta["audio_shift_frames"] == shift
    assert real.audio is not out.audio  # the reference clip is left alone


def test_shift_audio_edges():
    audio = np.arange(1, 6, dtype=np.float32)
    assert shift_audio(audio, 2).tolist() == [0, 0, 1, 2, 3]
    assert shift_audio(audio, -2).tolist() == [3, 4, 5, 0, 0]
    assert shift_audio(audio, 9).tolist() == [0] * 5
    with pytest.raises(ValueError, match="shift_frames"):
        baselines.create("shifted_audio", shift_frames=1.5)
