"""CPBD: cumulative probability of blur detection (Narvekar and Karam 2011), a no-reference sharpness in [0, 1].

Canonical: the PyPI ``cpbd`` 1.0.7 port (https://github.com/0x64746b/python-cpbd, ``cpbd/compute.py``,
``cpbd/octave.py``) of the ASU MATLAB release ``CPBDM_Release_v1.0``, rewritten vectorised (no loop over pixels)
with identical output: Canny edges (scikit-image defaults) pick 64x64 blocks with more than 0.002 x 4096 edge
pixels; Octave-style Sobel edges (threshold ``2 sqrt(mean(strength^2))``, simple thinning) give the pixels whose
Marziliano widths are measured (only gradients quantised to 0 or 180 degrees, each side capped at 101 steps); the
just-noticeable width is 5 (block contrast <= 50) or 3; ``P = 1 - exp(-(w / w_JNB)^3.6)`` goes into a 101-bin
histogram at ``round(100 P)``; CPBD is the fraction of edges in bins 0..63. Per clip: the mean over grey frames
(OpenCV luma), as Vougioukas' fae computes it.

``cpbd-matlab`` (``style="matlab"``) swaps in MATLAB-style edge maps (:mod:`metrics._cpbd_edges`). Fed the MATLAB
intermediates of the reference dump it gives 0.134895 (the port's own test value, 0.1349); end to end on the dump's
input image it gives the MATLAB CSV value 0.1352566 to within :data:`MATLAB_IMG1_DISTANCE` (the dump's Canny map is
not the one behind that CSV value; ours decides the same edge blocks as the CSV run).

Deviations from the port: inputs outside the uint8 range, and floats in [0, 1] (which the port silently scores as
contrast 0), are refused; a region smaller than one block warns (the port silently returns 0) and the plugin fails
that clip with a reason instead of a number.
"""

from __future__ import annotations

import warnings
from typing import ClassVar, Literal

import numpy as np

import metrics
from metrics import _cpbd_edges as edges
from metrics._regions import check_options, single_region
from metrics.base import Item, Metric, MetricError, Score

BLOCK = 64
EDGE_BLOCK_FRACTION = 0.002
BETA = 3.6
MAX_STEPS = 100
BLOCK_LIMIT = EDGE_BLOCK_FRACTION * BLOCK**2  # an edge block holds more edge pixels than this
SAMPLE_STEP = 8  # port_edge_blocks first counts strong maxima on one row in 8
JNB_CONTRAST = 50  # block contrast up to this: just-noticeable width 5, else 3
STYLES = ("port", "matlab")
MATLAB_IMG1 = 0.1352566  # MATLAB end to end on reference_img1_input.txt (sharpness_LIVE_matlab.csv, img1)
MATLAB_IMG1_DISTANCE = 1.13e-8  # |cpbd(img1, style="matlab") - MATLAB_IMG1|, measured and checked by the tests


class CPBDWarning(UserWarning):
    """The image region holds no complete 64x64 block, so CPBD has nothing to measure."""


def check_image(image: np.ndarray) -> np.ndarray:
    """The grey image as float64 on the 0..255 scale; ``ValueError`` for anything else (e.g. floats in [0, 1])."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"CPBD needs a grey 2-D image [H, W], got shape {image.shape}")
    if not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)):
        raise ValueError(f"CPBD needs a numeric image on the 0..255 scale, got dtype {image.dtype}")
    values = image.astype(np.float64)
    if image.dtype == np.uint8:
        return values
    if values.size and (not np.isfinite(values).all() or values.min() < 0 or values.max() > 255):
        raise ValueError(f"CPBD needs values in the uint8 range 0..255, got {values.min()}..{values.max()}")
    if np.issubdtype(image.dtype, np.floating) and 0 < values.max() <= 1:
        raise ValueError("CPBD needs values on the 0..255 scale; this float image lies in [0, 1] (multiply by 255)")
    return values


def _runs(signs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the runs of equal values of a flat array start and end (inclusive)."""
    boundaries = np.flatnonzero(signs[1:] != signs[:-1]) + 1
    return np.concatenate([[0], boundaries]), np.concatenate([boundaries - 1, [signs.size - 1]])


def _angles(values: np.ndarray, at: np.ndarray, width: int) -> np.ndarray:
    """The port's gradient angle in degrees at the interior pixels ``at`` of the flattened image ``values``.

    ``np.gradient``'s central differences; 0 where the x gradient is 0.
    """
    grad_x = np.subtract(values[at + 1], values[at - 1], dtype=np.float64) / 2.0
    grad_y = np.subtract(values[at + width], values[at - width], dtype=np.float64) / 2.0
    with np.errstate(invalid="ignore"):
        angle = np.where(grad_x != 0, np.arctan2(grad_y, grad_x) * (180 / np.pi), 0.0)
    angle[(grad_x == 0) & (grad_y == np.pi / 2)] = 90.0  # the port's special case, kept for identical output
    return angle


def marziliano_widths(edges: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Edge widths (Marziliano et al.) at the nonzero pixels of ``edges``, 0 elsewhere; float64 ``[H, W]``.

    At an edge whose gradient is quantised to 0 degrees (rising) or 180 (falling), the width is the number of
    monotone steps (rising resp. falling, at most 100) left of the pixel's left neighbour plus those right of its
    right neighbour, plus one on each side: the port's search loops, counted with runs of equal step signs.
    """
    widths = np.zeros(np.shape(image))
    rows, cols, values = edge_widths(edges, image)
    widths[rows, cols] = values
    return widths


def edge_widths(edges: np.ndarray, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`marziliano_widths` as the rows, columns and widths (int64, all >= 2) of the measured edge pixels.

    ``image``: uint8, or float64 on the 0..255 scale (both give the same widths for the same values).
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = image.astype(np.float64, copy=False)
    height, width = image.shape
    none = np.zeros(0, np.int64)
    if height < 3 or width < 3:
        return none, none, none
    edges = np.asarray(edges)
    at = np.flatnonzero(edges if edges.dtype == bool else edges != 0)  # flat indices of the edge pixels
    rows, cols = np.divmod(at, width)
    at = at[(rows > 0) & (rows < height - 1) & (cols > 0) & (cols < width - 1)]
    values = image.ravel()
    angle = _angles(values, at, width)
    if not angle.any():  # the port measures nothing when every angle in the image is 0
        grad_y, grad_x = np.gradient(image.astype(np.float64))
        if not ((grad_x < 0) | ((grad_x > 0) & (grad_y != 0)) | ((grad_x == 0) & (grad_y == np.pi / 2))).any():
            return none, none, none
    quantised = 45 * np.round(angle / 45)
    measured = (quantised == 0) | (np.abs(quantised) == 180)
    at, wanted = at[measured], np.where(quantised[measured] == 0, 1, -1)
    cols = at % width
    step_signs = np.full((height, width), 2, np.int8)  # the last column separates rows: no run crosses it
    right, left = image[:, 1:], image[:, :-1]
    np.subtract(right > left, right < left, out=step_signs[:, :-1], dtype=np.int8)  # the sign of each step
    signs = step_signs.ravel()
    starts, ends = _runs(signs)
    total = np.full(at.shape, 2, np.int64)
    for offset in (-2, 1):  # reach left from step c - 2, right from step c + 1
        ok = (cols + offset >= 0) & (cols + offset < width - 1)
        ok[ok] = signs[at[ok] + offset] == wanted[ok]  # rising edges climb, falling edges descend
        steps = at[ok] + offset
        if offset < 0:  # run length up to the step, leftwards
            run = steps - starts[np.searchsorted(starts, steps, side="right") - 1] + 1
        else:  # run length from the step, rightwards
            run = ends[np.searchsorted(ends, steps, side="left")] - steps + 1
        total[ok] += np.minimum(run, MAX_STEPS)
    rows, cols = np.divmod(at, width)
    return rows, cols, total


def _blocks(values: np.ndarray, rows: int, cols: int) -> np.ndarray:
    return values[: rows * BLOCK, : cols * BLOCK].reshape(rows, BLOCK, cols, BLOCK).swapaxes(1, 2)


def _block_counts(mask: np.ndarray, rows: int, cols: int) -> np.ndarray:
    return _blocks(mask, rows, cols).sum(axis=(2, 3))


def _in_blocks(edge_block: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The pixels of the given blocks, bool ``shape``: the only ones whose edge widths are pooled."""
    out = np.zeros(shape, bool)
    rows, cols = edge_block.shape
    out[: rows * BLOCK, : cols * BLOCK] = edge_block.repeat(BLOCK, axis=0).repeat(BLOCK, axis=1)
    return out


def edge_blocks(edge_map: np.ndarray) -> np.ndarray:
    """The 64x64 blocks (complete ones, from the top left) holding more than 0.002 x 4096 edge pixels, bool."""
    edge_map = np.asarray(edge_map)
    rows, cols = edge_map.shape[0] // BLOCK, edge_map.shape[1] // BLOCK
    return _block_counts(edge_map if edge_map.dtype == bool else edge_map != 0, rows, cols) > BLOCK_LIMIT


def port_block_edges(image: np.ndarray, gradients: edges.Gradients | None = None) -> np.ndarray:
    """An edge map with the same 64x64 edge-block decisions as the port's Canny map, tracing edges only if needed.

    Strong maxima always survive hysteresis and weak ones at most, so a block is decided by them alone unless its
    strong count is at or below the threshold while its weak count is above it.
    """
    weak, strong = edges.port_canny_candidates(image, gradients)
    sure = weak & strong
    if (edge_blocks(sure) == edge_blocks(weak)).all():
        return sure
    return edges.hysteresis(weak, strong)


def port_edge_blocks(image: np.ndarray) -> np.ndarray:
    """The edge blocks of the port's Canny map (:func:`edge_blocks` of ``canny(image)``), mostly without computing it.

    Canny keeps every strong suppressed maximum and at most the pixels above its low threshold, so a block with more
    than the limit of strong maxima on a sample of its rows (one in :data:`SAMPLE_STEP`) is an edge block, and one
    with at most the limit of pixels above the low threshold is not. Only when a block is left open by both bounds
    is the whole map computed (:func:`port_block_edges`); on video frames the sample decides every block.
    """
    rows, cols = image.shape[0] // BLOCK, image.shape[1] // BLOCK
    if rows == 0 or cols == 0:
        return np.zeros((rows, cols), bool)
    count = rows * BLOCK // SAMPLE_STEP
    sampled = edges.sampled_gradients(image, SAMPLE_STEP, count)  # row j of the sample at 3 j + 1
    sample = 3 * np.arange(count) + 1
    sure = np.zeros((count, image.shape[1]), bool)  # the border columns are never edges
    sure[:, 1:-1] = edges.suppressed_maxima(sampled, sample) & (sampled[2][sample, 1:-1] >= edges.HIGH)
    counts = sure[:, : cols * BLOCK].reshape(rows, -1, cols, BLOCK).sum(axis=(1, 3))
    decided = counts > BLOCK_LIMIT
    if decided.all():
        return decided
    gradients = edges.port_gradients(image)
    if (decided | (_block_counts(gradients[2] >= edges.LOW, rows, cols) <= BLOCK_LIMIT)).all():
        return decided
    return edge_blocks(port_block_edges(image, gradients))


def pooled_sharpness(image: np.ndarray, edge_block: np.ndarray, widths: np.ndarray) -> float:
    """The histogram and pooling stage: CPBD from the image, its edge blocks (:func:`edge_blocks`) and edge widths."""
    rows, cols = image.shape[0] // BLOCK, image.shape[1] // BLOCK
    widths = np.asarray(widths)
    r, c = np.nonzero(widths[: rows * BLOCK, : cols * BLOCK])
    inside = edge_block[r // BLOCK, c // BLOCK]
    return _pooled(image, r[inside], c[inside], widths[r[inside], c[inside]])


def _pooled(image: np.ndarray, rows: np.ndarray, cols: np.ndarray, widths: np.ndarray) -> float:
    """CPBD from the widths at the edge pixels ``(rows, cols)`` of complete edge blocks.

    The share of those pixels whose width, over their block's just-noticeable width, gives a blur probability
    below 63 %.
    """
    blocks_down, blocks_across = image.shape[0] // BLOCK, image.shape[1] // BLOCK
    if blocks_down == 0 or blocks_across == 0:
        warnings.warn(f"CPBD: a {image.shape[0]}x{image.shape[1]} region holds no 64x64 block", CPBDWarning, 3)
        return 0.0
    if widths.size == 0:
        return 0.0
    pixels = _blocks(image, blocks_down, blocks_across)
    contrast = np.trunc(pixels.max(axis=(2, 3)) - pixels.min(axis=(2, 3)))
    jnb = np.where(contrast <= JNB_CONTRAST, 5.0, 3.0)
    ratio = widths / jnb[rows // BLOCK, cols // BLOCK]
    buckets = np.round(100 * (1 - np.exp(-(np.abs(ratio) ** BETA))))
    return float(np.count_nonzero(buckets < 64) / ratio.size)


def cpbd(image: np.ndarray, *, style: Literal["port", "matlab"] = "port") -> float:
    """CPBD of one grey image on the 0..255 scale.

    Args:
        image: grey ``[H, W]``, uint8 or integer-valued floats in 0..255.
        style: ``"port"`` (PyPI ``cpbd`` 1.0.7, canonical) or ``"matlab"`` (MATLAB-style Canny and Sobel).

    Raises:
        ValueError: not a 2-D image in the uint8 range (floats in [0, 1] included).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> round(cpbd(rng.integers(0, 256, (64, 64)).astype(np.uint8)), 4)
        0.9033
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    levels = np.asarray(image)
    image = check_image(levels)
    if levels.dtype != np.uint8:
        levels = image  # uint8 frames take integer shortcuts to the same values
    if style == "matlab":
        edge_block, width_edges = edge_blocks(edges.matlab_canny(image)), edges.matlab_sobel(image)
    else:
        edge_block, width_edges = port_edge_blocks(image), edges.octave_sobel(levels)
    rows, cols, widths = edge_widths(width_edges & _in_blocks(edge_block, image.shape), levels)  # all in edge blocks
    return _pooled(image, rows, cols, widths)


VARIANTS: dict[str, dict[str, str]] = {
    "cpbd": {},
    "cpbd-matlab": {"style": "matlab"},
    "cpbd-lower": {"region": "lower-half"},
    "cpbd-face": {"region": "face"},
}


@metrics.variants(VARIANTS)
class CPBD(Metric):
    """Mean CPBD over the grey frames of the generated clip (no reference). Higher is sharper.

    Inputs: ``Item.generated.frames`` uint8 ``[T, H, W, 3]``; frames go to OpenCV-style luma first.

    Args:
        style: ``"port"`` (PyPI ``cpbd``) or ``"matlab"``.
        region: ``"full"``, ``"lower-half"`` or ``"face"`` (aligned 128 px: four blocks); ``"mouth"`` (128x64) too.
        device: unused (CPU only), accepted for a uniform interface.

    Example:
        >>> import numpy as np, metrics
        >>> from bench.media import Clip
        >>> from skimage.data import camera
        >>> frames = np.repeat(camera()[None, :, :, None], 3, axis=-1)  # one grey 512x512 frame
        >>> round(metrics.score("cpbd", Clip(frames))["cpbd"], 4)
        0.7482
    """

    name: ClassVar[str] = "cpbd"
    higher_is_better: ClassVar[bool] = True
    score_range: ClassVar[tuple[float | None, float | None]] = (0.0, 1.0)

    def __init__(self, style: Literal["port", "matlab"] = "port", region: str = "full", device: str = "cpu") -> None:
        super().__init__(device)
        if style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, got {style!r}")
        check_options(region, "grey")
        self.style, self.region = style, region

    def score(self, item: Item) -> Score:
        """Mean CPBD over the grey frames of the region."""
        frames = single_region(item.generated, self.region, "grey")
        height, width = frames.generated.shape[1:3]
        if height < BLOCK or width < BLOCK:
            warnings.warn(f"CPBD: {item.video_id}: {height}x{width} region holds no 64x64 block", CPBDWarning, 2)
            raise MetricError(f"{item.video_id}: region {self.region!r} is {height}x{width}, smaller than a 64x64 block")
        values = [cpbd(frame, style=self.style) for frame in frames.generated]
        return Score(float(np.mean(values)), frames.frames, extras=frames.extras())
