"""Convolution building blocks shared by the methods: conv/deconv + norm + activation, residual blocks.

A method writes its layer lists as data and builds them from these, so that the same block is never written twice
(Wav2Lip and Speech2Vid keep the blocks of their own original code in their folders).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import nn

Norm = Literal["batch", "instance", "none"]
Act = Literal["relu", "lrelu", "tanh", "none"]
Size = int | tuple[int, int]


def norm_layer(kind: Norm, channels: int, dims: int = 2) -> nn.Module:
    """BatchNorm, InstanceNorm (no affine, as pix2pixHD) or nothing, for 1-, 2- or 3-d feature maps."""
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[dims](channels)
    if kind == "instance":
        return {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}[dims](channels, affine=False)
    raise ValueError(f"unknown norm {kind!r}; choose batch, instance or none")


def activation(kind: Act) -> nn.Module:
    """ReLU, LeakyReLU(0.2), tanh or nothing."""
    layers: dict[str, Callable[[], nn.Module]] = {
        "relu": nn.ReLU, "lrelu": lambda: nn.LeakyReLU(0.2), "tanh": nn.Tanh, "none": nn.Identity,
    }  # fmt: skip
    if kind not in layers:
        raise ValueError(f"unknown activation {kind!r}; choose relu, lrelu, tanh or none")
    return layers[kind]()


def conv_block(cin: int, cout: int, kernel: Size, stride: Size = 1, padding: Size = 0, norm: Norm = "batch",
               act: Act = "relu", dims: int = 2) -> nn.Sequential:  # fmt: skip
    """Conv (1-, 2- or 3-d) -> norm -> activation; the conv has a bias only when no norm follows."""
    conv: Any = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims]  # one call for all three (their stubs differ)
    return nn.Sequential(conv(cin, cout, kernel, stride, padding, bias=norm == "none"), norm_layer(norm, cout, dims),
                         activation(act))  # fmt: skip


def deconv_block(cin: int, cout: int, kernel: Size, stride: Size = 1, padding: Size = 0, output_padding: Size = 0,
                 norm: Norm = "batch", act: Act = "relu", dims: int = 2) -> nn.Sequential:  # fmt: skip
    """Transposed conv (2- or 3-d) -> norm -> activation."""
    deconv: Any = {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[dims]
    layer = deconv(cin, cout, kernel, stride, padding, output_padding, bias=norm == "none")
    return nn.Sequential(layer, norm_layer(norm, cout, dims), activation(act))


class ResidualBlock(nn.Module):
    """Two 3x3 (or 3x3x3) convs with norm, ReLU between, added to the input: ``x + F(x)`` (pix2pixHD, CycleGAN)."""

    def __init__(self, channels: int, norm: Norm = "batch", dims: int = 2) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_block(channels, channels, 3, 1, 1, norm, "relu", dims),
            conv_block(channels, channels, 3, 1, 1, norm, "none", dims),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x + body(x)``."""
        return x + self.body(x)


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters of a module (what the architecture tests compare with a hand count)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
