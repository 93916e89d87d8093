"""Speech2Vid's networks (SPECS A): audio encoder, identity encoder, decoder with skips, deblurring network.

Audio encoder on a 1x12x35 MFCC window: conv3-64, conv3-128, maxpool 3 stride (1, 2), conv3-256, conv3-256,
conv3-512, maxpool 3 stride 2 (-> 512x6x9), fc 512, fc 256. Identity encoder on 5 stacked 112x112 faces (15
channels): conv7-96 stride 2 (56), maxpool 3/2 (28, skip), conv5-256 stride 2 (14, skip), maxpool 3/2 (7, skip),
3x conv3-512, fc 512, fc 256. Decoder: concat(256, 256) -> fc -> 2x7x7 -> convT6-512 -> convT5-256 (7) -> cat
pool2 -> convT5-96 s2 (14) -> cat conv2 -> convT5-96 s2 (28) -> cat pool1 -> convT5-64 s2 (56) -> convT5-3 s2 (112)
-> sigmoid. Every conv / convT but the last is followed by BatchNorm and ReLU; "same" padding throughout (3P).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from baselines._training import scaled
from baselines.speech2vid.config import FACE_SIZE, MFCC_SHAPE


def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, momentum: float = 0.2) -> nn.Sequential:
    """Conv ("same" padding) -> BatchNorm -> ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2), nn.BatchNorm2d(cout, momentum=momentum),
                         nn.ReLU())


class SameConvTranspose(nn.Module):
    """Transposed conv with Keras "same" padding: output = input x stride (crop ``(k - s) // 2`` before)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(cin, cout, kernel, stride)
        self.before = (kernel - stride) // 2
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Upsample ``[N, C, H, W]`` to ``[N, C', H*s, W*s]``."""
        out = self.conv(x)
        h, w = x.size(2) * self.stride, x.size(3) * self.stride
        return out[:, :, self.before : self.before + h, self.before : self.before + w]


def convt_bn(cin: int, cout: int, kernel: int, stride: int, momentum: float) -> nn.Sequential:
    """Transposed conv with "same" padding -> BatchNorm -> ReLU."""
    return nn.Sequential(SameConvTranspose(cin, cout, kernel, stride), nn.BatchNorm2d(cout, momentum=momentum),
                         nn.ReLU())


class AudioEncoder(nn.Module):
    """MFCC window ``[N, 1, 12, 35]`` -> audio embedding ``[N, 256]``."""

    def __init__(self, width: float = 1.0, momentum: float = 0.2) -> None:
        super().__init__()
        c = [scaled(n, width) for n in (64, 128, 256, 256, 512)]
        self.features = nn.Sequential(
            conv_bn(1, c[0], 3, momentum=momentum), conv_bn(c[0], c[1], 3, momentum=momentum),
            nn.MaxPool2d(3, stride=(1, 2), padding=1),
            conv_bn(c[1], c[2], 3, momentum=momentum), conv_bn(c[2], c[3], 3, momentum=momentum),
            conv_bn(c[3], c[4], 3, momentum=momentum),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        rows, cols = (MFCC_SHAPE[0] + 1) // 2, ((MFCC_SHAPE[1] + 1) // 2 + 1) // 2  # 6 x 9
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(c[4] * rows * cols, scaled(512, width)), nn.ReLU(),
                                nn.Linear(scaled(512, width), scaled(256, width)), nn.ReLU())

    def forward(self, mfcc: torch.Tensor) -> torch.Tensor:
        """Embed the MFCC windows."""
        return self.fc(self.features(mfcc))


class IdentityEncoder(nn.Module):
    """Stacked faces ``[N, 3k, 112, 112]`` -> (embedding ``[N, 256]``, skips pool1 28x28, conv2 14x14, pool2 7x7)."""

    def __init__(self, frames: int = 5, width: float = 1.0, momentum: float = 0.2) -> None:
        super().__init__()
        c = [scaled(n, width) for n in (96, 256, 512)]
        self.conv1 = conv_bn(3 * frames, c[0], 7, 2, momentum)
        self.pool1 = nn.MaxPool2d(3, 2, 1)
        self.conv2 = conv_bn(c[0], c[1], 5, 2, momentum)
        self.pool2 = nn.MaxPool2d(3, 2, 1)
        self.convs = nn.Sequential(conv_bn(c[1], c[2], 3, momentum=momentum), conv_bn(c[2], c[2], 3, momentum=momentum),
                                   conv_bn(c[2], c[2], 3, momentum=momentum))
        side = FACE_SIZE // 16
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(c[2] * side * side, scaled(512, width)), nn.ReLU(),
                                nn.Linear(scaled(512, width), scaled(256, width)), nn.ReLU())
        self.skip_channels = (c[0], c[1], c[1])

    def forward(self, faces: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Embed the faces; also return the skip activations, largest first."""
        pool1 = self.pool1(self.conv1(faces))
        conv2 = self.conv2(pool1)
        pool2 = self.pool2(conv2)
        return self.fc(self.convs(pool2)), [pool1, conv2, pool2]


class Decoder(nn.Module):
    """Joint embedding ``[N, 512]`` + identity skips -> face ``[N, 3, 112, 112]`` in [0, 1]."""

    def __init__(self, skip_channels: tuple[int, int, int], width: float = 1.0, seed_channels: int = 2,
                 momentum: float = 0.2) -> None:
        super().__init__()
        c = [scaled(n, width) for n in (512, 256, 96, 96, 64)]
        self.side = FACE_SIZE // 16
        self.seed_channels = seed_channels
        self.fc = nn.Sequential(nn.Linear(2 * scaled(256, width), seed_channels * self.side**2), nn.ReLU())
        pool1, conv2, pool2 = skip_channels
        self.up1 = nn.Sequential(convt_bn(seed_channels, c[0], 6, 1, momentum), convt_bn(c[0], c[1], 5, 1, momentum))
        self.up2 = convt_bn(c[1] + pool2, c[2], 5, 2, momentum)
        self.up3 = convt_bn(c[2] + conv2, c[3], 5, 2, momentum)
        self.up4 = convt_bn(c[3] + pool1, c[4], 5, 2, momentum)
        self.out = SameConvTranspose(c[4], 3, 5, 2)

    def forward(self, embedding: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        """Decode one face per embedding."""
        pool1, conv2, pool2 = skips
        x = self.fc(embedding).view(-1, self.seed_channels, self.side, self.side)
        x = self.up2(torch.cat([self.up1(x), pool2], dim=1))
        x = self.up3(torch.cat([x, conv2], dim=1))
        x = self.up4(torch.cat([x, pool1], dim=1))
        return torch.sigmoid(self.out(x))


class Speech2VidNet(nn.Module):
    """The generator: ``(mfcc [N, 1, 12, 35], faces [N, 3k, 112, 112]) -> [N, 3, 112, 112]``."""

    def __init__(self, frames: int = 5, width: float = 1.0, seed_channels: int = 2, momentum: float = 0.2) -> None:
        super().__init__()
        self.audio_encoder = AudioEncoder(width, momentum)
        self.identity_encoder = IdentityEncoder(frames, width, momentum)
        self.decoder = Decoder(self.identity_encoder.skip_channels, width, seed_channels, momentum)

    def forward(self, mfcc: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """Generate the face speaking the MFCC window."""
        identity, skips = self.identity_encoder(faces)
        return self.decoder(torch.cat([self.audio_encoder(mfcc), identity], dim=1), skips)


class DeblurNet(nn.Module):
    """The refinement network: ``image + residual(image)`` with a plain 3x3 conv/ReLU stack (VDSR-style).

    The last conv starts at zero, so before training the network passes the generator's output through unchanged.
    """

    def __init__(self, depth: int = 10, width: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, width, 3, 1, 1), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, 1, 1), nn.ReLU()]
        last = nn.Conv2d(width, 3, 3, 1, 1)
        nn.init.zeros_(last.weight)  # start as the identity: refinement can only be learned, not imposed
        if last.bias is not None:
            nn.init.zeros_(last.bias)
        layers.append(last)
        self.residual = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Sharpen ``[N, 3, H, W]`` images (output not clipped; clip when converting to pixels)."""
        return images + self.residual(images)


def l1(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The pixel L1 loss of both stages."""
    return F.l1_loss(output, target)
