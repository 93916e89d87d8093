"""Adversarial pieces shared by the GAN methods: losses, feature matching, PatchGAN and multi-scale discriminators.

Facts from SPECS E (pix2pixHD ``models/networks.py``, SPADE ``models/networks/discriminator.py`` and ``loss.py``):
the N-layer PatchGAN uses 4x4 kernels with padding 2, a first stride-2 conv without norm, LeakyReLU(0.2); the
multi-scale discriminator runs copies of it on the input and on versions downsampled by
``avg_pool2d(3, 2, 1, count_include_pad=False)``; feature matching is L1 between the intermediate outputs on fake and
real, averaged over scales, weighted ``lambda_feat`` (10 in both codes; pix2pixHD adds ``4 / (n_layers + 1)``).
Losses: LSGAN (MSE, pix2pixHD's default), hinge (SPADE's default) and the non-saturating BCE of DCGAN-style methods.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

GanMode = Literal["lsgan", "hinge", "bce"]
Features = list[torch.Tensor]  # a discriminator's intermediate outputs, the last one being its prediction


def discriminator_loss(real: torch.Tensor, fake: torch.Tensor, mode: GanMode) -> torch.Tensor:
    """The discriminator's loss on its predictions for real and generated inputs (mean over all positions).

    Example:
        >>> real, fake = torch.tensor([1.5, 0.5]), torch.tensor([-0.5, 0.5])
        >>> float(discriminator_loss(real, fake, "hinge"))  # (0 + 0.5) / 2 + (0.5 + 1.5) / 2
        1.25
        >>> float(discriminator_loss(real, fake, "lsgan"))  # (0.25 + 0.25) / 2 + (0.25 + 0.25) / 2
        0.5
    """
    if mode == "lsgan":
        return F.mse_loss(real, torch.ones_like(real)) + F.mse_loss(fake, torch.zeros_like(fake))
    if mode == "hinge":
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
    if mode == "bce":
        ones, zeros = torch.ones_like(real), torch.zeros_like(fake)
        return F.binary_cross_entropy_with_logits(real, ones) + F.binary_cross_entropy_with_logits(fake, zeros)
    raise ValueError(f"unknown GAN loss mode {mode!r}; choose lsgan, hinge or bce")


def generator_loss(fake: torch.Tensor, mode: GanMode) -> torch.Tensor:
    """The generator's adversarial loss on the discriminator's predictions for generated inputs.

    Example:
        >>> fake = torch.tensor([0.5, -1.5])
        >>> float(generator_loss(fake, "hinge")), float(generator_loss(fake, "lsgan"))  # -mean; mean((x - 1)^2)
        (0.5, 3.25)
    """
    if mode == "lsgan":
        return F.mse_loss(fake, torch.ones_like(fake))
    if mode == "hinge":
        return -fake.mean()
    if mode == "bce":
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    raise ValueError(f"unknown GAN loss mode {mode!r}; choose lsgan, hinge or bce")


def multiscale_loss(predictions: Sequence[torch.Tensor], mode: GanMode, real: bool | None = None) -> torch.Tensor:
    """A loss averaged over discriminator scales: the generator's (``real=None``) or one side of the discriminator's.

    For the discriminator call it twice (``real=True`` on real inputs, ``real=False`` on generated ones) and add.
    """
    losses = []
    for pred in predictions:
        if real is None:
            losses.append(generator_loss(pred, mode))
        elif mode == "hinge":
            losses.append(F.relu(1.0 - pred).mean() if real else F.relu(1.0 + pred).mean())
        elif mode == "lsgan":
            losses.append(F.mse_loss(pred, torch.full_like(pred, 1.0 if real else 0.0)))
        else:
            losses.append(F.binary_cross_entropy_with_logits(pred, torch.full_like(pred, 1.0 if real else 0.0)))
    return torch.stack(losses).mean()


def feature_matching_loss(fake: Sequence[Features], real: Sequence[Features], layer_weight: float = 1.0) -> torch.Tensor:
    """L1 between the intermediate outputs of each discriminator scale on fake and (detached) real inputs.

    Sums over every layer but the last (the prediction), averages over scales and multiplies by ``layer_weight``
    (pix2pixHD: ``4 / (n_layers + 1)``; SPADE: 1). Multiply by ``lambda_feat`` (10 in both) at the call site.

    Example:
        >>> fake = [[torch.zeros(2), torch.zeros(1)]]
        >>> real = [[torch.tensor([1.0, 3.0]), torch.ones(1)]]
        >>> float(feature_matching_loss(fake, real))  # mean(|0-1|, |0-3|), the prediction layer left out
        2.0
    """
    if len(fake) != len(real) or not fake:
        raise ValueError(f"feature matching needs the same number of scales on both sides, got {len(fake)} and {len(real)}")
    total = fake[0][0].new_zeros(())
    for fake_scale, real_scale in zip(fake, real, strict=True):
        for f, r in zip(fake_scale[:-1], real_scale[:-1], strict=True):
            total = total + F.l1_loss(f, r.detach())
    return total * layer_weight / len(fake)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; choose instance, batch or none")


class PatchDiscriminator(nn.Module):
    """The N-layer PatchGAN of pix2pix/pix2pixHD/SPADE: a map of real/fake predictions, one per receptive patch.

    Layers: conv 4x4 s2 + LeakyReLU(0.2); ``n_layers - 1`` x [conv s2 + norm + LReLU] with channels doubling up to
    ``max_channels``; conv s1 + norm + LReLU; conv s1 to 1 channel. ``forward`` returns every layer's output (the
    last is the prediction) for feature matching. ``spectral`` wraps every conv in spectral norm (SPADE's D).
    """

    def __init__(self, in_channels: int, base: int = 64, n_layers: int = 3, norm: str = "instance",
                 max_channels: int = 512, spectral: bool = False) -> None:  # fmt: skip
        super().__init__()
        pad = math.ceil((4 - 1) / 2)
        wrap = nn.utils.spectral_norm if spectral else (lambda m: m)
        layers: list[nn.Module] = [nn.Sequential(wrap(nn.Conv2d(in_channels, base, 4, 2, pad)), nn.LeakyReLU(0.2))]
        channels = base
        for index in range(1, n_layers + 1):
            out = min(channels * 2, max_channels)
            stride = 2 if index < n_layers else 1
            conv = wrap(nn.Conv2d(channels, out, 4, stride, pad))
            layers.append(nn.Sequential(conv, _norm(norm, out), nn.LeakyReLU(0.2)))
            channels = out
        layers.append(nn.Sequential(wrap(nn.Conv2d(channels, 1, 4, 1, pad))))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> Features:
        """Every layer's output on ``x`` ``[B, C, H, W]``; the last is the patch prediction."""
        outputs = []
        for layer in self.layers:
            x = layer(x)
            outputs.append(x)
        return outputs


class MultiScaleDiscriminator(nn.Module):
    """``num_scales`` PatchGANs on the input and on successively 2x average-pooled copies (pix2pixHD, SPADE)."""

    def __init__(self, in_channels: int, num_scales: int = 2, base: int = 64, n_layers: int = 3,
                 norm: str = "instance", spectral: bool = False) -> None:  # fmt: skip
        super().__init__()
        if num_scales < 1:
            raise ValueError(f"a multi-scale discriminator needs at least one scale, got {num_scales}")
        self.scales = nn.ModuleList(
            PatchDiscriminator(in_channels, base, n_layers, norm, spectral=spectral) for _ in range(num_scales)
        )
        self.n_layers = n_layers

    def forward(self, x: torch.Tensor) -> list[Features]:
        """Per scale (finest first), every layer's output."""
        results = []
        for index, disc in enumerate(self.scales):
            if index:
                x = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
            results.append(disc(x))
        return results

    @staticmethod
    def predictions(outputs: Sequence[Features]) -> list[torch.Tensor]:
        """The last output of each scale: what the adversarial losses read."""
        return [scale[-1] for scale in outputs]
