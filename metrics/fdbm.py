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

from typing import ClassVar

import numpy as np
import torch

import metrics
from metrics._regions import check_options, single_region
from metrics.base import Item, Metric, Score

THRESHOLD_RATIO = 1000.0
CHUNK_FRAMES = 8  # one 75-frame GRID clip: 0.42 s in one batch, 0.14 s in chunks of 8 (the spectra fit in cache)


def fdbm(images: np.ndarray | torch.Tensor, *, device: str = "cpu") -> torch.Tensor:
    """FDBM of each grey image, float64 ``[T]`` (``[1]`` for one image).

    Args:
        images: grey ``[H, W]`` or ``[T, H, W]``, any real dtype (FDBM does not depend on the value scale).
        device: torch device.

    Example:
        >>> float(fdbm(np.full((4, 8), 7, np.uint8))[0])  # a constant image: only the DC coefficient, 1 / (4 x 8)
        0.03125
    """
    tensor = torch.as_tensor(images)
    if tensor.ndim == 2:
        tensor = tensor.unsqueeze(0)
    if tensor.ndim != 3 or tensor.dtype in (torch.bool,) or tensor.is_complex():
        raise ValueError(f"FDBM needs real grey images [H, W] or [T, H, W], got {tuple(tensor.shape)} {tensor.dtype}")
    width = tensor.shape[-1]
    # Half spectrum: for real images |F[k, l]| = |F[-k, -l]| (torch's full fft2 of real input fills that half by
    # conjugation, so the magnitudes are bit-identical), so column l stands for columns l and W - l too. Columns 0 and
    # W / 2 (even W) have no twin. Same counts as the full spectrum at half the cost.
    twins = torch.full((width // 2 + 1,), 2, dtype=torch.int64, device=device)
    twins[0] = 1
    if width % 2 == 0:
        twins[-1] = 1
    counts = []
    for chunk in tensor.split(CHUNK_FRAMES):  # frames are independent; small chunks avoid huge complex buffers
        magnitude = torch.fft.rfft2(chunk.to(device=device, dtype=torch.float64)).abs()
        peak = magnitude.amax(dim=(-2, -1), keepdim=True)
        counts.append(((magnitude > peak / THRESHOLD_RATIO).sum(dim=-2) * twins).sum(dim=-1))
    above = torch.cat(counts) if counts else torch.zeros(0, dtype=torch.int64, device=device)
    return above.to(torch.float64) / (tensor.shape[-2] * tensor.shape[-1])


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
