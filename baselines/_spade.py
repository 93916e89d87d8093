"""Spatially-adaptive normalisation (SPADE, Park et al. CVPR 2019) and the SPADE residual block.

Shared by the methods that condition a generator on an image map (OneShotA2V conditions on the identity image).
Facts from SPECS E (NVlabs/SPADE ``models/networks/normalization.py`` and ``architecture.py``):

* :class:`SPADE`: a parameter-free normalisation of ``x`` (``instance`` or ``batch``, affine off), the condition map
  resized to ``x``'s size by nearest-neighbour interpolation, a shared ``k x k`` conv to ``hidden`` channels (128 in
  the original, hard-coded there) with ReLU, then two ``k x k`` convs to the per-pixel scale ``gamma`` and bias
  ``beta``; ``out = norm(x) * (1 + gamma) + beta``.
* :class:`SPADEResBlock`: ``fmiddle = min(fin, fout)``; SPADE -> LeakyReLU(0.2) -> conv 3x3 (fin -> fmiddle) ->
  SPADE -> LeakyReLU(0.2) -> conv 3x3 (fmiddle -> fout), plus a learned shortcut (SPADE -> conv 1x1 without bias,
  no activation) iff ``fin != fout``; spectral norm on the three convs when asked (the generator default
  ``spectralspadesyncbatch3x3``).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Norm = Literal["instance", "batch"]


def param_free_norm(kind: Norm, channels: int) -> nn.Module:
    """The normalisation SPADE modulates: instance or batch norm without learned affine parameters."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels, affine=False)
    raise ValueError(f"SPADE: unknown parameter-free norm {kind!r}; use 'instance' or 'batch'")


class SPADE(nn.Module):
    """Spatially-adaptive (de)normalisation: ``norm(x) * (1 + gamma(map)) + beta(map)``.

    ``forward(x [N, C, H, W], condition [N, label_nc, h, w]) -> [N, C, H, W]``; the condition map is resized to
    ``H x W`` (nearest) first.

    Example:
        >>> layer = SPADE(4, 3, hidden=8, norm="instance")
        >>> layer(torch.randn(2, 4, 8, 8), torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 4, 8, 8])
    """

    def __init__(self, channels: int, label_nc: int, hidden: int = 128, kernel: int = 3, norm: Norm = "batch") -> None:
        super().__init__()
        self.param_free_norm = param_free_norm(norm, channels)
        padding = kernel // 2
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_nc, hidden, kernel, padding=padding), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(hidden, channels, kernel, padding=padding)
        self.mlp_beta = nn.Conv2d(hidden, channels, kernel, padding=padding)

    def modulation(self, x: torch.Tensor, condition: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The per-pixel ``(gamma, beta)`` for ``x`` from the condition map (resized to ``x``'s size)."""
        resized = F.interpolate(condition, size=x.shape[-2:], mode="nearest")
        actv = self.mlp_shared(resized)
        return self.mlp_gamma(actv), self.mlp_beta(actv)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` and modulate it by the condition map."""
        gamma, beta = self.modulation(x, condition)
        return self.param_free_norm(x) * (1 + gamma) + beta


def _conv(cin: int, cout: int, kernel: int, bias: bool, spectral: bool) -> nn.Module:
    conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=bias)
    return nn.utils.parametrizations.spectral_norm(conv) if spectral else conv


class SPADEResBlock(nn.Module):
    """SPADE's residual block (``SPADEResnetBlock``) conditioned on a map of ``label_nc`` channels.

    ``forward(x [N, fin, H, W], condition [N, label_nc, h, w]) -> [N, fout, H, W]``.

    Example:
        >>> block = SPADEResBlock(8, 4, 3, hidden=8)
        >>> block(torch.randn(2, 8, 4, 4), torch.rand(2, 3, 16, 16)).shape, block.learned_shortcut
        (torch.Size([2, 4, 4, 4]), True)
    """

    def __init__(self, fin: int, fout: int, label_nc: int, hidden: int = 128, norm: Norm = "batch",
                 spectral: bool = True) -> None:
        super().__init__()
        self.learned_shortcut = fin != fout
        fmiddle = min(fin, fout)
        self.conv_0 = _conv(fin, fmiddle, 3, True, spectral)
        self.conv_1 = _conv(fmiddle, fout, 3, True, spectral)
        self.norm_0 = SPADE(fin, label_nc, hidden, norm=norm)
        self.norm_1 = SPADE(fmiddle, label_nc, hidden, norm=norm)
        if self.learned_shortcut:
            self.conv_s = _conv(fin, fout, 1, False, spectral)
            self.norm_s = SPADE(fin, label_nc, hidden, norm=norm)

    def shortcut(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """The identity, or SPADE -> 1x1 conv when the channel count changes."""
        return self.conv_s(self.norm_s(x, condition)) if self.learned_shortcut else x

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """``shortcut(x) + conv_1(lrelu(SPADE(conv_0(lrelu(SPADE(x))))))``."""
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, condition), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, condition), 0.2))
        return self.shortcut(x, condition) + dx

