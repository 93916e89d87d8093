"""LPIPS: learned perceptual image patch similarity (Zhang et al. 2018), a distance (lower is better).

Computed by the ``lpips`` package (https://github.com/richzhang/PerceptualSimilarity, version 0.1): its learned
linear layers ship inside the package; its backbone (torchvision AlexNet or VGG16 ImageNet weights) is normally
downloaded by torchvision, which talkbench never does implicitly. The backbone file comes from the weights manager
(``alexnet-lpips`` = ``alexnet-owt-7be5be79.pth``, ``vgg16-lpips`` = ``vgg16-397923af.pth``; a missing file raises
:class:`bench.weights.WeightsMissingError` naming it and the ``talkbench weights fetch NAME`` command), loaded with
``weights_only=True`` into ``lpips.LPIPS(pretrained=True, net=..., pnet_rand=True)``. Frames are scaled from uint8
to [-1, 1] as ``lpips`` expects; per clip: the mean over frame pairs. Deviations from the package: none (the
tests compare with ``lpips.LPIPS`` building its own backbone from the same file).
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar, cast

import numpy as np
import torch

import metrics
from metrics._frames import as_batch, check_pair
from metrics._regions import check_options, paired_regions
from metrics.base import Item, Metric, Need, Score

BACKBONES = {"alex": "alexnet-lpips", "vgg": "vgg16-lpips"}  # lpips net name -> weights-manager name


def load_backbone(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str = "backbone") -> None:
    """Copy torchvision ``features.N.*`` weights into an ``lpips`` backbone (``sliceK.N.*``), strictly."""
    mapped = {}
    for key in model.state_dict():
        _, index, param = key.split(".", 2)
        name = f"features.{index}.{param}"
        if name not in state:
            raise ValueError(f"{source}: no {name!r}; not a torchvision {type(model).__name__} state dict")
        mapped[key] = state[name]
    model.load_state_dict(mapped, strict=True)


def build_lpips(net: str = "alex", device: str = "cpu") -> torch.nn.Module:
    """``lpips.LPIPS`` (v0.1, linear layers from the package) with its backbone read from the weights cache.

    Raises:
        bench.weights.WeightsMissingError: the backbone file is not in the weights directory.
    """
    import lpips

    from bench import weights

    if net not in BACKBONES:
        raise ValueError(f"net must be one of {sorted(BACKBONES)}, got {net!r}")
    state = weights.load_state_dict(BACKBONES[net])
    with warnings.catch_warnings():  # lpips still passes torchvision's deprecated ``pretrained=False``
        warnings.filterwarnings("ignore", message=".*(pretrained|weight enum).*", category=UserWarning)
        model = lpips.LPIPS(pretrained=True, net=net, version="0.1", pnet_rand=True, verbose=False)
    load_backbone(model.net, state, BACKBONES[net])
    return model.eval().to(device)


def lpips_distance(
    model: torch.nn.Module,
    generated: np.ndarray | torch.Tensor,
    reference: np.ndarray | torch.Tensor,
    *,
    batch_size: int = 16,
) -> torch.Tensor:
    """LPIPS of each frame pair, float32 ``[T]``, for uint8 RGB frames ``[T, H, W, 3]`` (scaled to [-1, 1]).

    Args:
        model: an ``lpips.LPIPS`` module (see :func:`build_lpips`).
        generated: uint8 frames ``[T, H, W, 3]``.
        reference: frames of the same shape.
        batch_size: frame pairs per forward pass.
    """
    check_pair(generated, reference)
    device = next(model.parameters()).device
    values = []
    with torch.no_grad():
        for start in range(0, generated.shape[0], batch_size):
            x = as_batch(generated[start : start + batch_size], device, torch.float32) / 127.5 - 1.0
            y = as_batch(reference[start : start + batch_size], device, torch.float32) / 127.5 - 1.0
            values.append(model(x, y).flatten())
    return torch.cat(values)


@metrics.variants({"lpips": {}, "lpips-face": {"region": "face"}})
class LPIPS(Metric):
    """Mean LPIPS (AlexNet backbone) between generated and reference frames. Lower is better.

    Inputs: ``Item.generated.frames`` and ``Item.reference.frames``, uint8 ``[T, H, W, 3]``. The backbone weights
    must be in the weights cache (``talkbench weights fetch alexnet-lpips``).

    Args:
        region: ``"full"``, ``"lower-half"``, ``"face"`` (aligned 128 px) or ``"mouth"`` (128x64).
        length_mismatch: ``"truncate"`` or ``"error"``.
        device: torch device.

    Example:
        >>> import metrics
        >>> metric = metrics.create("lpips", region="face")
        >>> metric.higher_is_better, metric.weights
        (False, ('alexnet-lpips',))
    """

    name: ClassVar[str] = "lpips"
    higher_is_better: ClassVar[bool] = False
    needs: ClassVar[frozenset[Need]] = frozenset({Need.REFERENCE})
    score_range: ClassVar[tuple[float | None, float | None]] = (0.0, None)
    weights: tuple[str, ...] = ("alexnet-lpips",)
    net: ClassVar[str] = "alex"

    def __init__(self, region: str = "full", length_mismatch: str = "truncate", device: str = "cpu") -> None:
        super().__init__(device)
        check_options(region, "rgb", length_mismatch)
        self.region, self.length_mismatch = region, length_mismatch
        self._model: torch.nn.Module | None = None

    def model(self) -> torch.nn.Module:
        """The LPIPS network, built on first use."""
        if self._model is None:
            self._model = build_lpips(self.net, self.device)
        return self._model

    def score(self, item: Item) -> Score:
        """Mean LPIPS of one item over the frame pairs of its region."""
        pair = paired_regions(item, self.region, "rgb", self.length_mismatch)
        values = lpips_distance(self.model(), pair.generated, cast(np.ndarray, pair.reference))
        return Score(float(values.double().mean()), pair.frames, extras=pair.extras())

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_model": None}  # the network is rebuilt from the weights file


@metrics.variants({"lpips-vgg": {}})
class LPIPSVGG(LPIPS):
    """Mean LPIPS with the VGG16 backbone (``talkbench weights fetch vgg16-lpips``). Lower is better.

    Example:
        >>> import metrics
        >>> metrics.create("lpips-vgg").weights
        ('vgg16-lpips',)
    """

    weights: tuple[str, ...] = ("vgg16-lpips",)
    net: ClassVar[str] = "vgg"
