"""LMD: hand-computed distances, and behaviour on the real GRID clips (self 0, other speaker larger, no face)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from _grid_faces import load_grid_clips

import metrics
from bench.media import Clip
from metrics.base import Item, MetricError
from metrics.lmd import LMD, landmark_distance


@pytest.fixture(scope="module")
def grid_clips(grid_paths: list[Path]) -> dict[str, Clip]:
    return load_grid_clips(grid_paths)


class TestLandmarkDistance:
    atol = 1e-12  # float64 arithmetic on exact inputs

    def test_chen_sum_of_euclidean_distances(self) -> None:
        ref = np.zeros((1, 20, 2))
        gen = ref.copy()
        gen[0, 0] = (3.0, 4.0)
        gen[0, 1] = (-6.0, 8.0)
        assert landmark_distance(gen, ref, centre=False)[0] == pytest.approx(15.0, abs=self.atol)

    def test_centring_removes_translation_only(self) -> None:
        rng = np.random.default_rng(1)
        ref = rng.normal(size=(4, 20, 2))
        np.testing.assert_allclose(landmark_distance(ref + [5.0, -2.0], ref), 0.0, atol=1e-12)
        scaled = landmark_distance(ref * 2.0, ref)  # centred: ||2(p - c) - (p - c)|| summed
        expected = np.linalg.norm(ref - ref.mean(axis=1, keepdims=True), axis=-1).sum(axis=1)
        np.testing.assert_allclose(scaled, expected, rtol=1e-12)

    def test_vico_mean_absolute_coordinate_difference(self) -> None:
        ref = np.zeros((2, 20, 2))
        gen = ref.copy()
        gen[0, :, 0] = 1.0  # every x off by 1 -> mean over 40 coordinates = 0.5
        gen[1, 0] = (4.0, 4.0)  # one point off by (4, 4) -> 8 / 40
        np.testing.assert_allclose(landmark_distance(gen, ref, centre=False, distance="l1-mean"), [0.5, 0.2])

    def test_nan_frames_stay_nan_and_bad_shapes_are_refused(self) -> None:
        ref = np.zeros((2, 20, 2))
        gen = ref.copy()
        gen[1] = np.nan
        out = landmark_distance(gen, ref)
        assert out[0] == 0.0 and np.isnan(out[1])
        with pytest.raises(ValueError, match=r"\[T, N, 2\]"):
            landmark_distance(np.zeros((2, 20, 2)), np.zeros((3, 20, 2)))
        with pytest.raises(ValueError, match="unknown landmark distance"):
            landmark_distance(ref, ref, distance="l3")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["lmd", "lmd-frame", "lmd-px"])
def test_grid_self_is_zero_and_other_speaker_is_larger(grid_clips: dict[str, Clip], name: str) -> None:
    a, b = grid_clips["bbaf2n"], grid_clips["swwp2s"]
    metric = metrics.create(name)
    same = metric(Item(a, a))
    assert same.ok and same.value == 0.0 and same.frames == 75
    shifted = metric(Item(a.with_frames(a.frames[3:]), a))  # same speaker, 3 frames out of step
    # measured (shifted, other speaker): lmd 13.8, 32.2; lmd-frame 19.1, 50.7; lmd-px 0.86, 8.37
    other = metric(Item(a, b))
    assert shifted.ok and other.ok and 0.0 < shifted.value < other.value
    assert other.extras["coverage"] == 1.0 and other.extras["excluded"] == 0.0
    assert shifted.extras["length_difference"] == -3.0 and shifted.frames == 72


def test_aligned_lmd_does_not_depend_on_the_output_resolution(grid_clips: dict[str, Clip]) -> None:
    a, b = grid_clips["lbax4n"], grid_clips["lrwp9a"]
    half = a.with_frames(np.stack([cv2.resize(f, (180, 144), interpolation=cv2.INTER_AREA) for f in a.frames]))
    full = metrics.create("lmd")(Item(a, b)).value
    halved = metrics.create("lmd")(Item(half, b)).value
    assert halved == pytest.approx(full, rel=0.15)  # measured 29.1 vs 29.7 (landmark noise of the smaller face)
    assert metrics.create("lmd")(Item(half, a)).value < 0.5 * full  # same video at half size: measured 7.6
    # lmd-frame scales the reference to the generated size: the same video at half size is small there too
    assert metrics.create("lmd-frame")(Item(half, a)).value < 0.3 * metrics.create("lmd-frame")(Item(a, b)).value


def test_frames_without_a_face_are_excluded_and_counted(grid_clips: dict[str, Clip]) -> None:
    a = grid_clips["bbaf2n"]
    frames = a.frames.copy()
    frames[30:40] = 0
    score = metrics.create("lmd")(Item(a.with_frames(frames), a))
    assert score.ok and score.frames == 65 and score.extras["excluded"] == 10.0
    assert score.extras["coverage"] == pytest.approx(65 / 75)


def test_no_face_is_a_failed_score_with_a_reason(grid_clips: dict[str, Clip]) -> None:
    a = grid_clips["bbaf2n"]
    blank = Clip(np.zeros_like(a.frames), meta={"utterance_id": "blank"})
    score = metrics.create("lmd")(Item(blank, a))
    assert not score.ok and np.isnan(score.value) and "no face in the generated video" in score.reason
    assert "75 of 75 frames" in score.reason
    with pytest.raises(MetricError, match="no face"):
        metrics.score("lmd-px", a, blank)
    assert metrics.create("lmd")(Item(a)).reason == "lmd needs reference; none was given for this video"


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="space"):
        LMD(space="mouth")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="distance"):
        LMD(distance="l2")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="no option"):
        metrics.create("lmd", points=20)
    assert LMD.higher_is_better is False and metrics.create("lmd-px").config()["distance"] == "l1-mean"
