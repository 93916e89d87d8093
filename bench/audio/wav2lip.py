"""Wav2Lip's log-mel spectrogram and its video-frame windows (SPECS B).

Reference: Rudrabha/Wav2Lip ``audio.py`` + ``hparams.py`` (mel), ``inference.py`` (inference windows) and
``wav2lip_train.py`` ``crop_audio_window`` / ``get_segmented_mels`` (training windows),
https://github.com/Rudrabha/Wav2Lip.

Known deviations, all below 1e-5 after normalisation or documented choices:

* Wav2Lip pinned librosa 0.7, whose ``stft`` defaulted to ``pad_mode="reflect"`` and complex64; current librosa
  defaults to zero padding, so the reflect padding is passed explicitly, and the STFT runs in float64.
* Frames whose window would start before mel step 0 (only with ``offset=-1`` at frame 0) are clamped to step 0;
  the original training loader rejects such samples instead (``edge="error"`` reproduces that as a ValueError,
  and also for windows running past the end, which inference replaces by the last 16 steps).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
from scipy.signal import lfilter

from bench.audio._checks import check_count, check_fps, to_rate

SAMPLE_RATE = 16000
N_FFT = 800
HOP_SIZE = 200
WIN_SIZE = 800
NUM_MELS = 80
FMIN = 55.0
FMAX = 7600.0
PREEMPHASIS = 0.97
MIN_LEVEL_DB = -100.0
REF_LEVEL_DB = 20.0
MAX_ABS_VALUE = 4.0
MEL_STEP_SIZE = 16  # syncnet_mel_step_size: 16 mel steps = 0.2 s per video frame
MEL_FPS = SAMPLE_RATE / HOP_SIZE  # 80 mel steps per second


@lru_cache(maxsize=1)
def _mel_basis() -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=NUM_MELS, fmin=FMIN, fmax=FMAX)


def wav2lip_mel(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Wav2Lip's normalised log-mel spectrogram, float32 ``[80, N]`` with ``N = len(audio_16k) // 200 + 1``.

    Steps (``audio.melspectrogram``): pre-emphasis ``lfilter([1, -0.97], [1])``; ``librosa.stft`` (n_fft 800,
    hop 200, Hann window 800, centred, reflect padding); magnitude; librosa mel basis (80 bands, 55-7600 Hz);
    ``20 log10(max(1e-5, x)) - 20``; symmetric clipped normalisation to [-4, 4]. Audio at another rate is
    resampled to 16 kHz first, as Wav2Lip's ``load_wav`` does.

    Args:
        audio: mono float samples in [-1, 1].
        sample_rate: rate of ``audio`` in Hz.

    Raises:
        ValueError: bad audio or rate, or fewer samples than one 800-sample STFT window.

    Example:
        >>> import numpy as np
        >>> wav2lip_mel(np.zeros(16000, np.float32)).shape
        (80, 81)
    """
    import librosa

    samples = to_rate(audio, sample_rate, SAMPLE_RATE, min_samples=WIN_SIZE)
    emphasised = lfilter([1.0, -PREEMPHASIS], [1.0], samples)
    spec = librosa.stft(
        y=emphasised,
        n_fft=N_FFT,
        hop_length=HOP_SIZE,
        win_length=WIN_SIZE,
        window="hann",
        center=True,
        pad_mode="reflect",
    )
    mel = np.dot(_mel_basis(), np.abs(spec))
    min_level = np.exp(MIN_LEVEL_DB / 20.0 * np.log(10.0))
    db = 20.0 * np.log10(np.maximum(min_level, mel)) - REF_LEVEL_DB
    norm = 2.0 * MAX_ABS_VALUE * ((db - MIN_LEVEL_DB) / -MIN_LEVEL_DB) - MAX_ABS_VALUE
    return np.clip(norm, -MAX_ABS_VALUE, MAX_ABS_VALUE).astype(np.float32)


def mel_start_index(frame: int, fps: float = 25.0, mel_fps: float = MEL_FPS) -> int:
    """First mel step of video frame ``frame``: ``int(frame * mel_fps / fps)`` (truncation, as Wav2Lip).

    Example:
        >>> [mel_start_index(f) for f in range(4)]
        [0, 3, 6, 9]
    """
    fps = check_fps(fps)
    mel_fps = check_fps(mel_fps)
    if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)):
        raise ValueError(f"frame must be an integer, got {frame!r}")
    return int(int(frame) * (mel_fps / fps))


def wav2lip_mel_windows(
    mel: np.ndarray,
    num_frames: int,
    fps: float = 25.0,
    offset: int = 0,
    edge: Literal["clamp", "error"] = "clamp",
) -> np.ndarray:
    """Cut the 16-step mel window of every video frame: float32 ``[num_frames, 80, 16]``.

    Window ``f`` starts at ``mel_start_index(f + offset, fps)``. ``offset=0`` is ``inference.py``; ``offset=-1``
    reproduces training's ``get_segmented_mels`` (frame k is paired with the window of frame k - 1). A window
    running past the end is replaced by the last 16 steps, as inference does, and one starting before step 0 is
    clamped to step 0 (``edge="clamp"``); ``edge="error"`` raises for either, as the training loader rejects
    such samples.

    Args:
        mel: ``[80, N]`` spectrogram from :func:`wav2lip_mel`, N >= 16.
        num_frames: number of video frames to cut windows for.
        fps: video frame rate.
        offset: frame offset of the windows (0 inference, -1 training).
        edge: ``"clamp"`` or ``"error"``: what to do with a window that does not fit inside the mel.

    Raises:
        ValueError: bad shapes or arguments, fewer than 16 mel steps, or (``edge="error"``) a window outside.
    """
    mel = np.asarray(mel)
    if mel.ndim != 2 or mel.shape[0] != NUM_MELS:
        raise ValueError(f"mel must have shape [{NUM_MELS}, N], got {mel.shape}")
    steps = mel.shape[1]
    if steps < MEL_STEP_SIZE:
        raise ValueError(f"mel has {steps} steps, fewer than the {MEL_STEP_SIZE} of one window (0.2 s of audio)")
    num_frames = check_count(num_frames, "num_frames")
    if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)):
        raise ValueError(f"offset must be an integer, got {offset!r}")
    if edge not in ("clamp", "error"):
        raise ValueError(f"edge must be 'clamp' or 'error', got {edge!r}")
    starts = np.array([mel_start_index(f + int(offset), fps) for f in range(num_frames)], dtype=np.int64)
    outside = (starts < 0) | (starts + MEL_STEP_SIZE > steps)
    if edge == "error" and outside.any():
        first = int(np.argmax(outside))
        raise ValueError(
            f"the mel window of frame {first} (offset {offset}) starts at step {starts[first]}, outside the {steps} mel steps"
        )
    starts = np.clip(starts, 0, steps - MEL_STEP_SIZE)
    index = starts[:, None] + np.arange(MEL_STEP_SIZE)[None, :]
    return np.ascontiguousarray(mel[:, index].transpose(1, 0, 2), dtype=np.float32)
