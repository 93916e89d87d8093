"""DeepSpeech 2 audio features, shared by maml_lip and oneshot_a2v.

maml_lip (IV-A) takes "the output of the one but last layer of the DS network"; oneshot_a2v (3.1.1) feeds "the few
layers of deepspeech2" to its generator.

The network is DeepSpeech 2 as released by SeanNaren/deepspeech.pytorch (v2.0, ``librispeech_pretrained_v2.pth``,
MIT), through the weights manager (``talkbench weights fetch deepspeech2-librispeech``): two 2-D convs (32 channels,
41x11 stride 2x2 and 21x11 stride 2x1, BatchNorm, hardtanh 0-20) on the log-magnitude spectrogram (16 kHz, Hamming
window 20 ms, hop 10 ms, ``log1p``, normalised by the utterance's mean and std), then bidirectional LSTM layers whose
two directions are summed, each but the first after a BatchNorm; the features are the last LSTM layer's output
(the layer before the character classifier), 50 per second. The sizes (hidden width, layers) are read from the file.
Key names follow the release (``conv.seq_module.*``, ``rnns.N.rnn.*``, ``rnns.N.batch_norm.module.*``); a file that
does not fit raises a ValueError naming the key.

Choice: neither paper names its DeepSpeech release; this is the best-known PyTorch one, fed its own input (the
log spectrogram it was trained on; OneShotA2V's 3.1.1 says MFCC, which this release never saw). Offline, maml_lip runs
on the paper's LMS features and oneshot_a2v on MFCC through a trainable encoder; each records which it used.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import torch
from torch import nn

from bench import weights
from bench.audio import resample

log = logging.getLogger(__name__)

WEIGHTS_NAME = "deepspeech2-librispeech"
DS_RATE = 50.0  # feature steps per second: 100 Hz spectrogram frames, time stride 2 in the first conv
N_FFT, HOP = 320, 160  # 20 ms window, 10 ms hop at 16 kHz


class _Sequential(nn.Module):
    """A holder for the release's ``seq_module`` / ``module`` key levels."""

    def __init__(self, name: str, module: nn.Module) -> None:
        super().__init__()
        self.add_module(name, module)
        self.key = name

    @property
    def inner(self) -> nn.Module:
        """The held module."""
        held: nn.Module = getattr(self, self.key)
        return held


class _Recurrent(nn.Module):
    """One ``BatchRNN`` of the release: optional BatchNorm over features, then an LSTM."""

    def __init__(self, size: int, hidden: int, batch_norm: bool, bidirectional: bool) -> None:
        super().__init__()
        self.batch_norm = _Sequential("module", nn.BatchNorm1d(size)) if batch_norm else None
        self.rnn = nn.LSTM(size, hidden, bidirectional=bidirectional)
        self.bidirectional = bidirectional

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, 1, size]`` -> ``[T, 1, hidden]`` (directions summed)."""
        if self.batch_norm is not None:
            x = self.batch_norm.inner(x.squeeze(1)).unsqueeze(1)
        x, _ = self.rnn(x)
        return x.view(x.size(0), 1, 2, -1).sum(2) if self.bidirectional else x


class DeepSpeechFeatures(nn.Module):
    """``audio`` -> the last recurrent layer's output ``[steps, hidden]`` (frozen; eval mode)."""

    def __init__(self, hidden: int = 1024, layers: int = 5, bidirectional: bool = True) -> None:
        super().__init__()
        self.conv = _Sequential("seq_module", nn.Sequential(
            nn.Conv2d(1, 32, (41, 11), (2, 2), (20, 5)), nn.BatchNorm2d(32), nn.Hardtanh(0, 20, inplace=True),
            nn.Conv2d(32, 32, (21, 11), (2, 1), (10, 5)), nn.BatchNorm2d(32), nn.Hardtanh(0, 20, inplace=True),
        ))  # fmt: skip
        size = 32 * ((((N_FFT // 2 + 1) + 40 - 41) // 2 + 1 + 20 - 21) // 2 + 1)  # 32 x 41 = 1312
        self.rnns = nn.ModuleList()
        for layer in range(layers):
            self.rnns.append(_Recurrent(size, hidden, layer > 0, bidirectional))
            size = hidden
        self.dims = hidden

    @torch.no_grad()
    def forward(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Features float32 ``[steps, hidden]`` of mono audio at any rate (resampled to 16 kHz)."""
        spect = torch.from_numpy(spectrogram(audio, sample_rate)).to(next(self.parameters()).device)
        x = self.conv.inner(spect[None, None])
        x = x.flatten(1, 2).permute(2, 0, 1)  # [T, 1, 1312]
        for block in self.rnns:
            x = block(x)
        return x[:, 0].cpu().numpy().astype(np.float32)


def spectrogram(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """deepspeech.pytorch's input: ``log1p |STFT|`` (Hamming 320, hop 160, centred), mean/std normalised, ``[161, T]``."""
    import librosa
    import scipy.signal

    samples = resample(np.asarray(audio, np.float32), sample_rate, 16000).astype(np.float32)
    if samples.size < N_FFT:
        samples = np.pad(samples, (0, N_FFT - samples.size))
    window = scipy.signal.get_window("hamming", N_FFT, fftbins=False)
    spect = np.log1p(np.abs(librosa.stft(samples, n_fft=N_FFT, hop_length=HOP, win_length=N_FFT, window=window)))
    return ((spect - spect.mean()) / max(float(spect.std()), 1e-8)).astype(np.float32)


def from_state_dict(state: dict[str, torch.Tensor]) -> DeepSpeechFeatures:
    """The feature network with the release's weights (the classifier ``fc.*`` is not needed and not loaded).

    Raises:
        ValueError: the state dict is not a deepspeech.pytorch DeepSpeech 2 (a key or shape does not fit).
    """
    if "rnns.0.rnn.weight_hh_l0" not in state:
        raise ValueError("DeepSpeech weights lack rnns.0.rnn.weight_hh_l0: not a deepspeech.pytorch v2 state dict")
    hidden = int(state["rnns.0.rnn.weight_hh_l0"].shape[1])
    layers = 1 + max(int(m.group(1)) for k in state if (m := re.match(r"rnns\.(\d+)\.", k)))
    net = DeepSpeechFeatures(hidden, layers, "rnns.0.rnn.weight_hh_l0_reverse" in state)
    wanted = {k: v for k, v in state.items() if not k.startswith("fc.")}
    try:
        net.load_state_dict(wanted)
    except RuntimeError as exc:
        raise ValueError(f"DeepSpeech weights do not fit deepspeech.pytorch's DeepSpeech 2: {exc}") from None
    return net.eval().requires_grad_(False)


def load_deepspeech(device: torch.device | str = "cpu") -> DeepSpeechFeatures:
    """The frozen DeepSpeech feature network from the weights manager.

    Raises:
        bench.weights.WeightsMissingError: the file is not there (the message says
            ``talkbench weights fetch deepspeech2-librispeech``).
    """
    return from_state_dict(weights.load_state_dict(WEIGHTS_NAME)).to(device)


def deepspeech_or_substitute(method: str, wanted: str, deepspeech: str, substitute: str) -> str:
    """Resolve a method's ``"auto"`` audio features: ``deepspeech`` when the weights are present, else ``substitute``.

    The substitute comes with a warning naming the fetch command; any other choice is returned as it is.
    """
    if wanted != "auto":
        return wanted
    if weights.available(WEIGHTS_NAME):
        return deepspeech
    log.warning("%s: DeepSpeech weights missing (talkbench weights fetch %s); using %r instead, recorded as such",
                method, WEIGHTS_NAME, substitute)  # fmt: skip
    return substitute


def weights_source() -> str:
    """What a result records for DeepSpeech features: the weights' name and SHA-256."""
    return f"{WEIGHTS_NAME} sha256:{weights.file_hash(WEIGHTS_NAME)}"
