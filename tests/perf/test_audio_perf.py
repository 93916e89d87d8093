"""Speed of the audio features on 3 s of 16 kHz audio (one GRID utterance)."""

from __future__ import annotations

import numpy as np
import pytest

from bench import audio as A

RNG = np.random.default_rng(0)
WAV = (0.1 * RNG.standard_normal(48000)).astype(np.float32)


@pytest.mark.parametrize(
    "feature",
    {
        "wav2lip_mel": lambda: A.wav2lip_mel_windows(A.wav2lip_mel(WAV), 75),
        "syncnet_mfcc": lambda: A.syncnet_audio_windows(A.syncnet_mfcc(WAV), 70),
        "speech2vid_mfcc": lambda: A.speech2vid_windows(A.speech2vid_mfcc(WAV), 75),
        "atnet_mfcc": lambda: A.atnet_mfcc_windows(WAV, 16000, 75),
        "raw_windows": lambda: A.raw_audio_windows(WAV, 16000, 75),
        "resample_48k": lambda: A.resample(WAV, 16000, 48000),
    }.items(),
    ids=lambda item: item[0],
)
def test_audio_feature_speed(benchmark, feature) -> None:
    _, run = feature
    out = benchmark(run)
    assert np.isfinite(out).all()
