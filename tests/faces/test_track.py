"""Face detection, 68 landmarks and tracking on the real GRID clips, against dlib's own API."""

from __future__ import annotations

import cv2
import dlib
import numpy as np
import pytest

import bench.faces.tracking as track_module
from bench.faces import NO_FACE, TrackSettings, detect_faces, eye_aspect_ratio, models_dir, track
from bench.faces.cache import cache_path
from bench.faces.detect import auto_upsample, box_iou
from bench.media import Clip


def _copy(clip: Clip, frames: np.ndarray | None = None) -> Clip:
    """A new clip object (no memo) with the same or other frames."""
    return Clip(clip.frames.copy() if frames is None else frames, clip.fps, meta=dict(clip.meta))


def _forbid_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("face detection or landmark prediction ran")

    monkeypatch.setattr(track_module, "detect_faces", fail)
    monkeypatch.setattr(track_module, "predict_landmarks", fail)


def test_every_grid_frame_has_a_face_and_68_landmarks(grid_clips: dict[str, Clip]) -> None:
    for name, clip in grid_clips.items():
        face_track = track(clip)
        h, w = clip.size
        assert face_track.coverage == 1.0, (name, face_track.describe_missing())
        assert face_track.landmarks.shape == (clip.num_frames, 68, 2)
        assert np.isfinite(face_track.landmarks).all() and np.isfinite(face_track.boxes).all()
        assert set(face_track.reasons) == {""}
        assert (face_track.landmarks[..., 0] > 0).all() and (face_track.landmarks[..., 0] < w).all()
        assert (face_track.landmarks[..., 1] > 0).all() and (face_track.landmarks[..., 1] < h).all()
        # the detector ran on frame 0 and then at most every 15 frames (plus re-detections, none on GRID)
        assert face_track.detected[0] and face_track.detected.sum() == int(np.ceil(clip.num_frames / 15))


def test_per_frame_mode_is_exactly_dlib_on_grayscale(grid_clips: dict[str, Clip]) -> None:
    """Reference: dlib's frontal detector (upsample 0) and 68-point predictor on the grayscale frame."""
    clip = _copy(grid_clips["swwp2s"], grid_clips["swwp2s"].frames[::7])
    ours = track(clip, TrackSettings(detect_every=1, landmark_min_size=0), cache=False)
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(models_dir() / "shape_predictor_68_face_landmarks.dat"))
    for t in range(clip.num_frames):
        gray = cv2.cvtColor(clip.frames[t], cv2.COLOR_RGB2GRAY)
        rect = detector(gray, 0)[0]
        shape = predictor(gray, rect)
        expected = np.array([(p.x, p.y) for p in shape.parts()], np.float32)
        np.testing.assert_array_equal(ours.landmarks[t], expected)
        np.testing.assert_array_equal(ours.boxes[t], [rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1])


def test_tracking_agrees_with_per_frame_detection(grid_clips: dict[str, Clip]) -> None:
    for name in ("lrwp9a",):
        tracked = track(grid_clips[name])
        per_frame = track(_copy(grid_clips[name]), TrackSettings(detect_every=1), cache=False)
        diff = np.abs(tracked.landmarks - per_frame.landmarks)
        # measured: mean 0.30-0.37 px, max 2.8-4.2 px on the four clips (box jitter moves dlib's points)
        assert diff.mean() < 0.5 and diff.max() < 6.0, (name, diff.mean(), diff.max())
        assert per_frame.detected.all()


def test_blank_clip_has_zero_coverage_and_a_reason_per_frame() -> None:
    blank = Clip(np.zeros((6, 288, 360, 3), np.uint8))
    face_track = track(blank, cache=False)
    assert face_track.coverage == 0.0 and face_track.num_frames == 6
    assert not face_track.found.any() and face_track.detected.all()
    assert face_track.reasons == (NO_FACE,) * 6
    assert np.isnan(face_track.landmarks).all() and np.isnan(face_track.boxes).all()
    assert "no face on 6 of 6 frames" in face_track.describe_missing()


def test_blanked_frames_are_recorded_not_dropped(grid_clips: dict[str, Clip]) -> None:
    frames = grid_clips["bbaf2n"].frames.copy()
    frames[20:28] = 0  # starts between two scheduled detections: tracking must notice the face is gone
    frames[70:] = 0
    face_track = track(_copy(grid_clips["bbaf2n"], frames), cache=False)
    missing = np.r_[20:28, 70:75]
    assert face_track.num_frames == 75
    np.testing.assert_array_equal(np.flatnonzero(~face_track.found), missing)
    assert np.isnan(face_track.landmarks[missing]).all()
    assert np.isfinite(face_track.landmarks[face_track.found]).all()


def test_disk_cache_hit_returns_identical_results_without_detection(
    grid_clips: dict[str, Clip], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = track(grid_clips["lbax4n"])
    _forbid_detection(monkeypatch)
    again = _copy(grid_clips["lbax4n"])  # a new clip object with the same content: nothing memoised on it
    second = track(again)
    for field in ("boxes", "landmarks", "found", "detected"):
        np.testing.assert_array_equal(getattr(second, field), getattr(first, field))
    assert second.reasons == first.reasons
    assert track(again).landmarks is second.landmarks  # memoised on the clip
    with pytest.raises(AssertionError, match="ran"):  # other settings are another cache entry
        track(again, TrackSettings(detect_every=5))


def test_unreadable_cache_entry_is_recomputed(grid_clips: dict[str, Clip]) -> None:
    clip = _copy(grid_clips["lrwp9a"])
    settings = TrackSettings(detect_every=30)
    path = cache_path(clip, "track", vars(settings))
    path.write_bytes(b"not an npz file")
    face_track = track(clip, settings)
    assert face_track.coverage == 1.0
    with np.load(path) as data:  # replaced by a valid entry
        np.testing.assert_array_equal(data["landmarks"], face_track.landmarks)


def test_small_frames_are_upsampled_for_detection(grid_clips: dict[str, Clip]) -> None:
    frames = grid_clips["swwp2s"].frames[:10, :, 36:324]  # 288x288: the face becomes ~55 px wide at 128x128
    small = np.stack([cv2.resize(f, (128, 128), interpolation=cv2.INTER_AREA) for f in frames])
    assert auto_upsample(128, 128) == 1 and auto_upsample(288, 360) == 0 and auto_upsample(64, 96) == 2
    face_track = track(Clip(small), cache=False)
    assert face_track.coverage == 1.0
    assert 45 < face_track.boxes[0, 2] - face_track.boxes[0, 0] < 65


def test_cnn_detector_finds_the_same_face(grid_clips: dict[str, Clip]) -> None:
    frame = grid_clips["bbaf2n"].frames[10]
    hog, _ = detect_faces(frame, "hog")
    cnn, scores = detect_faces(frame, "cnn")
    assert len(hog) == 1 and len(cnn) == 1 and scores[0] > 0.5
    assert box_iou(hog[0], cnn[0]) > 0.5


@pytest.mark.parametrize("kwargs", [{"detector": "s3fd"}, {"detect_every": 0}, {"upsample": 9}])
def test_bad_settings_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="TrackSettings"):
        TrackSettings(**kwargs)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="uint8"):
        detect_faces(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(ValueError, match="no frames"):
        track(Clip(np.zeros((0, 64, 64, 3), np.uint8)))
    with pytest.raises(ValueError, match=r"\[T, 68, 2\]"):
        eye_aspect_ratio(np.zeros((5, 20, 2)))


def test_eye_aspect_ratio_hand_computed() -> None:
    landmarks = np.zeros((1, 68, 2))
    # right eye: corners (0,0) and (4,0); upper lids at y=-1, lower lids at y=+1 -> (2 + 2) / (2 * 4) = 0.5
    landmarks[0, 36:42] = [(0, 0), (1, -1), (3, -1), (4, 0), (3, 1), (1, 1)]
    # left eye: corners 6 apart, lids 0.5 and 1.5 apart -> (0.5 + 1.5) / 12 = 1/6
    landmarks[0, 42:48] = [(10, 0), (12, -0.25), (14, -0.75), (16, 0), (14, 0.75), (12, 0.25)]
    np.testing.assert_allclose(eye_aspect_ratio(landmarks), [(0.5 + 1 / 6) / 2], rtol=1e-12)
    assert np.isnan(eye_aspect_ratio(np.full((68, 2), np.nan)))
