"""mouth-sync / mouth-offset: hand-computed pieces, then the measure on the four real GRID clips and on synthgrid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _grid_faces import load_grid_clips

import baselines
import metrics
from bench.audio import loudness_envelope
from bench.faces import TrackSettings, mouth_opening, track
from bench.media import Clip
from metrics import Item
from metrics.mouth_sync import cross_correlation, detrend, sync_curve, sync_peak

UTTERANCES = ["bbaf2n", "swwp2s", "lbax4n", "lrwp9a"]
HOP = 640  # samples per frame at 16 kHz and 25 fps


@pytest.fixture(scope="module")
def grid(grid_paths: list[Path]) -> dict[str, Clip]:
    return load_grid_clips(grid_paths)


def sync(clip: Clip, audio: np.ndarray, name: str = "mouth-sync") -> float:
    result = metrics.create(name)(Item(clip, audio=audio, sample_rate=16000))
    assert result.ok, result.reason
    return result.value


def delayed(audio: np.ndarray, frames: int) -> np.ndarray:
    return np.r_[np.zeros(frames * HOP, np.float32), audio[: len(audio) - frames * HOP]]


class TestPieces:
    atol = 1e-12  # float64 arithmetic on exact inputs

    def test_detrend_removes_the_centred_moving_mean(self) -> None:
        # ramp 0..4, window 3, edges repeated: means 1/3, 1, 2, 3, 11/3
        np.testing.assert_allclose(detrend(np.arange(5.0), 3), [-1 / 3, 0, 0, 0, 1 / 3], atol=self.atol)

    def test_correlation_sign_convention_is_av_offset(self) -> None:
        a = np.sin(np.arange(40) / 1.7)
        curve = cross_correlation(a[:35], a[3:38], 5)  # video frame i shows audio frame i - 3
        assert sync_peak(curve) == (pytest.approx(1.0, abs=self.atol), 3)
        assert np.isnan(cross_correlation(np.ones(20), a[:20], 2)).all()  # a constant side has no correlation

    def test_loudness_is_band_rms_to_the_power(self) -> None:
        t = np.arange(3 * HOP) / 16000
        tone, hum = np.sin(2 * np.pi * 1000 * t), np.sin(2 * np.pi * 100 * t)  # 1 kHz in band, 100 Hz below it
        np.testing.assert_allclose(loudness_envelope(tone + hum, 16000, 25.0, 3), 0.5**0.3, atol=1e-9)  # (1/sqrt2)^0.6

    def test_mouth_opening_is_inner_lip_height_over_eye_corners(self) -> None:
        points = np.zeros((68, 2))
        points[45] = (10.0, 0.0)  # outer eye corners 10 apart (36 at the origin)
        points[[67, 66, 65], 1] = (2.0, 3.0, 4.0)  # inner-lip gaps 2, 3, 4: mean 3
        assert float(mouth_opening(points)) == pytest.approx(0.3, abs=self.atol)


class TestGrid:
    """Real GRID clips with their true, delayed and swapped audio (figures measured with the default options)."""

    def test_true_audio_peaks_near_zero_and_delay_moves_the_peak_by_k(self, grid: dict[str, Clip]) -> None:
        drops = []
        for name in UTTERANCES:
            clip = grid[name]
            peak, offset = sync(clip, clip.audio), int(sync(clip, clip.audio, "mouth-offset"))
            assert peak > 0.45, name  # measured 0.51-0.74; 0.45 is the mean peak of another sentence's audio
            assert abs(offset) <= 2, name  # measured 0, 1, 1, 1: the lips lead the sound by up to a frame
            for k in (3, 5, 8):
                # exact: the loudness frames move by whole frames (640 samples); only k zero-filled frames differ
                assert sync(clip, delayed(clip.audio, k), "mouth-offset") == offset - k, (name, k)
                assert sync(clip, delayed(clip.audio, k)) == pytest.approx(peak, abs=0.02), (name, k)
            for k in (5, 8):  # out of the centre's -2..2 window (k = 3 on a +1 clip is still inside)
                drops.append(peak - sync(clip, delayed(clip.audio, k), "mouth-sync-centre"))
        # measured drops 0.03-0.46, mean 0.28: speech rhythm is quasi-periodic (a syllable every 5-7 frames), so the
        # correlation curve has side lobes that a 5- or 8-frame shift can bring back near 0
        assert min(drops) > 0.0 and np.mean(drops) > 0.2

    def test_another_utterances_audio_scores_clearly_lower(self, grid: dict[str, Clip]) -> None:
        true = {u: sync(grid[u], grid[u].audio) for u in UTTERANCES}
        swapped = {u: [sync(grid[u], grid[v].audio) for v in UTTERANCES if v != u] for u in UTTERANCES}
        # measured: true mean 0.658, swapped mean 0.453 (12 pairs)
        assert np.mean(list(true.values())) - np.mean(list(swapped.values())) > 0.15
        for u in UTTERANCES:
            # measured margins 0.06 (lbax4n) to 0.31: GRID sentences share one grammar and rhythm, and the peak over
            # 31 offsets of a 3 s clip reaches ~0.45 by chance, so one swap may come close (lbax4n + swwp2s audio)
            assert true[u] > np.mean(swapped[u]) + 0.04, u

    def test_reversing_both_streams_keeps_the_value_and_negates_the_offset(self, grid: dict[str, Clip]) -> None:
        # on the signals: the face tracker itself is order-dependent (it detects every 15th frame and follows)
        for name in UTTERANCES:
            clip = grid[name]
            audio = np.zeros(clip.num_frames * HOP, np.float32)  # whole frames, so reversal maps frames onto frames
            audio[: len(clip.audio)] = clip.audio
            opening = mouth_opening(track(clip, TrackSettings()).landmarks)
            forward = sync_peak(sync_curve(opening, loudness_envelope(audio, 16000, 25.0, clip.num_frames)))
            backward = sync_peak(sync_curve(opening[::-1], loudness_envelope(audio[::-1], 16000, 25.0, clip.num_frames)))
            assert backward[0] == pytest.approx(forward[0], abs=1e-9), name  # FFT magnitudes of reversed frames: rounding
            assert backward[1] == -forward[1], name


def test_still_mouth_gets_the_worst_value_with_the_reason(grid: dict[str, Clip]) -> None:
    clip = grid["bbaf2n"]
    still = clip.with_frames(np.repeat(clip.frames[:1], clip.num_frames, axis=0))
    item = Item(still, audio=clip.audio, sample_rate=16000)
    for name, worst in (("mouth-sync", -1.0), ("mouth-sync-centre", -1.0), ("mouth-offset", 15.0)):
        result = metrics.create(name)(item)
        assert result.ok and result.value == worst, (name, result)
        assert result.extras["mouth_static"] == 1.0 and result.extras["mouth_opening_std"] < 0.01


def test_unscorable_clips_fail_with_a_reason(grid: dict[str, Clip]) -> None:
    clip = grid["bbaf2n"]
    silent = metrics.create("mouth-sync")(Item(clip, audio=np.zeros_like(clip.audio), sample_rate=16000))
    assert not silent.ok and "silent" in silent.reason
    noise = clip.with_frames(np.random.default_rng(0).integers(0, 256, clip.frames.shape, dtype=np.uint8))
    faceless = metrics.create("mouth-sync")(Item(noise, audio=clip.audio, sample_rate=16000))
    assert not faceless.ok and "face on 0% of frames" in faceless.reason
    short = metrics.create("mouth-offset")(Item(clip.with_frames(clip.frames[:10]), audio=clip.audio, sample_rate=16000))
    assert not short.ok and "at least 11" in short.reason


def test_synthgrid_ground_truth_beats_the_anchors() -> None:
    from bench.data.synthetic import SynthConfig, synthesize_clip

    real, _ = synthesize_clip(SynthConfig(), 6, 0)  # s07, a test speaker of synthgrid-demo
    rows = {}
    for anchor in ("ground_truth", "shifted_audio", "static_frame"):
        out = baselines.create(anchor).generate(real.frames[0], real.audio, 16000, fps=25.0, reference=real)
        item = Item(out, real, audio=real.audio, sample_rate=16000)  # the driving audio, as the harness scores
        rows[anchor] = [metrics.create(n)(item).value for n in ("mouth-sync", "mouth-sync-centre", "mouth-offset")]
    # measured: ground truth 0.834 / 0.834 / 0; shifted by 5 frames 0.844 / 0.506 / -5; static -1 / -1 / 15
    assert rows["ground_truth"][2] == 0 and rows["shifted_audio"][2] == -5 and rows["static_frame"] == [-1, -1, 15]
    assert rows["ground_truth"][1] > rows["shifted_audio"][1] + 0.2 and rows["ground_truth"][0] > 0.7
