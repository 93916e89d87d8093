"""SSIM: structural similarity between generated and reference frames (Wang et al. 2004; higher is better).

Two windows, each a named variant:

* ``ssim`` (``window="gaussian"``): Gaussian weights, sigma 1.5, 11x11 taps, population covariance, as in Wang et
  al. and as ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False)`` computes it.
* ``ssim-skimage`` (``window="uniform"``): scikit-image's default, a 7x7 uniform window with sample covariance
  (``structural_similarity`` called with only ``data_range``).

K1 = 0.01, K2 = 0.03, and the data range is explicit (255 for uint8 frames; a guessed range is how 0.85 became 0.91
in DIF-Gaussian#4). As scikit-image does, the SSIM map is averaged over the pixels whose window lies inside the frame
(a border of the window radius is left out) and, for RGB, over channels. Reference implementation:
https://github.com/scikit-image/scikit-image (``skimage/metrics/_structural_similarity.py``). Deviations: none in
the formula; the moments come from ``x + y`` and ``x - y`` (four filtered maps instead of five). On the CPU each
frame is filtered with OpenCV (``sepFilter2D``, ``boxFilter``; no torch import), on CUDA (or for torch tensors) in
torch, batched over frames (channels last). The Gaussian window is filtered in float32 on data centred on each
frame's mean (variances ignore the shift; the means get it back), for speed: agreement <= 3e-7 on GRID frames, ~1e-6
at worst on synthetic frames of large flat areas at far-apart levels (issue 3 asks 1e-5). The uniform window sums
are exact float64 running sums (~1e-14). The function is not differentiable.
Colour, regions and the length policy are those of :mod:`metrics.psnr` (default RGB; ``ssim-grey`` scores
OpenCV-style luma as fae does, though fae itself uses ``sewar``'s SSIM, not reproduced here).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

import cv2
import numpy as np

import metrics
from metrics._frames import as_batch, check_choice, check_pair, on_numpy, to_numpy
from metrics._regions import check_options, paired_regions
from metrics.base import Item, Metric, MetricError, Need, Score

if TYPE_CHECKING:
    import torch

K1, K2 = 0.01, 0.03
SIGMA = 1.5
TRUNCATE = 3.5  # scikit-image: an 11-tap Gaussian for sigma 1.5
UNIFORM_SIZE = 7
WINDOWS = ("gaussian", "uniform")
# Values per map in one filtered batch: the maps of a larger batch fall out of cache, and each of the 22 filter passes
# then streams them from memory (a 360x288 RGB clip: 1.33 s in batches of 4 frames, 0.70 s frame by frame).
BATCH_VALUES = 4 * 96 * 96 * 3
# Values per map combined into the SSIM map at a time on the CPU (32 rows of 360x288 RGB): a strip's maps stay in
# cache across the map's dozen arithmetic passes (such a frame: 1.1 ms instead of 2.1 ms over whole maps).
STRIP_VALUES = 32 * 360 * 3


def window_taps(window: str) -> tuple[list[float], float]:
    """The 1-D separable window and the covariance normalisation (1, or ``N / (N - 1)`` for sample covariance)."""
    check_choice("window", window, WINDOWS)
    if window == "gaussian":
        radius = int(TRUNCATE * SIGMA + 0.5)
        x = np.arange(-radius, radius + 1, dtype=np.float64)
        taps = np.exp(-0.5 * (x / SIGMA) ** 2)
        return (taps / taps.sum()).tolist(), 1.0
    n = UNIFORM_SIZE**2
    return [1.0 / UNIFORM_SIZE] * UNIFORM_SIZE, n / (n - 1)


Buffers = dict[tuple[str, tuple[int, ...]], "torch.Tensor"]


def _buffer(buffers: Buffers, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """A tensor reused across batches: fresh megabyte-sized allocations cost page faults on every batch."""
    import torch

    key = (name, shape)
    if key not in buffers:
        buffers[key] = torch.empty(shape, dtype=like.dtype, device=like.device)
    return buffers[key]


def _filter_valid(maps: torch.Tensor, taps: list[float], buffers: Buffers) -> torch.Tensor:
    """Separable filtering of ``[..., H, W, C]`` keeping only outputs whose window lies inside (no padding)."""
    import torch

    k = len(taps)
    for dim in (-3, -2):  # channels last: each shifted slice is one long contiguous run per row
        size = maps.shape[dim] - k + 1
        first = maps.narrow(dim, 0, size)
        out = torch.mul(first, taps[0], out=_buffer(buffers, f"filtered{dim}", tuple(first.shape), maps))
        for j in range(1, k):
            out.add_(maps.narrow(dim, j, size), alpha=taps[j])
        maps = out
    return maps


def _box_valid(maps: torch.Tensor, size: int) -> torch.Tensor:
    """Uniform ``size x size`` window means of ``[..., H, W, C]`` inside the frame, from cumulative sums.

    On integer-valued maps (uint8 frames, their sums and squares) every window sum is exact in float64.
    """
    for dim in (-3, -2):
        n = maps.shape[dim]
        total = maps.cumsum(dim)
        window = total.narrow(dim, size - 1, n - size + 1).clone()
        window.narrow(dim, 1, n - size).sub_(total.narrow(dim, 0, n - size))
        maps = window
    return maps / (size * size)


def _ssim_map(moments: Any, shifts: Any, cov_norm: float, data_range: float) -> Any:
    """The SSIM map from the window means of ``u = x + y - shift_u``, ``v = x - y - shift_v`` and their squares.

    ``4 mu_x mu_y = mu_u^2 - mu_v^2`` and ``4 cov_xy = var_u - var_v`` (likewise ``2 (mu_x^2 + mu_y^2) = mu_u^2 +
    mu_v^2``), so these four maps give every term, and the factors of 2 cancel against doubled constants. Works on
    numpy arrays and torch tensors alike; the moment maps are overwritten (in-place arithmetic keeps them in cache).
    """
    mu_u, mu_v, uu, vv = moments
    uu -= mu_u * mu_u  # var_u: variances ignore the shift
    vv -= mu_v * mu_v
    mu_u += shifts[0]
    mu_u *= mu_u  # (mu_x + mu_y)^2
    mu_v += shifts[1]
    mu_v *= mu_v  # (mu_x - mu_y)^2
    c1, c2 = 2 * (K1 * data_range) ** 2, 2 * (K2 * data_range) ** 2
    if cov_norm != 1.0:
        uu *= cov_norm
        vv *= cov_norm
    luminance = mu_u - mu_v
    luminance += c1  # 2 (2 mu_x mu_y + C1)
    mu_u += mu_v
    mu_u += c1  # 2 (mu_x^2 + mu_y^2 + C1)
    luminance /= mu_u
    contrast = uu - vv
    contrast += c2  # 2 (2 cov_xy + C2)
    uu += vv
    uu += c2  # 2 (var_x + var_y + C2)
    contrast /= uu
    luminance *= contrast
    return luminance


def _ssim_batch(
    x: torch.Tensor, y: torch.Tensor, taps: list[float], cov_norm: float, data_range: float, buffers: Buffers
) -> torch.Tensor:
    """Per-frame SSIM of ``[N, H, W, C]`` tensors (channels last), averaged over the valid pixels and channels."""
    import torch

    maps = _buffer(buffers, "maps", (4, *x.shape), x)
    u, v, uu, vv = maps
    torch.add(x, y, out=u)
    torch.sub(x, y, out=v)
    # centring each frame on a rounded (sub-sampled) mean keeps the squares small, so float32 filtering loses little
    # to cancellation; the means get their shift back in _ssim_map
    shifts = [m[:, ::4, ::4].mean(dim=(1, 2, 3), keepdim=True).round_() for m in (u, v)]
    torch.mul(u.sub_(shifts[0]), u, out=uu)
    torch.mul(v.sub_(shifts[1]), v, out=vv)
    uniform = len(set(taps)) == 1
    moments = _box_valid(maps, len(taps)) if uniform else _filter_valid(maps, taps, buffers)
    return _ssim_map(moments, shifts, cov_norm, data_range).mean(dim=(1, 2), dtype=torch.float64).mean(dim=-1)


_MAPS = threading.local()  # this thread's frame-sized maps of the last shape scored


def _frame_maps(shape: tuple[int, ...], dtype: type) -> list[np.ndarray]:
    """Seven maps of one frame's shape, kept per thread from call to call.

    Fresh megabyte-sized arrays cost page faults on every call (a third of the time of a one-frame call) or not,
    as the allocator happens to reuse memory; the kept ones make a call's cost steady. Only the last shape is kept.
    """
    key = (shape, np.dtype(dtype))
    kept = getattr(_MAPS, "maps", None)
    if kept is None or kept[0] != key:
        kept = (key, [np.empty(shape, dtype) for _ in range(7)])
        _MAPS.maps = kept
    return kept[1]


def _sum_and_difference(x: np.ndarray, y: np.ndarray, total: np.ndarray, difference: np.ndarray) -> None:
    """``x + y`` and ``x - y`` into the float buffers ``total`` and ``difference`` of their shape.

    For uint8 frames OpenCV adds and subtracts into the float type in one pass each, ~4x less CPU than numpy's
    buffered cast (0.05 ms instead of 0.22 ms for a 360x288 RGB frame); the integer results are exact either way.
    """
    if x.dtype == np.uint8 and y.dtype == np.uint8 and (x.ndim == 2 or x.shape[-1] <= 4):  # images as OpenCV takes them
        depth = cv2.CV_32F if total.dtype == np.float32 else cv2.CV_64F
        cv2.add(x, y, dst=total, dtype=depth)  # written in place: the buffers have the frames' shape and this depth
        cv2.subtract(x, y, dst=difference, dtype=depth)
    else:
        np.add(x, y, out=total, dtype=total.dtype)
        np.subtract(x, y, out=difference, dtype=difference.dtype)


def _ssim_frames(
    generated: np.ndarray, reference: np.ndarray, taps: list[float], cov_norm: float, data_range: float
) -> np.ndarray:
    """Per-frame SSIM of ``[T, H, W, C]`` numpy frames, filtered frame by frame with OpenCV.

    Each map is filtered at full size, then combined into the SSIM map in strips of rows (:data:`STRIP_VALUES`), leaving
    out the border whose window leaves the frame. The maps live in buffers reused from frame to frame and call to call
    (:func:`_frame_maps`).
    """
    uniform = len(set(taps)) == 1
    dtype = np.float64 if uniform else np.float32  # exact box sums; float32 halves the traffic
    k, r = len(taps), len(taps) // 2
    kernel = np.asarray(taps, dtype)
    shape = generated.shape[1:] if generated.shape[-1] > 1 else generated.shape[1:3]  # OpenCV drops a lone channel
    u, v, square, *filtered = _frame_maps(shape, dtype)
    values = np.empty(len(generated), np.float64)
    row_values = int(np.prod(shape[1:]))
    strip = max(STRIP_VALUES // row_values, 1)
    count = (shape[0] - 2 * r) * (shape[1] - 2 * r) * (row_values // shape[1])  # the same pixels in every channel
    for t, (x, y) in enumerate(zip(generated, reference, strict=True)):
        _sum_and_difference(x.reshape(shape), y.reshape(shape), u, v)
        shifts = [np.round(m[::4, ::4].mean(dtype=dtype)) for m in (u, v)]
        u -= shifts[0]
        v -= shifts[1]
        for source, out in zip((u, v, np.multiply(u, u, out=square), None), filtered, strict=True):
            source = np.multiply(v, v, out=square) if source is None else source
            if uniform:
                cv2.boxFilter(source, -1, (k, k), dst=out, normalize=False, borderType=cv2.BORDER_REFLECT)
                out /= k * k
            else:
                cv2.sepFilter2D(source, -1, kernel, kernel, dst=out, borderType=cv2.BORDER_REFLECT)
        total = 0.0
        for top in range(r, shape[0] - r, strip):  # the rows whose window lies inside, a strip at a time
            rows = slice(top, min(top + strip, shape[0] - r))
            total += _ssim_map([m[rows] for m in filtered], shifts, cov_norm, data_range)[:, r:-r].sum(dtype=np.float64)
        values[t] = total / count
    return values


def ssim(
    generated: np.ndarray | torch.Tensor,
    reference: np.ndarray | torch.Tensor,
    *,
    data_range: float,
    window: Literal["gaussian", "uniform"] = "gaussian",
    device: str = "cpu",
    batch_size: int | None = None,
) -> np.ndarray:
    """Per-frame SSIM, float64 numpy ``[T]``; equals ``skimage.metrics.structural_similarity`` frame by frame.

    Args:
        generated: frames ``[T, H, W]`` or ``[T, H, W, C]`` (channels last; any real dtype).
        reference: frames of the same shape.
        data_range: the span of pixel values, 255 for uint8 frames.
        window: ``"gaussian"`` (sigma 1.5, 11x11, Wang et al.) or ``"uniform"`` (7x7, scikit-image's default).
        device: torch device; numpy frames on the CPU are filtered with OpenCV, frame by frame.
        batch_size: frames filtered at once in torch (small batches stay in cache; the result does not depend on it).
            None: as many frames as fit in :data:`BATCH_VALUES` values (4 frames of 96x96 RGB, 1 frame of 360x288).

    Raises:
        MetricError: frames smaller than the window.

    Example:
        >>> a = np.arange(16 * 16, dtype=np.uint8).reshape(1, 16, 16)
        >>> float(ssim(a, a, data_range=255)[0])
        1.0
    """
    check_pair(generated, reference)
    if not data_range > 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    taps, cov_norm = window_taps(window)
    height, width = generated.shape[1:3]
    if min(height, width) < len(taps):
        raise MetricError(f"frames of {height}x{width} are smaller than the {len(taps)}x{len(taps)} SSIM window")
    if on_numpy(device, generated, reference):
        frames = _channels_last(np.asarray(generated)), _channels_last(np.asarray(reference))
        return _ssim_frames(*frames, taps, cov_norm, data_range)
    import torch

    if batch_size is None:
        batch_size = BATCH_VALUES // max(int(np.prod(generated.shape[1:])), 1)
    step = max(int(batch_size), 1)
    dtype = torch.float64 if window == "uniform" else torch.float32  # exact box sums; float32 halves the traffic
    values: list[torch.Tensor] = []
    buffers: Buffers = {}
    for start in range(0, generated.shape[0], step):
        stop = start + step
        x = as_batch(generated[start:stop], device, dtype, channels_last=True)
        y = as_batch(reference[start:stop], device, dtype, channels_last=True)
        values.append(_ssim_batch(x, y, taps, cov_norm, data_range, buffers))
    return to_numpy(torch.cat(values))


def _channels_last(frames: np.ndarray) -> np.ndarray:
    """``[T, H, W]`` or ``[T, H, W, C]`` frames as contiguous ``[T, H, W, C]`` (OpenCV filters each channel)."""
    if frames.ndim == 3:
        frames = frames[..., None]
    if frames.ndim != 4:
        raise ValueError(f"frames must be [T, H, W] or [T, H, W, C], got shape {frames.shape}")
    return np.ascontiguousarray(frames)


VARIANTS: dict[str, dict[str, str]] = {
    "ssim": {},
    "ssim-skimage": {"window": "uniform"},
    "ssim-grey": {"colour": "grey"},
    "ssim-lower": {"region": "lower-half"},
    "ssim-face": {"region": "face"},
    "ssim-mouth": {"region": "mouth"},
}


@metrics.variants(VARIANTS)
class SSIM(Metric):
    """Mean SSIM over the frames of the generated clip against the reference, on uint8 frames (data range 255).

    Inputs: ``Item.generated.frames`` and ``Item.reference.frames``, uint8 ``[T, H, W, 3]``. Higher is better.

    Args:
        window: ``"gaussian"`` (Wang et al.) or ``"uniform"`` (scikit-image default).
        region: ``"full"``, ``"lower-half"``, ``"face"`` (aligned 128 px) or ``"mouth"`` (128x64).
        colour: ``"rgb"`` or ``"grey"``.
        length_mismatch: ``"truncate"`` or ``"error"``.
        device: torch device.

    Example:
        >>> import numpy as np, metrics
        >>> from bench.media import Clip
        >>> rng = np.random.default_rng(0)
        >>> ref = Clip(rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8))
        >>> metrics.score("ssim", ref, ref)["ssim"]
        1.0
    """

    name: ClassVar[str] = "ssim"
    higher_is_better: ClassVar[bool] = True
    needs: ClassVar[frozenset[Need]] = frozenset({Need.REFERENCE})
    differentiable: ClassVar[bool] = False  # in-place arithmetic for speed; use a float64 autograd SSIM for losses
    score_range: ClassVar[tuple[float | None, float | None]] = (-1.0, 1.0)
    data_range: ClassVar[float] = 255.0

    def __init__(
        self,
        window: Literal["gaussian", "uniform"] = "gaussian",
        region: str = "full",
        colour: str = "rgb",
        length_mismatch: str = "truncate",
        device: str = "cpu",
    ) -> None:
        super().__init__(device)
        check_choice("window", window, WINDOWS)
        check_options(region, colour, length_mismatch)
        self.window, self.region, self.colour, self.length_mismatch = window, region, colour, length_mismatch

    def score(self, item: Item) -> Score:
        """Mean SSIM of one item over the frames of its region."""
        pair = paired_regions(item, self.region, self.colour, self.length_mismatch)
        reference = cast(np.ndarray, pair.reference)
        values = ssim(pair.generated, reference, data_range=self.data_range, window=self.window, device=self.device)
        return Score(float(values.mean()), pair.frames, extras=pair.extras())
