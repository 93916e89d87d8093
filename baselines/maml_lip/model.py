"""maml_lip's networks (Fig. 1) and loss (eqs. 1-3).

Lip generator after Chen et al.'s research-code generator (SPECS D, lelechen63/3d_gan ``model_base.py``), which the
paper's Fig. 1 matches block for block: an audio encoder (five 3x3 convs 32-64-128-256-512, stride 2 along the
feature axis three times), an identity encoder (7x7 conv ngf, two stride-2 3x3 convs to 4 ngf at a quarter of the lip
size), the identity features repeated over the 16 frames and the audio features over the image width, fused by a
3x3x3 conv to 4 ngf ("compress"), residual blocks, two 3-D deconvolutions (stride 1x2x2) and a last 3-D conv with
tanh: a 16-frame lip video ``[N, 3, 16, L, L]`` in [-1, 1].

Perceptual auto-encoder (eq. 2): three stride-(1, 2, 2) 3-D convs encode a lip video, three 3-D deconvolutions
decode it; its encoder is ``tau``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from baselines._blocks import ResidualBlock, conv_block, deconv_block
from baselines._training import scaled

AUDIO_CHANNELS = (32, 64, 128, 256, 512)  # CHEN audio_extractor
AUDIO_STRIDES = ((1, 1), (1, 2), (1, 1), (1, 2), (1, 2))  # stride 2 along the feature axis, never along time


class AudioEncoder(nn.Module):
    """Audio features ``[N, 1, steps, dims]`` -> ``[N, C, window, L/4]`` (time pooled to the video frames)."""

    def __init__(self, window: int, side: int, width: float = 1.0) -> None:
        super().__init__()
        channels = [scaled(c, width) for c in AUDIO_CHANNELS]
        layers, cin = [], 1
        for cout, stride in zip(channels, AUDIO_STRIDES, strict=True):
            layers.append(conv_block(cin, cout, 3, stride, 1, "instance", "relu"))
            cin = cout
        self.convs = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d((window, side))
        self.channels = cin

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """Encode one window of audio features per sample."""
        return self.pool(self.convs(audio))


class IdentityEncoder(nn.Module):
    """Lip image ``[N, 3, L, L]`` -> ``[N, 4 ngf, L/4, L/4]`` (reflection-padded 7x7 conv, two stride-2 convs)."""

    def __init__(self, ngf: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.ReflectionPad2d(3), conv_block(3, ngf, 7, 1, 0, "instance", "relu"),
            conv_block(ngf, 2 * ngf, 3, 2, 1, "instance", "relu"), conv_block(2 * ngf, 4 * ngf, 3, 2, 1, "instance", "relu"),
        )  # fmt: skip

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Encode the identity lip image."""
        return self.net(image)


class LipGenerator(nn.Module):
    """``(audio [N, 1, steps, dims], identity [N, 3, L, L]) -> lip video [N, 3, window, L, L]`` in [-1, 1]."""

    def __init__(self, lip_size: int = 64, window: int = 16, ngf: int = 64, width: float = 1.0, res_blocks: int = 9,
                 out_kernel: int = 7) -> None:  # fmt: skip
        super().__init__()
        g = scaled(ngf, width)
        self.audio_encoder = AudioEncoder(window, lip_size // 4, width)
        self.identity_encoder = IdentityEncoder(g)
        self.window = window
        fused = 4 * g + self.audio_encoder.channels
        self.compress = conv_block(fused, 4 * g, 3, 1, 1, "instance", "relu", dims=3)
        self.blocks = nn.Sequential(*[ResidualBlock(4 * g, "instance", dims=3) for _ in range(res_blocks)])
        stride: Any = (1, 2, 2)  # 3-d sizes (the shared blocks' Size type names 2-d ones)
        extra: Any = (0, 1, 1)
        self.up = nn.Sequential(
            deconv_block(4 * g, 2 * g, 3, stride, 1, extra, "instance", "relu", dims=3),
            deconv_block(2 * g, g, 3, stride, 1, extra, "instance", "relu", dims=3),
        )
        self.out = nn.Conv3d(g, 3, out_kernel, 1, out_kernel // 2)

    def forward(self, audio: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        """Generate the lip video of one audio window for each identity lip image."""
        image = self.identity_encoder(identity)  # [N, 4g, L/4, L/4]
        sound = self.audio_encoder(audio)  # [N, A, window, L/4]
        image = image.unsqueeze(2).expand(-1, -1, self.window, -1, -1)
        sound = sound.unsqueeze(-1).expand(-1, -1, -1, -1, image.size(-1))
        x = self.compress(torch.cat([image, sound], dim=1))
        return torch.tanh(self.out(self.up(self.blocks(x))))


class LipAutoEncoder(nn.Module):
    """Lip video ``[N, 3, T, L, L]`` -> same, through ``encode`` (tau of eq. 2) ``[N, c3, T, L/8, L/8]``."""

    def __init__(self, channels: tuple[int, int, int] = (64, 128, 256)) -> None:
        super().__init__()
        c1, c2, c3 = channels
        k: Any = (3, 4, 4)  # 3-d sizes (the shared blocks' Size type names 2-d ones)
        s: Any = (1, 2, 2)
        p = 1
        self.encoder = nn.Sequential(
            conv_block(3, c1, k, s, p, "none", "lrelu", dims=3), conv_block(c1, c2, k, s, p, "instance", "lrelu", dims=3),
            conv_block(c2, c3, k, s, p, "instance", "lrelu", dims=3),
        )  # fmt: skip
        self.decoder = nn.Sequential(
            deconv_block(c3, c2, k, s, p, 0, "instance", "relu", dims=3),
            deconv_block(c2, c1, k, s, p, 0, "instance", "relu", dims=3),
            deconv_block(c1, 3, k, s, p, 0, "none", "tanh", dims=3),
        )  # fmt: skip

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """The perceptual features tau(v)."""
        return self.encoder(video)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """Reconstruct the video."""
        return self.decoder(self.encoder(video))


def pixel_loss(generated: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Eq. 1: the mean absolute (``"l1"``) or squared (``"l2"``) pixel difference."""
    return F.l1_loss(generated, target) if kind == "l1" else F.mse_loss(generated, target)


def composite_loss(generated: torch.Tensor, target: torch.Tensor, tau: LipAutoEncoder, alpha_pixel: float,
                   kind: str = "l1") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """Eq. 3: ``a1 * L_pix + (1 - a1) * L_per``, with eq. 2's ``L_per`` the mean squared distance of tau features.

    Returns (total, pixel, perceptual). ``tau`` is frozen by the caller; the target's features carry no gradient.
    """
    pix = pixel_loss(generated, target, kind)
    with torch.no_grad():
        real = tau.encode(target)
    per = F.mse_loss(tau.encode(generated), real)
    return alpha_pixel * pix + (1.0 - alpha_pixel) * per, pix, per
