"""Calibration table (STYLE rule 19): our image metrics on real GRID clips against committed reference outputs.

Each row of ``calibration.csv`` names a metric variant, the GRID frames scored, the value a reference implementation
(scikit-image, the PyPI ``cpbd`` package, OpenCV luma, a NumPy transcription of FDBM) gave, and the tolerance with
its reason. Adding a row adds a test. The table is written only by hand, with ``python tests/metrics/test_calibration.py``
(which recomputes every row with the reference implementations); tests never write it.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from _tester import grid_frames, named_clip, one_torch_thread  # noqa: F401

import metrics
from metrics import Item

TABLE = Path(__file__).with_name("calibration.csv")
FIELDS = ["metric", "generated", "reference", "value", "atol", "rtol", "source"]


def frames_of(spec: str) -> np.ndarray:
    """``"bbaf2n[1:11]"``: frames 1..10 of a GRID clip."""
    match = re.fullmatch(r"(\w+)\[(\d+):(\d+)\]", spec)
    if match is None:
        raise ValueError(f"bad frame spec {spec!r}")
    return grid_frames(match[1])[int(match[2]) : int(match[3])]


def rows() -> list[dict[str, str]]:
    with open(TABLE, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("row", rows(), ids=lambda r: f"{r['metric']}:{r['generated']}")
def test_matches_the_reference_output(row):
    reference = named_clip(frames_of(row["reference"]), "reference") if row["reference"] else None
    result = metrics.create(row["metric"])(Item(named_clip(frames_of(row["generated"]), "generated"), reference))
    assert result.ok, result.reason
    assert result.value == pytest.approx(float(row["value"]), abs=float(row["atol"]), rel=float(row["rtol"])), row["source"]


def _references() -> dict[str, object]:
    """Reference implementations, imported only when the table is regenerated."""
    import importlib

    import cv2
    import scipy.ndimage
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    scipy.ndimage.imread = None  # cpbd 1.0.7 imports it
    port = importlib.import_module("cpbd.compute")

    def grey(frames):
        return np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])

    def fdbm(image):
        spectrum = np.abs(np.fft.fftshift(np.fft.fft2(image.astype(np.float64))))
        return np.count_nonzero(spectrum > spectrum.max() / 1000) / image.size

    wang = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False, "data_range": 255}
    lower = slice(144, None)
    pairs = {
        "psnr": lambda g, r: np.mean([peak_signal_noise_ratio(b, a, data_range=255) for a, b in zip(g, r, strict=True)]),
        "psnr-grey": lambda g, r: np.mean(
            [peak_signal_noise_ratio(b, a, data_range=255) for a, b in zip(grey(g), grey(r), strict=True)]
        ),
        "psnr-fae": lambda g, r: -10 * np.log10(np.mean((grey(g).astype(float) - grey(r)) ** 2, axis=(1, 2)).mean() / 255**2),
        "psnr-lower": lambda g, r: np.mean(
            [peak_signal_noise_ratio(b[lower], a[lower], data_range=255) for a, b in zip(g, r, strict=True)]
        ),
        "ssim": lambda g, r: np.mean([structural_similarity(a, b, channel_axis=-1, **wang) for a, b in zip(g, r, strict=True)]),
        "ssim-skimage": lambda g, r: np.mean(
            [structural_similarity(a, b, channel_axis=-1, data_range=255) for a, b in zip(g, r, strict=True)]
        ),
        "ssim-grey": lambda g, r: np.mean([structural_similarity(a, b, **wang) for a, b in zip(grey(g), grey(r), strict=True)]),
        "ssim-lower": lambda g, r: np.mean(
            [structural_similarity(a[lower], b[lower], channel_axis=-1, **wang) for a, b in zip(g, r, strict=True)]
        ),
        "cpbd": lambda g, r: np.mean([port.compute(f) for f in grey(g)]),
        "cpbd-lower": lambda g, r: np.mean([port.compute(f[lower]) for f in grey(g)]),
        "fdbm": lambda g, r: np.mean([fdbm(f) for f in grey(g)]),
        "fdbm-lower": lambda g, r: np.mean([fdbm(f[lower]) for f in grey(g)]),
    }
    return pairs


def regenerate() -> None:
    """Recompute every row's value with its reference implementation and rewrite the table."""
    references = _references()
    table = rows()
    for row in table:
        reference = frames_of(row["reference"]) if row["reference"] else None
        row["value"] = repr(float(references[row["metric"]](frames_of(row["generated"]), reference)))
    with open(TABLE, "w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(table)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    regenerate()
