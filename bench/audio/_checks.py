"""Input checks, resampling and frame/sample arithmetic shared by every audio feature."""

from __future__ import annotations

from fractions import Fraction

import numpy as np


def check_sample_rate(sample_rate: int, what: str = "sample_rate") -> int:
    """Return ``sample_rate`` as an int, or raise ValueError if it is not a positive whole number."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer, float, np.floating)):
        raise ValueError(f"{what} must be a positive integer, got {sample_rate!r}")
    if not np.isfinite(sample_rate) or sample_rate <= 0 or int(sample_rate) != sample_rate:
        raise ValueError(f"{what} must be a positive integer, got {sample_rate!r}")
    return int(sample_rate)


def check_fps(fps: float) -> float:
    """Return ``fps`` as a float, or raise ValueError if it is not finite and positive."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    return float(fps)


def exact_fps(fps: float) -> Fraction:
    """The rational frame rate a float stands for: 25.0 -> 25, 29.97 -> 2997/100, 30000/1001 -> 30000/1001.

    The nearest fraction with denominator <= 10^6 recovers the intended rate from its float rounding, so frame and
    sample counts at e.g. 29.97 fps land on whole numbers where they should.
    """
    return Fraction(check_fps(fps)).limit_denominator(1_000_000)


def check_count(value: int, what: str, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise ValueError if it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


MAX_PEAK = 4.0  # 12 dB over full scale: float audio beyond it is integer PCM that was never scaled (peaks in the 1000s)


def check_peak(samples: np.ndarray, what: str = "audio") -> None:
    """Raise ValueError if float ``samples`` peak above :data:`MAX_PEAK`: int16 PCM cast to float, not divided."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak > MAX_PEAK:
        raise ValueError(f"{what} peaks at {peak:.6g}, far outside [-1, 1]: integer PCM cast to float without scaling? "
                         "(divide int16 PCM by 32768)")  # fmt: skip


def check_audio(audio: np.ndarray, min_samples: int = 1, what: str = "audio") -> np.ndarray:
    """Validate mono float audio and return it as float64 (the precision the references compute in).

    Args:
        audio: 1-D array of float samples, nominally in [-1, 1].
        min_samples: the fewest samples the caller can work with (e.g. one analysis window).
        what: how to name the input in error messages.

    Raises:
        ValueError: not a 1-D float array, empty, shorter than ``min_samples``, containing NaN/inf, or peaking far
            outside [-1, 1] (:func:`check_peak`).
    """
    arr = np.asarray(audio)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be mono 1-D samples, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"{what} must be float samples in [-1, 1], got dtype {arr.dtype} (divide int16 PCM by 32768)")
    if arr.size == 0:
        raise ValueError(f"{what} is empty")
    if arr.size < min_samples:
        raise ValueError(f"{what} has {arr.size} samples, fewer than the {min_samples} one analysis window needs")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contains {int(np.sum(~np.isfinite(arr)))} non-finite samples (NaN or inf)")
    check_peak(arr, what)
    return arr.astype(np.float64, copy=False)


def resample(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample mono audio with soxr "HQ", the resampler of ``librosa.load`` and of ``bench.media.read_clip``.

    Wav2Lip and ATnet load audio with ``librosa.load(path, sr=16000)``, so this reproduces their input. The output
    has ``round(len(audio) * target_sr / orig_sr)`` samples and is float32; equal rates return a float32 copy.

    Example:
        >>> import numpy as np
        >>> resample(np.zeros(44100, np.float32), 44100, 16000).shape
        (16000,)
    """
    orig_sr = check_sample_rate(orig_sr, "orig_sr")
    target_sr = check_sample_rate(target_sr, "target_sr")
    samples = check_audio(audio)
    if orig_sr == target_sr:
        return samples.astype(np.float32)
    import soxr

    return np.asarray(soxr.resample(samples, orig_sr, target_sr, quality="HQ"), dtype=np.float32)


def to_rate(audio: np.ndarray, sample_rate: int, target_sr: int, min_samples: int = 1) -> np.ndarray:
    """Check ``audio`` and bring it to ``target_sr`` (float64), as the references load audio at a fixed rate."""
    sample_rate = check_sample_rate(sample_rate)
    samples = check_audio(audio)
    if sample_rate != target_sr:
        samples = resample(samples, sample_rate, target_sr).astype(np.float64)
    return check_audio(samples, min_samples=min_samples, what=f"audio at {target_sr} Hz")


def frame_to_sample(frame: int, fps: float, sample_rate: int) -> int:
    """First audio sample of video frame ``frame``: ``floor(frame * sample_rate / fps)``, computed exactly.

    Frame ``t`` covers the time interval ``[t / fps, (t + 1) / fps)``; exact rational arithmetic
    (:func:`exact_fps`) keeps e.g. 29.97 fps from drifting by rounding.

    Example:
        >>> frame_to_sample(3, 25.0, 16000)
        1920
    """
    rate = exact_fps(fps)
    sample_rate = check_sample_rate(sample_rate)
    if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)):
        raise ValueError(f"frame must be an integer, got {frame!r}")
    return int((Fraction(int(frame)) * sample_rate / rate).__floor__())


def num_video_frames(num_samples: int, sample_rate: int, fps: float = 25.0) -> int:
    """How many whole video frames ``num_samples`` of audio span (the frame count audio of that length drives).

    Example:
        >>> num_video_frames(48000, 16000), num_video_frames(16639, 16000)
        (75, 25)
    """
    num_samples = check_count(num_samples, "num_samples", minimum=0)
    sample_rate = check_sample_rate(sample_rate)
    return int((Fraction(num_samples) * exact_fps(fps) / sample_rate).__floor__())
