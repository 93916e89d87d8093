"""SSIM against scikit-image on real GRID frames (both windows, RGB and grey), and its edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from _tester import MetricTester, consecutive_pair, named_clip, one_torch_thread  # noqa: F401
from skimage.metrics import structural_similarity

import metrics
from metrics import Item
from metrics._frames import grey
from metrics.ssim import ssim

WANG = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}


def _channel_axis(frame: np.ndarray) -> int | None:
    return -1 if frame.ndim == 3 else None


class TestSSIM(MetricTester):
    metric = "ssim"
    atol, rtol = 1e-6, 0.0  # issue 3 asks 1e-5; measured <= 2e-7 on GRID frames
    reason = "Gaussian window filtered in float32 on frame-centred data; scikit-image filters in float64"

    def function(self, generated, reference):
        return ssim(generated, reference, data_range=255)

    def reference(self, generated, reference):
        return structural_similarity(generated, reference, data_range=255, channel_axis=_channel_axis(generated), **WANG)


class TestSSIMSkimage(TestSSIM):
    metric = "ssim-skimage"
    atol, rtol = 1e-10, 1e-10
    reason = "exact float64 box sums; our moments come from (x+y, x-y) sums, so rounding differs in the last bits"

    def function(self, generated, reference):
        return ssim(generated, reference, data_range=255, window="uniform")

    def reference(self, generated, reference):
        return structural_similarity(generated, reference, data_range=255, channel_axis=_channel_axis(generated))


class TestSSIMGrey(TestSSIM):
    metric = "ssim-grey"

    def prepare(self, frames):
        return grey(frames)


def test_agrees_with_skimage_within_1e5_on_another_speaker():
    generated, reference = consecutive_pair(3, "swwp2s", start=40)
    ours = ssim(generated, reference, data_range=255)
    expected = [
        structural_similarity(g, r, data_range=255, channel_axis=-1, **WANG) for g, r in zip(generated, reference, strict=True)
    ]
    np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize(("level", "shift"), [(240, 1), (225, 5), (15, -1), (0, 5)])
def test_float32_path_agrees_within_1e6_on_flat_frames(level, shift):
    """Flat frames far from mid-grey are where float32 second moments cancel worst (``E[u^2] - mu_u^2``).

    Filtered centred on 127.5 these miss scikit-image by up to 8e-6; centred on each frame's mean, by < 1e-7.
    Frames with large flat areas at several far-apart levels still reach ~1e-6 (issue 3's bound is 1e-5).
    """
    reference = np.full((2, 32, 32, 3), level, np.uint8)
    generated = np.full_like(reference, level + shift)
    generated[:, 10:20, 5:9] = max(level - 40, 0)  # a small patch: SSIM is neither 0 nor 1
    generated[1] = np.clip(generated[1].astype(int) + shift, 0, 255)  # a second brightness step
    ours = ssim(generated, reference, data_range=255)
    expected = [
        structural_similarity(g, r, data_range=255, channel_axis=-1, **WANG) for g, r in zip(generated, reference, strict=True)
    ]
    np.testing.assert_allclose(ours, expected, atol=1e-6, rtol=0)


def test_batch_size_does_not_change_values():
    """``batch_size`` groups frames in the torch path (CUDA, or torch tensors); the values do not depend on it."""
    torch = pytest.importorskip("torch")
    generated, reference = (torch.from_numpy(f) for f in consecutive_pair(5))
    a = ssim(generated, reference, data_range=255, batch_size=1)
    b = ssim(generated, reference, data_range=255, batch_size=64)
    assert (a == b).all()


def test_identical_frames_score_one_and_data_range_matters():
    generated, reference = consecutive_pair(2)
    assert ssim(reference, reference, data_range=255).tolist() == pytest.approx([1.0, 1.0], abs=1e-12)
    full = ssim(generated, reference, data_range=255)
    wrong = ssim(generated, reference, data_range=1.0)  # a guessed range changes the value: why it is explicit
    assert (full != wrong).all()


def test_frames_smaller_than_the_window_fail_with_a_reason():
    generated, reference = consecutive_pair(2)
    item = Item(named_clip(generated[:, :10, :10], "gen"), named_clip(reference[:, :10, :10], "ref"))
    result = metrics.create("ssim")(item)
    assert not result.ok and "10x10" in result.reason and "11x11" in result.reason
    assert metrics.create("ssim-skimage")(item).ok  # the 7x7 window fits


def test_lower_half_region():
    generated, reference = consecutive_pair(3)
    result = metrics.create("ssim-lower")(Item(named_clip(generated, "gen"), named_clip(reference, "ref")))
    expected = [
        structural_similarity(g[144:], r[144:], data_range=255, channel_axis=-1, **WANG)
        for g, r in zip(generated, reference, strict=True)
    ]
    assert result.value == pytest.approx(float(np.mean(expected)), abs=1e-6)


def test_data_range_must_be_positive():
    generated, reference = consecutive_pair(1)
    with pytest.raises(ValueError, match="data_range"):
        ssim(generated, reference, data_range=0)


def test_mouth_region_scores_the_lipnet_crops():
    from bench import faces

    generated, reference = consecutive_pair(4)
    gen_clip, ref_clip = named_clip(generated, "gen"), named_clip(reference, "ref")
    result = metrics.create("ssim-mouth")(Item(gen_clip, ref_clip))
    (gen_crops, gen_found), (ref_crops, ref_found) = faces.mouth_crops(gen_clip), faces.mouth_crops(ref_clip)
    assert gen_found.all() and ref_found.all() and gen_crops.shape[1:] == (64, 128, 3)
    expected = [
        structural_similarity(g, r, data_range=255, channel_axis=-1, **WANG) for g, r in zip(gen_crops, ref_crops, strict=True)
    ]
    assert result.ok and result.frames == 4 and result.value == pytest.approx(float(np.mean(expected)), abs=1e-6)


def test_a_clip_without_any_face_fails_with_a_reason():
    generated, reference = consecutive_pair(2)
    blank = np.zeros_like(generated)
    result = metrics.create("ssim-face")(Item(named_clip(blank, "blank"), named_clip(reference, "ref")))
    assert not result.ok and "no face" in result.reason and "blank" in result.reason


@pytest.mark.parametrize("window", ["gaussian", "uniform"])
def test_torch_tensors_give_the_opencv_values(window):
    """Torch tensors take the torch path (CUDA's, here on the CPU); numpy frames on the CPU are filtered with OpenCV.

    Both agree with each other and, through the tests above, with scikit-image.
    """
    torch = pytest.importorskip("torch")
    generated, reference = consecutive_pair(3)
    ours = ssim(generated, reference, data_range=255, window=window)
    via_torch = ssim(torch.from_numpy(generated), torch.from_numpy(reference), data_range=255, window=window)
    assert isinstance(ours, np.ndarray) and isinstance(via_torch, np.ndarray)
    np.testing.assert_allclose(via_torch, ours, atol=1e-6 if window == "gaussian" else 1e-12, rtol=0)
    grey_frames = grey(generated), grey(reference)
    np.testing.assert_allclose(
        ssim(*grey_frames, data_range=255, window=window),
        ssim(*(torch.from_numpy(f) for f in grey_frames), data_range=255, window=window),
        atol=1e-6 if window == "gaussian" else 1e-12, rtol=0,
    )  # fmt: skip


def test_maps_kept_between_calls_do_not_leak_across_shapes_or_threads():
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(5)
    clips = [rng.integers(0, 256, (3, h, w, 3), dtype=np.uint8) for h, w in ((40, 56), (33, 41), (40, 56))]
    refs = [np.clip(c.astype(int) + rng.integers(-20, 21, c.shape), 0, 255).astype(np.uint8) for c in clips]
    alone = [ssim(c, r, data_range=255) for c, r in zip(clips, refs, strict=True)]
    again = [ssim(c, r, data_range=255) for c, r in zip(clips[::-1], refs[::-1], strict=True)][::-1]
    with ThreadPoolExecutor(3) as pool:
        threaded = list(pool.map(lambda pair: ssim(*pair, data_range=255), zip(clips * 4, refs * 4, strict=True)))
    for k, expected in enumerate(alone):
        np.testing.assert_array_equal(again[k], expected)
        for got in threaded[k::3]:
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("window", ["gaussian", "uniform"])
def test_uint8_frames_score_exactly_as_their_float_copies(grid_paths, window):
    """uint8 frames take OpenCV's add and subtract into float (metrics.ssim._sum_and_difference): bit for bit the values
    of the same frames given as float32, which numpy adds; on whole frames, crops, mirrored and channel-reversed views,
    three channels of four and grey frames (and six channels, more than OpenCV's images hold, by numpy)."""
    from bench.media import read_clip

    x = read_clip(grid_paths[0]).frames[:6]
    y = np.ascontiguousarray(x[:, :, ::-1])  # the mirror image: a low, non-trivial SSIM
    rgba = np.random.default_rng(5).integers(0, 256, (2, 3, 40, 52, 4), np.uint8)
    views = {
        "frames": (x, y), "crop": (x[:, 30:200, 40:300], y[:, 30:200, 40:300]), "mirrored": (x[:, :, ::-1], x),
        "bgr": (x[..., ::-1], y[..., ::-1]), "rgb of rgba": (rgba[0, ..., :3], rgba[1, ..., :3]),
        "grey": (x[..., 1], y[..., 1]), "six channels (numpy's path)": (np.concatenate([x, y], -1), np.concatenate([y, x], -1)),
    }  # fmt: skip
    for name, (gen, ref) in views.items():
        fast = ssim(gen, ref, data_range=255, window=window)
        assert np.array_equal(fast, ssim(gen.astype(np.float32), ref.astype(np.float32), data_range=255, window=window)), name
        assert 0.0 < fast.min() and fast.max() < 1.0, name
