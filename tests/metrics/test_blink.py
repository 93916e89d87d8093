"""Blink statistics: detector rules on hand-built EAR signals, known blinks of synthgrid clips, GRID, no face."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _grid_faces import load_grid_clips

import metrics
from bench.data.synthetic import SynthConfig, synthesize_clip
from bench.faces import eye_aspect_ratio, track
from bench.media import Clip
from metrics.base import Item
from metrics.blink import Blink, Blinks, blink_statistics, fill_gaps, offline_blinks, online_blinks

OPEN = 0.3


@pytest.fixture(scope="module")
def grid_clips(grid_paths: list[Path]) -> dict[str, Clip]:
    return load_grid_clips(grid_paths)


def _signal(*pieces: float | list[float], length: int = 40) -> np.ndarray:
    values: list[float] = []
    for piece in pieces:
        values.extend(piece if isinstance(piece, list) else [piece])
    return np.r_[values, np.full(length - len(values), OPEN)]


class TestOfflineDetector:
    def test_start_at_the_peak_frame_and_end_at_the_next_ear_peak(self) -> None:
        # frames 0-7 open, 8 = 0.31 (a peak), drop at 9 -> 10, reopen, peak 0.32 at 13
        ear = _signal([OPEN] * 8, [0.31, OPEN, 0.05, 0.05, OPEN, 0.32])
        assert offline_blinks(ear) == [Blink(start=8, onset=9, end=13)]

    def test_start_is_the_drop_frame_when_ear_was_not_falling(self) -> None:
        ear = _signal([OPEN] * 8, [0.29, OPEN, 0.05, 0.05, OPEN, 0.32])  # ear[8] <= ear[9]: start = 9
        assert offline_blinks(ear) == [Blink(9, 9, 13)]

    def test_small_drops_and_close_peaks(self) -> None:
        assert offline_blinks(_signal([OPEN] * 8, [0.25, 0.2, 0.15, OPEN, 0.32])) == []  # drops of 0.05 < 0.072
        # two drops 2 frames apart: find_peaks(distance=4) keeps the larger
        ear = _signal([OPEN] * 8, [0.31, 0.2, 0.31, 0.05, OPEN, 0.32])
        assert [b.onset for b in offline_blinks(ear)] == [10]

    def test_blink_without_a_right_peak_is_dropped_unless_last(self) -> None:
        # first blink never reopens to a peak before the second onset: dropped; the last runs to the end
        ear = np.r_[[OPEN] * 5, 0.31, 0.1, 0.1, 0.12, 0.14, 0.16, 0.18, 0.31, 0.05, 0.05, [0.06] * 5]
        assert offline_blinks(ear) == [Blink(12, 12, 19)]

    def test_statistics(self) -> None:
        blinks = [Blink(8, 9, 13), Blink(20, 21, 23), Blink(30, 30, 30)]  # the last lasts 0 frames: not counted
        stats = blink_statistics(blinks, num_frames=50, fps=25.0)
        assert stats == {"count": 2.0, "rate": 1.0, "duration": pytest.approx((5 + 3) / 2 / 25)}
        assert np.isnan(blink_statistics([], 50, 25.0)["duration"])


class TestOnlineDetector:
    def test_two_closed_frames_make_a_blink(self) -> None:
        ear = _signal([OPEN] * 8, [0.31, OPEN, 0.05, 0.05, OPEN, 0.32])
        assert online_blinks(ear) == [Blink(start=8, onset=10, end=12)]

    def test_one_closed_frame_is_not_a_blink(self) -> None:
        assert online_blinks(_signal([OPEN] * 8, [0.1, OPEN])) == []

    def test_reopening_must_rise_above_threshold_by_the_tolerance(self) -> None:
        ear = _signal([OPEN] * 5, [0.1, 0.1, 0.195, 0.203, OPEN])  # 0.203 > 0.2 but rose by only 0.008
        assert online_blinks(ear) == [Blink(4, 5, 9)]


def test_fill_gaps_interpolates_missing_frames() -> None:
    np.testing.assert_allclose(fill_gaps(np.array([np.nan, 1.0, np.nan, 3.0, np.nan])), [1, 1, 2, 3, 3])
    with pytest.raises(ValueError, match="no valid"):
        fill_gaps(np.full(3, np.nan))


@pytest.fixture(scope="module")
def synthetic_clips() -> list[Clip]:
    config = SynthConfig(speakers=4, sentences=3, seed=0)  # 12 clips of 2 s at 128x128, 14 blinks
    return [synthesize_clip(config, s, k)[0] for s in range(4) for k in range(3)]


def _match(detected: list[int], truth: list[int], tolerance: int) -> tuple[int, int, int]:
    """True positives, false positives, false negatives of onsets, each truth matched once."""
    free = list(detected)
    hits = 0
    for onset in truth:
        close = [d for d in free if abs(d - onset) <= tolerance]
        if close:
            free.remove(close[0])
            hits += 1
    return hits, len(free), len(truth) - hits


def test_detectors_recover_known_blinks_from_the_true_landmarks(synthetic_clips: list[Clip]) -> None:
    """The synthetic corpus's own landmarks: both detectors find every blink, the online one at its exact onset."""
    for clip in synthetic_clips:
        truth = [onset for onset, _ in clip.meta["blinks"]]
        ear = eye_aspect_ratio(clip.meta["landmarks"])
        assert [b.onset for b in online_blinks(ear)] == truth
        offline = [b.onset for b in offline_blinks(ear)]  # the last open frame before the steepest drop
        assert len(offline) == len(truth) and all(0 <= t - o <= 2 for o, t in zip(offline, truth, strict=True))


def test_offline_detector_finds_synthgrid_blinks(synthetic_clips: list[Clip]) -> None:
    hits = false = missed = 0
    for clip in synthetic_clips:
        ear = fill_gaps(eye_aspect_ratio(track(clip).landmarks))
        onsets = [b.onset for b in offline_blinks(ear) if b.end > b.start]
        h, f, m = _match(onsets, [onset for onset, _ in clip.meta["blinks"]], tolerance=2)
        hits, false, missed = hits + h, false + f, missed + m
    precision, recall = hits / (hits + false), hits / (hits + missed)
    # measured: 13 of these 14 onsets, no false one; 41/41 on 32 clips of seed 1 and 28/28 on 18 clips of seed 2
    assert precision >= 0.9 and recall >= 0.9, (hits, false, missed)
    rate = metrics.create("blink-rate")(Item(synthetic_clips[0]))
    assert rate.ok and rate.value == pytest.approx(len(synthetic_clips[0].meta["blinks"]) / 2.0)


def test_grid_blink_statistics_are_consistent(grid_clips: dict[str, Clip]) -> None:
    clip = grid_clips["swwp2s"]
    scores = {name: metrics.create(name)(Item(clip)) for name in ("blink-count", "blink-rate", "blink-duration")}
    assert all(s.ok for s in scores.values())
    assert scores["blink-rate"].value == pytest.approx(scores["blink-count"].value / clip.duration)
    assert scores["blink-count"].extras == scores["blink-rate"].extras
    assert 0.04 <= scores["blink-duration"].value <= 1.0  # between 1 frame and a second
    assert metrics.create("blink-rate").higher_is_better is None


def test_no_face_and_no_blink_are_failed_scores_with_reasons(grid_clips: dict[str, Clip]) -> None:
    blank = Clip(np.zeros((20, 288, 360, 3), np.uint8), meta={"utterance_id": "blank"})
    score = metrics.create("blink-rate")(Item(blank))
    assert not score.ok and np.isnan(score.value) and "face coverage 0.00" in score.reason
    still = Clip(np.repeat(grid_clips["bbaf2n"].frames[:1], 20, axis=0))  # a still frame never blinks
    assert metrics.create("blink-count")(Item(still)).value == 0.0
    duration = metrics.create("blink-duration-online")(Item(still))
    assert not duration.ok and "no blink detected" in duration.reason


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="statistic"):
        Blinks(statistic="mean")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="detector"):
        Blinks(detector="cnn")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_coverage"):
        Blinks(min_coverage=0.0)
