"""Raw-waveform windows per video frame, as Vougioukas et al.'s temporal GAN cuts them (SPECS C).

Reference: DinoMan/speech-driven-animation ``sda/sda.py`` ``VideoAnimator._cut_sequence_``: windows of
``window_s * rate`` samples with stride ``rate / fps``, the waveform zero-padded by ``window - stride`` samples,
``(window - stride) // 2`` on the left and the rest on the right, so window t is centred on frame t's interval
``[t / fps, (t + 1) / fps)``. Deviation: sda uses the integer stride ``int(rate / fps)``; here window t starts at
``floor(t * rate / fps)`` exactly, which is identical when ``rate / fps`` is an integer (16 kHz or 50 kHz at
25 fps) and does not drift otherwise.
"""

from __future__ import annotations

import numpy as np

from bench.audio._checks import check_audio, check_count, check_fps, check_sample_rate, frame_to_sample


def raw_audio_windows(
    audio: np.ndarray, sample_rate: int, num_frames: int, fps: float = 25.0, window_s: float = 0.2
) -> np.ndarray:
    """Cut one raw-audio window per video frame: float32 ``[num_frames, round(window_s * sample_rate)]``.

    sda makes one frame per window the audio yields (``len // stride``); here the frame count is given, so audio
    shorter than ``num_frames`` frames is zero-padded at the end and longer audio is ignored past the last window.

    Args:
        audio: mono float samples.
        sample_rate: rate of ``audio``; resample beforehand to the rate the model was trained at.
        num_frames: number of video frames.
        fps: video frame rate.
        window_s: window length in seconds (0.2 s in the released models); at least one frame long.

    Raises:
        ValueError: bad audio or arguments, or a window shorter than one frame's stride.

    Example:
        >>> import numpy as np
        >>> raw_audio_windows(np.zeros(48000, np.float32), 16000, 75).shape
        (75, 3200)
    """
    sample_rate = check_sample_rate(sample_rate)
    samples = check_audio(audio)
    num_frames = check_count(num_frames, "num_frames")
    fps = check_fps(fps)
    if not np.isfinite(window_s) or window_s <= 0:
        raise ValueError(f"window_s must be a positive number of seconds, got {window_s!r}")
    window = int(round(window_s * sample_rate))
    stride = int(sample_rate / fps)
    if window < stride:
        raise ValueError(f"window_s={window_s} is shorter than one video frame ({stride} samples at {fps} fps)")
    left = (window - stride) // 2
    starts = np.array([frame_to_sample(t, fps, sample_rate) for t in range(num_frames)], dtype=np.int64)
    padded = np.zeros(left + int(starts[-1]) + window, dtype=np.float64)
    usable = min(samples.size, padded.size - left)
    padded[left : left + usable] = samples[:usable]
    return np.lib.stride_tricks.sliding_window_view(padded, window)[starts].astype(np.float32)
