"""OneShotA2V's networks: the SPADE generator driven by audio features, its discriminators, the EAR regressor.

* :class:`Generator` (3.1): audio features -> code -> SPADE's first layer (the ``fc`` that maps SPADE's ``z`` to a
  ``16nf x S/32 x S/32`` map), then SPADE's ``normal`` generator (SPECS E): head_0, up, G_middle_0, G_middle_1,
  then up + up_0..up_3 (16nf -> 8nf -> 4nf -> 2nf -> nf), LeakyReLU(0.2), conv 3x3 -> 3, tanh. Every SPADE layer is
  conditioned on the identity image, resized to its scale ("aligned images in an upsampling manner", 3.1).
* The audio features span 0.2 s centred on the frame (3.1): the pre-trained DeepSpeech2 layers of 3.1.1
  (``deepspeech2``, :mod:`baselines._deepspeech`, frozen) through two trainable 1-D convs, or, offline, the named
  substitute ``mfcc-conv``: 13 MFCCs (6.1) through a small trainable conv encoder.
* The frame (3.2.1) and temporal (3.2.2) discriminators are the shared multi-scale PatchGANs; the sync
  discriminator (3.2.3) is Wav2Lip's SyncNet layout (``baselines.wav2lip.model.SyncNet``).
* :class:`EyeNet`: a small regressor of the eye aspect ratio from the upper half of a face, trained on real frames
  against EAR of dlib landmarks (``bench.faces``) and then frozen, so that the blink loss (4.1.6) has a gradient.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from baselines._blocks import conv_block
from baselines._deepspeech import DS_RATE, DeepSpeechFeatures
from baselines._gan import MultiScaleDiscriminator
from baselines._spade import SPADEResBlock
from baselines.oneshot_a2v.config import MFCC_COLUMNS, SYNC_FRAMES, OneShotA2VConfig
from bench.audio import syncnet_mfcc

DS_WINDOW = 10  # DeepSpeech2 steps in 0.2 s (50 per second): the span of the MFCC window (3.1)
_MFCC_RATE = 16000
_MFCC_FPS = 100.0  # python_speech_features hop 10 ms


PAD_SECONDS = 0.2  # zeros before and after the audio (3.1: "zero padding is done before and after the audio signal")


def _padded(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """The audio, float32, with :data:`PAD_SECONDS` of zeros at both ends."""
    pad = np.zeros(int(round(PAD_SECONDS * sample_rate)), np.float32)
    return np.concatenate([pad, samples.astype(np.float32), pad])


def _nearest_windows(columns: np.ndarray, centre: np.ndarray, width: int) -> np.ndarray:
    """Per frame, the ``width`` columns of ``columns [features, steps]`` nearest ``centre`` (in steps; clipped).

    Returns float32 ``[frames, features, width]``.
    """
    starts = np.clip(np.floor(centre - (width - 1) / 2 + 0.5).astype(np.int64), 0, columns.shape[1] - width)
    index = starts[:, None] + np.arange(width)[None, :]
    return np.ascontiguousarray(columns[:, index].transpose(1, 0, 2), dtype=np.float32)


def mfcc_windows(samples: np.ndarray, sample_rate: int, frames: int, fps: float) -> np.ndarray:
    """13 MFCCs over 0.2 s centred on each video frame: float32 ``[frames, 13, 20]`` (3.1, 6.1).

    MFCC of 16 kHz audio (``python_speech_features`` defaults, as SyncNet's) of the padded audio; frame t takes the
    20 columns whose centre is nearest the frame's centre ``(t + 0.5) / fps`` (one video frame's stride apart, 3.1).
    """
    mfcc = syncnet_mfcc(_padded(samples, sample_rate), sample_rate)
    centre = _MFCC_FPS * (np.arange(frames) + 0.5) / fps + _MFCC_FPS * PAD_SECONDS  # in padded seconds x 100
    return _nearest_windows(mfcc, centre - 1.25, MFCC_COLUMNS)  # column j is centred at j * 10 + 12.5 ms


def deepspeech_windows(
    network: DeepSpeechFeatures, samples: np.ndarray, sample_rate: int, frames: int, fps: float
) -> np.ndarray:
    """DeepSpeech2 features over 0.2 s centred on each video frame: float32 ``[frames, hidden, 10]`` (3.1, 3.1.1).

    The network runs once over the padded audio (as :func:`mfcc_windows`); its step j is centred at ``j / 50`` s
    (hop 10 ms, time stride 2), and frame t takes the 10 steps whose centre is nearest the frame's centre.
    """
    features = network(_padded(samples, sample_rate), sample_rate)  # [steps, hidden]
    centre = DS_RATE * ((np.arange(frames) + 0.5) / fps + PAD_SECONDS)
    return _nearest_windows(features.T, centre, DS_WINDOW)


class DeepSpeechEncoder(nn.Module):
    """DeepSpeech2 window ``[N, 1, hidden, 10]`` -> audio code ``[N, audio_dim]``.

    Two 1-D convs over time (the second with stride 2) and a linear layer (CHOICE: the paper feeds "the few layers of
    deepspeech2" to the generator without saying how).
    """

    def __init__(self, hidden: int, channels: int, audio_dim: int) -> None:
        super().__init__()
        c = 4 * channels
        self.convs = nn.Sequential(
            nn.Conv1d(hidden, c, 3, 1, 1), nn.BatchNorm1d(c), nn.ReLU(inplace=True),
            nn.Conv1d(c, 2 * c, 3, 2, 1), nn.BatchNorm1d(2 * c), nn.ReLU(inplace=True),
        )  # fmt: skip
        self.fc = nn.Linear(2 * c * (DS_WINDOW // 2), audio_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Encode DeepSpeech2 windows."""
        return self.fc(self.convs(features.squeeze(1)).flatten(1))


class AudioEncoder(nn.Module):
    """MFCC window ``[N, 1, 13, 20]`` -> audio code ``[N, audio_dim]``: 4 conv blocks (13x20 -> 2x3) and a linear layer."""

    def __init__(self, channels: int, audio_dim: int) -> None:
        super().__init__()
        c = channels
        self.convs = nn.Sequential(
            conv_block(1, c, 3, 1, 1), conv_block(c, 2 * c, 3, 2, 1), conv_block(2 * c, 4 * c, 3, 2, 1),
            conv_block(4 * c, 8 * c, 3, 2, 1),
        )  # fmt: skip
        self.fc = nn.Linear(8 * c * 2 * 3, audio_dim)

    def forward(self, mfcc: torch.Tensor) -> torch.Tensor:
        """Encode MFCC windows."""
        return self.fc(self.convs(mfcc).flatten(1))


class Generator(nn.Module):
    """``forward(audio [N, 1, rows, cols], identity [N, 3, S, S] in [0, 1]) -> frames [N, 3, S, S] in [0, 1]``.

    ``audio``: MFCC windows ``[N, 1, 13, 20]``, or DeepSpeech2 windows ``[N, 1, hidden, 10]`` when ``deepspeech_dims``
    (the feature network's width) is given.
    """

    def __init__(self, cfg: OneShotA2VConfig, deepspeech_dims: int = 0) -> None:
        super().__init__()
        nf, self.sh = cfg.ngf, cfg.image_size // 32
        self.audio_encoder: nn.Module = (
            DeepSpeechEncoder(deepspeech_dims, cfg.audio_channels, cfg.audio_dim)
            if deepspeech_dims
            else AudioEncoder(cfg.audio_channels, cfg.audio_dim)
        )
        self.fc = nn.Linear(cfg.audio_dim, 16 * nf * self.sh * self.sh)
        block = partial(SPADEResBlock, label_nc=3, hidden=cfg.spade_hidden, norm=cfg.norm, spectral=cfg.spectral)
        self.head_0 = block(16 * nf, 16 * nf)
        self.G_middle_0 = block(16 * nf, 16 * nf)  # noqa: N815 (SPADE's names)
        self.G_middle_1 = block(16 * nf, 16 * nf)  # noqa: N815
        self.ups = nn.ModuleList([block(16 * nf, 8 * nf), block(8 * nf, 4 * nf), block(4 * nf, 2 * nf), block(2 * nf, nf)])
        self.conv_img = nn.Conv2d(nf, 3, 3, padding=1)
        self.nf = nf

    def forward(self, audio: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        """Generate one frame per audio window for the matching identity image."""
        seg = identity * 2.0 - 1.0  # the condition map in SPADE's [-1, 1] image range
        x = self.fc(self.audio_encoder(audio)).view(-1, 16 * self.nf, self.sh, self.sh)
        x = self.head_0(x, seg)
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.G_middle_1(self.G_middle_0(x, seg), seg)
        for block in self.ups:
            x = block(F.interpolate(x, scale_factor=2, mode="nearest"), seg)
        return (torch.tanh(self.conv_img(F.leaky_relu(x, 0.2))) + 1.0) / 2.0


def frame_discriminator(cfg: OneShotA2VConfig) -> MultiScaleDiscriminator:
    """The multi-scale frame discriminator (3.2.1) on ``identity || frame`` (6 channels, pix2pixHD's conditional D)."""
    return MultiScaleDiscriminator(6, cfg.num_d, cfg.ndf, cfg.n_layers_d)


def temporal_discriminator(cfg: OneShotA2VConfig) -> MultiScaleDiscriminator:
    """The multi-scale temporal discriminator (3.2.2) on 5 consecutive frames stacked on channels (15)."""
    return MultiScaleDiscriminator(3 * SYNC_FRAMES, cfg.num_d, cfg.ndf, cfg.n_layers_d)


class EyeNet(nn.Module):
    """Eye aspect ratio regressor: upper half of a face ``[N, 3, S/2, S]`` in [0, 1] -> EAR ``[N]``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        c = channels
        self.convs = nn.Sequential(
            conv_block(3, c, 4, 2, 1, norm="none", act="lrelu"), conv_block(c, 2 * c, 4, 2, 1, norm="none", act="lrelu"),
            conv_block(2 * c, 4 * c, 4, 2, 1, norm="none", act="lrelu"),
            conv_block(4 * c, 8 * c, 4, 2, 1, norm="none", act="lrelu"),
        )  # fmt: skip
        self.head = nn.Linear(8 * c, 1)

    def forward(self, upper: torch.Tensor) -> torch.Tensor:
        """Predicted EAR per image."""
        return self.head(self.convs(upper).mean(dim=(2, 3))).squeeze(1)


def upper_half(frames: torch.Tensor) -> torch.Tensor:
    """Rows above H // 2 of ``[..., H, W]`` images (the eyes)."""
    return frames[..., : frames.size(-2) // 2, :]
