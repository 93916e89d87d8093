"""Speed of SSIM and CPBD beside their references in one run (pytest-benchmark), and the speed-ups they reach.

Targets of issue 3: SSIM on 100 frames of 96x96 at least 3x faster than a scikit-image loop; CPBD at least 30x
faster than the PyPI ``cpbd`` package on a 256x256 frame. The ratio tests time both sides with CPU time
(``time.process_time``, best of several rounds) on one torch thread, so that other processes on a shared machine
distort them less than wall time; the benchmark tables show wall time.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage
import torch
from skimage.metrics import structural_similarity
from timing import best_in_turns

from bench.media import read_clip
from metrics._frames import grey
from metrics.cpbd import cpbd
from metrics.ssim import ssim

scipy.ndimage.imread = None  # cpbd 1.0.7 imports it; current SciPy no longer has it
port = importlib.import_module("cpbd.compute")

WANG = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False, "data_range": 255}
# Issue 3's targets, asserted in CPU time on one thread. Measured on a quiet 2-vCPU machine, 2026-12-05 in the
# morning (three runs): SSIM 6.8-7.0x, CPBD 44.6-48.7x (30.9-32.4x before the sampled-row gradients and integer Sobel maps).
SSIM_TARGET, CPBD_TARGET = 3.0, 30.0


@pytest.fixture(scope="module")
def grid(grid_dir: Path) -> dict[str, np.ndarray]:
    return {name: read_clip(grid_dir / f"{name}.mpg").frames for name in ("bbaf2n", "swwp2s")}


@pytest.fixture(scope="module")
def crops(grid) -> tuple[np.ndarray, np.ndarray]:
    """100 pairs of consecutive 96x96 mouth-region crops of real GRID frames."""
    frames = np.concatenate([grid["bbaf2n"], grid["swwp2s"][:26]])
    window = (slice(150, 246), slice(132, 228))
    return np.ascontiguousarray(frames[1:101][:, window[0], window[1]]), np.ascontiguousarray(
        frames[:100][:, window[0], window[1]]
    )


@pytest.fixture(scope="module")
def frame_256(grid) -> np.ndarray:
    return np.ascontiguousarray(grey(grid["bbaf2n"][30])[16:272, 52:308])


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def skimage_loop(generated: np.ndarray, reference: np.ndarray, **options: object) -> list[float]:
    options = options or WANG
    return [structural_similarity(g, r, channel_axis=-1, **options) for g, r in zip(generated, reference, strict=True)]


@pytest.mark.parametrize("window", ["gaussian", "uniform"])
@pytest.mark.parametrize("implementation", ["talkbench", "skimage"])
def test_ssim_100_frames_96px(benchmark, crops, implementation, window):
    generated, reference = crops
    if implementation == "talkbench":
        values = benchmark(lambda: ssim(generated, reference, data_range=255, window=window))
    else:
        options = WANG if window == "gaussian" else {"data_range": 255}
        values = benchmark(skimage_loop, generated, reference, **options)
    assert len(values) == 100


@pytest.mark.parametrize("implementation", ["talkbench", "cpbd-package"])
def test_cpbd_256px(benchmark, frame_256, implementation):
    value = benchmark(cpbd, frame_256) if implementation == "talkbench" else benchmark(port.compute, frame_256)
    assert 0 < value < 1


def test_ssim_speedup(crops, record_property):
    generated, reference = crops
    ours, theirs = best_in_turns(
        lambda: ssim(generated, reference, data_range=255), lambda: skimage_loop(generated, reference), (2, 1)
    )
    record_property("ssim_speedup", theirs / ours)
    print(
        f"SSIM 100x96²: ours {ours * 1e3:.1f} ms, skimage {theirs * 1e3:.1f} ms: {theirs / ours:.1f}x, target {SSIM_TARGET:.0f}x"
    )
    assert theirs / ours >= SSIM_TARGET


def test_cpbd_speedup(frame_256, record_property):
    ours, theirs = best_in_turns(lambda: cpbd(frame_256), lambda: port.compute(frame_256), (4, 1))
    record_property("cpbd_speedup", theirs / ours)
    print(f"CPBD 256x256: ours {ours * 1e3:.2f} ms, cpbd {theirs * 1e3:.1f} ms: {theirs / ours:.1f}x, target {CPBD_TARGET:.0f}x")
    assert theirs / ours >= CPBD_TARGET
