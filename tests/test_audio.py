"""bench.audio against its references: librosa/scipy (Wav2Lip mel), transcriptions of the reference window loops
(Wav2Lip, speech-driven-animation), hand-computed indices, bad input, and the real GRID clips. The MFCC features are
tested in test_audio_mfcc.py."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import scipy.signal
from audio_helpers import SR, speechlike

from bench import audio as A

# ---------------------------------------------------------------- Wav2Lip mel (SPECS B)


def wav2lip_mel_reference(wav: np.ndarray) -> np.ndarray:
    """Wav2Lip audio.melspectrogram written step by step with numpy framing (not librosa.stft)."""
    x = wav.astype(np.float64)
    y = x.copy()
    y[1:] -= 0.97 * x[:-1]  # lfilter([1, -0.97], [1])
    padded = np.pad(y, 400, mode="reflect")  # librosa 0.7 stft: center=True, pad_mode="reflect"
    count = 1 + (padded.size - 800) // 200
    frames = np.stack([padded[i * 200 : i * 200 + 800] for i in range(count)])
    window = scipy.signal.get_window("hann", 800, fftbins=True)
    magnitude = np.abs(np.fft.rfft(frames * window, n=800, axis=1)).T
    basis = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600)
    db = 20 * np.log10(np.maximum(1e-5, basis @ magnitude)) - 20
    return np.clip(8 * (db + 100) / 100 - 4, -4, 4)


class TestWav2LipMel:
    atol, rtol = 1e-5, 0.0  # float64 both sides, output float32 (~5e-7 at |4|)

    def test_matches_reference_steps(self) -> None:
        wav = speechlike(1.37)
        got = A.wav2lip_mel(wav)
        ref = wav2lip_mel_reference(wav)
        assert got.dtype == np.float32 and got.shape == (80, wav.size // 200 + 1) == ref.shape
        np.testing.assert_allclose(got, ref, atol=self.atol, rtol=self.rtol)
        assert got.min() >= -4 and got.max() <= 4 and got.std() > 0.5  # clipping range used, not constant

    def test_silence_is_floor(self) -> None:
        # 20 log10(1e-5) - 20 = -120 dB, below min_level_db -100: clipped to -4 everywhere
        np.testing.assert_array_equal(A.wav2lip_mel(np.zeros(4000, np.float32)), np.full((80, 21), -4, np.float32))

    def test_other_rate_is_resampled_first(self) -> None:
        wav48 = speechlike(1.0, sr=48000)
        expected = A.wav2lip_mel(librosa.resample(wav48, orig_sr=48000, target_sr=16000))  # librosa.load's soxr_hq
        np.testing.assert_allclose(A.wav2lip_mel(wav48, 48000), expected, atol=1e-5)


class TestWav2LipWindows:
    @pytest.mark.parametrize(("fps", "starts"), [(25.0, [0, 3, 6, 9, 12, 16, 19]), (30.0, [0, 2, 5, 8, 10, 13, 16])])
    def test_mel_start_index_by_hand(self, fps: float, starts: list[int]) -> None:
        assert [A.mel_start_index(f, fps) for f in range(7)] == starts

    @staticmethod
    def coded_mel(steps: int) -> np.ndarray:
        return np.tile(np.arange(steps, dtype=np.float32), (80, 1)) + np.arange(80)[:, None] * 1000

    def test_inference_offset_and_end_rule(self) -> None:
        mel = self.coded_mel(50)
        win = A.wav2lip_mel_windows(mel, 15)
        assert win.shape == (15, 80, 16) and win.dtype == np.float32
        firsts = win[:, 0, 0].astype(int).tolist()
        # int(3.2 f) for f <= 10 (start + 16 <= 50); from frame 11 (start 35) on: the last 16 steps, 34..49
        assert firsts == [0, 3, 6, 9, 12, 16, 19, 22, 25, 28, 32, 34, 34, 34, 34]
        np.testing.assert_array_equal(win[3, 7], mel[7, 9:25])

    def test_equals_inference_loop(self) -> None:
        mel = A.wav2lip_mel(speechlike(2.0))
        chunks, i = [], 0  # transcription of Wav2Lip inference.py
        while True:
            start = int(i * (80.0 / 25))
            if start + 16 > mel.shape[1]:
                chunks.append(mel[:, mel.shape[1] - 16 :])
                break
            chunks.append(mel[:, start : start + 16])
            i += 1
        np.testing.assert_array_equal(A.wav2lip_mel_windows(mel, len(chunks)), np.stack(chunks))

    def test_training_offset(self) -> None:
        mel = self.coded_mel(60)
        train = A.wav2lip_mel_windows(mel, 10, offset=-1)
        infer = A.wav2lip_mel_windows(mel, 10)
        np.testing.assert_array_equal(train[1:], infer[:-1])  # frame k gets the window of frame k - 1
        for k in range(1, 10):  # get_segmented_mels: crop_audio_window(spec, (k + 1) - 2)
            start = int(80.0 * ((k + 1 - 2) / 25.0))
            np.testing.assert_array_equal(train[k], mel[:, start : start + 16])
        assert train[0, 0, 0] == 0  # int(-3.2) = -3 clamped to step 0
        with pytest.raises(ValueError, match="frame 0 .* starts at step -3"):
            A.wav2lip_mel_windows(mel, 10, offset=-1, edge="error")
        np.testing.assert_array_equal(A.wav2lip_mel_windows(mel, 10, edge="error"), infer)  # all inside: same
        with pytest.raises(ValueError, match="frame 11 .* starts at step 35"):  # 35 + 16 > 50 steps
            A.wav2lip_mel_windows(self.coded_mel(50), 15, edge="error")


# ---------------------------------------------------------------- raw windows (SPECS C)


def sda_cut(seq: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Transcription of speech-driven-animation VideoAnimator._cut_sequence_ (numpy instead of torch)."""
    pad = window - stride
    seq = np.concatenate([np.zeros(pad // 2), seq, np.zeros(pad - pad // 2)])
    iterations = (seq.size - window) // stride + 1
    return np.stack([seq[i * stride : i * stride + window] for i in range(iterations)])


class TestRawWindows:
    @pytest.mark.parametrize(("rate", "window_s"), [(16000, 0.2), (50000, 0.2), (16000, 0.12)])
    def test_equals_sda(self, rate: int, window_s: float) -> None:
        wav = speechlike(1.2, sr=rate)
        got = A.raw_audio_windows(wav, rate, 30, window_s=window_s)
        ref = sda_cut(wav.astype(np.float64), int(rate * window_s), rate // 25)
        assert got.shape == ref.shape == (30, int(rate * window_s))
        np.testing.assert_array_equal(got, ref.astype(np.float32))

    def test_impulse_lands_mid_window(self) -> None:
        k = 9
        wav = np.zeros(SR, np.float32)
        wav[k * 640 + 320] = 1.0  # centre of frame k's interval [k / 25, (k + 1) / 25)
        win = A.raw_audio_windows(wav, SR, 25)
        assert win.shape == (25, 3200)
        assert np.argmax(win[k]) == 1600
        hits = [t for t in range(25) if win[t].any()]
        assert hits == [k - 2, k - 1, k, k + 1, k + 2]  # 0.2 s windows overlap 5 frames at 25 fps

    def test_short_audio_zero_padded_and_non_integer_stride(self) -> None:
        win = A.raw_audio_windows(np.ones(1000, np.float32), SR, 10, fps=29.97)
        assert win.shape == (10, 3200) and win[9].sum() == 0 and win[0].sum() > 0
        assert win[0, : (3200 - 533) // 2].sum() == 0  # left padding (window - stride) // 2


# ---------------------------------------------------------------- resampling and indexing helpers


def test_resample_is_librosa_soxr_hq() -> None:
    t = np.arange(44100) / 44100
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    got = A.resample(tone, 44100, 16000)
    assert got.dtype == np.float32 and got.shape == (16000,)
    np.testing.assert_allclose(got, librosa.resample(tone, orig_sr=44100, target_sr=16000), atol=1e-6)
    exact = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000)
    np.testing.assert_allclose(got[200:-200], exact[200:-200], atol=1e-3)


def test_frame_to_sample_exact() -> None:
    assert [A.frame_to_sample(f, 25.0, SR) for f in (0, 1, 75)] == [0, 640, 48000]
    assert A.frame_to_sample(2997, 29.97, 48000) == 4_800_000  # no float drift: 2997 frames = 100 s
    assert A.frame_to_sample(30, 30000 / 1001, 48000) == 48048
    assert A.num_video_frames(47647, SR) == 74 and A.num_video_frames(48000, SR) == 75
    assert A.num_video_frames(0, SR) == 0 and A.num_video_frames(1000, 1000, fps=29.97) == 29
    assert A.num_video_frames(4_800_000, 48000, fps=29.97) == 2997  # float 29.97 is 29.96999...: exact_fps
    assert A.num_video_frames(1001 * 48, 48000, fps=30000 / 1001) == 30  # NTSC: 1.001 s is exactly 30 frames
    with pytest.raises(ValueError, match="num_samples"):
        A.num_video_frames(-1, SR)


# ---------------------------------------------------------------- bad input


BAD_AUDIO = [
    (np.zeros(0, np.float32), "empty"),
    (np.zeros((2, 8000), np.float32), "1-D"),
    (np.array([0.0] * 900 + [np.nan] + [0.0] * 99, np.float32), "non-finite"),
    (np.array([0.0] * 900 + [np.inf] + [0.0] * 99), "non-finite"),
    (np.zeros(1000, np.int16), "float samples"),
    (np.full(1000, -3276.8, np.float32), r"peaks at 3276.8, far outside \[-1, 1\]: integer PCM cast to float"),
]
FEATURES = {
    "wav2lip_mel": lambda a, sr=SR: A.wav2lip_mel(a, sr),
    "syncnet_mfcc": lambda a, sr=SR: A.syncnet_mfcc(a, sr),
    "speech2vid_mfcc": lambda a, sr=SR: A.speech2vid_mfcc(a, sr),
    "raw_audio_windows": lambda a, sr=SR: A.raw_audio_windows(a, sr, 5),
    "atnet_mfcc_windows": lambda a, sr=SR: A.atnet_mfcc_windows(a, sr, 5),
    "resample": lambda a, sr=SR: A.resample(a, sr, 8000),
}


@pytest.mark.parametrize("feature", sorted(FEATURES))
@pytest.mark.parametrize(("audio", "message"), BAD_AUDIO, ids=[m for _, m in BAD_AUDIO])
def test_bad_audio(feature: str, audio: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FEATURES[feature](audio)


@pytest.mark.parametrize("feature", sorted(FEATURES))
@pytest.mark.parametrize("rate", [0, -16000, 16000.5, float("nan"), "16000"])
def test_bad_sample_rate(feature: str, rate: object) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        FEATURES[feature](np.zeros(4000, np.float32), rate)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="fewer than the 800"):
        A.wav2lip_mel(np.zeros(799, np.float32))
    with pytest.raises(ValueError, match="fewer than the 400"):
        A.syncnet_mfcc(np.zeros(399, np.float32))
    with pytest.raises(ValueError, match=r"shape \[80, N\]"):
        A.wav2lip_mel_windows(np.zeros((40, 50)), 3)
    with pytest.raises(ValueError, match="fewer than the 16"):
        A.wav2lip_mel_windows(np.zeros((80, 15)), 1)
    with pytest.raises(ValueError, match="num_frames"):
        A.wav2lip_mel_windows(np.zeros((80, 50)), 0)
    with pytest.raises(ValueError, match="fps"):
        A.raw_audio_windows(np.zeros(4000, np.float32), SR, 5, fps=0)
    with pytest.raises(ValueError, match="shorter than one video frame"):
        A.raw_audio_windows(np.zeros(4000, np.float32), SR, 5, window_s=0.01)
    with pytest.raises(ValueError, match="25 fps"):
        A.atnet_mfcc_windows(np.zeros(4000, np.float32), SR, 5, fps=30)
    with pytest.raises(ValueError, match=r"shape \[12, N\]"):
        A.speech2vid_windows(np.zeros((13, 500)), 3)


# ---------------------------------------------------------------- real GRID clips


@pytest.fixture(scope="module")
def grid_audio(grid_paths) -> list[tuple[str, np.ndarray, int]]:
    from bench.media import read_clip

    clips = [read_clip(p, require_audio=True) for p in grid_paths]
    return [(c.name, c.audio, c.num_frames) for c in clips]


def test_grid_features(grid_audio) -> None:
    assert len(grid_audio) == 4
    for name, wav, frames in grid_audio:
        assert frames == 75 and abs(wav.size - 48000) < 800, name  # 3 s at 16 kHz
        mel = A.wav2lip_mel(wav)
        np.testing.assert_allclose(mel, wav2lip_mel_reference(wav), atol=1e-5, err_msg=name)
        assert mel.shape == (80, wav.size // 200 + 1) and abs(mel.shape[1] - 240) <= 5
        assert mel.std() > 0.5, name  # speech, not a flat floor
        shapes = {
            "mel windows": (A.wav2lip_mel_windows(mel, frames), (75, 80, 16)),
            "syncnet": (
                A.syncnet_audio_windows(A.syncnet_mfcc(wav), A.syncnet_num_windows(frames, wav.size)),
                (min(frames, wav.size // 640) - 5, 13, 20),
            ),
            "speech2vid": (A.speech2vid_windows(A.speech2vid_mfcc(wav), frames), (75, 12, 35)),
            "raw": (A.raw_audio_windows(wav, SR, frames), (75, 3200)),
            "atnet": (A.atnet_mfcc_windows(wav, SR, frames), (75, 28, 12)),
        }
        for what, (value, shape) in shapes.items():
            assert value.shape == shape and value.dtype == np.float32, (name, what, value.shape)
            assert np.isfinite(value).all(), (name, what)
        assert abs(A.syncnet_mfcc(wav).shape[1] - 300) <= 5
