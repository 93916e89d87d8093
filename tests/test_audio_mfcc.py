"""bench.audio MFCC features against python_speech_features as SyncNet, Speech2Vid (run_demo.m / mfcc.m) and
ATnet call it, and their window indexing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import python_speech_features as psf
import scipy.io.wavfile
import scipy.signal
from audio_helpers import SR, speechlike

from bench import audio as A

# ---------------------------------------------------------------- SyncNet MFCC (SPECS M4)


class TestSyncNetMFCC:
    def test_equals_syncnet_pipeline(self, tmp_path) -> None:
        pcm = np.round(speechlike(1.5) * 32767).astype(np.int16)
        scipy.io.wavfile.write(tmp_path / "audio.wav", SR, pcm)
        rate, data = scipy.io.wavfile.read(tmp_path / "audio.wav")  # as SyncNetInstance.evaluate
        ref = np.stack([np.array(c) for c in zip(*psf.mfcc(data, rate), strict=True)])
        got = A.syncnet_mfcc(pcm.astype(np.float32) / 32768)
        assert got.shape == ref.shape == (13, 1 + math.ceil((pcm.size - 400) / 160))
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-4)  # float32 output of values up to ~40

    def test_c0_depends_on_int16_scale(self) -> None:
        wav = speechlike(0.5)
        got = A.syncnet_mfcc(wav)
        unscaled = psf.mfcc(wav.astype(np.float64), SR).T
        np.testing.assert_allclose(got[0] - unscaled[0], 2 * np.log(32768.0), rtol=1e-5)  # log energy of x * 2^15
        np.testing.assert_allclose(got[1:], unscaled[1:], atol=1e-3)

    def test_windows_columns(self) -> None:
        mfcc = np.tile(np.arange(120, dtype=np.float32), (13, 1))
        win = A.syncnet_audio_windows(mfcc, 26)
        assert win.shape == (26, 13, 20)
        np.testing.assert_array_equal(win[:, 5, 0], 4 * np.arange(26))
        np.testing.assert_array_equal(win[7, 2], np.arange(28, 48))
        with pytest.raises(ValueError, match="need 120"):
            A.syncnet_audio_windows(mfcc[:, :119], 26)

    def test_num_windows_as_syncnet(self) -> None:
        # SyncNetInstance.evaluate: min_length = min(frames, floor(samples / 640)); lastframe = min_length - 5
        assert A.syncnet_num_windows(75, 48000) == 70
        assert A.syncnet_num_windows(75, 47647) == 69  # audio 7 ms short of 74.5 frames
        assert A.syncnet_num_windows(60, 48000) == 55
        assert A.syncnet_num_windows(75, 144000, sample_rate=48000) == 70
        wav = speechlike(3.0)[:47647]  # every counted window exists in the MFCC
        assert A.syncnet_audio_windows(A.syncnet_mfcc(wav), A.syncnet_num_windows(75, wav.size)).shape == (69, 13, 20)


# ---------------------------------------------------------------- Speech2Vid MFCC (SPECS A)


class TestSpeech2Vid:
    def test_equals_psf_with_matlab_parameters(self) -> None:
        wav = speechlike(1.2)
        padded = np.concatenate([np.zeros(SR), wav.astype(np.float64), np.zeros(SR)])
        ref = psf.mfcc(
            padded,
            SR,
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
        got = A.speech2vid_mfcc(wav)
        n = 1 + math.ceil((wav.size + 2 * SR - 400) / 160)
        assert got.shape == (12, n) and got.dtype == np.float32
        np.testing.assert_allclose(got, ref[:, 1:].T, rtol=1e-5, atol=1e-4)

    def test_close_to_matlab_mfcc_m(self) -> None:
        # numpy transcription of Wojcicki's mfcc.m as runmfcc.m calls it: magnitude spectrum, exact triangles
        wav = speechlike(1.5, seed=3).astype(np.float64)
        z = np.concatenate([np.zeros(SR), wav, np.zeros(SR)])
        y = scipy.signal.lfilter([1, -0.97], [1], z)
        frames = np.stack([y[i : i + 400] for i in range(0, y.size - 399, 160)], axis=1) * np.hamming(400)[:, None]
        mag = np.abs(np.fft.fft(frames, 512, axis=0))[:257]
        f = np.linspace(0, SR / 2, 257)
        mel = np.log1p(np.array([300.0, 3700.0]) / 700) * 1127
        c = 700 * np.expm1(np.linspace(mel[0], mel[1], 42) / 1127)
        h = np.stack(
            [
                np.clip(np.minimum((f - c[m]) / (c[m + 1] - c[m]), (c[m + 2] - f) / (c[m + 2] - c[m + 1])), 0, None)
                for m in range(40)
            ]
        )
        dct = np.sqrt(2 / 40) * np.cos(np.arange(13)[:, None] * np.pi * (np.arange(1, 41) - 0.5) / 40)
        with np.errstate(divide="ignore", invalid="ignore"):
            cc = (1 + 11 * np.sin(np.pi * np.arange(13) / 22))[:, None] * (dct @ np.log(h @ mag))
        matlab, ours = cc[1:], A.speech2vid_mfcc(wav.astype(np.float32))
        assert ours.shape[1] == matlab.shape[1] + 1  # psf keeps the final partial frame
        assert np.isnan(matlab[:, :97]).all() and np.isfinite(ours).all()  # log(0) in the padding, psf floors at eps
        speech = slice(110, 240)  # columns over the speech
        corr = [np.corrcoef(ours[i, speech], matlab[i, speech])[0, 1] for i in range(12)]
        assert min(corr) > 0.9, corr
        ratio = ours[:, speech].std(axis=1) / matlab[:, speech].std(axis=1)
        np.testing.assert_allclose(ratio, 2.0, rtol=0.15)  # power (psf) vs magnitude (mfcc.m) spectrum

    def test_padding_is_one_second_of_silence(self) -> None:
        got = A.speech2vid_mfcc(speechlike(1.0))
        silent = (SR - 400) // 160 + 1  # columns whose 25 ms window lies inside the leading 1 s of zeros
        np.testing.assert_array_equal(got[:, :silent], np.repeat(got[:, :1], silent, axis=1))
        assert not np.allclose(got[:, silent + 5], got[:, 0])

    def test_start_index_by_hand(self) -> None:
        assert [A.speech2vid_start_index(t) for t in range(4)] == [84, 88, 92, 96]
        assert A.speech2vid_start_index(0, fps=50.0) == 83  # round(100 * 0.5 / 50 + 81.75)

    def test_window_is_centred_on_its_frame(self) -> None:
        k = 20
        wav = np.zeros(SR * 2, np.float32)
        centre = int((k + 0.5) / 25 * SR)
        wav[centre - 8 : centre + 8] = 0.9  # 1 ms click at the centre of frame k
        mfcc = A.speech2vid_mfcc(wav)
        hit = np.abs(mfcc - mfcc[:, :1]).sum(axis=0)
        click_col = int(np.round(np.average(np.arange(hit.size), weights=hit)))
        win = A.speech2vid_windows(mfcc, 50)
        assert win.shape == (50, 12, 35)
        assert click_col - A.speech2vid_start_index(k) in (16, 17, 18)  # middle column of 35 is 17
        np.testing.assert_array_equal(win[k], mfcc[:, 84 + 4 * k : 84 + 4 * k + 35])

    def test_demo_alignment_equals_run_demo_loop(self) -> None:
        wav = speechlike(1.6)  # 40 frames
        mfcc = A.speech2vid_mfcc(wav)  # C(2:13, :) of the padded audio Z
        # run_demo.m: for j = 1:4:size(C,2)-34, window C(2:13, j:j+34); output frame k shows padded time k / 25,
        # i.e. frame k - 25 of the unpadded audio
        demo = [mfcc[:, j : j + 35] for j in range(0, mfcc.shape[1] - 34, 4)]
        got = A.speech2vid_windows(mfcc, 40, alignment="demo")
        np.testing.assert_array_equal(got, np.stack(demo[25:65]))
        assert [A.speech2vid_start_index(t, alignment="demo") for t in range(3)] == [100, 104, 108]
        with pytest.raises(ValueError, match="alignment"):
            A.speech2vid_windows(mfcc, 40, alignment="center")

    def test_audio_too_short_for_frames(self) -> None:
        mfcc = A.speech2vid_mfcc(np.zeros(SR, np.float32))  # 1 s of audio = 25 frames
        assert mfcc.shape[1] == 299  # 1 + ceil((3 s - 25 ms) / 10 ms)
        assert A.speech2vid_windows(mfcc, 46).shape == (46, 12, 35)  # frame 45: columns 264..298
        with pytest.raises(ValueError, match="too short for 47 frames"):
            A.speech2vid_windows(mfcc, 47)


# ---------------------------------------------------------------- ATnet (SPECS D)


def test_atnet_equals_demo_loop() -> None:
    wav = speechlike(1.2)  # 30 video frames
    speech = np.insert(wav.astype(np.float64), 0, np.zeros(1920))  # transcription of ATVGnet demo.py
    speech = np.append(speech, np.zeros(1920))
    mfcc = psf.mfcc(speech, 16000, winstep=0.01)
    ref, ind = [], 3
    while ind <= int(mfcc.shape[0] / 4) - 4:
        ref.append(mfcc[(ind - 3) * 4 : (ind + 4) * 4, 1:])
        ind += 1
    got = A.atnet_mfcc_windows(wav, SR, 30)
    assert got.shape == (30, 28, 12) and len(ref) == 29  # the demo loop drops the last frame
    np.testing.assert_allclose(got[:29], np.stack(ref), rtol=1e-5, atol=1e-4)
    assert np.isfinite(got[29]).all()
