"""PSNR against scikit-image on real GRID frames; aggregation, colour, regions, length and size policies."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _tester import MetricTester, consecutive_pair, named_clip, one_torch_thread  # noqa: F401
from skimage.metrics import peak_signal_noise_ratio

import metrics
from metrics import Item
from metrics._frames import grey
from metrics.psnr import psnr


class TestPSNR(MetricTester):
    metric = "psnr"
    atol, rtol = 1e-10, 1e-12
    reason = "same float64 formula; only the summation order of the MSE differs"

    def function(self, generated, reference):
        return psnr(generated, reference, data_range=255)

    def reference(self, generated, reference):
        return peak_signal_noise_ratio(reference, generated, data_range=255)


class TestPSNRGrey(TestPSNR):
    metric = "psnr-grey"

    def prepare(self, frames):
        return grey(frames)


def test_fae_aggregation_is_psnr_of_mean_mse():
    generated, reference = consecutive_pair(10)
    g, r = grey(generated).astype(np.float64), grey(reference).astype(np.float64)
    mean_mse = np.mean([np.mean((a - b) ** 2) for a, b in zip(g, r, strict=True)])
    expected = -10 * math.log10(mean_mse / 255**2)  # fae/utils.py
    item = Item(named_clip(generated, "gen"), named_clip(reference, "ref"))
    fae = metrics.create("psnr-fae")(item).value
    frame_mean = metrics.create("psnr-grey")(item).value
    assert fae == pytest.approx(expected, abs=1e-10)
    assert fae < frame_mean  # Jensen: the frame mean is never below the PSNR of the mean MSE


def test_identical_frames_are_counted_and_left_out_of_the_mean():
    generated, reference = consecutive_pair(4)
    generated = generated.copy()
    generated[0] = reference[0]
    result = metrics.create("psnr")(Item(named_clip(generated, "gen"), named_clip(reference, "ref")))
    expected = np.mean([peak_signal_noise_ratio(reference[i], generated[i], data_range=255) for i in range(1, 4)])
    assert result.value == pytest.approx(expected, abs=1e-10) and result.extras["frames_identical"] == 1
    same = metrics.create("psnr")(Item(named_clip(reference, "gen"), named_clip(reference, "ref")))
    assert same.value == math.inf and same.extras["frames_identical"] == 4
    assert math.isfinite(metrics.create("psnr-fae")(Item(named_clip(generated, "g"), named_clip(reference, "r"))).value)


def test_lower_half_scores_the_lower_rows():
    generated, reference = consecutive_pair(5)
    result = metrics.create("psnr-lower")(Item(named_clip(generated, "gen"), named_clip(reference, "ref")))
    expected = np.mean(
        [peak_signal_noise_ratio(r[144:], g[144:], data_range=255) for g, r in zip(generated, reference, strict=True)]
    )
    assert result.value == pytest.approx(expected, abs=1e-10)


def test_size_mismatch_names_both_sizes():
    generated, reference = consecutive_pair(3)
    item = Item(named_clip(generated[:, :144, :180], "gen"), named_clip(reference, "ref-clip"))
    result = metrics.create("psnr")(item)
    assert not result.ok and math.isnan(result.value)
    assert "144x180" in result.reason and "288x360" in result.reason and "gen" in result.reason


def test_length_mismatch_truncates_and_counts_or_refuses():
    generated, reference = consecutive_pair(8)
    item = Item(named_clip(generated[:5], "gen"), named_clip(reference, "ref"))
    truncated = metrics.create("psnr")(item)
    assert truncated.frames == 5 and truncated.extras["frames_truncated"] == 3
    assert truncated.value == pytest.approx(float(psnr(generated[:5], reference[:5], data_range=255).mean()))
    refused = metrics.create("psnr", length_mismatch="error")(item)
    assert not refused.ok and "5 frames" in refused.reason and "8" in refused.reason


def test_missing_reference_fails_with_reason():
    generated, _ = consecutive_pair(2)
    result = metrics.create("psnr")(Item(named_clip(generated, "gen")))
    assert not result.ok and "reference" in result.reason and math.isnan(result.value)


@pytest.mark.parametrize("option", [{"region": "chin"}, {"colour": "yuv"}, {"aggregate": "median"}])
def test_unknown_option_values_are_refused(option):
    with pytest.raises(ValueError, match=next(iter(option.values()))):
        metrics.create("psnr", **option)


def test_face_region_scores_aligned_crops_and_counts_frames_without_a_face():
    from bench import faces

    generated, reference = consecutive_pair(6)
    generated = generated.copy()
    generated[2] = 0  # no face in this frame: excluded and counted, not scored as a black crop
    gen_clip, ref_clip = named_clip(generated, "gen"), named_clip(reference, "ref")
    result = metrics.create("psnr-face")(Item(gen_clip, ref_clip))
    gen_faces, ref_faces = faces.align(gen_clip, size=128), faces.align(ref_clip, size=128)
    both = gen_faces.found & ref_faces.found
    assert not both[2] and both.sum() == 5
    expected = [
        peak_signal_noise_ratio(r, g, data_range=255) for g, r in zip(gen_faces.crops[both], ref_faces.crops[both], strict=True)
    ]
    assert result.ok and result.frames == 5 and result.extras["frames_no_face"] == 1
    assert result.value == pytest.approx(float(np.mean(expected)), abs=1e-10)


def test_numpy_frames_give_numpy_and_tensors_give_tensors():
    """Numpy frames on the CPU stay in numpy (no torch); tensors go through torch, differentiably, to the same values."""
    torch = pytest.importorskip("torch")
    generated, reference = consecutive_pair(3)
    ours = psnr(generated, reference, data_range=255)
    tensor = torch.tensor(generated, dtype=torch.float64, requires_grad=True)
    via_torch = psnr(tensor, torch.from_numpy(reference), data_range=255)
    assert isinstance(ours, np.ndarray) and isinstance(via_torch, torch.Tensor) and via_torch.requires_grad
    np.testing.assert_allclose(via_torch.detach().numpy(), ours, rtol=1e-14, atol=0)
    floats = psnr(generated.astype(np.float32), reference.astype(np.float32), data_range=255)
    np.testing.assert_allclose(floats, ours, rtol=1e-14, atol=0)


@pytest.mark.parametrize(
    "shape",
    [(1, 256, 256, 3), (2, 300, 400, 3), (40, 24, 24, 3), (3, 7, 5), (0, 4, 4, 3)],
    ids=["one-block", "frames-over-a-block", "frames-per-block", "grey-odd", "no-frames"],
)
def test_uint8_mse_is_the_exact_integer_sum_of_squares(shape):
    """uint8 frames: the sum of squared differences is exact (blocks of 2^16 values at the extreme 255 vs 0 included,
    contiguous or not), so the MSE is that integer divided once."""
    from metrics.psnr import frame_mse

    rng = np.random.default_rng(7)
    generated, reference = (rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(2))
    if shape[0]:
        generated[0], reference[0] = 255, 0  # every square 255^2: the largest sum a block can hold
    for gen, ref in ((generated, reference), (generated[:, 1:], reference[:, 1:]), (generated[:, :, ::2], reference[:, :, ::2])):
        exact = np.square(gen.astype(np.int64) - ref).reshape(len(gen), math.prod(gen.shape[1:])).sum(axis=1)
        ours = frame_mse(gen, ref)
        assert ours.dtype == np.float64 and ours.shape == (len(gen),)
        np.testing.assert_array_equal(ours, exact / max(gen[0].size if len(gen) else 1, 1))
        if len(gen):
            assert ours[0] == 255.0**2
