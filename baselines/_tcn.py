"""Temporal convolutional networks (Bai, Kolter, Koltun 2018), shared by the methods that map sequences with TCNs.

Follows locuslab/TCN ``TCN/tcn.py`` (SPECS F): a level is a ``TemporalBlock`` of two weight-normalised dilated
``Conv1d`` layers, each followed by ReLU and dropout, with a residual connection (identity, or a 1x1 ``Conv1d``
when the channel count changes) and a ReLU after the sum; level ``i`` has dilation ``2**i`` unless dilations are
given; conv weights are initialised N(0, 0.01). The original is causal (padding ``(k - 1) d`` on both sides, then
the right end chomped); ``causal=False`` pads ``(k - 1) d / 2`` on each side instead, so that an output frame sees
as many future frames as past ones (the non-causal TCN of Zheng et al., section 2.1).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm


def receptive_field(kernel_size: int, dilations: Sequence[int], convs_per_block: int = 2) -> int:
    """Frames one output frame sees: ``1 + convs_per_block * (kernel_size - 1) * sum(dilations)``.

    Example:
        >>> receptive_field(3, [1, 2, 4, 8])
        61
    """
    return 1 + convs_per_block * (kernel_size - 1) * sum(int(d) for d in dilations)


class TemporalBlock(nn.Module):
    """One TCN level: two dilated weight-normalised convolutions with ReLU and dropout, plus a residual.

    Input and output float ``[B, C, T]``; the output has the input's length ``T``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, dilation: int, dropout: float = 0.2,
        causal: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        total = (kernel_size - 1) * dilation
        if not causal and total % 2:
            raise ValueError(f"a non-causal TCN needs an even (kernel_size - 1) * dilation, got {total}")
        self.causal = causal
        self.chomp = total if causal else 0
        padding = total if causal else total // 2
        self.conv1 = weight_norm(nn.Conv1d(in_channels, out_channels, kernel_size, padding=padding, dilation=dilation))
        self.conv2 = weight_norm(nn.Conv1d(out_channels, out_channels, kernel_size, padding=padding, dilation=dilation))
        self.dropout = nn.Dropout(dropout)
        self.downsample = nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else None
        with torch.no_grad():
            for conv in (self.conv1, self.conv2):
                conv.parametrizations.weight.original1.normal_(0.0, 0.01)  # the direction v; g follows below
                conv.parametrizations.weight.original0.copy_(
                    conv.parametrizations.weight.original1.norm(dim=(1, 2), keepdim=True)
                )
            if self.downsample is not None:
                self.downsample.weight.normal_(0.0, 0.01)

    def _conv(self, conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
        out = conv(x)
        if self.chomp:
            out = out[..., : -self.chomp]
        return self.dropout(torch.relu(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, T] -> [B, C_out, T]``."""
        out = self._conv(self.conv2, self._conv(self.conv1, x))
        residual = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + residual)


class TemporalConvNet(nn.Module):
    """A stack of :class:`TemporalBlock` levels, one per entry of ``channels``.

    Args:
        in_channels: input features per time step.
        channels: output channels of each level.
        kernel_size: temporal kernel of every convolution.
        dilations: dilation of each level (default ``2**i``).
        dropout: dropout after every convolution.
        causal: the original's causal padding; False pads symmetrically (past and future).
    """

    def __init__(
        self, in_channels: int, channels: Sequence[int], kernel_size: int = 2, dilations: Sequence[int] | None = None,
        dropout: float = 0.2, causal: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        dilations = list(dilations) if dilations is not None else [2**i for i in range(len(channels))]
        if len(dilations) != len(channels):
            raise ValueError(f"TCN: {len(channels)} levels but {len(dilations)} dilations")
        self.kernel_size, self.dilations = kernel_size, dilations
        sizes = [in_channels, *channels]
        self.network = nn.Sequential(
            *(TemporalBlock(sizes[i], sizes[i + 1], kernel_size, d, dropout, causal) for i, d in enumerate(dilations))
        )

    @property
    def receptive_field(self) -> int:
        """Input frames that one output frame depends on."""
        return receptive_field(self.kernel_size, self.dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, T] -> [B, channels[-1], T]``."""
        return self.network(x)
