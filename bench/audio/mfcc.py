"""MFCC features of SyncNet (SPECS M4), Speech2Vid (SPECS A) and ATnet (SPECS D), and their video windows.

All three are computed with ``python_speech_features`` (psf), the library SyncNet and ATnet call themselves.

References:
    * SyncNet / LSE: joonson/syncnet_python ``SyncNetInstance.evaluate`` (``psf.mfcc(audio, 16000)`` on int16
      samples read by ``scipy.io.wavfile``; columns ``4v .. 4v+19`` for the 5 frames starting at v).
    * Speech2Vid: joonson/yousaidthat ``run_demo.m`` + ``utils/runmfcc.m`` (Wojcicki's MATLAB ``mfcc.m``).
    * ATnet: lelechen63/ATVGnet ``code/demo.py`` (as vendored by AudioDVP).

Known deviations of :func:`speech2vid_mfcc` from MATLAB ``mfcc.m`` (Wojcicki's, called by ``runmfcc.m``; no
MATLAB is available to dump a reference): psf sums the *power* spectrum in the filterbank where ``mfcc.m`` sums the
magnitude; psf puts the triangular filter edges on FFT bins (``floor((nfft + 1) f / fs)``) where ``mfcc.m``
evaluates exact triangles on the bin frequencies; psf zero-pads a final partial frame where ``mfcc.m`` drops it
(one more column); psf floors zero filterbank energies at machine epsilon, while ``mfcc.m`` takes ``log`` with its
mel floor commented out, so the demo's 1 s of exact zeros gives -inf/NaN columns there. Measured on GRID speech
against a numpy transcription of ``mfcc.m``: per-coefficient correlation 0.96-0.998 over the speech, values about
2x larger (power vs magnitude). Coefficients 2-13 keep their meaning (sine-liftered orthonormal DCT-II of 40 log
filterbank energies); the released MatConvNet model cannot be loaded here anyway, so a model trained on these
features is self-consistent. ``tests/test_audio_mfcc.py`` pins these figures against the transcription.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from bench.audio._checks import check_count, check_fps, check_sample_rate, frame_to_sample, to_rate

SYNCNET_RATE = 16000
SYNCNET_WINDOW = 20  # MFCC columns per 5-frame SyncNet clip (0.2 s)
SPEECH2VID_PAD_S = 1.0
SPEECH2VID_WINDOW = 35  # MFCC frames (0.35 s) per video frame
ATNET_PAD_SAMPLES = 1920
ATNET_WINDOW = 28  # rows (ind-3)*4 .. (ind+4)*4: 7 video frames
MFCC_FPS = 100.0  # 10 ms shift everywhere
INT16_SCALE = 32768.0
Alignment = Literal["centred", "demo"]


def _psf_mfcc(samples: np.ndarray, rate: int, **kwargs: object) -> np.ndarray:
    import python_speech_features as psf

    return np.asarray(psf.mfcc(samples, rate, **kwargs), dtype=np.float64)


def syncnet_mfcc(audio: np.ndarray, sample_rate: int = SYNCNET_RATE) -> np.ndarray:
    """SyncNet's audio input: ``python_speech_features.mfcc`` defaults, float32 ``[13, N]`` (100 columns/s).

    SyncNet reads 16 kHz int16 PCM with ``scipy.io.wavfile``, so the float samples are scaled by 32768 first; this
    matters for c0 (log frame energy), which SyncNet uses. Other rates are resampled to 16 kHz.

    Raises:
        ValueError: bad audio or rate, or fewer samples than one 25 ms window.

    Example:
        >>> import numpy as np
        >>> syncnet_mfcc(np.zeros(16000, np.float32)).shape
        (13, 99)
    """
    samples = to_rate(audio, sample_rate, SYNCNET_RATE, min_samples=400)
    return _psf_mfcc(samples * INT16_SCALE, SYNCNET_RATE).T.astype(np.float32)


def syncnet_num_windows(num_frames: int, num_samples: int, sample_rate: int = SYNCNET_RATE) -> int:
    """How many 5-frame clips SyncNet scores: ``min(num_frames, num_samples // 640) - 5`` at 16 kHz and 25 fps.

    ``num_samples`` is counted at 16 kHz (converted from ``sample_rate``). The result may be <= 0 for clips shorter
    than 6 frames; callers must then report the clip as too short.

    Example:
        >>> syncnet_num_windows(75, 47647)
        69
    """
    num_frames = check_count(num_frames, "num_frames", minimum=0)
    num_samples = check_count(num_samples, "num_samples", minimum=0)
    sample_rate = check_sample_rate(sample_rate)
    samples_16k = num_samples * SYNCNET_RATE // sample_rate
    return min(num_frames, samples_16k // 640) - 5


def syncnet_audio_windows(mfcc: np.ndarray, num_frames: int) -> np.ndarray:
    """SyncNet audio windows ``[num_frames, 13, 20]``: window v holds columns ``4v .. 4v+19``.

    Window v pairs with the 5 video frames ``v .. v+4`` (25 fps). SyncNet evaluates ``v < min(T, samples // 640) - 5``;
    ``num_frames`` is the number of windows wanted.

    Raises:
        ValueError: ``mfcc`` is not ``[13, N]`` or is too short for ``num_frames`` windows.
    """
    mfcc = np.asarray(mfcc)
    if mfcc.ndim != 2 or mfcc.shape[0] != 13:
        raise ValueError(f"mfcc must have shape [13, N], got {mfcc.shape}")
    num_frames = check_count(num_frames, "num_frames")
    needed = 4 * (num_frames - 1) + SYNCNET_WINDOW
    if mfcc.shape[1] < needed:
        raise ValueError(f"mfcc has {mfcc.shape[1]} columns; {num_frames} SyncNet windows need {needed}")
    index = 4 * np.arange(num_frames)[:, None] + np.arange(SYNCNET_WINDOW)[None, :]
    return np.ascontiguousarray(mfcc[:, index].transpose(1, 0, 2), dtype=np.float32)


def speech2vid_mfcc(audio: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """Speech2Vid's MFCC: float32 ``[12, N]``, coefficients 2-13 of 16 kHz audio padded by 1 s of zeros each end.

    Parameters of ``runmfcc.m``: 25 ms Hamming window, 10 ms shift, pre-emphasis 0.97, 40 filters 300-3700 Hz,
    13 cepstra, sine lifter 22; c0 dropped. ``N = 1 + ceil((len + 2 s - 25 ms) / 10 ms)`` at 16 kHz. See the module
    docstring for the known deviations from MATLAB.

    Example:
        >>> import numpy as np
        >>> speech2vid_mfcc(np.zeros(16000, np.float32)).shape
        (12, 299)
    """
    samples = to_rate(audio, sample_rate, 16000)
    pad = np.zeros(int(SPEECH2VID_PAD_S * 16000))
    padded = np.concatenate([pad, samples, pad])
    mfcc = _psf_mfcc(
        padded,
        16000,
        winlen=0.025,
        winstep=0.01,
        numcep=13,
        nfilt=40,
        nfft=512,
        lowfreq=300,
        highfreq=3700,
        preemph=0.97,
        ceplifter=22,
        appendEnergy=False,
        winfunc=np.hamming,
    )
    return mfcc[:, 1:].T.astype(np.float32)


def speech2vid_start_index(frame: int, fps: float = 25.0, alignment: Alignment = "centred") -> int:
    """First MFCC column of video frame ``frame``'s 35-column window in :func:`speech2vid_mfcc` output.

    MFCC column j covers ``[j * 10 ms - 1 s, j * 10 ms + 15 ms - 1 s)`` of the unpadded audio (centre
    ``j * 10 ms + 12.5 ms - 1 s``). Frame t spans ``[t / fps, (t + 1) / fps)``.

    * ``"centred"`` (default): the window is centred on ``(t + 0.5) / fps`` to the nearest column,
      ``s = round(100 (t + 0.5) / fps + 81.75)``: ``4 t + 84`` at 25 fps (centre 2.5 ms after the frame centre).
    * ``"demo"``: ``run_demo.m``'s pairing. The demo cuts ``C(2:13, j:j+34)`` for ``j = 1:4:end`` on the padded
      audio and writes the padded audio under the video, so the window starts at the frame's start:
      ``s = round(100 t / fps) + 100`` (``4 t + 100`` at 25 fps): the window centre lies 162.5 ms after the frame's.

    Example:
        >>> [speech2vid_start_index(t) for t in range(3)], speech2vid_start_index(2, alignment="demo")
        ([84, 88, 92], 108)
    """
    fps = check_fps(fps)
    if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)):
        raise ValueError(f"frame must be an integer, got {frame!r}")
    pad_columns = MFCC_FPS * SPEECH2VID_PAD_S
    if alignment == "demo":
        return int(np.floor(MFCC_FPS * int(frame) / fps + 0.5 + pad_columns))
    if alignment != "centred":
        raise ValueError(f"alignment must be 'centred' or 'demo', got {alignment!r}")
    centre_column = MFCC_FPS * (int(frame) + 0.5) / fps + pad_columns - 1.25
    return int(np.floor(centre_column - (SPEECH2VID_WINDOW - 1) / 2 + 0.5))


def speech2vid_windows(mfcc: np.ndarray, num_frames: int, fps: float = 25.0, alignment: Alignment = "centred") -> np.ndarray:
    """Speech2Vid audio input per video frame: float32 ``[num_frames, 12, 35]`` from :func:`speech2vid_mfcc`.

    Window t starts at :func:`speech2vid_start_index` (t, fps, alignment); by default it is centred on frame t.
    The 1 s padding leaves about 0.8 s of slack (0.65 s with ``"demo"``), so audio slightly shorter than the
    video is fine.

    Raises:
        ValueError: ``mfcc`` not ``[12, N]``, or the audio ends before the last frame's window.
    """
    mfcc = np.asarray(mfcc)
    if mfcc.ndim != 2 or mfcc.shape[0] != 12:
        raise ValueError(f"mfcc must have shape [12, N], got {mfcc.shape}")
    num_frames = check_count(num_frames, "num_frames")
    starts = np.array([speech2vid_start_index(t, fps, alignment) for t in range(num_frames)], dtype=np.int64)
    if starts[-1] + SPEECH2VID_WINDOW > mfcc.shape[1]:
        raise ValueError(
            f"mfcc has {mfcc.shape[1]} columns but frame {num_frames - 1}'s window needs "
            f"{starts[-1] + SPEECH2VID_WINDOW}: the audio is too short for {num_frames} frames at {fps} fps"
        )
    index = starts[:, None] + np.arange(SPEECH2VID_WINDOW)[None, :]
    return np.ascontiguousarray(mfcc[:, index].transpose(1, 0, 2), dtype=np.float32)


def atnet_mfcc_windows(audio: np.ndarray, sample_rate: int, num_frames: int, fps: float = 25.0) -> np.ndarray:
    """ATnet's (and AudioDVP's) audio input per video frame: float32 ``[num_frames, 28, 12]``.

    16 kHz audio (zero-padded to ``num_frames`` frames if shorter) padded with 1920 zeros (3 frames) at both ends;
    ``psf.mfcc(winstep=0.01)`` defaults, c0 dropped; frame t gets rows ``4 t .. 4 t + 27`` (``ind = t + 3``:
    ``(ind - 3) * 4 .. (ind + 4) * 4``). ATnet's loop stops when the last window would overrun, dropping the
    final frame; here the audio gets just enough extra zeros that every frame has its window. Defined at 25 fps
    (4 MFCC rows per frame), the only rate ATnet uses.

    Raises:
        ValueError: bad audio or arguments, or ``fps`` other than 25.
    """
    sample_rate = check_sample_rate(sample_rate)
    num_frames = check_count(num_frames, "num_frames")
    if check_fps(fps) != 25.0:
        raise ValueError(f"ATnet windows are defined at 25 fps (4 MFCC rows per frame), got fps={fps}")
    samples = to_rate(audio, sample_rate, 16000)
    length = max(samples.size, frame_to_sample(num_frames, fps, 16000))
    rows = 4 * (num_frames - 1) + ATNET_WINDOW
    padded = np.zeros(max(2 * ATNET_PAD_SAMPLES + length, 400 + 160 * (rows - 1)))
    padded[ATNET_PAD_SAMPLES : ATNET_PAD_SAMPLES + samples.size] = samples
    mfcc = _psf_mfcc(padded, 16000, winstep=0.01)[:, 1:]
    index = 4 * np.arange(num_frames)[:, None] + np.arange(ATNET_WINDOW)[None, :]
    return np.ascontiguousarray(mfcc[index], dtype=np.float32)
