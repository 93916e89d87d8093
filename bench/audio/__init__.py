"""Audio features of the baselines and metrics, each reproducing its reference implementation.

Ground floor: imports nothing of talkbench. Every function takes mono float samples (``Clip.audio``) and their
rate, validates them (clear ``ValueError`` for empty, non-1-D, non-float or non-finite audio, or a bad rate) and
resamples (soxr HQ, as ``librosa.load``) to the 16 kHz the references use; ``raw_audio_windows`` keeps the rate it
is given, since it is the model's. Video frame t covers ``[t / fps, (t + 1) / fps)`` (:func:`frame_to_sample`).

========================  =====================================  ==========================================
feature                   function(s)                            reference
========================  =====================================  ==========================================
Wav2Lip log-mel           wav2lip_mel, wav2lip_mel_windows       Wav2Lip audio.py / hparams.py / inference.py
SyncNet MFCC (LSE-D/C)    syncnet_mfcc, syncnet_audio_windows,   syncnet_python SyncNetInstance.evaluate
                          syncnet_num_windows
Speech2Vid MFCC           speech2vid_mfcc, speech2vid_windows    yousaidthat runmfcc.m (via psf)
ATnet MFCC (AudioDVP)     atnet_mfcc_windows                     ATVGnet demo.py
raw waveform windows      raw_audio_windows                      speech-driven-animation sda.py
loudness envelope         loudness_envelope                      band RMS per video frame (mouth-sync)
========================  =====================================  ==========================================
"""

from __future__ import annotations

from bench.audio._checks import check_peak, frame_to_sample, num_video_frames, resample
from bench.audio.loudness import loudness_envelope
from bench.audio.mfcc import (
    atnet_mfcc_windows,
    speech2vid_mfcc,
    speech2vid_start_index,
    speech2vid_windows,
    syncnet_audio_windows,
    syncnet_mfcc,
    syncnet_num_windows,
)
from bench.audio.raw import raw_audio_windows
from bench.audio.wav2lip import mel_start_index, wav2lip_mel, wav2lip_mel_windows

__all__ = [
    "atnet_mfcc_windows",
    "check_peak",
    "frame_to_sample",
    "loudness_envelope",
    "mel_start_index",
    "num_video_frames",
    "raw_audio_windows",
    "resample",
    "speech2vid_mfcc",
    "speech2vid_start_index",
    "speech2vid_windows",
    "syncnet_audio_windows",
    "syncnet_mfcc",
    "syncnet_num_windows",
    "wav2lip_mel",
    "wav2lip_mel_windows",
]
