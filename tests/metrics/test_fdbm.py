"""FDBM on constructed spectra (hand-computed values), under blur, and against a literal transcription of the paper."""

from __future__ import annotations

import numpy as np
import pytest
from _tester import MetricTester, consecutive_pair, named_clip, one_torch_thread  # noqa: F401
from scipy.ndimage import gaussian_filter
from skimage import data

import metrics
from metrics import Item
from metrics._frames import grey
from metrics.fdbm import fdbm


def transcription(image: np.ndarray) -> float:
    """De and Masilamani's steps 1-6 as SPECS M2 lists them, in NumPy."""
    spectrum = np.abs(np.fft.fftshift(np.fft.fft2(image.astype(np.float64))))
    return float(np.count_nonzero(spectrum > spectrum.max() / 1000) / image.size)


class TestFDBM(MetricTester):
    metric = "fdbm"
    atol, rtol = 0.0, 0.0
    reason = "a count of coefficients: torch and NumPy FFTs agree far from the threshold on real frames"
    full_reference = False

    def prepare(self, frames):
        return grey(frames)

    def function(self, generated, reference):
        return fdbm(generated)

    def reference(self, generated, reference):
        return transcription(generated)


def test_constant_image_has_only_the_dc_coefficient():
    assert float(fdbm(np.full((30, 40), 123, np.uint8))[0]) == 1 / (30 * 40)


def test_known_spectrum_counts_the_cosines_above_one_thousandth_of_the_peak():
    rows, cols = np.mgrid[0:32, 0:48]
    base = 100.0 + 10.0 * np.cos(2 * np.pi * 5 * cols / 48)  # DC 100 MN, two coefficients of 5 MN at (0, +-5)
    weak = 0.1 * np.cos(2 * np.pi * 3 * rows / 32)  # 0.05 MN at (+-3, 0): below the threshold 0.1 MN
    strong = 0.3 * np.cos(2 * np.pi * 3 * rows / 32)  # 0.15 MN: above it
    assert float(fdbm(base)[0]) == 3 / (32 * 48)
    assert float(fdbm(base + weak)[0]) == 3 / (32 * 48)
    assert float(fdbm(base + strong)[0]) == 5 / (32 * 48)


def test_blur_lowers_it():
    image = data.camera().astype(np.float64)
    values = [float(fdbm(gaussian_filter(image, sigma))[0]) if sigma else float(fdbm(image)[0]) for sigma in (0, 1, 2, 4)]
    assert values[0] > values[1] > values[2] > values[3] > 0


def test_scale_invariant_and_batched():
    image = data.camera()
    stack = np.stack([image, image[::-1], image.T])
    batch = fdbm(stack)
    assert batch.shape == (3,)
    assert float(fdbm(image.astype(np.float64) / 255)[0]) == float(batch[0]) == pytest.approx(transcription(image))


def test_plugin_is_the_mean_over_grey_frames_of_the_region():
    generated, _ = consecutive_pair(4)
    result = metrics.create("fdbm-lower")(Item(named_clip(generated, "gen")))
    expected = np.mean([transcription(grey(frame)[144:]) for frame in generated])
    assert result.ok and result.frames == 4 and result.value == pytest.approx(expected, abs=1e-12)


def test_refuses_colour_or_complex_input():
    with pytest.raises(ValueError, match="grey"):
        fdbm(np.zeros((2, 8, 8, 3)))
    with pytest.raises(ValueError, match="grey"):
        fdbm(np.zeros((8, 8), np.complex128))


def test_torch_path_counts_the_same_coefficients():
    """Torch tensors (the CUDA path, here on the CPU) count exactly the coefficients that scipy's FFT counts."""
    torch = pytest.importorskip("torch")
    generated, _ = consecutive_pair(3)
    frames = grey(generated)
    ours = fdbm(frames)
    np.testing.assert_array_equal(fdbm(torch.from_numpy(frames)), ours)
    assert ours == pytest.approx([transcription(f) for f in frames], abs=1e-15)
