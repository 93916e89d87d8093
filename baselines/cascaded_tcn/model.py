"""Networks of the cascaded TCN: the mouth PCA, the mapping (G1 -> G2, or the LSTM / BiLSTM baselines) and the renderer.

Stage 1 (section 2.1, Fig. 2): G1 is a non-causal TCN from the audio features (and head pose) to 13 PCA mouth
coefficients; G2 a non-causal TCN from G1's output (and head pose, and the 8 cheek keypoints) to the 29
talking-related landmarks. Each TCN ends in a per-frame linear layer (a 1x1 ``Conv1d``, CHOICE).
Stage 2 (section 2.2, Fig. 3): pix2pixHD's global generator (SPECS E) with self-attention blocks (SAGAN's, CHOICE:
after the residual blocks) and, in the paper preset, one local enhancer on top.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from baselines._blocks import ResidualBlock, conv_block, deconv_block
from baselines._tcn import TemporalConvNet
from baselines.cascaded_tcn.config import FBANK_DIM, PCA_DIM, POSE_DIM, CascadedTCNConfig
from baselines.cascaded_tcn.features import FEATURES_PER_FRAME

AUDIO_DIM = FBANK_DIM * FEATURES_PER_FRAME  # 104: 4 logfbank frames of 26 per video frame
MOUTH_DIM, TALKING_DIM, CHEEK_DIM = 40, 58, 16


class Statistics(nn.Module):
    """What stage 1 learns from the training set before any step: audio normalisation and the mouth PCA.

    Buffers (saved with the model): per-dimension audio mean and standard deviation, the mean mouth ``[40]`` and the
    13 principal axes ``[13, 40]`` of the normalised training mouths.
    """

    audio_mean: torch.Tensor
    audio_std: torch.Tensor
    mouth_mean: torch.Tensor
    mouth_axes: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("audio_mean", torch.zeros(AUDIO_DIM))
        self.register_buffer("audio_std", torch.ones(AUDIO_DIM))
        self.register_buffer("mouth_mean", torch.zeros(MOUTH_DIM))
        self.register_buffer("mouth_axes", torch.eye(PCA_DIM, MOUTH_DIM))

    @torch.no_grad()
    def fit(self, audio: torch.Tensor, mouths: torch.Tensor) -> None:
        """Fit from all training frames: audio ``[N, 104]`` and normalised mouths ``[N, 40]`` (N >= 13)."""
        if mouths.shape[0] < PCA_DIM:
            raise ValueError(f"cascaded_tcn: the mouth PCA needs at least {PCA_DIM} training frames, got {mouths.shape[0]}")
        self.audio_mean.copy_(audio.mean(0))
        self.audio_std.copy_(audio.std(0).clamp_min(1e-5))
        mean = mouths.double().mean(0)
        _, _, vt = torch.linalg.svd(mouths.double() - mean, full_matrices=False)
        self.mouth_mean.copy_(mean.float())
        self.mouth_axes.copy_(vt[:PCA_DIM].float())

    def normalise_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio features with the training mean and standard deviation removed."""
        return (audio - self.audio_mean) / self.audio_std

    def encode(self, mouths: torch.Tensor) -> torch.Tensor:
        """Mouths ``[..., 40]`` -> PCA coefficients ``[..., 13]``."""
        return (mouths - self.mouth_mean) @ self.mouth_axes.T

    def decode(self, coefficients: torch.Tensor) -> torch.Tensor:
        """PCA coefficients ``[..., 13]`` -> mouths ``[..., 40]``."""
        return coefficients @ self.mouth_axes + self.mouth_mean


def _tcn(in_channels: int, out_channels: int, config: CascadedTCNConfig) -> nn.Sequential:
    """A non-causal TCN (one level per dilation) followed by a per-frame linear layer."""
    return nn.Sequential(
        TemporalConvNet(in_channels, [config.tcn_channels] * len(config.dilations), config.kernel_size,
                        config.dilations, config.dropout, causal=False),
        nn.Conv1d(config.tcn_channels, out_channels, 1),
    )  # fmt: skip


class CascadedMapping(nn.Module):
    """G1 (audio [+ pose] -> 13 PCA coefficients) then G2 (G1 [+ pose] [+ cheek] -> 29 landmarks), Fig. 2.

    ``forward(audio [B, T, 104], pose [B, T, 3], cheek [B, T, 16]) -> (pca [B, T, 13], talking [B, T, 58])``.
    """

    def __init__(self, config: CascadedTCNConfig) -> None:
        super().__init__()
        self.pose_g1, self.pose_g2, self.cheek = config.pose_g1, config.pose_g2, config.cheek
        self.g1 = _tcn(AUDIO_DIM + POSE_DIM * self.pose_g1, PCA_DIM, config)
        self.g2 = _tcn(PCA_DIM + POSE_DIM * self.pose_g2 + CHEEK_DIM * self.cheek, TALKING_DIM, config)

    @torch.no_grad()
    def start_at(self, talking_mean: torch.Tensor) -> None:
        """Set G2's output bias to the mean training shape ``[58]`` (CHOICE: G2 starts from the mean, not from 0)."""
        head = self.g2[-1]
        if not isinstance(head, nn.Conv1d) or head.bias is None:
            raise TypeError("cascaded_tcn: G2 must end in a Conv1d with bias")
        head.bias.copy_(talking_mean)

    def forward(self, audio: torch.Tensor, pose: torch.Tensor, cheek: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The PCA mouth of G1 and the talking-related landmarks of G2."""
        first = [audio, pose] if self.pose_g1 else [audio]
        pca = self.g1(torch.cat(first, dim=-1).transpose(1, 2)).transpose(1, 2)
        second = [pca] + ([pose] if self.pose_g2 else []) + ([cheek] if self.cheek else [])
        talking = self.g2(torch.cat(second, dim=-1).transpose(1, 2)).transpose(1, 2)
        return pca, talking


class RecurrentMapping(nn.Module):
    """Table 1's RNN baselines: an LSTM (ObamaNet) or BiLSTM (Audio2face) from audio to the PCA mouth only.

    ``forward(audio [B, T, 104], pose, cheek) -> (pca [B, T, 13], None)``; pose and cheek are not used.
    """

    def __init__(self, config: CascadedTCNConfig) -> None:
        super().__init__()
        bidirectional = config.mapping == "bilstm"
        self.rnn = nn.LSTM(AUDIO_DIM, config.rnn_hidden, batch_first=True, bidirectional=bidirectional)
        self.head = nn.Linear(config.rnn_hidden * (2 if bidirectional else 1), PCA_DIM)

    def forward(self, audio: torch.Tensor, pose: torch.Tensor, cheek: torch.Tensor) -> tuple[torch.Tensor, None]:
        """The PCA mouth; no jaw."""
        del pose, cheek
        return self.head(self.rnn(audio)[0]), None


def build_mapping(config: CascadedTCNConfig) -> nn.Module:
    """The stage-1 network the config names."""
    return CascadedMapping(config) if config.mapping == "tcn" else RecurrentMapping(config)


class SelfAttention(nn.Module):
    """SAGAN's self-attention block: ``x + gamma * attention(x)``, query/key at C/8 channels, gamma starting at 0."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = max(1, channels // 8)
        self.query, self.key = nn.Conv2d(channels, inner, 1), nn.Conv2d(channels, inner, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W] -> [B, C, H, W]``."""
        b, c, h, w = x.shape
        q, k = self.query(x).flatten(2), self.key(x).flatten(2)
        attention = torch.softmax(q.transpose(1, 2) @ k, dim=-1)  # [B, HW, HW]
        out = (self.value(x).flatten(2) @ attention.transpose(1, 2)).view(b, c, h, w)
        return x + self.gamma * out


def _global_trunk(in_channels: int, config: CascadedTCNConfig, ngf: int) -> list[nn.Module]:
    """pix2pixHD's global generator up to its last up-sampling: conv 7x7, downs, residual + attention blocks, ups."""
    layers: list[nn.Module] = [conv_block(in_channels, ngf, 7, 1, 3, "instance", "relu")]
    for i in range(config.n_downsampling):
        layers.append(conv_block(ngf * 2**i, ngf * 2 ** (i + 1), 3, 2, 1, "instance", "relu"))
    deepest = ngf * 2**config.n_downsampling
    layers += [ResidualBlock(deepest, "instance") for _ in range(config.n_blocks)]
    layers += [SelfAttention(deepest) for _ in range(config.attention_blocks)]
    for i in range(config.n_downsampling, 0, -1):
        layers.append(deconv_block(ngf * 2**i, ngf * 2 ** (i - 1), 3, 2, 1, 1, "instance", "relu"))
    return layers


class Renderer(nn.Module):
    """Facial map ``[B, C, S, S]`` in [0, 1] -> face image ``[B, 3, S, S]`` in [0, 1] (pix2pixHD + self-attention).

    With ``local_enhancers = 0`` it is the global generator at full size; with one, the global generator (at twice
    the width, ``ngf * 2``, as pix2pixHD) runs on the map average-pooled to half size and a local enhancer (conv 7x7,
    a stride-2 conv, the sum with the global features, 3 residual blocks, an up-sampling, conv 7x7) works at full size.
    """

    def __init__(self, in_channels: int, config: CascadedTCNConfig) -> None:
        super().__init__()
        self.local = config.local_enhancers
        if self.local > 1:
            raise ValueError("cascaded_tcn: at most one local enhancer is implemented")
        ngf = config.ngf
        global_ngf = ngf * 2**self.local
        self.global_net = nn.Sequential(*_global_trunk(in_channels, config, global_ngf))
        if not self.local:
            self.global_out = nn.Sequential(nn.Conv2d(global_ngf, 3, 7, 1, 3), nn.Tanh())
        else:
            self.local_down = nn.Sequential(conv_block(in_channels, ngf, 7, 1, 3, "instance", "relu"),
                                            conv_block(ngf, ngf * 2, 3, 2, 1, "instance", "relu"))  # fmt: skip
            self.local_up = nn.Sequential(*(ResidualBlock(ngf * 2, "instance") for _ in range(3)),
                                          deconv_block(ngf * 2, ngf, 3, 2, 1, 1, "instance", "relu"),
                                          nn.Conv2d(ngf, 3, 7, 1, 3), nn.Tanh())  # fmt: skip

    def forward(self, facial_map: torch.Tensor) -> torch.Tensor:
        """The rendered face in [0, 1]."""
        if not self.local:
            return (self.global_out(self.global_net(facial_map)) + 1.0) / 2.0
        half = F.avg_pool2d(facial_map, 3, 2, 1, count_include_pad=False)
        features = self.local_down(facial_map) + self.global_net(half)
        return (self.local_up(features) + 1.0) / 2.0
