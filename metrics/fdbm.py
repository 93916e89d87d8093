"""FDBM: frequency-domain image blur measure (De and Masilamani 2013), a no-reference sharpness in (0, 1].

For an M x N grey image: F = FFT2(I), AF = |F| (the paper centres it with fftshift, which does not change a
count), Mx = max(AF), TH = the number of coefficients with AF > Mx / 1000, FM = TH / (M N). A sharper image has
more high-frequency coefficients above the threshold, so a higher FM. Per clip: the mean over grey frames (OpenCV
luma). No reference implementation was published with the paper (K. De and V. Masilamani, "Image sharpness measure
for blurred images in frequency domain", Procedia Engineering 64, 2013); the steps follow the paper's algorithm as
transcribed in https://github.com/la3lma/focusstack (``blurEstimator.jl``), and the tests check hand-computed
spectra. Deviations: none known. An all-zero frame has no coefficient above ``0 / 1000`` and scores 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

import metrics
from metrics._frames import on_numpy
from metrics._regions import check_options, single_region
from metrics.base import Item, Metric, Score

if TYPE_CHECKING:
    import torch

THRESHOLD_RATIO = 1000.0
CHUNK_FRAMES = 8  # one 75-frame GRID clip: 0.42 s in one batch, 0.14 s in chunks of 8 (the spectra fit in cache)


def fdbm(images: np.ndarray | torch.Tensor, *, device: str = "cpu") -> np.ndarray:
    """FDBM of each grey image, float64 numpy ``[T]`` (``[1]`` for one image).

    Numpy images on the CPU go through ``numpy.fft`` (no torch import; the same pocketfft as ``scipy.fft``, whose
    import alone took 0.14 s of every run), others through ``torch.fft`` on ``device``.
    Only half of the spectrum is computed: for real images ``|F[k, l]| = |F[-k, -l]|`` (the full FFT of real input
    fills that half by conjugation, so the magnitudes are bit-identical), so column ``l`` stands for columns ``l``
    and ``W - l`` too; columns 0 and ``W / 2`` (even ``W``) have no twin. Same counts as the full spectrum.

    Args:
        images: grey ``[H, W]`` or ``[T, H, W]``, any real dtype (FDBM does not depend on the value scale).
        device: torch device.

    Example:
        >>> float(fdbm(np.full((4, 8), 7, np.uint8))[0])  # a constant image: only the DC coefficient, 1 / (4 x 8)
        0.03125
    """
    shape, dtype = tuple(images.shape), images.dtype
    if len(shape) == 2:
        images = images[None]
    if len(shape) not in (2, 3) or str(dtype) in ("bool", "torch.bool") or "complex" in str(dtype):
        raise ValueError(f"FDBM needs real grey images [H, W] or [T, H, W], got {shape} {dtype}")
    height, width = images.shape[-2:]
    twins = np.full(width // 2 + 1, 2, np.int64)
    twins[0] = 1
    if width % 2 == 0:
        twins[-1] = 1
    counts = np.zeros(len(images), np.int64)
    for start in range(0, len(images), CHUNK_FRAMES):  # small chunks keep the spectra in cache
        chunk = images[start : start + CHUNK_FRAMES]
        if on_numpy(device, images):
            magnitude = np.abs(np.fft.rfft2(np.asarray(chunk, np.float64)))
            above = magnitude > magnitude.max(axis=(-2, -1), keepdims=True) / THRESHOLD_RATIO
            per_column = above.sum(axis=-2)
        else:
            import torch

            spectrum = torch.fft.rfft2(torch.as_tensor(chunk).to(device, torch.float64)).abs()
            above = spectrum > spectrum.amax(dim=(-2, -1), keepdim=True) / THRESHOLD_RATIO
            per_column = above.sum(dim=-2).cpu().numpy()
        counts[start : start + CHUNK_FRAMES] = per_column @ twins
    return counts / (height * width)


VARIANTS: dict[str, dict[str, str]] = {
    "fdbm": {},
    "fdbm-lower": {"region": "lower-half"},
    "fdbm-face": {"region": "face"},
}


@metrics.variants(VARIANTS)
class FDBM(Metric):
    """Mean FDBM over the grey frames of the generated clip (no reference). Higher is sharper.

    Inputs: ``Item.generated.frames`` uint8 ``[T, H, W, 3]``; frames go to OpenCV-style luma first.

    Args:
        region: ``"full"``, ``"lower-half"``, ``"face"`` (aligned 128 px) or ``"mouth"`` (128x64).
        device: torch device.

    Example:
        >>> import numpy as np, metrics
        >>> from bench.media import Clip
        >>> metrics.score("fdbm", Clip(np.full((2, 8, 8, 3), 90, np.uint8)))["fdbm"]
        0.015625
    """

    name: ClassVar[str] = "fdbm"
    higher_is_better: ClassVar[bool] = True
    score_range: ClassVar[tuple[float | None, float | None]] = (0.0, 1.0)

    def __init__(self, region: str = "full", device: str = "cpu") -> None:
        super().__init__(device)
        check_options(region, "grey")
        self.region = region

    def score(self, item: Item) -> Score:
        """Mean FDBM over the grey frames of the region."""
        frames = single_region(item.generated, self.region, "grey")
        values = fdbm(frames.generated, device=self.device)
        return Score(float(values.mean()), frames.frames, extras=frames.extras())
