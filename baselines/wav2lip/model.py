"""Wav2Lip's three networks: generator, expert lip-sync discriminator (SyncNet), visual quality discriminator.

Facts from SPECS B (Rudrabha/Wav2Lip ``models/wav2lip.py``, ``models/syncnet.py``, ``models/conv.py``).
Layer lists are the original's, written as data: ``(out_channels, kernel, stride, padding, residual_blocks)``
with channel counts at paper width; a width multiplier scales every channel count (``tiny`` preset), nothing
else. Input sizes: faces 96x96 (the generator sees 6 channels: masked target || reference), mel windows 1x80x16,
the expert sees the lower halves of 5 frames stacked on channels (15x48x96).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from baselines._training import scaled

Stage = tuple[int, int | tuple[int, int], int | tuple[int, int], int, int]

# Generator face encoder: 96 -> 96, 48, 24, 12, 6, 3, 1 (the last stage adds a 1x1 conv).
FACE_ENCODER: list[Stage] = [(16, 7, 1, 3, 0), (32, 3, 2, 1, 2), (64, 3, 2, 1, 3), (128, 3, 2, 1, 2),
                             (256, 3, 2, 1, 2), (512, 3, 2, 1, 1), (512, 3, 1, 0, 0)]
# Audio encoder on 1x80x16: -> 80x16, 27x16, 9x6, 3x3, 1x1 (then a 1x1 conv). SyncNet has 2 residuals at 256.
AUDIO_ENCODER: list[Stage] = [(32, 3, 1, 1, 2), (64, 3, (3, 1), 1, 2), (128, 3, 3, 1, 2), (256, 3, (3, 2), 1, 1),
                              (512, 3, 1, 0, 0)]
# Decoder output channels and residual blocks per stage; stage 0 is a 1x1 conv, 1 a stride-1 ConvT (1 -> 3).
DECODER: list[tuple[int, int]] = [(512, 0), (512, 1), (512, 2), (384, 2), (256, 2), (128, 2), (64, 2)]
# Expert face encoder on 15x48x96: -> 48x96, 46x47, 23x24, 12x12, 6x6, 3x3, 1x1, 1x1.
SYNC_FACE_ENCODER: list[Stage] = [(32, 7, 1, 3, 0), (64, 5, (1, 2), 1, 2), (128, 3, 2, 1, 3), (256, 3, 2, 1, 2),
                                  (512, 3, 2, 1, 2), (512, 3, 2, 1, 0), (512, 3, 1, 0, 0), (512, 1, 1, 0, 0)]
# Quality discriminator on the 3x48x96 lower half: pairs of LeakyReLU convs -> 48x96, 48x48, 24, 12, 6, 3, 1.
DISC: list[tuple[int, int, int | tuple[int, int], int]] = [
    (32, 7, 1, 3), (64, 5, (1, 2), 2), (64, 5, 1, 2), (128, 5, 2, 2), (128, 5, 1, 2), (256, 5, 2, 2), (256, 5, 1, 2),
    (512, 3, 2, 1), (512, 3, 1, 1), (512, 3, 2, 1), (512, 3, 1, 1), (512, 3, 1, 0), (512, 1, 1, 0)]
DISC_STAGES = [1, 2, 2, 2, 2, 2, 2]  # convs per stage (stage outputs are the resolutions listed above)


class ConvBlock(nn.Module):
    """``Conv2d`` of ``models/conv.py``: conv -> BatchNorm -> (+ input if residual) -> ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int | tuple[int, int], stride: int | tuple[int, int] = 1,
                 padding: int = 0, residual: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding)
        self.norm = nn.BatchNorm2d(cout)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        out = self.norm(self.conv(x))
        return F.relu(out + x if self.residual else out)


class ConvTransposeBlock(nn.Module):
    """``Conv2dTranspose``: transposed conv -> BatchNorm -> ReLU."""

    def __init__(self, cin: int, cout: int, stride: int, padding: int, output_padding: int) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(cin, cout, 3, stride, padding, output_padding)
        self.norm = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        return F.relu(self.norm(self.conv(x)))


def _stage(cin: int, cout: int, kernel: int | tuple[int, int], stride: int | tuple[int, int], padding: int,
           residuals: int) -> nn.Sequential:
    """One conv block followed by ``residuals`` 3x3 residual blocks at the same width."""
    blocks = [ConvBlock(cin, cout, kernel, stride, padding)]
    blocks += [ConvBlock(cout, cout, 3, 1, 1, residual=True) for _ in range(residuals)]
    return nn.Sequential(*blocks)


def _encoder(stages: list[Stage], cin: int, width: float, final_1x1: bool) -> tuple[nn.ModuleList, list[int]]:
    """Stages of an encoder and their output channels; ``final_1x1`` appends a 1x1 block to the last stage."""
    blocks, widths = [], []
    for cout, kernel, stride, padding, residuals in stages:
        cout = scaled(cout, width)
        stage = _stage(cin, cout, kernel, stride, padding, residuals)
        blocks.append(stage)
        widths.append(cout)
        cin = cout
    if final_1x1:
        blocks[-1].append(ConvBlock(cin, cin, 1, 1, 0))
    return nn.ModuleList(blocks), widths


def audio_encoder(width: float = 1.0, residuals_at_256: int = 1) -> nn.Sequential:
    """Mel window ``[N, 1, 80, 16]`` -> embedding ``[N, 512, 1, 1]`` (generator: 1 residual at 256, expert: 2)."""
    stages = [s if s[0] != 256 else (*s[:4], residuals_at_256) for s in AUDIO_ENCODER]
    blocks, _ = _encoder(stages, 1, width, final_1x1=True)
    return nn.Sequential(*blocks)


def fold_time(x: torch.Tensor, dim: int) -> torch.Tensor:
    """``[B, ..., T (at dim), ...]`` -> ``[T*B, ...]``, time-major as the original's ``torch.cat`` over frames."""
    return torch.cat([x.select(dim, i) for i in range(x.size(dim))], dim=0)


def unfold_time(x: torch.Tensor, batch: int) -> torch.Tensor:
    """Inverse of :func:`fold_time` for images: ``[T*B, C, H, W]`` -> ``[B, C, T, H, W]``."""
    return torch.stack(torch.split(x, batch, dim=0), dim=2)


class Generator(nn.Module):
    """The Wav2Lip generator: face encoder with skips, audio encoder, face decoder, sigmoid output.

    ``forward(mels [B, T, 1, 80, 16], faces [B, 6, T, 96, 96]) -> [B, 3, T, 96, 96]``; 4-D inputs
    (``[N, 1, 80, 16]``, ``[N, 6, 96, 96]``) give ``[N, 3, 96, 96]``.
    """

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        self.face_encoder, enc = _encoder(FACE_ENCODER, 6, width, final_1x1=True)
        self.audio_encoder = audio_encoder(width, residuals_at_256=1)
        cin = scaled(AUDIO_ENCODER[-1][0], width)
        self.decoder_inputs: list[int] = []
        decoder = []
        for i, (cout, residuals) in enumerate(DECODER):
            cout = scaled(cout, width)
            self.decoder_inputs.append(cin)
            if i == 0:
                first: nn.Module = ConvBlock(cin, cout, 1, 1, 0)
            elif i == 1:
                first = ConvTransposeBlock(cin, cout, 1, 0, 0)
            else:
                first = ConvTransposeBlock(cin, cout, 2, 1, 1)
            rest = [ConvBlock(cout, cout, 3, 1, 1, residual=True) for _ in range(residuals)]
            decoder.append(nn.Sequential(first, *rest))
            cin = cout + enc[len(enc) - 1 - i]  # concatenated with the matching encoder feature
        self.face_decoder = nn.ModuleList(decoder)
        self.output_block = nn.Sequential(
            ConvBlock(cin, scaled(32, width), 3, 1, 1), nn.Conv2d(scaled(32, width), 3, 1), nn.Sigmoid()
        )
        self.output_inputs = cin

    def forward(self, mels: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """Generate faces for mel windows; see the class docstring for shapes."""
        batch = mels.size(0)
        sequence = faces.dim() == 5
        if sequence:
            mels, faces = fold_time(mels, 1), fold_time(faces, 2)
        x = self.audio_encoder(mels)
        features = []
        for stage in self.face_encoder:
            faces = stage(faces)
            features.append(faces)
        for stage in self.face_decoder:
            x = torch.cat([stage(x), features.pop()], dim=1)
        out = self.output_block(x)
        return unfold_time(out, batch) if sequence else out


class SyncNet(nn.Module):
    """The expert lip-sync discriminator.

    ``(mel [N, 1, 80, 16], lower faces [N, 15, 48, 96])`` -> two L2-normalised 512-d embeddings; their cosine
    similarity is the in-sync probability.
    """

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        blocks, _ = _encoder(SYNC_FACE_ENCODER, 15, width, final_1x1=False)
        self.face_encoder = nn.Sequential(*blocks)
        self.audio_encoder = audio_encoder(width, residuals_at_256=2)

    def forward(self, mels: torch.Tensor, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Audio and face embeddings ``[N, D]``, each of unit length."""
        audio = self.audio_encoder(mels).flatten(1)
        face = self.face_encoder(faces).flatten(1)
        return F.normalize(audio, p=2, dim=1), F.normalize(face, p=2, dim=1)


def sync_probability(audio: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of the embeddings, clamped into [0, 1] for the BCE (ReLU features make it >= 0)."""
    return F.cosine_similarity(audio, face).clamp(0.0, 1.0)


def sync_bce(audio: torch.Tensor, face: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The expert's loss: BCE of the cosine similarity against 1 (in sync) / 0 (off sync)."""
    return F.binary_cross_entropy(sync_probability(audio, face), target.float())


def lower_half(faces: torch.Tensor) -> torch.Tensor:
    """Rows from H // 2 down of ``[..., H, W]`` images."""
    return faces[..., faces.size(-2) // 2 :, :]


def expert_faces(frames: torch.Tensor) -> torch.Tensor:
    """Generator output ``[B, 3, T, H, W]`` -> the expert's face input ``[B, 3T, H/2, W]`` (frames on channels)."""
    half = lower_half(frames)
    return torch.cat([half[:, :, i] for i in range(half.size(2))], dim=1)


class QualityDiscriminator(nn.Module):
    """The visual quality discriminator: lower face halves (frames folded into the batch) -> P(real) ``[N, 1]``."""

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        layers, cin = [], 3
        for cout, kernel, stride, padding in DISC:
            cout = scaled(cout, width)
            layers.append(nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding), nn.LeakyReLU(0.01)))
            cin = cout
        stages, start = [], 0
        for count in DISC_STAGES:
            stages.append(nn.Sequential(*layers[start : start + count]))
            start += count
        self.face_encoder = nn.ModuleList(stages)
        self.binary_pred = nn.Sequential(nn.Conv2d(cin, 1, 1), nn.Sigmoid())

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        """``[B, 3, T, H, W]`` (or ``[N, 3, H, W]``) full faces -> ``[B*T, 1]`` probabilities of being real."""
        x = lower_half(fold_time(faces, 2) if faces.dim() == 5 else faces)
        for stage in self.face_encoder:
            x = stage(x)
        return self.binary_pred(x).view(x.size(0), -1)

    def perceptual_loss(self, fake: torch.Tensor) -> torch.Tensor:
        """The generator's adversarial term: BCE(D(G), 1)."""
        pred = self(fake)
        return F.binary_cross_entropy(pred, torch.ones_like(pred))
