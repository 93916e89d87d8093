"""A per-video-frame loudness envelope: band-limited RMS of the audio under each frame, compressed by a power law.

Used by the weight-free sync measure (``metrics/mouth_sync.py``), which correlates it with the mouth opening. The
band (default 500-4000 Hz: the formant region, without the voice fundamental and the low-frequency hum that carry
little of the mouth's shape) is taken from the FFT of each frame's samples (Parseval: the band's share of the
frame's mean power); the exponent 0.6 on the RMS amplitude is Stevens' power law (loudness ~ intensity^0.3).
"""

from __future__ import annotations

import numpy as np

from bench.audio._checks import check_audio, check_count, check_fps, check_sample_rate, frame_to_sample


def loudness_envelope(
    audio: np.ndarray,
    sample_rate: int,
    fps: float,
    num_frames: int,
    band: tuple[float, float] = (500.0, 4000.0),
    exponent: float = 0.6,
) -> np.ndarray:
    """Loudness of the audio under each video frame ``t`` (samples ``[t / fps, (t + 1) / fps)``), float64 ``[T]``.

    Args:
        audio: mono float samples.
        sample_rate: their rate; must exceed twice the band's upper edge.
        fps: video frame rate.
        num_frames: how many frames to return; frames beyond the end of the audio are 0 (silence), a frame the
            audio ends inside uses the samples it has.
        band: lower and upper edge in Hz (inclusive) of the frequencies that count.
        exponent: power applied to the band RMS amplitude (1 gives the RMS itself).

    Example:
        >>> t = np.arange(1280) / 16000
        >>> tone = np.sin(2 * np.pi * 1000 * t)   # RMS 1/sqrt(2), all of it at 1 kHz
        >>> np.round(loudness_envelope(tone, 16000, 25.0, 3, exponent=1.0), 4).tolist()
        [0.7071, 0.7071, 0.0]
    """
    samples = check_audio(audio).astype(np.float64)
    sample_rate = check_sample_rate(sample_rate)
    fps = check_fps(fps)
    num_frames = check_count(num_frames, "num_frames", minimum=0)
    low, high = float(band[0]), float(band[1])
    if not 0.0 <= low < high or 2 * high > sample_rate:
        raise ValueError(f"loudness band must satisfy 0 <= low < high <= sample_rate / 2, got {band} at {sample_rate} Hz")
    if exponent <= 0:
        raise ValueError(f"loudness exponent must be positive, got {exponent}")
    out = np.zeros(num_frames)
    for t in range(num_frames):
        segment = samples[frame_to_sample(t, fps, sample_rate) : frame_to_sample(t + 1, fps, sample_rate)]
        n = segment.size
        if n == 0:
            continue
        power = np.abs(np.fft.rfft(segment)) ** 2
        freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
        weight = np.where((freqs == 0) | ((n % 2 == 0) & (freqs == sample_rate / 2)), 1.0, 2.0)  # one-sided spectrum
        in_band = (freqs >= low) & (freqs <= high)
        out[t] = np.sqrt(np.sum(weight[in_band] * power[in_band]) / n**2)
    return out**exponent
