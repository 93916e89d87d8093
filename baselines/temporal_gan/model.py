"""The temporal GAN's networks (paper 2.1-2.2, layer rules of SPECS C).

Content encoder: 1-D convs on a raw-audio window (first kernel 0.005 s, stride 0.001 s, 16 channels; then the prime
factors of the remaining length as strides, kernel 2 x stride, channels doubling; BatchNorm + ReLU; a last conv over
the remaining length to the code, tanh), then a 2-layer GRU. Identity encoder: ``log2(H) - 2`` convs k4 s2 p1 +
BatchNorm + ReLU from 64 channels, doubling, then a conv over the remaining 4x3 map to z_id, tanh (6 layers at
128x96); its activations are the U-Net skips. Frame decoder: a transposed conv from the 1x1 latent to the 4x3 map
with the encoder's last width, ``log2(H) - 3`` U-Net blocks (concat skip, convT k3 p1, BN, ReLU, convT k4 s2 p1, BN,
ReLU, halving channels), and a last convT k4 s2 p1 to RGB, tanh. Noise generator: N(0, 0.33) through a 1-layer GRU
and tanh. The frame discriminator is the same 6-layer CNN on the frame stacked with the still image; the sequence
discriminator encodes every frame (that CNN) and audio window (the content convs) into a 2-layer GRU and a 2-layer
classifier on its last state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from baselines._blocks import Act, conv_block, deconv_block
from baselines.temporal_gan.config import TemporalGANConfig


def prime_factors(n: int) -> list[int]:
    """Prime factors of ``n`` in ascending order, with repeats.

    Example:
        >>> prime_factors(200)
        [2, 2, 2, 5, 5]
    """
    factors, p = [], 2
    while n > 1 and p * p <= n:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    return factors + ([n] if n > 1 else [])


@dataclass(frozen=True)
class Conv1dSpec:
    """One conv of the content encoder: channels, kernel, stride, padding on each side, and output length."""

    cin: int
    cout: int
    kernel: int
    stride: int
    padding: int
    length: int


def same_padding(length: int, kernel: int, stride: int) -> int:
    """The "same" padding on each side as sda computes it: ``ceil(((ceil(L / s) - 1) * s + k - L) / 2)``."""
    return math.ceil(((math.ceil(length / stride) - 1) * stride + kernel - length) / 2)


def audio_encoder_layers(samples: int, rate: int, first_kernel_s: float, first_stride_s: float, channels: int,
                         code: int) -> list[Conv1dSpec]:  # fmt: skip
    """The content encoder's conv layers for windows of ``samples`` at ``rate`` (SPECS C's rules).

    Example:
        >>> [(s.kernel, s.stride, s.length) for s in audio_encoder_layers(3200, 16000, 0.005, 0.001, 16, 256)]
        [(80, 16, 200), (4, 2, 100), (4, 2, 50), (4, 2, 25), (10, 5, 5), (5, 1, 1)]
    """
    kernel, stride = round(first_kernel_s * rate), round(first_stride_s * rate)
    if kernel < 1 or stride < 1 or samples < kernel:
        raise ValueError(f"temporal_gan: a {samples}-sample window at {rate} Hz cannot take a first conv of "
                         f"kernel {kernel} and stride {stride}")  # fmt: skip
    pad = same_padding(samples, kernel, stride)
    length = (samples + 2 * pad - kernel) // stride + 1
    layers = [Conv1dSpec(1, channels, kernel, stride, pad, length)]
    strides = prime_factors(length)
    if not strides:
        raise ValueError(f"temporal_gan: the first audio conv leaves {length} step(s); the window is too short")
    for s in strides[:-1]:  # the last factor is covered by the final conv over the remaining length
        pad = same_padding(length, 2 * s, s)
        length = (length + 2 * pad - 2 * s) // s + 1
        layers.append(Conv1dSpec(channels, 2 * channels, 2 * s, s, pad, length))
        channels *= 2
    layers.append(Conv1dSpec(channels, code, length, 1, 0, 1))
    return layers


class AudioEncoder(nn.Module):
    """Raw-audio windows ``[N, L]`` -> codes ``[N, code]`` in (-1, 1)."""

    def __init__(self, samples: int, rate: int, first_kernel_s: float, first_stride_s: float, channels: int,
                 code: int) -> None:  # fmt: skip
        super().__init__()
        self.specs = audio_encoder_layers(samples, rate, first_kernel_s, first_stride_s, channels, code)
        *hidden, last = self.specs
        layers = [conv_block(s.cin, s.cout, s.kernel, s.stride, s.padding, dims=1) for s in hidden]
        layers.append(conv_block(last.cin, last.cout, last.kernel, norm="none", act="tanh", dims=1))
        self.layers = nn.Sequential(*layers)
        self.samples = samples

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """Encode each window."""
        return self.layers(windows.unsqueeze(1)).flatten(1)


class ImageEncoder(nn.Module):
    """``log2(H) - 2`` convs k4 s2 p1 + BN + activation, doubling from ``channels``, then a conv over the last map.

    The identity encoder (ReLU, tanh code), the frame discriminator (LeakyReLU, a logit) and the sequence
    discriminator's frame encoder share it. ``forward`` returns the code ``[N, code]`` and the activations.
    """

    def __init__(self, in_channels: int, code: int, height: int, width: int, channels: int, act: Act = "relu",
                 final_act: Act = "tanh") -> None:  # fmt: skip
        super().__init__()
        depth = int(math.log2(height)) - 2
        widths = [channels * 2**i for i in range(depth)]
        self.convs = nn.ModuleList(
            conv_block(cin, cout, 4, 2, 1, act=act) for cin, cout in zip([in_channels, *widths[:-1]], widths, strict=True)
        )
        final = (height >> depth, width >> depth)  # 4 x 3 for 128x96
        self.final = conv_block(widths[-1], code, final, norm="none", act=final_act)
        self.final[0].register_parameter("bias", None)  # sda's last encoder conv has no bias
        self.widths = widths

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Encode ``[N, C, H, W]``; also return every conv's activation, largest first."""
        skips, x = [], images
        for conv in self.convs:
            x = conv(x)
            skips.append(x)
        return self.final(x).flatten(1), skips


class UnetBlock(nn.Module):
    """Concat the skip, convT k3 p1 back to ``cin`` channels, then convT k4 s2 p1 to ``cout`` (each + BN + ReLU)."""

    def __init__(self, cin: int, cout: int, skip: int) -> None:
        super().__init__()
        self.merge = deconv_block(cin + skip, cin, 3, 1, 1)
        self.up = deconv_block(cin, cout, 4, 2, 1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Upsample ``x`` 2x with the skip's information."""
        return self.up(self.merge(torch.cat([x, skip], dim=1)))


class FrameDecoder(nn.Module):
    """Latent ``[N, Z]`` + identity skips -> frames ``[N, 3, H, W]`` in (-1, 1)."""

    def __init__(self, latent: int, widths: list[int], height: int, width: int) -> None:
        super().__init__()
        depth = len(widths)
        channels = widths[-1]
        self.start = deconv_block(latent, channels, (height >> depth, width >> depth))
        blocks = []
        for skip in reversed(widths[1:]):  # deepest first; the largest activation is not used (SPECS C)
            blocks.append(UnetBlock(channels, channels // 2, skip))
            channels //= 2
        self.blocks = nn.ModuleList(blocks)
        self.out = nn.Sequential(nn.ConvTranspose2d(channels, 3, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, latent: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        """Decode one frame per latent; ``skips`` as the encoder returned them (largest first)."""
        x = self.start(latent[:, :, None, None])
        for block, skip in zip(self.blocks, reversed(skips[1:]), strict=True):
            x = block(x, skip)
        return self.out(x)


class Generator(nn.Module):
    """Still image + audio windows + Gaussian noise -> a video, frame by frame (paper Fig. 3a).

    ``forward(still [B, 3, H, W], windows [B, T, L], noise [B, T, n]) -> frames [B, T, 3, H, W]``.
    """

    def __init__(self, config: TemporalGANConfig) -> None:
        super().__init__()
        c = config
        samples = round(c.audio_window_s * c.audio_rate)
        self.audio_encoder = AudioEncoder(samples, c.audio_rate, c.audio_first_kernel_s, c.audio_first_stride_s,
                                          c.audio_channels, c.audio_code)  # fmt: skip
        self.content_rnn = nn.GRU(c.audio_code, c.content_code, num_layers=2, batch_first=True) if c.temporal else None
        self.noise_rnn = nn.GRU(c.noise_dim, c.noise_dim, batch_first=True) if c.temporal else None
        self.identity_encoder = ImageEncoder(3, c.identity_code, c.image_height, c.image_width, c.channels)
        latent = c.content_size + c.identity_code + c.noise_dim
        self.decoder = FrameDecoder(latent, self.identity_encoder.widths, c.image_height, c.image_width)

    def content(self, windows: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        """z_c ``[B, T, content]`` for audio windows ``[B, T, L]`` (the conv stack in chunks of ``chunk`` windows)."""
        flat = windows.flatten(0, 1)
        step = chunk or flat.size(0)
        codes = torch.cat([self.audio_encoder(flat[i : i + step]) for i in range(0, flat.size(0), step)])
        codes = codes.view(*windows.shape[:2], -1)
        return codes if self.content_rnn is None else self.content_rnn(codes)[0]

    def noise(self, noise: torch.Tensor) -> torch.Tensor:
        """z_n ``[B, T, n]``: the Gaussian noise through the GRU and tanh (passed through in the static model)."""
        return noise if self.noise_rnn is None else torch.tanh(self.noise_rnn(noise)[0])

    def forward(self, still: torch.Tensor, windows: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Generate ``T`` frames per still image."""
        batch, steps = windows.shape[:2]
        identity, skips = self.identity_encoder(still)
        latent = torch.cat([self.content(windows), identity[:, None].expand(-1, steps, -1), self.noise(noise)], dim=2)
        tiled = [s[:, None].expand(-1, steps, -1, -1, -1).flatten(0, 1) for s in skips]
        return self.decoder(latent.flatten(0, 1), tiled).view(batch, steps, *still.shape[1:])


class FrameDiscriminator(nn.Module):
    """A frame stacked with the still image on channels -> one logit (paper 2.2.1: 6 layers at 128x96)."""

    def __init__(self, config: TemporalGANConfig) -> None:
        super().__init__()
        self.net = ImageEncoder(6, 1, config.image_height, config.image_width, config.disc_channels, "lrelu", "none")

    def forward(self, frames: torch.Tensor, still: torch.Tensor) -> torch.Tensor:
        """Logits ``[N]`` for frames and their still images, both ``[N, 3, H, W]``."""
        return self.net(torch.cat([frames, still], dim=1))[0].flatten()


class SequenceDiscriminator(nn.Module):
    """A video and its audio -> one logit (paper 2.2.2): per-step frame and audio codes, 2-layer GRU, classifier."""

    def __init__(self, config: TemporalGANConfig) -> None:
        super().__init__()
        c = config
        self.frame_encoder = ImageEncoder(3, c.seq_code, c.image_height, c.image_width, c.disc_channels, "lrelu")
        samples = round(c.audio_window_s * c.audio_rate)
        self.audio_encoder = AudioEncoder(samples, c.audio_rate, c.audio_first_kernel_s, c.audio_first_stride_s,
                                          c.audio_channels, c.seq_code)  # fmt: skip
        self.rnn = nn.GRU(2 * c.seq_code, c.seq_hidden, num_layers=2, batch_first=True)
        self.classifier = nn.Sequential(nn.Linear(c.seq_hidden, c.seq_hidden), nn.ReLU(), nn.Linear(c.seq_hidden, 1))

    def forward(self, frames: torch.Tensor, windows: torch.Tensor) -> torch.Tensor:
        """Logits ``[B]`` for videos ``[B, T, 3, H, W]`` with audio windows ``[B, T, L]``."""
        batch, steps = frames.shape[:2]
        video = self.frame_encoder(frames.flatten(0, 1))[0].view(batch, steps, -1)
        audio = self.audio_encoder(windows.flatten(0, 1)).view(batch, steps, -1)
        states = self.rnn(torch.cat([video, audio], dim=2))[0]
        return self.classifier(states[:, -1]).flatten()
