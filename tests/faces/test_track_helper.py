"""Face tracks computed in the helper process (bench.helper_process) equal the tracks computed here, real GRID clips."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

import bench.faces.tracking as tracking
from bench import helper_process
from bench.faces import TrackSettings, track, track_soon
from bench.media import Clip


@pytest.fixture
def helper(tmp_path, monkeypatch) -> Iterator[helper_process.HelperProcess]:
    """A running helper with an empty face cache (the helper inherits TALKBENCH_CACHE), stopped afterwards."""
    monkeypatch.setenv("TALKBENCH_CACHE", str(tmp_path / "cache"))
    running = helper_process.start()
    yield running
    helper_process.stop()
    assert helper_process.running() is None


def _short(clip: Clip, frames: int = 20) -> Clip:
    """A new clip object (nothing memoised) with the first frames of ``clip``."""
    return Clip(np.ascontiguousarray(clip.frames[:frames]), clip.fps, meta={"utterance_id": "short"})


def _arrays(clip: Clip, settings: TrackSettings | None = None) -> dict[str, np.ndarray]:
    face_track = track(clip, settings, cache=False)
    return {"boxes": face_track.boxes, "landmarks": face_track.landmarks, "found": face_track.found,
            "detected": face_track.detected, "reasons": np.array(face_track.reasons)}  # fmt: skip


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def _not_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tracking in this process fails from now on; the helper imported the module afresh and still tracks."""

    def fail(self: object) -> None:
        raise AssertionError("a face track was computed in the test process")

    monkeypatch.setattr(tracking._Tracker, "run", fail)


def test_tracks_from_the_helper_equal_tracks_computed_here(grid_clips, helper, monkeypatch) -> None:
    """Every GRID clip (75 frames): boxes, landmarks, detections and reasons identical, the work done in the helper."""
    helper_process.stop()
    here = {name: _arrays(_short(clip, clip.num_frames)) for name, clip in grid_clips.items()}
    helper_process.start()
    _not_here(monkeypatch)
    for name, clip in grid_clips.items():
        in_helper = _arrays(_short(clip, clip.num_frames))
        _assert_same(in_helper, here[name])
        assert in_helper["found"].all() and in_helper["detected"][0]


def test_a_face_left_the_frame_gives_the_same_reasons_from_the_helper(grid_clips, helper, monkeypatch) -> None:
    """Frames without a face (blanked) are missing with the same reason in both processes; detection every 4 frames."""
    frames = np.ascontiguousarray(grid_clips["bbaf2n"].frames[:24]).copy()
    frames[8:14] = 0
    settings = TrackSettings(detect_every=4)
    helper_process.stop()
    here = _arrays(Clip(frames, 25.0), settings)
    helper_process.start()
    _not_here(monkeypatch)
    in_helper = _arrays(Clip(frames, 25.0), settings)
    _assert_same(in_helper, here)
    assert not in_helper["found"][8:14].any() and in_helper["found"][:8].all()


def test_track_soon_starts_the_track_and_track_collects_it(grid_clips, helper) -> None:
    clip = _short(grid_clips["swwp2s"])
    key = tracking._request_key(clip, TrackSettings())
    track_soon(clip)
    pending = helper._pending[key]
    track_soon(clip)  # asked again: the same request
    assert helper._pending[key] is pending
    face_track = track(clip)
    assert pending.done() and key not in helper._pending  # collected, then forgotten
    assert face_track.coverage == 1.0
    track_soon(clip)  # memoised on the clip now: nothing to start
    assert key not in helper._pending
    again = _short(grid_clips["swwp2s"])  # a new clip object with the same frames: the track is on disk
    track_soon(again)
    assert key not in helper._pending
    np.testing.assert_array_equal(track(again).landmarks, face_track.landmarks)


def test_track_soon_without_a_helper_does_nothing(grid_clips, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TALKBENCH_CACHE", str(tmp_path / "cache"))
    clip = _short(grid_clips["lbax4n"])
    assert helper_process.running() is None
    track_soon(clip)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.npz"))


def test_a_helper_killed_mid_run_leaves_the_track_to_this_process(grid_clips, helper) -> None:
    """The helper dies (killed, out of memory): track() warns, names the clip, and computes the same track here."""
    clip = _short(grid_clips["lrwp9a"])
    expected = _arrays(_short(grid_clips["lrwp9a"]))  # through the helper, still alive
    for pid in list(helper._executor._processes):
        os.kill(pid, signal.SIGKILL)
    with pytest.warns(RuntimeWarning, match="short: the helper process stopped"):
        got = _arrays(clip)
    _assert_same(got, expected)


def test_a_track_cancelled_by_a_stopped_helper_is_computed_here(grid_clips, helper) -> None:
    """The helper's last user stops it while a track waits in its queue (behind longer work): track() warns that the
    request was cancelled and computes the same track here."""
    clip = _short(grid_clips["bbaf2n"], 10)
    expected = _arrays(_short(grid_clips["bbaf2n"], 10))
    for k in range(4):  # one running, two in the pool's call queue, one pending: the track waits behind them
        helper.submit(("busy", k), time.sleep, 0.5)
    track_soon(clip)
    stopper = threading.Timer(0.5, helper_process.stop)
    stopper.start()
    with pytest.warns(RuntimeWarning, match="short: the helper process stopped \\(cancelled\\)"):
        got = _arrays(clip)
    stopper.join()
    _assert_same(got, expected)
