"""Speed of face tracking: landmarks on a 75-frame GRID clip, tracked vs detected on every frame.

Tracking runs the detector every 15 frames (or on drift or loss) and the 68-point predictor on every frame; the
target is at most 1/3 of the time of per-frame detection plus landmarks. Timings are best-of-N wall clock on a
shared machine, so the ratio (not the absolute time) is asserted.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench.faces import TrackSettings, track
from bench.media import Clip, read_clip

PER_FRAME = TrackSettings(detect_every=1)


@pytest.fixture(scope="module")
def grid_clip(grid_paths: list[Path]) -> Clip:
    clip = read_clip(grid_paths[0])
    track(Clip(clip.frames[:2]), cache=False)  # load dlib's models outside the timings
    return clip


def _run(clip: Clip, settings: TrackSettings | None) -> float:
    fresh = Clip(clip.frames)  # nothing memoised; the disk cache is bypassed
    start = time.perf_counter()
    face_track = track(fresh, settings, cache=False)
    elapsed = time.perf_counter() - start
    assert face_track.coverage == 1.0
    return elapsed


@pytest.mark.parametrize("mode", ["tracked", "per-frame"])
def test_landmark_speed(benchmark, grid_clip: Clip, mode: str) -> None:
    settings = None if mode == "tracked" else PER_FRAME
    benchmark.pedantic(_run, args=(grid_clip, settings), rounds=3, iterations=1)


def test_tracking_takes_at_most_a_third_of_per_frame_detection(grid_clip: Clip) -> None:
    tracked, per_frame = [], []
    for _ in range(5):  # interleaved, best of 5: other jobs share the cores
        tracked.append(_run(grid_clip, None))
        per_frame.append(_run(grid_clip, PER_FRAME))
    # measured best-of ratios 0.17-0.31 under varying load (detection ~6 ms, landmarks ~1.3 ms per frame when idle)
    assert min(tracked) <= min(per_frame) / 3, (tracked, per_frame)
