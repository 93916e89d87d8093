"""The built-in demo corpus "synthgrid": synthetic talking faces with known ground truth.

N speakers x M GRID-grammar sentences (``command colour preposition letter digit adverb``), spoken by espeak-ng
(:mod:`bench.data.synth_speech`) on faces made from scikit-image's astronaut photograph
(:mod:`bench.data.synth_face`), whose lips follow the speech, eyes blink at known frames and head moves a little
(:mod:`bench.data.synth_motion`). Everything is a function of the seed: the same seed gives byte-identical files.

On disk (``talkbench data synth --out DIR``)::

    DIR/manifest.csv                     one row per clip (columns: :data:`MANIFEST_COLUMNS`)
    DIR/corpus.json                      generation settings and version
    DIR/s01/s01_bbaf2n.avi               FFV1 video + float PCM audio (lossless, byte-deterministic)
    DIR/s01/s01_bbaf2n.json              ground truth: words, phones, blinks, mouth opening, voice, identity
    DIR/s01/s01_bbaf2n.landmarks.npy     float32 [T, 68, 2] landmarks the frames were warped to

``manifest.csv`` columns ``blink_frames`` and ``word_timings`` hold JSON: ``[[onset_frame, duration_frames], ...]``
and ``[[word, start_s, end_s], ...]``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from bench.cache import cache_dir, cache_key
from bench.data import synth_motion as motion
from bench.data.synth_face import face_template, make_identity
from bench.data.synth_speech import GRID_GRAMMAR, SAMPLE_RATE, Voice, random_sentence, synthesize_sentence
from bench.io import read_json, write_json_atomic, write_text_atomic
from bench.media import Clip
from bench.seeds import check_seed

DATASET = "synthgrid"
VERSION = 3
"""Bumped whenever a change to the generator changes its output (it is part of the cache key)."""

FPS = 25.0
MANIFEST_COLUMNS = (
    "utterance_id", "speaker", "path", "transcript", "blink_frames", "word_timings",
    "num_frames", "fps", "duration", "sample_rate", "truth", "landmarks",
)  # fmt: skip

_VOICES = ("en-us+m1", "en-us+m2", "en-us+m3", "en-us+m4", "en-us+m6", "en-us+m7", "en-us+f1", "en-us+f4",
           "en-us+Annie", "en-us+Andrea", "en-gb-x-rp+m3", "en-gb-x-rp+f4")  # fmt: skip
"""espeak-ng voices of the speakers: variants without breath noise, each checked to repeat bit-exactly."""


@dataclass(frozen=True)
class SynthConfig:
    """Settings of a synthetic corpus (all of them enter the cache key)."""

    speakers: int = 8
    sentences: int = 12
    seed: int = 0
    size: int = 128
    duration: float = 2.0
    fps: float = FPS

    def __post_init__(self) -> None:
        """Reject settings that cannot make a corpus."""
        check_seed(self.seed)
        if self.speakers < 1 or self.sentences < 1:
            raise ValueError(f"synthgrid needs at least one speaker and sentence, got {self.speakers}x{self.sentences}")
        if self.size < 64:
            raise ValueError(f"synthgrid frame size must be at least 64 pixels (dlib must find the face), got {self.size}")
        if not 1.0 <= self.duration <= 10.0:
            raise ValueError(f"synthgrid clip duration must be within 1-10 s, got {self.duration}")
        if self.sentences > _grammar_size():
            raise ValueError(f"GRID has {_grammar_size()} distinct sentences, {self.sentences} were asked for")

    @property
    def num_frames(self) -> int:
        """Frames per clip."""
        return int(round(self.duration * self.fps))


@dataclass(frozen=True)
class SynthRecord:
    """One clip of a synthetic corpus, as listed in its manifest."""

    utterance_id: str
    speaker: str
    path: Path
    transcript: str
    blinks: tuple[tuple[int, int], ...]
    words: tuple[tuple[str, float, float], ...]
    num_frames: int
    truth_path: Path
    landmarks_path: Path


@dataclass
class Corpus:
    """A synthetic corpus on disk: its root folder, settings and records."""

    root: Path
    config: SynthConfig
    records: list[SynthRecord]

    def __len__(self) -> int:
        """Number of clips."""
        return len(self.records)

    def __iter__(self) -> Iterator[SynthRecord]:
        """Records in manifest order."""
        return iter(self.records)

    def record(self, key: int | str) -> SynthRecord:
        """A record by position or utterance id."""
        if isinstance(key, int):
            return self.records[key]
        for rec in self.records:
            if rec.utterance_id == key:
                return rec
        raise KeyError(f"{self.root}: no utterance {key!r} in the synthgrid manifest")

    def clip(self, key: int | str | SynthRecord) -> Clip:
        """Read one clip with its ground truth in ``Clip.meta`` (see :func:`load_clip`)."""
        return load_clip(key if isinstance(key, SynthRecord) else self.record(key))

    def speakers(self) -> list[str]:
        """Speaker ids in order of first appearance."""
        return list(dict.fromkeys(rec.speaker for rec in self.records))


def _grammar_size() -> int:
    return int(np.prod([len(slot) for slot in GRID_GRAMMAR]))


def speaker_id(index: int) -> str:
    """Speaker id of the ``index``-th (0-based) speaker: ``s01``, ``s02``..."""
    return f"s{index + 1:02d}"


def _grid_code(words: list[str]) -> str:
    """GRID-style utterance code: first letters of command, colour, preposition, then letter, digit, adverb."""
    digit = str(GRID_GRAMMAR[4].index(words[4]))
    return f"{words[0][0]}{words[1][0]}{words[2][0]}{words[3]}{digit}{words[5][0]}"


def speaker_plan(config: SynthConfig, index: int) -> dict[str, Any]:
    """Voice, articulation and sentences of one speaker, drawn from its own seed."""
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, index, 1]))
    voice = Voice(
        name=_VOICES[int(rng.integers(len(_VOICES)))],
        rate=int(rng.integers(185, 240)),
        pitch=int(rng.integers(25, 80)),
        pitch_range=int(rng.integers(30, 85)),
        gain=float(rng.uniform(0.45, 0.85)),
    )
    sentences: list[list[str]] = []
    codes: set[str] = set()
    while len(sentences) < config.sentences:
        words = random_sentence(rng)
        if _grid_code(words) not in codes:
            codes.add(_grid_code(words))
            sentences.append(words)
    return {"voice": voice, "articulation": float(rng.uniform(0.8, 1.1)), "sentences": sentences}


def synthesize_clip(config: SynthConfig, speaker: int, sentence: int) -> tuple[Clip, dict[str, Any]]:
    """Generate one clip in memory.

    Returns:
        The clip (``meta`` holds the ground truth, ``meta["landmarks"]`` float32 ``[T, 68, 2]``) and the JSON-able
        ground-truth record.

    Raises:
        ValueError: ``speaker`` or ``sentence`` is outside the corpus settings.
    """
    if not (0 <= speaker < config.speakers and 0 <= sentence < config.sentences):
        raise ValueError(
            f"synthgrid clip ({speaker}, {sentence}) is outside {config.speakers} speakers x {config.sentences} sentences"
        )
    plan = speaker_plan(config, speaker)
    identity = make_identity(np.random.default_rng(np.random.SeedSequence([config.seed, speaker, 2])), config.size)
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, speaker, 3, sentence]))
    words = plan["sentences"][sentence]
    speech = synthesize_sentence(words, plan["voice"], rng, config.duration)
    t = config.num_frames
    opening, spread = motion.mouth_track(speech, config.fps, t, plan["articulation"])
    blinks = motion.blink_schedule(rng, t)
    closure = motion.closure_track(blinks, t)
    poses = motion.head_poses(rng, t, config.fps, config.size, identity.landmarks.mean(0))
    local = motion.local_landmarks(identity.landmarks, opening, spread, closure)
    frames = motion.render_frames(identity, local, poses, closure)
    landmarks = motion.pose_points(local, poses).astype(np.float32)
    utt = f"{speaker_id(speaker)}_{_grid_code(words)}"
    truth = {
        "dataset": DATASET, "version": VERSION, "utterance_id": utt, "speaker": speaker_id(speaker),
        "transcript": " ".join(words), "fps": config.fps, "sample_rate": SAMPLE_RATE, "num_frames": t,
        "words": [[w, round(s, 6), round(e, 6)] for w, s, e in speech.words],
        "phones": [[p, round(s, 6), round(e, 6)] for p, s, e in speech.phones],
        "blinks": [[int(o), int(d)] for o, d in blinks],
        "eyelid_closure": _rounded(closure), "mouth_opening": _rounded(opening), "lip_spread": _rounded(spread),
        "voice": asdict(plan["voice"]), "identity": identity.style, "seed": config.seed,
    }  # fmt: skip
    meta = {"utterance_id": utt, "speaker": speaker_id(speaker), "transcript": truth["transcript"],
            "words": speech.words, "blinks": blinks, "landmarks": landmarks, "truth": truth}  # fmt: skip
    return Clip(frames, config.fps, speech.audio, SAMPLE_RATE, meta), truth


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 5) for v in values]


def _write_one(root: str, config: SynthConfig, speaker: int, sentence: int) -> dict[str, str]:
    """Generate and write one clip with its sidecars; return its manifest row (runs in worker processes)."""
    from bench.io import atomic_path
    from bench.media import write_clip

    clip, truth = synthesize_clip(config, speaker, sentence)
    utt, spk = truth["utterance_id"], truth["speaker"]
    folder = Path(root) / spk
    folder.mkdir(parents=True, exist_ok=True)
    write_clip(folder / f"{utt}.avi", Clip(clip.frames, clip.fps, clip.audio, clip.sample_rate, {"utterance_id": utt}))
    write_json_atomic(folder / f"{utt}.json", truth)
    with atomic_path(folder / f"{utt}.landmarks.npy") as tmp, open(tmp, "wb") as f:
        np.save(f, clip.meta["landmarks"])
    return {
        "utterance_id": utt, "speaker": spk, "path": f"{spk}/{utt}.avi", "transcript": truth["transcript"],
        "blink_frames": json.dumps(truth["blinks"]), "word_timings": json.dumps(truth["words"]),
        "num_frames": str(clip.num_frames), "fps": str(config.fps), "duration": str(config.duration),
        "sample_rate": str(SAMPLE_RATE), "truth": f"{spk}/{utt}.json", "landmarks": f"{spk}/{utt}.landmarks.npy",
    }  # fmt: skip


def synthesize_corpus(
    out_dir: str | os.PathLike[str] | None = None,
    speakers: int = 8,
    sentences: int = 12,
    seed: int = 0,
    size: int = 128,
    duration: float = 2.0,
    workers: int | None = None,
    progress: bool = True,
) -> Corpus:
    """Generate the corpus into ``out_dir`` (default: its place in the cache) and return it.

    Args:
        out_dir: output folder; existing clips of the same names are overwritten. None: the corpus's place in
            the cache (as used by :func:`demo_corpus`), replaced atomically.
        speakers: number of speakers (identity + voice each).
        sentences: GRID sentences per speaker.
        seed: the corpus is a function of this seed (and the other settings) only.
        size: frame height and width in pixels.
        duration: clip length in seconds; every sentence is spoken completely inside it.
        workers: processes to use (default: up to the CPU count); 1 runs in this process. Workers are spawned,
            so a script calling this with ``workers > 1`` needs the usual ``if __name__ == "__main__":`` guard.
        progress: show a progress bar on stderr.
    """
    config = SynthConfig(speakers, sentences, seed, size, duration)
    if out_dir is None:
        return _into_cache(config, workers, progress, replace=True)
    return _generate(Path(out_dir), config, workers, progress)


def _generate(root: Path, config: SynthConfig, workers: int | None, progress: bool) -> Corpus:
    """Write every clip, then ``corpus.json`` and ``manifest.csv`` (last, so a manifest means a complete corpus)."""
    root.mkdir(parents=True, exist_ok=True)
    face_template()  # detect the template's landmarks once, before any worker needs them
    jobs = [(s, j) for s in range(config.speakers) for j in range(config.sentences)]
    workers = min(len(jobs), workers if workers is not None else os.cpu_count() or 1)
    rows: dict[tuple[int, int], dict[str, str]] = {}
    from tqdm import tqdm

    with tqdm(total=len(jobs), desc="synthgrid", unit="clip", disable=not progress) as bar:
        if workers <= 1:
            for job in jobs:
                rows[job] = _write_one(str(root), config, *job)
                bar.update()
        else:
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                futures = {pool.submit(_write_one, str(root), config, *job): job for job in jobs}
                for future in as_completed(futures):
                    rows[futures[future]] = future.result()
                    bar.update()
    write_json_atomic(root / "corpus.json", {"dataset": DATASET, "version": VERSION, **asdict(config)})
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows[job] for job in jobs)
    write_text_atomic(root / "manifest.csv", text.getvalue())
    return load_corpus(root)


def _into_cache(config: SynthConfig, workers: int | None, progress: bool, replace: bool) -> Corpus:
    """Generate into a temporary sibling of the cache folder and rename it into place when complete.

    An interrupted run never leaves a corpus that looks complete; of two concurrent runs, the first to finish wins.
    """
    root = _cache_root(config)
    tmp = root.parent / f".{root.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    _generate(tmp, config, workers, progress)
    if replace or not (root / "manifest.csv").is_file():
        shutil.rmtree(root, ignore_errors=True)
    try:
        os.rename(tmp, root)
    except OSError:  # another run put a complete corpus there first
        shutil.rmtree(tmp, ignore_errors=True)
    return load_corpus(root)


def _cache_root(config: SynthConfig) -> Path:
    return cache_dir(DATASET) / cache_key(dataset=DATASET, version=VERSION, **asdict(config))


def demo_corpus(
    speakers: int = 8,
    sentences: int = 12,
    seed: int = 0,
    size: int = 128,
    duration: float = 2.0,
    workers: int | None = None,
    progress: bool = False,
) -> Corpus:
    """The cached corpus for these settings: generated once under ``$TALKBENCH_CACHE/synthgrid``, then reused."""
    config = SynthConfig(speakers, sentences, seed, size, duration)
    root = _cache_root(config)
    if (root / "manifest.csv").is_file():
        return load_corpus(root)
    return _into_cache(config, workers, progress, replace=False)


def load_corpus(root: str | os.PathLike[str]) -> Corpus:
    """Read a corpus written by :func:`synthesize_corpus`.

    Raises:
        FileNotFoundError: ``root`` has no ``manifest.csv`` or ``corpus.json``.
        ValueError: the manifest lacks columns or lists a clip that is missing.
    """
    root = Path(root)
    manifest, settings = root / "manifest.csv", root / "corpus.json"
    for path in (manifest, settings):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not found; create the corpus with `talkbench data synth --out {root}`")
    info = read_json(settings)
    config = SynthConfig(**{k: info[k] for k in ("speakers", "sentences", "seed", "size", "duration", "fps")})
    with open(manifest, newline="") as f:
        reader = csv.DictReader(f)
        missing = set(MANIFEST_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{manifest}: missing columns {sorted(missing)}")
        records = [_record(root, manifest, row) for row in reader]
    return Corpus(root, config, records)


def _record(root: Path, manifest: Path, row: dict[str, str]) -> SynthRecord:
    path = root / row["path"]
    if not path.is_file():
        raise ValueError(f"{manifest}: clip {row['utterance_id']} lists {path}, which does not exist")
    return SynthRecord(
        utterance_id=row["utterance_id"],
        speaker=row["speaker"],
        path=path,
        transcript=row["transcript"],
        blinks=tuple((int(o), int(d)) for o, d in json.loads(row["blink_frames"])),
        words=tuple((str(w), float(s), float(e)) for w, s, e in json.loads(row["word_timings"])),
        num_frames=int(row["num_frames"]),
        truth_path=root / row["truth"],
        landmarks_path=root / row["landmarks"],
    )


def load_clip(record: SynthRecord) -> Clip:
    """Read a synthetic clip; ``meta`` gets the ground truth.

    ``meta`` keys: ``utterance_id``, ``speaker``, ``transcript``, ``words`` (``(word, start_s, end_s)``), ``blinks``
    (``(onset_frame, duration_frames)``), ``landmarks`` (float32 ``[T, 68, 2]``) and ``truth`` (the JSON sidecar).
    """
    from bench.media import read_clip

    clip = read_clip(record.path, fps=None, sample_rate=None, require_audio=True)
    truth = read_json(record.truth_path)
    landmarks = np.load(record.landmarks_path)
    if landmarks.shape != (clip.num_frames, 68, 2):
        raise ValueError(f"{record.landmarks_path}: landmarks {landmarks.shape} do not match {clip.num_frames} frames")
    clip.meta.update(
        utterance_id=record.utterance_id, speaker=record.speaker, transcript=record.transcript,
        words=list(record.words), blinks=list(record.blinks), landmarks=landmarks, truth=truth,
    )  # fmt: skip
    return clip
