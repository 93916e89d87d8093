"""The synthetic demo corpus "synthgrid": determinism, manifest, ground truth, and what dlib sees in it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.data.synth_speech import GRID_GRAMMAR, Voice, synthesize_word
from bench.data.synthetic import (
    MANIFEST_COLUMNS,
    Corpus,
    SynthConfig,
    demo_corpus,
    load_corpus,
    synthesize_clip,
    synthesize_corpus,
)
from bench.faces.detect import detect_faces
from bench.faces.landmarks import eye_aspect_ratio, predict_landmarks
from bench.media import read_clip

SMALL = {"speakers": 2, "sentences": 2, "seed": 0}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return synthesize_corpus(tmp_path_factory.mktemp("synthgrid"), **SMALL, workers=1, progress=False)


@pytest.fixture(scope="module")
def clips(corpus: Corpus) -> list:
    return [corpus.clip(rec) for rec in corpus]


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _lip_gap(landmarks: np.ndarray) -> np.ndarray:
    """Mean distance between the inner upper and lower lip points (61-67, 62-66, 63-65)."""
    return np.linalg.norm(landmarks[:, [61, 62, 63]] - landmarks[:, [67, 66, 65]], axis=-1).mean(-1)


def _frame_rms(clip) -> np.ndarray:
    hop = clip.sample_rate // int(clip.fps)
    frames = clip.audio[: clip.num_frames * hop].reshape(clip.num_frames, hop).astype(np.float64)
    return np.sqrt(np.mean(frames**2, axis=1))


def test_same_seed_gives_identical_files_serial_or_parallel(corpus: Corpus, tmp_path: Path) -> None:
    again = synthesize_corpus(tmp_path / "again", **SMALL, workers=2, progress=False)
    first, second = _tree(corpus.root), _tree(again.root)
    assert sorted(first) == sorted(second)
    assert len(first) == 2 + 4 * 3  # manifest, corpus.json, and a clip + two sidecars per utterance
    for name, data in first.items():
        assert data == second[name], name


def test_espeak_output_does_not_depend_on_earlier_calls() -> None:
    voice = Voice("en-us+f4", rate=200, pitch=60)
    first, phones = synthesize_word("blue", voice)
    synthesize_word("seven", Voice("en-us+m3"))
    second, phones_again = synthesize_word("blue", voice)
    assert np.array_equal(first, second) and phones == phones_again
    assert [p.lstrip("'") for p, _ in phones if not p.startswith("_")] == ["b", "l", "u:"]
    with pytest.raises(ValueError, match="breath noise"):  # such variants vary from run to run
        synthesize_word("blue", Voice("en-us+f3"))


def test_other_seed_gives_other_corpus(corpus: Corpus, tmp_path: Path) -> None:
    other = synthesize_corpus(tmp_path / "other", speakers=1, sentences=1, seed=1, workers=1, progress=False)
    a, b = corpus.clip(0), other.clip(0)
    assert not np.array_equal(a.frames, b.frames)
    assert not np.array_equal(a.audio, b.audio)
    assert a.meta["transcript"] != b.meta["transcript"]


def test_manifest_rows_and_columns(corpus: Corpus) -> None:
    with open(corpus.root / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == MANIFEST_COLUMNS
    assert [r["speaker"] for r in rows] == ["s01", "s01", "s02", "s02"]
    assert len({r["utterance_id"] for r in rows}) == 4
    for row in rows:
        words = row["transcript"].split()
        assert len(words) == 6 and all(w in slot for w, slot in zip(words, GRID_GRAMMAR, strict=True))
        assert [w for w, _, _ in json.loads(row["word_timings"])] == words
        clip = read_clip(corpus.root / row["path"], require_audio=True)
        assert clip.frames.shape == (50, 128, 128, 3) and int(row["num_frames"]) == 50
        assert clip.sample_rate == 16000 and abs(len(clip.audio) - 32000) <= 1
        blinks = json.loads(row["blink_frames"])
        assert 1 <= len(blinks) <= 2 and all(3 <= d <= 5 and 0 <= o and o + d <= 50 for o, d in blinks)


def test_load_clip_carries_ground_truth(clips: list) -> None:
    for clip in clips:
        assert clip.meta["landmarks"].shape == (clip.num_frames, 68, 2)
        assert clip.meta["landmarks"].dtype == np.float32
        assert clip.meta["truth"]["utterance_id"] == clip.meta["utterance_id"]
        assert len(clip.meta["truth"]["mouth_opening"]) == clip.num_frames


def test_word_timings_are_ordered_and_inside_the_audio(clips: list) -> None:
    for clip in clips:
        words = clip.meta["words"]
        starts = np.array([s for _, s, _ in words])
        ends = np.array([e for _, _, e in words])
        assert np.all(ends > starts + 0.05)
        assert np.all(starts[1:] >= ends[:-1])
        assert starts[0] > 0.05 and ends[-1] <= len(clip.audio) / clip.sample_rate - 0.05


def test_speech_is_loud_inside_words_and_quiet_between(clips: list) -> None:
    for clip in clips:
        sr, audio = clip.sample_rate, clip.audio
        inside = np.zeros(len(audio), bool)
        for _, start, end in clip.meta["words"]:
            inside[int(start * sr) : int(end * sr)] = True
        rms_in = np.sqrt(np.mean(audio[inside] ** 2))
        rms_out = np.sqrt(np.mean(audio[~inside] ** 2))
        assert np.abs(audio).max() > 0.3
        assert rms_in > 20 * rms_out, (rms_in, rms_out)


def test_mouth_opening_follows_audio_energy(clips: list) -> None:
    for clip in clips:
        gap = _lip_gap(clip.meta["landmarks"])
        rms = _frame_rms(clip)
        assert np.corrcoef(gap, rms)[0, 1] > 0.6
        words = clip.meta["words"]
        t = (np.arange(clip.num_frames) + 0.5) / clip.fps
        silent = (t < words[0][1] - 0.06) | (t > words[-1][2] + 0.06)
        assert silent.sum() >= 3 and gap[silent].max() < min(0.6, gap.min() + 0.05)  # shut before and after it
        assert gap.max() > 5.0  # and wide open somewhere (pixels at 128x128)


def _dominant_phone(phones: list, k: int, fps: float) -> str | None:
    """The phone covering at least half of frame ``k``."""
    for phone, start, end in phones:
        if min(end, (k + 1) / fps) - max(start, k / fps) >= 0.5 / fps:
            return phone
    return None


def test_lips_close_on_bilabials_and_open_wide_on_open_vowels(clips: list) -> None:
    gaps: dict[str, list[float]] = {"bilabial": [], "open": [], "close": []}
    classes = {"p": "bilabial", "b": "bilabial", "m": "bilabial", "aI": "open", "aU": "open", "a": "open",
               "A:": "open", "V": "open", "i:": "close", "I": "close", "u:": "close", "i": "close"}  # fmt: skip
    for clip in clips:
        gap = _lip_gap(clip.meta["landmarks"])
        for k in range(clip.num_frames):
            phone = _dominant_phone(clip.meta["truth"]["phones"], k, clip.fps)
            if phone in classes:
                gaps[classes[phone]].append(gap[k] - (gap.min() if classes[phone] == "bilabial" else 0))
    assert len(gaps["bilabial"]) >= 2 and max(gaps["bilabial"]) < 0.05  # as shut as the lips ever are
    assert len(gaps["open"]) >= 4 and len(gaps["close"]) >= 4
    assert np.mean(gaps["open"]) > 1.5 * np.mean(gaps["close"])


def test_blinks_show_in_the_eye_aspect_ratio(clips: list) -> None:
    for clip in clips:
        ear = eye_aspect_ratio(clip.meta["landmarks"])
        blinking = np.zeros(clip.num_frames, bool)
        for onset, duration in clip.meta["blinks"]:
            blinking[onset : onset + duration] = True
            assert ear[onset : onset + duration].min() < 0.25 * np.median(ear)
        assert ear[~blinking].min() > 0.85 * np.median(ear[~blinking])


def test_dlib_finds_the_face_and_the_blinks(clips: list) -> None:
    found, total, ear_open, ear_shut, errors = 0, 0, [], [], []
    for clip in clips:
        closure = np.asarray(clip.meta["truth"]["eyelid_closure"])
        for k in range(0, clip.num_frames, 2):
            total += 1
            boxes, _ = detect_faces(clip.frames[k], "hog", upsample=1)
            if len(boxes) == 0:
                continue
            found += 1
            points = predict_landmarks(clip.frames[k], boxes[0])
            errors.append(np.linalg.norm(points - clip.meta["landmarks"][k], axis=1).mean())
            ear = float(eye_aspect_ratio(points))
            (ear_shut if closure[k] >= 1.0 else ear_open if closure[k] == 0 else []).append(ear)
    assert found / total >= 0.95, f"dlib found the face on {found}/{total} frames"
    assert ear_shut and np.median(ear_shut) < 0.6 * np.median(ear_open)
    assert np.mean(errors) < 1.5  # dlib puts the landmarks where the frames were warped to (pixels)


def test_cli_writes_clips_and_manifest(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    args = ["data", "synth", "--out", str(out), "--speakers", "1", "--sentences", "1", "--workers", "1"]
    assert main([*args, "--no-progress"]) == 0
    corpus = load_corpus(out)
    assert len(corpus) == 1 and corpus.records[0].path.is_file()
    assert (out / "manifest.csv").read_text().startswith(",".join(MANIFEST_COLUMNS))


def test_demo_corpus_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKBENCH_CACHE", str(tmp_path))
    first = demo_corpus(speakers=1, sentences=1, workers=1)
    stamp = (first.root / "manifest.csv").stat().st_mtime_ns
    second = demo_corpus(speakers=1, sentences=1, workers=1)
    assert second.root == first.root and first.root.is_relative_to(tmp_path / "synthgrid")
    assert (second.root / "manifest.csv").stat().st_mtime_ns == stamp
    assert not list((tmp_path / "synthgrid").glob(".*tmp"))


def test_bad_settings_and_missing_corpus(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one speaker"):
        SynthConfig(speakers=0)
    with pytest.raises(ValueError, match="at least 64 pixels"):
        SynthConfig(size=32)
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got -4"):
        SynthConfig(seed=-4)
    with pytest.raises(ValueError, match="outside 1 speakers x 1 sentences"):
        synthesize_clip(SynthConfig(speakers=1, sentences=1), 0, 1)
    with pytest.raises(FileNotFoundError, match="manifest.csv"):
        load_corpus(tmp_path)
