"""Preprocessing: rates, length policies, crops (aligned face on a real GRID clip), cache, failures, workers."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from data_helpers import noise_video, write_protocol

import bench.data.prepare as prepare
from bench.data import folder, grid, lrs2, synthgrid
from bench.data.prepare import FaceCoverageError, apply_length_policy, is_prepared, prepare_all, prepare_clip
from bench.data.synthetic import Corpus
from bench.faces import align
from bench.faces.align import warp_frames
from bench.media import Clip, MediaError, read_clip, write_clip
from bench.protocols import load_protocol

TOY = """
name = "{name}"
version = 1
dataset = "{dataset}"
description = "toy"
fps = 25.0
sample_rate = 16000
length_policy = "{length}"
aggregation = "mean-over-videos"
metrics = ["lmd"]
checksum = "TBD"

[crop]
mode = "{mode}"
size = {size}
min_coverage = 0.9

[splits.test]
speakers = []
"""


def _toy(tmp_path: Path, mode: str, size: int, dataset: str = "folder", length: str = "video", name: str = "toy"):
    write_protocol(tmp_path / name, TOY.format(name=name, dataset=dataset, mode=mode, size=size, length=length))
    return load_protocol(name, tmp_path / name)


def test_synthgrid_clip_prepared_losslessly_and_cached(synth: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    demo = load_protocol("synthgrid-demo-v1")
    record = synthgrid.scan(synth.root)[0]
    source = synth.clip(0)
    clip = prepare_clip(record, demo)
    assert np.array_equal(clip.frames, source.frames) and clip.fps == 25.0 and clip.sample_rate == 16000
    assert len(clip.audio) == clip.num_frames * 640  # length policy "video": audio cut or padded to 2 s
    n = min(len(source.audio), len(clip.audio))
    assert np.array_equal(clip.audio[:n], source.audio[:n])
    assert (clip.meta["utterance_id"], clip.meta["speaker"], clip.meta["transcript"]) == (
        record.utterance_id, "s01", record.transcript)  # fmt: skip
    assert clip.meta["protocol"] == "synthgrid-demo-v1" and is_prepared(record, demo)

    def refuse(*args: object) -> None:
        raise AssertionError("recomputed a cached clip")

    monkeypatch.setattr(prepare, "_process", refuse)
    again = prepare_clip(record, demo)
    assert np.array_equal(again.frames, clip.frames) and np.array_equal(again.audio, clip.audio)
    assert again.meta["transcript"] == record.transcript and again.meta["word_timings"][0][0] == record.word_timings[0][0]


def test_length_policies() -> None:
    frames = np.zeros((10, 8, 8, 3), np.uint8)
    short = Clip(frames, 25.0, np.ones(3000, np.float32), 16000)  # 0.1875 s of audio for 0.4 s of video
    padded = apply_length_policy(short, "video")
    assert len(padded.audio) == 6400 and padded.audio[:3000].all() and not padded.audio[3000:].any()
    cut = apply_length_policy(short, "min")
    assert cut.num_frames == 4 and len(cut.audio) == 2560  # floor(3000 / 640) frames
    long = Clip(frames, 25.0, np.ones(9000, np.float32), 16000)
    assert len(apply_length_policy(long, "video").audio) == 6400
    assert apply_length_policy(long, "min").num_frames == 10 and len(apply_length_policy(long, "none").audio) == 9000
    with pytest.raises(ValueError, match="shorter than one video frame"):
        apply_length_policy(Clip(frames, 25.0, np.ones(100, np.float32), 16000), "min")


def test_full_frame_and_aligned_face_on_real_grid(tmp_path: Path, grid_layout: Path) -> None:
    record = next(r for r in grid.scan(grid_layout) if r.utterance_id == "s1_bbaf2n")
    source = read_clip(record.video_path, fps=25.0, sample_rate=16000, require_audio=True)
    full = prepare_clip(record, _toy(tmp_path, "full-frame", 96, dataset="grid", name="full"))
    expected = np.stack([cv2.resize(f, (96, 96), interpolation=cv2.INTER_LINEAR) for f in source.frames])
    assert full.frames.shape == (75, 96, 96, 3) and np.array_equal(full.frames, expected)
    n = len(source.audio)  # this GRID clip's audio ends 353 samples before its 3 s of video: padded with zeros
    assert n == 47647 and len(full.audio) == 75 * 640
    assert np.array_equal(full.audio[:n], source.audio) and not full.audio[n:].any()
    aligned = prepare_clip(record, load_protocol("grid-speaker-independent-v1"))
    faces = align(source, size=128)
    assert aligned.frames.shape == (75, 128, 128, 3) and aligned.meta["face_coverage"] == 1.0
    assert aligned.meta["frames_without_face"] == [] and np.array_equal(aligned.frames, faces.crops)
    assert aligned.meta["transcript"] == "bin blue at f two now"


def test_frames_without_a_face_are_recorded_and_filled(tmp_path: Path, grid_dir: Path) -> None:
    clip = read_clip(grid_dir / "bbaf2n.mpg", fps=25.0, sample_rate=16000)
    frames = clip.frames.copy()
    frames[30:35] = np.random.default_rng(0).integers(0, 256, (5, *frames.shape[1:]), dtype=np.uint8)
    write_clip(tmp_path / "videos" / "s1" / "gap.mkv", clip.with_frames(frames))
    record = folder.scan(tmp_path / "videos")[0]
    prepared = prepare_clip(record, _toy(tmp_path, "aligned-face", 96))
    assert prepared.meta["frames_without_face"] == [30, 31, 32, 33, 34]
    assert prepared.meta["face_coverage"] == pytest.approx(70 / 75)
    faces = align(read_clip(record.video_path, fps=25.0, sample_rate=16000), size=96)
    assert np.array_equal(prepared.frames[29], faces.crops[29]) and np.array_equal(prepared.frames[35], faces.crops[35])
    nearest = [29, 29, 29, 35, 35]  # noise frames take the transform of the nearest frame with a face
    filled = warp_frames(frames[30:35], faces.transforms[nearest], 96, 96)
    assert np.array_equal(prepared.frames[30:35], filled) and filled.any()


def test_nearest_face_fill() -> None:
    found = np.array([False, True, False, False, True, False])
    assert prepare._nearest_found(found).tolist() == [1, 1, 1, 4, 4, 4]


def test_failures_are_recorded_and_runs_resume(tmp_path: Path, folder_layout: Path) -> None:
    noise_video(folder_layout / "noise.mkv")
    (folder_layout / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 truncated")
    records = folder.scan(folder_layout)
    protocol = _toy(tmp_path, "aligned-face", 64)
    report = prepare_all([r for r in records if r.utterance_id in ("noise", "broken")], protocol, progress=False)
    assert report.prepared == 0 and [f["utterance_id"] for f in report.failures] == ["broken", "noise"]
    rows = [json.loads(line) for line in report.failure_file.read_text().splitlines()]
    assert rows == report.failures and rows[1]["error"] == "FaceCoverageError"
    assert "face was found on 0% of 10 frames" in rows[1]["reason"] and "noise.mkv" in rows[1]["reason"]
    assert rows[0]["error"] == "MediaError" and "broken.mp4" in rows[0]["reason"]
    with pytest.raises(FaceCoverageError, match="below the 90% that protocol toy-v1 requires"):
        prepare_clip(next(r for r in records if r.utterance_id == "noise"), protocol)
    frames = _toy(tmp_path, "full-frame", 32, name="frames")
    first = prepare_all(records, frames, workers=2, progress=False)
    assert (first.prepared, first.cached, len(first.failures)) == (4, 0, 1)  # worker processes; broken.mp4 fails
    second = prepare_all(records, frames, workers=2, progress=False)
    assert (second.prepared, second.cached, len(second.failures)) == (0, 4, 1)  # resumed: nothing recomputed
    assert prepare_clip(records[0], frames).frames.shape[1:] == (32, 32, 3)


def test_cross_audio_pair_and_crop_none_size_check(tmp_path: Path, lrs2_layout: Path, synth: Corpus) -> None:
    pair = lrs2.pair_records(lrs2_layout, "evaluation/test_filelists/lrs2.txt")[0]
    protocol = _toy(tmp_path, "none", 128, dataset="lrs2", length="min")
    clip = prepare_clip(pair, protocol)
    audio_source = read_clip(pair.audio_path, fps=25.0, sample_rate=16000)
    video_source = read_clip(pair.video_path, fps=25.0, sample_rate=16000)
    assert np.array_equal(clip.audio, audio_source.audio[: len(clip.audio)])
    assert np.array_equal(clip.frames, video_source.frames[: clip.num_frames])
    assert clip.meta["transcript"] == synth.records[0].transcript  # the words of the audio source
    wrong = _toy(tmp_path, "none", 160, dataset="lrs2", name="lrs")
    with pytest.raises(ValueError, match=r"00017.mp4: frames are 128x128, protocol lrs-v1 takes them as they are at 160x160"):
        prepare_clip(pair, wrong)


def test_separate_wav_audio_replaces_the_video_track(tmp_path: Path, tcd_layout: Path, synth_clips: list) -> None:
    from bench.data import tcd_timit

    record = next(r for r in tcd_timit.scan(tcd_layout) if r.utterance_id == "Lipspkr1_sx2")
    assert record.audio_path is not None and record.audio_path.suffix == ".wav"
    clip = prepare_clip(record, _toy(tmp_path, "none", 128, dataset="tcd-timit"))
    source = synth_clips[3]  # the clip written as lipspeakers/Lipspkr1/Clips/straightcam/sx2.mp4 + sx2.wav
    n = min(len(source.audio), len(clip.audio))
    assert len(clip.audio) == clip.num_frames * 640 and np.array_equal(clip.audio[:n], source.audio[:n])
    assert clip.meta["audio_path"] == str(record.audio_path)


def test_wav_audio_is_read_as_librosa_load_reads_it(tmp_path: Path) -> None:
    import librosa
    import scipy.io.wavfile

    rng = np.random.default_rng(1)
    stereo = (0.3 * rng.standard_normal((48000, 2))).astype(np.float32)  # 1 s at TCD-TIMIT's 48 kHz
    scipy.io.wavfile.write(tmp_path / "a.wav", 48000, stereo)
    ours = prepare._read_audio(tmp_path / "a.wav", 16000)
    reference, _ = librosa.load(tmp_path / "a.wav", sr=16000, mono=True)  # soxr_hq by default
    assert ours.dtype == np.float32 and ours.shape == reference.shape == (16000,)
    np.testing.assert_allclose(ours, reference, atol=1e-6, rtol=0)  # float64 vs float32 soxr input
    (tmp_path / "b.wav").write_bytes(b"RIFF....WAVEfmt ")
    with pytest.raises(MediaError, match="b.wav: not a readable audio file"):
        prepare._read_audio(tmp_path / "b.wav", 16000)


def test_face_tracks_are_cached_for_the_metrics(synth: Corpus) -> None:
    from dataclasses import asdict

    from bench.faces import TrackSettings
    from bench.faces.cache import cache_path

    demo = load_protocol("synthgrid-demo-v1")
    record = synthgrid.scan(synth.root)[1]
    report = prepare_all([record], demo, progress=False, face_tracks=True)
    assert report.prepared == 1 and not report.failures
    assert cache_path(prepare_clip(record, demo), "track", asdict(TrackSettings())).is_file()
