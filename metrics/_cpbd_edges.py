"""Edge maps for CPBD, vectorised: the port's (scikit-image Canny, Octave-style Sobel) and MATLAB-style ones.

Port style (PyPI ``cpbd`` 1.0.7):

* :func:`port_canny` equals ``skimage.feature.canny(image)`` with default arguments on a float64 image (sigma 1,
  thresholds 0.1 and 0.2, zero padding compensated by the smoothed mask, Sobel gradients, bilinear non-maximum
  suppression, 8-connected hysteresis), recomputed with the same summation order so the maps are identical; it is
  written out because the filtering and suppression dominate CPBD's time.
* :func:`octave_sobel`: vertical Sobel edges above ``2 sqrt(mean(strength^2))``, simple thinning (the Sobel sums
  are exact, hence identical to the port's ``scipy.ndimage.convolve``, on integer-valued images; on other float
  images they may differ in the last bit).

MATLAB style (written from the documented behaviour of ``edge``; no MATLAB code is used):

* :func:`matlab_sobel` = ``edge(I, 'Sobel', 2, 'vertical')``: ``imfilter`` with the Sobel kernel / 8, replicate
  border; an edge exceeds ``threshold^2`` in ``bx^2`` and is a local maximum horizontally (where ``|bx| >= |by|``)
  or vertically, zeros beyond the border, ``<=`` before and ``>`` after. It reproduces the MATLAB dump
  ``reference_img1_sobel.txt`` exactly.
* :func:`matlab_canny` = ``edge(I, 'canny')``: derivative-of-Gaussian gradients (sigma sqrt 2, replicate border),
  magnitude normalised to its maximum, high threshold from a 64-bin histogram leaving 70% of pixels non-edges,
  low = 0.4 high, interpolated non-maximum suppression in four sectors, 8-connected hysteresis.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from types import ModuleType

import cv2
import numpy as np

LOW, HIGH = float(np.float32(0.1)), 0.2  # scikit-image's defaults; the low one goes through a C float
_SOBEL_X = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]) / 8.0
_EPS100 = 100 * np.finfo(np.float64).eps
Gradients = tuple[np.ndarray, np.ndarray, np.ndarray]  # rows, columns, magnitude


def _ndimage() -> ModuleType:
    """scipy.ndimage, imported on first use by the MATLAB-style maps only.

    Its import costs ~0.26 s of CPU (array-API set-up), so the port style, the default, does without it.
    """
    from scipy import ndimage

    return ndimage


def _rows(values: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """``ndimage.correlate1d(values, taps, axis=0, mode="constant")`` for an odd symmetric kernel, same sum order."""
    radius, n = len(taps) // 2, values.shape[0]
    padded = np.zeros((n + 2 * radius, values.shape[1]))  # zero rows above and below (np.pad is slower)
    padded[radius : radius + n] = values
    return _symmetric_sum(lambda by: padded[by : by + n], taps)


def _symmetric_sum(
    shifted: Callable[[int], np.ndarray], taps: np.ndarray, output: np.ndarray | None = None
) -> np.ndarray:
    """The taps' weighted sum of ``shifted(k)``, the values ``k - radius`` away from each output (zero outside).

    Summed as ndimage sums a symmetric kernel: the centre, then each pair, outermost first (into ``output``).
    """
    radius = len(taps) // 2
    out = np.multiply(shifted(radius), taps[radius], out=output)
    pair = np.empty(out.shape)
    for k in range(radius):
        np.add(shifted(k), shifted(2 * radius - k), out=pair)
        pair *= taps[k]
        out += pair
    return out


@lru_cache(maxsize=1)
def _gauss() -> np.ndarray:
    x = np.arange(-4, 5, dtype=np.float64)
    taps = np.exp(-0.5 * x**2)
    return taps / taps.sum()


def _pad_edge(values: np.ndarray) -> np.ndarray:
    """``np.pad(values, 1, mode="symmetric")`` (one repeated border pixel: ndimage's "reflect"), without np.pad's cost."""
    out = np.empty((values.shape[0] + 2, values.shape[1] + 2), values.dtype)
    out[1:-1, 1:-1] = values
    _fill_edge(out)
    return out


def _fill_edge(padded: np.ndarray, rows: bool = True) -> None:
    """Fill the one-pixel border of ``padded`` by repeating its interior's edge pixels (columns only: ``rows=False``)."""
    if rows:
        padded[0, 1:-1], padded[-1, 1:-1] = padded[1, 1:-1], padded[-2, 1:-1]
    padded[:, 0], padded[:, -1] = padded[:, 1], padded[:, -2]


def _pad_zero(values: np.ndarray) -> np.ndarray:
    """``np.pad(values, 1)``: a border of zeros."""
    out = np.zeros((values.shape[0] + 2, values.shape[1] + 2), values.dtype)
    out[1:-1, 1:-1] = values
    return out


def _smooth(values: np.ndarray, output: np.ndarray | None = None) -> np.ndarray:
    """``ndimage.gaussian_filter(values, 1, mode="constant")``: rows as ndimage sums them, then columns."""
    return _columns(_rows(values, _gauss()), output)


def _columns(values: np.ndarray, output: np.ndarray | None = None) -> np.ndarray:
    """The Gaussian's second pass: ``ndimage.correlate1d(values, taps, axis=1, mode="constant")``, same sum order.

    Written in numpy (into ``output``) rather than called: importing scipy.ndimage costs ~0.26 s of CPU (its array-API
    set-up), while this pass costs ~0.2 ms more than ndimage's C loop per 360x288 frame (~65 ms for the 300 frames
    CPBD scores on the four GRID pairs).
    """
    taps = _gauss()
    radius, (height, width) = len(taps) // 2, values.shape
    padded = np.zeros((height, width + 2 * radius))  # zero columns left and right
    padded[:, radius : radius + width] = values
    return _symmetric_sum(lambda by: padded[:, by : by + width], taps, output)


@lru_cache(maxsize=16)
def _bleed_over(shape: tuple[int, int]) -> np.ndarray:
    out = _smooth(np.ones(shape)) + np.finfo(np.float64).eps
    out.setflags(write=False)
    return out


def hysteresis(weak: np.ndarray, strong: np.ndarray) -> np.ndarray:
    """8-connected components of ``weak`` that contain a ``strong`` pixel."""
    if not (weak & ~strong).any():  # every candidate is strong: nothing to trace
        return weak
    count, labels = cv2.connectedComponents(weak.astype(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    keep[labels[strong & weak]] = True
    keep[0] = False
    return keep[labels]


def port_canny(image: np.ndarray) -> np.ndarray:
    """Canny edges identical to ``skimage.feature.canny(image)`` (defaults) for a float64 image."""
    return hysteresis(*port_canny_candidates(image))


def port_gradients(image: np.ndarray) -> Gradients:
    """scikit-image Canny's Sobel gradients of the smoothed image: rows, columns and magnitude, float64 ``[H, W]``."""
    height, width = image.shape
    padded = np.empty((height + 2, width + 2))  # the smoothed image with ndimage.sobel's "reflect" border
    _smooth(image, output=padded[1:-1, 1:-1])
    padded[1:-1, 1:-1] /= _bleed_over(image.shape)
    _fill_edge(padded)
    return _sobel(padded[:, 2:] - padded[:, :-2], padded[2:] - padded[:-2])


def _sobel(d_cols: np.ndarray, d_rows: np.ndarray) -> Gradients:
    """Sobel gradients and magnitude from central differences of the border-padded smoothed image.

    ``d_cols`` ``[..., H + 2, W]`` along columns, ``d_rows`` ``[..., H, W + 2]`` along rows; scikit-image's sums, in
    its order.
    """
    jsobel = d_cols[..., :-2, :] + d_cols[..., 2:, :]
    centre = d_cols[..., 1:-1, :] * 2.0
    jsobel += centre  # 2 d[r] + (d[r - 1] + d[r + 1])
    isobel = d_rows[..., :-2] + d_rows[..., 2:]
    np.multiply(d_rows[..., 1:-1], 2.0, out=centre)
    isobel += centre
    mag = isobel * isobel
    np.multiply(jsobel, jsobel, out=centre)
    mag += centre
    np.sqrt(mag, out=mag)
    return isobel, jsobel, mag


def sampled_gradients(image: np.ndarray, step: int, count: int) -> Gradients:
    """:func:`port_gradients` on rows ``s - 1, s, s + 1`` around ``s = step * j + step // 2`` for ``j < count`` only.

    Value for value those of the whole map (the same sums in the same order), as ``[3 * count, W]`` arrays with row
    ``s_j`` at ``3 j + 1``: Canny's suppression on a sample of rows needs no more, and smoothing and differentiating
    5 and 3 rows in ``step`` instead of all costs about half. Needs ``step >= 5`` and ``step * count <= H``, so that
    the rows reach neither the top nor the bottom border.
    """
    taps = _gauss()
    radius, (height, width) = len(taps) // 2, image.shape
    if step < 5 or step * count > height:
        raise ValueError(f"sampled_gradients needs step >= 5 and step * count <= {height}, got {step} and {count}")
    first = step // 2 - 2  # the first of the 5 smoothed rows each sample row's gradients read
    padded = np.zeros((step * count + 2 * radius + step, width))  # zero rows around the image, as in _rows
    padded[radius : radius + min(height, step * count + radius + step)] = image[: step * count + radius + step]

    def shifted(by: int) -> np.ndarray:  # [count, 5, W]: image rows step * j + first + i + by - radius
        return padded[first + by : first + by + step * count].reshape(count, step, width)[:, :5]

    rows = (step * np.arange(count)[:, None] + first + np.arange(5)).ravel()
    smoothed = np.empty((count * 5, width + 2))  # columns padded as in port_gradients
    _columns(_symmetric_sum(shifted, taps).reshape(count * 5, width), output=smoothed[:, 1:-1])
    smoothed[:, 1:-1] /= _bleed_over(image.shape)[rows]
    _fill_edge(smoothed, rows=False)
    groups = smoothed.reshape(count, 5, width + 2)
    isobel, jsobel, mag = _sobel(groups[:, :, 2:] - groups[:, :, :-2], groups[:, 2:] - groups[:, :-2])
    return isobel.reshape(-1, width), jsobel.reshape(-1, width), mag.reshape(-1, width)


def _shifted(rows: slice | np.ndarray, by: int) -> slice | np.ndarray:
    return slice(rows.start + by, rows.stop + by) if isinstance(rows, slice) else rows + by


def suppressed_maxima(gradients: Gradients, rows: slice | np.ndarray) -> np.ndarray:
    """Canny's non-maximum suppression on interior ``rows`` and columns, bool ``[len(rows), W - 2]``.

    ``rows`` is a slice or indices, none on the border. A pixel survives where its magnitude is at least the one
    interpolated along the gradient on both sides.
    """
    isobel, jsobel, mag = gradients
    width = mag.shape[1]
    i, j, m = isobel[rows, 1:-1], jsobel[rows, 1:-1], mag[rows, 1:-1]

    def at(dr: int, dc: int) -> np.ndarray:
        return mag[_shifted(rows, dr), 1 + dc : width - 1 + dc]

    abs_i, abs_j = np.abs(i), np.abs(j)
    same = (i <= 0) == (j <= 0)  # both gradients of one sign: the diagonal through (1, 1) and (-1, -1)
    vertical = (abs_i > abs_j) | (~same & (abs_i == abs_j))  # interpolate along columns (else along rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.minimum(abs_i, abs_j) / np.maximum(abs_i, abs_j)  # the smaller over the larger in every case
    rest = 1.0 - w
    # the interpolated magnitude on each side, in scikit-image's order: diagonal * w + straight * (1 - w)
    down_right, up_left, up_right, down_left = at(1, 1) * w, at(-1, -1) * w, at(-1, 1) * w, at(1, -1) * w
    down, up, right, left = at(1, 0) * rest, at(-1, 0) * rest, at(0, 1) * rest, at(0, -1) * rest
    return (
        (same & vertical & (down_right + down <= m) & (up_left + up <= m))
        | (same & ~vertical & (down_right + right <= m) & (up_left + left <= m))
        | (~same & ~vertical & (up_right + right <= m) & (down_left + left <= m))
        | (~same & vertical & (up_right + up <= m) & (down_left + down <= m))
    )



def port_canny_candidates(image: np.ndarray, gradients: Gradients | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Canny's suppressed maxima above the low threshold, and where the magnitude reaches the high one.

    ``gradients``: :func:`port_gradients` of ``image`` when the caller already has them.
    """
    gradients = port_gradients(image) if gradients is None else gradients
    mag = gradients[2]
    weak = np.zeros(mag.shape, bool)
    if min(mag.shape) >= 3:
        weak[1:-1, 1:-1] = suppressed_maxima(gradients, slice(1, mag.shape[0] - 1)) & (mag[1:-1, 1:-1] >= LOW)
    return weak, mag >= HIGH


def octave_sobel(image: np.ndarray) -> np.ndarray:
    """The port's Octave-style vertical Sobel edges: strength above ``2 sqrt(mean(strength^2))``, then thinned.

    A uint8 image is computed in integers (64 x the strength, exact), with the same map as the float64 path.
    """
    if image.dtype == np.uint8:
        return _octave_sobel_uint8(image)
    padded = _pad_edge(image)  # ndimage's "reflect"
    d_cols = padded[:, 2:] - padded[:, :-2]
    strength = ((d_cols[:-2] + 2.0 * d_cols[1:-1] + d_cols[2:]) / 8.0) ** 2  # exact on integer-valued images
    strength *= strength > 2 * np.sqrt(strength.mean())  # zero at or below the threshold
    return _thinned(strength)


def _octave_sobel_uint8(image: np.ndarray) -> np.ndarray:
    """:func:`octave_sobel` of uint8 pixels, in int32: every strength is ``k / 64`` for an integer ``k < 2^20``.

    Their float64 sum is then exact in any order, so ``k.sum() / 64 / n`` is the float path's mean bit for bit, and
    ``strength > t`` holds exactly when ``k > 64 t`` (scaling by 64 is exact): the same edges, in half the time.
    """
    padded = _pad_edge(image.astype(np.int32))
    d_cols = padded[:, 2:] - padded[:, :-2]
    squares = d_cols[1:-1] * 2
    squares += d_cols[:-2]
    squares += d_cols[2:]
    squares *= squares  # 64 x the float path's strength
    mean = float(squares.sum(dtype=np.int64)) / 64 / squares.size
    squares *= squares > 64 * (2 * np.sqrt(mean))
    return _thinned(squares)


def _thinned(strength: np.ndarray) -> np.ndarray:
    """Where the (thresholded) strength is a strict maximum horizontally or vertically, zeros beyond the border."""
    p = _pad_zero(strength)
    horizontal = (strength > p[1:-1, :-2]) & (strength > p[1:-1, 2:])
    vertical = (strength > p[:-2, 1:-1]) & (strength > p[2:, 1:-1])
    return horizontal | vertical


def matlab_sobel(image: np.ndarray, threshold: float = 2.0) -> np.ndarray:
    """Thinned vertical Sobel edges as MATLAB's ``edge(I, 'Sobel', threshold, 'vertical')``."""
    bx = np.abs(_ndimage().correlate(image, _SOBEL_X, mode="nearest"))
    by = np.abs(_ndimage().correlate(image, _SOBEL_X.T, mode="nearest"))
    strength = bx * bx
    p = np.pad(strength, 1)
    horizontal_max = (bx >= by - _EPS100) & (p[1:-1, :-2] <= strength) & (strength > p[1:-1, 2:])
    vertical_max = (p[:-2, 1:-1] <= strength) & (strength > p[2:, 1:-1])
    return (strength > threshold**2) & (horizontal_max | vertical_max)


def _matlab_gradients(image: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    extent = int(np.ceil(4 * sigma))
    x = np.arange(-extent, extent + 1, dtype=np.float64)
    gauss = np.exp(-(x**2) / (2 * sigma**2)) / (np.sqrt(2 * np.pi) * sigma)
    gauss /= gauss.sum()
    deriv = np.gradient(gauss)
    deriv[deriv > 0] /= deriv[deriv > 0].sum()
    deriv[deriv < 0] /= -deriv[deriv < 0].sum()
    gx = _ndimage().convolve1d(_ndimage().convolve1d(image, gauss, axis=0, mode="nearest"), deriv, axis=1, mode="nearest")
    gy = _ndimage().convolve1d(_ndimage().convolve1d(image, gauss, axis=1, mode="nearest"), deriv, axis=0, mode="nearest")
    return gx, gy


def _matlab_local_maxima(gx: np.ndarray, gy: np.ndarray, mag: np.ndarray) -> np.ndarray:
    height, width = mag.shape
    x, y, centre = gx[1:-1, 1:-1], gy[1:-1, 1:-1], mag[1:-1, 1:-1]

    def at(dr: int, dc: int) -> np.ndarray:
        return mag[1 + dr : height - 1 + dr, 1 + dc : width - 1 + dc]

    out = np.zeros(mag.shape, bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        sectors = [  # pixels of the sector, interpolation weight, neighbours on one side, on the other
            (((y <= 0) & (x > -y)) | ((y >= 0) & (x < -y)), np.abs(y / x), ((0, 1), (-1, 1)), ((0, -1), (1, -1))),
            (((x > 0) & (-y >= x)) | ((x < 0) & (-y <= x)), np.abs(x / y), ((-1, 0), (-1, 1)), ((1, 0), (1, -1))),
            (((x <= 0) & (x > y)) | ((x >= 0) & (x < y)), np.abs(x / y), ((-1, 0), (-1, -1)), ((1, 0), (1, 1))),
            (((y < 0) & (x <= y)) | ((y > 0) & (x >= y)), np.abs(y / x), ((0, -1), (-1, -1)), ((0, 1), (1, 1))),
        ]
        for sector, d, (a1, b1), (a2, b2) in sectors:
            side1 = at(*a1) * (1 - d) + at(*b1) * d
            side2 = at(*a2) * (1 - d) + at(*b2) * d
            out[1:-1, 1:-1] |= sector & (centre >= side1) & (centre >= side2)
    return out


def matlab_canny(image: np.ndarray, sigma: float = float(np.sqrt(2.0))) -> np.ndarray:
    """Canny edges as MATLAB's ``edge(I, 'canny')`` with its default sigma and thresholds."""
    gx, gy = _matlab_gradients(image, sigma)
    mag = np.hypot(gx, gy)
    if mag.max() > 0:
        mag = mag / mag.max()
    counts = np.bincount(np.round(mag.ravel() * 63).astype(np.int64), minlength=64)  # imhist(mag, 64)
    high = (int(np.argmax(np.cumsum(counts) > 0.7 * mag.size)) + 1) / 64
    return hysteresis(_matlab_local_maxima(gx, gy, mag) & (mag > 0.4 * high), mag > high)
