"""dlib's frontal HOG detector loaded from its saved copy in the cache detects exactly what the built-in one does."""

from __future__ import annotations

import dlib
import numpy as np

from bench.faces import detect
from bench.faces.detect import to_gray


def test_cached_detector_equals_the_builtin_one(grid_clips, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TALKBENCH_CACHE", str(tmp_path))
    first = detect.frontal_detector()  # built, and saved for the next process
    saved = list(tmp_path.glob("dlib/frontal_face_detector-*.svm"))
    assert len(saved) == 1
    again = detect.frontal_detector()  # loaded from the saved copy
    builtin = dlib.get_frontal_face_detector()
    frames = [clip.frames[t] for clip in grid_clips.values() for t in (0, 40)]
    frames.append(np.zeros((120, 160, 3), np.uint8))  # no face
    for frame in frames:
        gray = to_gray(frame)
        for upsample in (0, 1):
            want = builtin.run(gray, upsample, -0.5)
            for detector in (first, again):
                rects, scores, kinds = detector.run(gray, upsample, -0.5)
                assert [(r.left(), r.top(), r.right(), r.bottom()) for r in rects] == [
                    (r.left(), r.top(), r.right(), r.bottom()) for r in want[0]
                ]
                assert list(scores) == list(want[1]) and list(kinds) == list(want[2])
    assert any(len(builtin.run(to_gray(f), 0, 0.0)[0]) for f in frames)  # real faces were compared


def test_a_damaged_copy_is_rebuilt(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TALKBENCH_CACHE", str(tmp_path))
    detect.frontal_detector()
    (saved,) = tmp_path.glob("dlib/frontal_face_detector-*.svm")
    saved.write_bytes(b"not a detector")
    gray = np.zeros((100, 100), np.uint8)
    assert detect.frontal_detector().run(gray, 0, 0.0)[0] is not None
    assert saved.stat().st_size > 1000  # written again
