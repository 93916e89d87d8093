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


DESCRIPTOR_TARGET = 5.0  # dlib's network in torch at least 5x dlib's own compute_face_descriptor (measured 13.7x)


def test_face_descriptor_speed(grid_clip: Clip, record_property) -> None:
    """15 faces of a GRID clip (every 5th frame, as ACD embeds with frame_stride 5): torch on one thread against
    dlib's ``compute_face_descriptor``, CPU seconds, best of 3 interleaved; the descriptors agree to 1e-6."""
    import dlib
    import numpy as np
    import torch

    from bench.faces import models_dir
    from bench.faces.detect import dlib_model
    from bench.faces.embedding import _detections, descriptors

    face_track = track(grid_clip, cache=False)
    index = range(0, grid_clip.num_frames, 5)
    images = [grid_clip.frames[t] for t in index]
    boxes, points = [face_track.boxes[t] for t in index], [face_track.landmarks[t] for t in index]
    shapes = [_detections(b, p) for b, p in zip(boxes, points, strict=True)]
    model = dlib.face_recognition_model_v1(str(models_dir() / "dlib_face_recognition_resnet_model_v1.dat"))
    dlib_model("descriptor")  # loaded outside the timings, as dlib's model above
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    ours, theirs = [], []
    try:
        for _ in range(3):
            start = time.process_time()
            mine = descriptors(images, boxes, points)
            ours.append(time.process_time() - start)
            start = time.process_time()
            reference = model.compute_face_descriptor(images, shapes, 0, 0.25)
            theirs.append(time.process_time() - start)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(mine, np.array([np.asarray(d[0]) for d in reference]), rtol=0, atol=1e-6)
    ratio = min(theirs) / min(ours)
    record_property("descriptor_speedup", ratio)
    print(f"\nface descriptor, {len(images)} faces: torch {min(ours) / len(images) * 1e3:.1f} ms/face, dlib "
          f"{min(theirs) / len(images) * 1e3:.1f} ms/face: {ratio:.1f}x")  # fmt: skip
    assert ratio >= DESCRIPTOR_TARGET
