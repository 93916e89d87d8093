"""CPBD against the PyPI ``cpbd`` 1.0.7 port (real images, GRID frames) and cpbd-matlab against the MATLAB dumps."""

from __future__ import annotations

import importlib
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage
from _tester import MetricTester, consecutive_pair, named_clip, one_torch_thread  # noqa: F401
from skimage import data
from skimage.color import rgb2gray

import metrics
from metrics import Item
from metrics import _cpbd_edges as edges
from metrics._frames import grey
from metrics.cpbd import (
    MATLAB_IMG1,
    MATLAB_IMG1_DISTANCE,
    CPBDWarning,
    cpbd,
    edge_blocks,
    marziliano_widths,
    pooled_sharpness,
    port_block_edges,
    port_edge_blocks,
)

scipy.ndimage.imread = None  # cpbd 1.0.7 imports it; current SciPy no longer has it
port = importlib.import_module("cpbd.compute")

DUMPS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "cpbd" / "tests" / "data"


@pytest.fixture(scope="module")
def dump():
    if not DUMPS.is_dir():
        pytest.skip(f"CPBD MATLAB dumps not found at {DUMPS}")
    return {n: np.loadtxt(DUMPS / f"reference_img1_{n}.txt", delimiter=",") for n in ("input", "canny", "sobel", "marziliano")}


class TestCPBD(MetricTester):
    metric = "cpbd"
    atol, rtol = 1e-12, 0.0
    reason = "identical arithmetic (the issue asks for 1e-4; the maps and histograms are bit-identical)"
    frames = 3  # the port takes about a second per GRID frame
    full_reference = False

    def prepare(self, frames):
        return grey(frames)

    def function(self, generated, reference):
        return np.array([cpbd(frame) for frame in generated])

    def reference(self, generated, reference):
        return port.compute(generated)


def _skimage_images():
    astronaut = np.round(rgb2gray(data.astronaut()) * 255).astype(np.uint8)
    return {"camera": data.camera(), "coins": data.coins(), "text": data.text(), "astronaut": astronaut}


@pytest.mark.parametrize("name", sorted(_skimage_images()))
def test_port_style_equals_the_package_on_skimage_images(name):
    image = _skimage_images()[name]
    expected = port.compute(image)
    assert cpbd(image) == pytest.approx(expected, abs=1e-12)
    assert 0.05 < expected < 0.95  # a real measurement, not a degenerate 0 or 1


def test_port_style_equals_the_package_on_the_matlab_input(dump):
    assert cpbd(dump["input"]) == pytest.approx(port.compute(dump["input"]), abs=1e-12)


def test_edge_maps_equal_the_package_ones(dump):
    image = dump["input"]
    from skimage.feature import canny

    assert np.array_equal(edges.port_canny(image), canny(image))
    assert np.array_equal(edges.octave_sobel(image), port.sobel(image))
    sobel = port.sobel(image)
    assert np.array_equal(marziliano_widths(sobel, image), port.marziliano_method(sobel, image))


def test_pooling_stage_reproduces_0_1349_from_the_matlab_intermediates(dump):
    value = pooled_sharpness(dump["input"], edge_blocks(dump["canny"]), dump["marziliano"])
    assert value == pytest.approx(0.1349, abs=5e-5)
    assert value == pytest.approx(0.134894907, abs=1e-9)  # README: recomputed value


def test_widths_reproduce_the_matlab_marziliano_dump(dump):
    assert np.array_equal(marziliano_widths(dump["sobel"], dump["input"]), dump["marziliano"])


def test_matlab_sobel_reproduces_the_matlab_dump(dump):
    assert np.array_equal(edges.matlab_sobel(dump["input"]), dump["sobel"] == 1)


def test_matlab_canny_decides_edge_blocks_closer_to_matlab_than_the_port(dump):
    matlab = edge_blocks(dump["canny"])
    ours = int((edge_blocks(edges.matlab_canny(dump["input"])) != matlab).sum())
    theirs = int((edge_blocks(edges.port_canny(dump["input"])) != matlab).sum())
    assert ours <= 2 < theirs  # measured: 2 and 6 of 96 blocks


def test_matlab_style_end_to_end_distance_is_the_reported_one(dump):
    distance = abs(cpbd(dump["input"], style="matlab") - MATLAB_IMG1)
    assert distance == pytest.approx(MATLAB_IMG1_DISTANCE, abs=1e-10)
    assert distance < 5e-8  # the CSV value is rounded to 7 decimals


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.linspace(0, 1, 64 * 64).reshape(64, 64), r"\[0, 1\]"),
        (np.full((64, 64), 300.0), "0..255"),
        (np.full((64, 64), -1), "0..255"),
        (np.full((64, 64), np.nan), "0..255"),
        (np.zeros((64, 64, 3), np.uint8), "2-D"),
        (np.zeros((64, 64), bool), "numeric"),
    ],
)
def test_refuses_inputs_outside_the_uint8_range(image, message):
    with pytest.raises(ValueError, match=message):
        cpbd(image)


def test_small_region_warns_and_the_plugin_fails_with_a_reason():
    with pytest.warns(CPBDWarning, match="50x80"):
        assert cpbd(np.zeros((50, 80), np.uint8)) == 0.0
    generated, _ = consecutive_pair(2)
    with pytest.warns(CPBDWarning):
        result = metrics.create("cpbd")(Item(named_clip(generated[:, :48, :48], "tiny")))
    assert not result.ok and math.isnan(result.value) and "64x64" in result.reason and "tiny" in result.reason


def test_matlab_variant_scores_grid_frames_close_to_the_port():
    generated, _ = consecutive_pair(2)
    item = Item(named_clip(generated, "gen"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        port_style, matlab_style = metrics.create("cpbd")(item), metrics.create("cpbd-matlab")(item)
    assert port_style.ok and matlab_style.ok and 0 < matlab_style.value < 1
    assert matlab_style.value != port_style.value and abs(matlab_style.value - port_style.value) < 0.2


def test_edge_blocks_left_open_by_strong_maxima_are_traced_like_the_package():
    image = np.full((128, 128), 100.0)
    image[:, 32:] += 0.04  # a faint edge: maxima between the two Canny thresholds
    image[:8, 32:] += 20.0  # and a strong one at the top
    weak, strong = edges.port_canny_candidates(image)
    lower_left = (slice(64, 128), slice(0, 64))
    assert (weak & strong)[lower_left].sum() <= 8 < weak[lower_left].sum()  # undecided without hysteresis
    ours = edge_blocks(port_block_edges(image))
    from skimage.feature import canny

    assert np.array_equal(ours, edge_blocks(canny(image)))
    assert cpbd(image) == pytest.approx(port.compute(image), abs=1e-12)


def test_edge_blocks_from_sampled_rows_equal_the_package_canny_ones(monkeypatch):
    from skimage.feature import canny

    generated, _ = consecutive_pair(2)
    frames = list(grey(generated).astype(np.float64))
    images = {name: image.astype(np.float64) for name, image in _skimage_images().items()}
    for image in images.values():  # camera's sky leaves blocks to the whole map
        assert np.array_equal(port_edge_blocks(image), edge_blocks(canny(image)))
    expected = [edge_blocks(canny(frame)) for frame in frames]
    monkeypatch.setattr("metrics.cpbd.port_block_edges", None)  # on GRID frames the sample decides every block
    for frame, blocks in zip(frames, expected, strict=True):
        assert np.array_equal(port_edge_blocks(frame), blocks)
        assert blocks.all()  # every block of a GRID frame holds edges, even the plain background


@pytest.mark.parametrize("case", ["line between sampled rows", "faint edge", "flat"])
def test_edge_blocks_left_open_by_the_sample_are_decided_on_the_whole_map(case, monkeypatch):
    from skimage.feature import canny

    image = np.full((128, 192), 100.0)
    if case == "line between sampled rows":
        image[74:, :] += 40.0  # a horizontal step: edges on rows 73-74 only, which the row sample skips
    elif case == "faint edge":
        image[:, 32:] += 0.04
        image[:8, 32:] += 20.0
    calls = []
    full_map = port_block_edges
    monkeypatch.setattr("metrics.cpbd.port_block_edges", lambda im, *given: calls.append(1) or full_map(im, *given))
    blocks = port_edge_blocks(image)
    assert np.array_equal(blocks, edge_blocks(canny(image)))
    assert len(calls) == (0 if case == "flat" else 1)  # a flat image is decided by the low-threshold bound
    if case == "line between sampled rows":
        assert blocks[1].all() and not blocks[0].any()


def test_pooling_the_measured_pixels_equals_pooling_the_width_map():
    """cpbd pools the widths of the measured edge pixels directly; the map path (pooled_sharpness of
    marziliano_widths) gives the same value, and the map holds exactly those pixels and widths."""
    from metrics.cpbd import _in_blocks, edge_widths

    generated, _ = consecutive_pair(2)
    images = [*grey(generated).astype(np.float64), *(im.astype(np.float64) for im in _skimage_images().values())]
    for image in images:
        blocks = port_edge_blocks(image)
        width_edges = edges.octave_sobel(image) & _in_blocks(blocks, image.shape)
        widths = marziliano_widths(width_edges, image)
        rows, cols, values = edge_widths(width_edges, image)
        assert np.array_equal(np.flatnonzero(widths), rows * image.shape[1] + cols) and (values >= 2).all()
        assert np.array_equal(widths[rows, cols], values)
        assert cpbd(image) == pooled_sharpness(image, blocks, widths)


def _uint8_images() -> list[np.ndarray]:
    """GRID frames, scikit-image's pictures, random noise of odd sizes, and extremes (0/255 checkerboard, flat)."""
    generated, _ = consecutive_pair(2)
    rng = np.random.default_rng(7)
    noise = [rng.integers(0, 256, (int(h), int(w)), dtype=np.uint8) for h, w in rng.integers(3, 200, (12, 2))]
    checker = (np.indices((96, 130)).sum(axis=0) % 2 * 255).astype(np.uint8)
    return [*grey(generated), *_skimage_images().values(), *noise, checker, np.full((70, 70), 9, np.uint8)]


def test_uint8_shortcuts_give_the_float_paths_values():
    """uint8 frames take integer shortcuts (Sobel strengths in int32, step signs by comparison): the same edge maps,
    widths and CPBD, bit for bit, as the same image in float64."""
    from metrics.cpbd import edge_widths

    for image in _uint8_images():
        values = image.astype(np.float64)
        assert np.array_equal(edges.octave_sobel(image), edges.octave_sobel(values))
        mask = edges.octave_sobel(values) | (np.indices(image.shape).sum(axis=0) % 5 == 0)  # and pixels on no edge
        for ours, float_path in zip(edge_widths(mask, image), edge_widths(mask, values), strict=True):
            assert np.array_equal(ours, float_path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CPBDWarning)  # images smaller than a block
            assert cpbd(image) == cpbd(values)
    checker = _uint8_images()[-2]
    assert np.array_equal(edges.octave_sobel(checker), port.sobel(checker.astype(np.float64)))


@pytest.mark.parametrize("step", [5, 8, 11])
def test_sampled_gradients_are_the_whole_maps_rows(step):
    """Canny's gradients computed on the sampled rows only (and their neighbours) equal those rows of the whole map."""
    for image in _uint8_images():
        values = image.astype(np.float64)
        count = values.shape[0] // step
        if count == 0:
            continue
        rows = (step * np.arange(count)[:, None] + step // 2 + np.array([-1, 0, 1])).ravel()
        for whole, sampled in zip(edges.port_gradients(values), edges.sampled_gradients(values, step, count), strict=True):
            assert np.array_equal(whole[rows], sampled)
    with pytest.raises(ValueError, match="step >= 5"):
        edges.sampled_gradients(np.zeros((64, 64)), 4, 8)


@pytest.mark.parametrize("shape", [(1, 1), (3, 9), (160, 360), (64, 65)])
def test_gaussian_passes_sum_as_ndimage_does(shape):
    """The numpy column pass (and the row pass) equal ``scipy.ndimage.correlate1d`` bit for bit, zeros beyond the
    ends: scikit-image's Canny smooths with it, and CPBD's edge maps are identical to the package's only if every
    smoothed value is."""
    values = np.random.default_rng(sum(shape)).random(shape) * 255
    taps = edges._gauss()
    out = np.full((shape[0], shape[1] + 2), np.nan)
    edges._columns(values, output=out[:, 1:-1])
    expected = scipy.ndimage.correlate1d(values, taps, axis=1, mode="constant")
    assert np.array_equal(out[:, 1:-1], expected) and np.isnan(out[:, [0, -1]]).all()
    assert np.array_equal(edges._rows(values, taps), scipy.ndimage.correlate1d(values, taps, axis=0, mode="constant"))


def test_hysteresis_keeps_the_8_connected_components_holding_a_strong_pixel():
    """Against scipy.ndimage.label with 8-connectivity: a diagonal chain is one component, a lone weak blob is dropped."""
    rng = np.random.default_rng(3)
    weak = rng.random((120, 150)) < 0.45
    strong = weak & (rng.random(weak.shape) < 0.01)
    labels, _ = scipy.ndimage.label(weak, np.ones((3, 3), bool))
    expected = np.isin(labels, labels[strong]) & weak
    kept = edges.hysteresis(weak, strong)
    assert np.array_equal(kept, expected) and 0 < kept.sum() < weak.sum()
    chain = np.eye(6, dtype=bool)
    chain[0, 5] = True  # an isolated weak pixel
    only_corner = np.zeros_like(chain)
    only_corner[5, 5] = True
    assert np.array_equal(edges.hysteresis(chain, only_corner), np.eye(6, dtype=bool))
