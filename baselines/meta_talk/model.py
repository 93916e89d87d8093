"""Meta Talk's networks: the ATnet audio encoder, the A2E network (Table 1) and the U-Net neural renderer.

ATnet encoder (SPECS D, ``ATVGnet/code/models.py`` ``audio_eocder`` + ``audio_eocder_fc``): MFCC window ``1 x 28 x 12``
-> conv 1->64, 64->128 (3x3, BN, ReLU) -> max-pool 3 stride (1, 2) -> conv 128->256, 256->256, 256->512 -> max-pool 3
stride (2, 2) -> 512 x 12 x 2 -> fc 2048 -> ReLU -> fc 256 -> ReLU. A2E (Table 1): the Nw = 7 features of the frames
around a frame, as 7 channels of length 256, through five Conv1d (kernel 3, stride 1, no padding: 256 -> 254 -> 252 ->
250 -> 248 -> 246) with 5, 5, 3, 3, 3 channels, then FC to 64. Renderer (SPECS G, pix2pix ``unet_256`` with AudioDVP's
``--use_refine``): an encoder of stride-2 4x4 convs, a decoder of stride-2 4x4 transposed convs with skips, on 7
temporally stacked masked renders (21 channels), tanh output.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from baselines._blocks import conv_block, deconv_block
from baselines._training import scaled

ATNET_ROWS, ATNET_COLS = 28, 12  # MFCC rows per window (7 frames x 4) and coefficients (c1..c12)


class ATnetEncoder(nn.Module):
    """ATnet's audio encoder: an MFCC window ``[N, 1, 28, 12]`` -> a 256-d feature ``[N, 256]`` (ReLU'd)."""

    def __init__(self, width: float = 1.0, feature_dim: int = 256) -> None:
        super().__init__()
        c = [scaled(n, width) for n in (64, 128, 256, 256, 512)]
        self.audio_eocder = nn.Sequential(
            conv_block(1, c[0], 3, 1, 1), conv_block(c[0], c[1], 3, 1, 1), nn.MaxPool2d(3, stride=(1, 2)),
            conv_block(c[1], c[2], 3, 1, 1), conv_block(c[2], c[3], 3, 1, 1), conv_block(c[3], c[4], 3, 1, 1),
            nn.MaxPool2d(3, stride=(2, 2)),
        )  # fmt: skip
        flat = c[4] * 12 * 2  # 28 x 12 -> pool (1, 2) -> 26 x 5 -> pool (2, 2) -> 12 x 2
        hidden = scaled(2048, width)
        self.audio_eocder_fc = nn.Sequential(nn.Linear(flat, hidden), nn.ReLU(), nn.Linear(hidden, feature_dim), nn.ReLU())

    def forward(self, mfcc: torch.Tensor) -> torch.Tensor:
        """Features ``[N, 256]`` of MFCC windows ``[N, 1, 28, 12]``."""
        return self.audio_eocder_fc(self.audio_eocder(mfcc).flatten(1))


class A2E(nn.Module):
    """Audio-to-expression: ``[B, Nw, 256]`` features -> ``[B, E]`` expression (Table 1, or AudioDVP's 3 layers).

    Convolutions run along the feature axis with the window as channels and no activation between them, as in
    AudioDVP's ``AudioExpressionModule``, which Table 1 deepens.
    """

    def __init__(self, window: int, feature_dim: int, channels: Sequence[int], expression_dim: int) -> None:
        super().__init__()
        layers, cin, length = [], window, feature_dim
        for cout in channels:
            layers.append(nn.Conv1d(cin, cout, 3, 1))
            cin, length = cout, length - 2
        self.convs = nn.Sequential(*layers)
        self.fc = nn.Linear(cin * length, expression_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Expression coefficients of feature windows."""
        return self.fc(self.convs(features).flatten(1))


class AudioToExpression(nn.Module):
    """ATnet encoder + A2E: MFCC windows ``[B, Nw, 28, 12]`` and a validity mask ``[B, Nw]`` -> ``[B, E]``.

    Window positions past the ends of the audio get zero features (AudioDVP zero-pads the feature sequence).
    """

    def __init__(self, encoder: ATnetEncoder, a2e: A2E) -> None:
        super().__init__()
        self.encoder, self.a2e = encoder, a2e

    def features(self, mfcc: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """ATnet features ``[B, Nw, 256]``, zero at invalid positions."""
        b, w = mfcc.shape[:2]
        feats = self.encoder(mfcc.reshape(b * w, 1, ATNET_ROWS, ATNET_COLS)).reshape(b, w, -1)
        return feats * valid[..., None].to(feats.dtype)

    def forward(self, mfcc: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Expression coefficients."""
        return self.a2e(self.features(mfcc, valid))


def _refine(channels: int) -> nn.Sequential:
    """AudioDVP's RefineModule: two 3x3 conv + BN + ReLU at the same width."""
    return nn.Sequential(conv_block(channels, channels, 3, 1, 1), conv_block(channels, channels, 3, 1, 1))


class UNet(nn.Module):
    """pix2pix ``UnetGenerator``: ``num_downs`` stride-2 levels, skips by concatenation, tanh output.

    Encoder: conv 4x4 s2 (no norm) then ``num_downs - 1`` x [conv 4x4 s2 + BN + LeakyReLU(0.2)] with channels
    ngf, 2ngf, 4ngf, 8ngf, 8ngf, ... (the innermost without BN). Decoder: per level ReLU + (refine) + convT 4x4 s2 + BN,
    concatenated with the matching encoder output; the outermost convT goes to ``out_channels`` with tanh.
    """

    def __init__(self, in_channels: int, out_channels: int, num_downs: int, ngf: int, refine: bool) -> None:
        super().__init__()
        widths = [ngf * min(2**i, 8) for i in range(num_downs)]
        downs: list[nn.Module] = [nn.Sequential(nn.Conv2d(in_channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2))]
        for i in range(1, num_downs):
            innermost = i == num_downs - 1
            downs.append(conv_block(widths[i - 1], widths[i], 4, 2, 1, norm="none" if innermost else "batch", act="lrelu"))
        ups: list[nn.Module] = []
        for i in reversed(range(1, num_downs)):
            cin = widths[i] if i == num_downs - 1 else 2 * widths[i]
            ups.append(nn.Sequential(nn.ReLU(), *([_refine(cin)] if refine else []),
                                     deconv_block(cin, widths[i - 1], 4, 2, 1, act="none")))  # fmt: skip
        outer = [nn.ReLU(), *([_refine(2 * widths[0])] if refine else [])]
        ups.append(nn.Sequential(*outer, nn.ConvTranspose2d(2 * widths[0], out_channels, 4, 2, 1), nn.Tanh()))
        self.downs, self.ups, self.widths = nn.ModuleList(downs), nn.ModuleList(ups), widths

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, H, W]`` in [-1, 1] -> ``[B, C_out, H, W]`` in (-1, 1); H, W divisible by ``2**num_downs``."""
        skips = []
        for down in self.downs:
            x = down(x)
            skips.append(x)
        x = skips.pop()
        for up in self.ups[:-1]:
            x = torch.cat([skips.pop(), up(x)], dim=1)
        return self.ups[-1](x)


class NeuralRenderer(nn.Module):
    """The U-Net on stacked masked renders; with ``residual`` it predicts a correction to the centre frame's render.

    ``residual=False`` is AudioDVP's renderer (the U-Net's tanh output is the face). ``residual=True`` (the tiny
    preset's choice) adds the U-Net's output to the centre render and clamps to [-1, 1], so that a briefly trained
    renderer already passes the re-rendered mouth through instead of a blur.
    """

    def __init__(self, window: int, num_downs: int, ngf: int, refine: bool, residual: bool) -> None:
        super().__init__()
        self.unet = UNet(3 * window, 3, num_downs, ngf, refine)
        self.centre = 3 * (window // 2)
        self.residual = residual

    def forward(self, stacked: torch.Tensor) -> torch.Tensor:
        """Faces ``[B, 3, H, W]`` in [-1, 1] from stacked masked renders ``[B, 3 Nw, H, W]`` in [-1, 1]."""
        out = self.unet(stacked)
        if self.residual:
            out = (stacked[:, self.centre : self.centre + 3] + out).clamp(-1.0, 1.0)
        return out
