"""Mouth crops (LipNet) and face-track crops (SyncNet), against syncnet-python's own crop code."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from bench.faces import MOUTH, face_track_crops, mouth_crops, track
from bench.faces.crops import LIPNET_PAD
from bench.media import Clip


class _FrameSink:
    """Stands in for cv2.VideoWriter: keeps the frames (the real one writes lossy XVID)."""

    frames: list[np.ndarray] = []

    def __init__(self, path: str, *args: object) -> None:
        self.path = path
        _FrameSink.frames = []

    def write(self, frame: np.ndarray) -> None:
        _FrameSink.frames.append(frame.copy())

    def release(self) -> None:
        Path(self.path).touch()


def _syncnet_crops(frames_rgb: np.ndarray, boxes: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run syncnet-python's ``SyncNetPipeline._crop`` on our boxes, without its video writer and ffmpeg."""
    from syncnet_python import syncnet_pipeline

    paths = []
    for t, frame in enumerate(frames_rgb):
        paths.append(str(tmp_path / f"{t:06d}.png"))
        cv2.imwrite(paths[-1], cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    monkeypatch.setattr(syncnet_pipeline.cv2, "VideoWriter", _FrameSink)
    monkeypatch.setattr(syncnet_pipeline.subprocess, "run", lambda *a, **k: Path(a[0][-1]).touch())
    owner = SimpleNamespace(cfg=SimpleNamespace(crop_scale=0.4, frame_rate=25, ffmpeg_bin="ffmpeg"))
    face_track = {"frame": np.arange(len(frames_rgb)), "bbox": boxes}
    syncnet_pipeline.SyncNetPipeline._crop(owner, face_track, paths, "audio.wav", tmp_path / "out" / "track")
    return np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in _FrameSink.frames])


def test_face_track_crops_equal_syncnet_python(
    grid_clips: dict[str, Clip], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = grid_clips["bbaf2n"]
    crops, found = face_track_crops(clip)
    assert crops.shape == (75, 224, 224, 3) and found.all()
    expected = _syncnet_crops(clip.frames, track(clip).boxes.astype(np.float64), tmp_path, monkeypatch)
    np.testing.assert_array_equal(crops, expected)


def test_face_track_crops_pad_with_110_near_the_border(grid_clips: dict[str, Clip]) -> None:
    frames = np.roll(grid_clips["swwp2s"].frames[:15], -110, axis=2)  # face moved to the left edge
    crops, found = face_track_crops(Clip(frames))
    assert found.all()
    assert (crops[:, :, :8] == 110).all()  # left columns lie outside the frame


def test_mouth_crops_centre_the_mouth_at_lipnet_scale(grid_clips: dict[str, Clip]) -> None:
    clip = grid_clips["lrwp9a"]
    crops, found = mouth_crops(clip, width=128, height=64)
    assert crops.shape == (75, 64, 128, 3) and found.all()
    mouth = track(clip).landmarks[:, MOUTH].astype(np.float64)
    ratio = 128 / (np.ptp(mouth[0, :, 0]) * (1 + 2 * LIPNET_PAD))  # from the first frame, kept for the clip
    for t in (0, 30, 60):
        # LipNet's way: resize the whole frame by the ratio, slice a window around the scaled mouth centroid
        big = cv2.resize(clip.frames[t], None, fx=ratio, fy=ratio, interpolation=cv2.INTER_LANCZOS4)
        cx, cy = mouth[t].mean(axis=0) * ratio
        x0, y0 = int(round(cx - 64)), int(round(cy - 32))
        expected = big[y0 : y0 + 64, x0 : x0 + 128].astype(float)
        diff = np.abs(crops[t] - expected)
        # measured 0.55-2.95 grey levels: sub-pixel offset of the window (LipNet rounds, we interpolate)
        assert diff.mean() < 5.0, diff.mean()
    assert not np.array_equal(crops[0], crops[30])


def test_crops_without_faces_are_black_and_flagged() -> None:
    blank = Clip(np.zeros((4, 128, 128, 3), np.uint8))
    crops, found = mouth_crops(blank)
    assert crops.shape == (4, 64, 128, 3) and not crops.any() and not found.any()
    crops, found = face_track_crops(blank)
    assert crops.shape == (4, 224, 224, 3) and not crops.any() and not found.any()
    with pytest.raises(ValueError, match="mouth crop"):
        mouth_crops(blank, width=4)
