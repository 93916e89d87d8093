"""Preprocessing a protocol's clips into the on-disk cache: decode, rate conversion, length policy, face crop.

:func:`prepare_clip` applies a protocol's preprocessing to one record and caches the result losslessly under
``cache_dir("prepared", key)`` (``clip.mkv`` + ``meta.json``; the key covers the record, its source files' size and
modification time, and the protocol's id, fps, audio rate, crop and length policy). :func:`prepare_all` does it for
many records in parallel worker processes, skips clips already cached (so an interrupted run resumes), and writes
one JSON line per failed video to ``cache_dir("prepared") / "failures-<protocol>.jsonl"``: no video is dropped
silently.

Steps, in order:

1. Video read at the protocol's fps (timestamp-based conversion) and audio at its sample rate (soxr HQ), by
   :func:`bench.media.read_clip`; a record's separate ``audio_path`` (a ``.wav``, or for cross-audio pairs another
   video) replaces the video's own track.
2. Length policy: ``video`` cuts or zero-pads the audio to the video's duration; ``min`` cuts both to the shorter;
   ``none`` keeps them as read.
3. Crop: ``none`` keeps the frames (and checks they are ``size x size`` when the protocol gives a size);
   ``full-frame`` resizes the whole frame (bilinear, OpenCV's default, as Wav2Lip's LRS scoring);
   ``aligned-face`` warps each frame to the canonical face (:func:`bench.faces.align`). A clip whose face coverage is
   below the protocol's ``min_coverage`` is refused with :class:`FaceCoverageError`; above it, frames without a face
   take the transform of the nearest frame with one, and ``meta`` records ``face_coverage`` and
   ``frames_without_face``, so the gap is visible to every result built on the clip.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from bench.cache import cache_dir, cache_key
from bench.data.records import UtteranceRecord, thaw
from bench.io import read_json, write_json_atomic, write_text_atomic
from bench.media import Clip, MediaError, read_clip, write_clip

if TYPE_CHECKING:
    from bench.protocols import Protocol

_AUDIO_FILES = (".wav", ".flac", ".ogg")
_EXPECTED_ERRORS = (MediaError, ValueError, FileNotFoundError, OSError)


class FaceCoverageError(ValueError):
    """Too few frames of a clip have a detected face for an ``aligned-face`` protocol."""


def _stamp(path: Path | None) -> list[int] | None:
    if path is None:
        return None
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such media file")
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def prepared_dir(record: UtteranceRecord, protocol: Protocol) -> Path:
    """The cache folder of ``record`` under ``protocol`` (created on demand)."""
    key = cache_key(
        dataset=record.dataset, utterance=record.utterance_id, video=str(record.video_path),
        audio=str(record.audio_path), video_stamp=_stamp(record.video_path), audio_stamp=_stamp(record.audio_path),
        **protocol.preprocessing(),
    )  # fmt: skip
    return cache_dir("prepared", key)


def is_prepared(record: UtteranceRecord, protocol: Protocol) -> bool:
    """True when ``record``'s prepared clip is in the cache (``meta.json`` is written last)."""
    folder = prepared_dir(record, protocol)
    return (folder / "meta.json").is_file() and (folder / "clip.mkv").is_file()


def _read_audio(path: Path, sample_rate: int) -> np.ndarray:
    if path.suffix.lower() in _AUDIO_FILES:
        import soundfile

        from bench.audio import resample

        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such audio file")
        try:
            samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
        except soundfile.LibsndfileError as exc:
            raise MediaError(f"{path}: not a readable audio file ({exc})") from exc
        if samples.size == 0:
            raise MediaError(f"{path}: the audio file holds no samples")
        # mono by averaging and soxr HQ resampling, as read_clip (and librosa.load) do
        return np.clip(resample(samples.mean(axis=1), int(rate), sample_rate), -1.0, 1.0)
    # the audio of another video (cross-audio pairs): 1 fps decodes few frames to RGB and never refuses VFR video
    clip = read_clip(path, fps=1.0, sample_rate=sample_rate, require_audio=True)
    return clip.audio  # type: ignore[return-value]


def apply_length_policy(clip: Clip, policy: str) -> Clip:
    """Cut or pad per ``policy`` (``video``, ``min`` or ``none``; see the module docstring)."""
    if policy == "none" or clip.audio is None:
        return clip
    per_frame = clip.sample_rate / clip.fps
    if policy == "video":
        want = int(round(clip.num_frames * per_frame))
        audio = clip.audio[:want]
        if len(audio) < want:
            audio = np.concatenate([audio, np.zeros(want - len(audio), np.float32)])
        return clip.with_audio(audio)
    if policy == "min":
        frames = min(clip.num_frames, int(len(clip.audio) / per_frame + 1e-9))
        if frames < 1:
            raise ValueError(f"{clip.name}: audio shorter than one video frame; nothing left under length policy min")
        return Clip(clip.frames[:frames], clip.fps, clip.audio[: int(round(frames * per_frame))], clip.sample_rate,
                    dict(clip.meta))  # fmt: skip
    raise ValueError(f"unknown length policy {policy!r}")


def _nearest_found(found: np.ndarray) -> np.ndarray:
    """For every frame, the index of the nearest frame with a face (ties: the earlier one)."""
    idx = np.flatnonzero(found)
    pos = np.searchsorted(idx, np.arange(len(found)))
    left, right = idx[np.clip(pos - 1, 0, len(idx) - 1)], idx[np.clip(pos, 0, len(idx) - 1)]
    frames = np.arange(len(found))
    return np.where(np.abs(frames - left) <= np.abs(right - frames), left, right)


def apply_crop(clip: Clip, protocol: Protocol) -> tuple[Clip, dict[str, Any]]:
    """Crop ``clip`` per the protocol; returns the clip and the metadata the crop adds."""
    crop = protocol.crop
    return apply_crop_spec(clip, crop.mode, crop.size, crop.min_coverage, protocol.full_id)


def apply_crop_spec(
    clip: Clip, mode: str, size: int | None, min_coverage: float, protocol_id: str | None
) -> tuple[Clip, dict[str, Any]]:
    """Crop ``clip`` to ``mode`` at ``size`` (see :class:`bench.protocols.Crop`); the clip and what the crop adds.

    Raises:
        ValueError: crop mode ``none`` and frames of another size (named, with the size expected).
        FaceCoverageError: an ``aligned-face`` crop with faces on fewer than ``min_coverage`` of the frames.
    """
    if mode == "none":
        if size is not None and clip.size != (size, size):
            raise ValueError(
                f"{clip.name}: frames are {clip.size[0]}x{clip.size[1]}, protocol {protocol_id} takes them as "
                f"they are at {size}x{size} (crop mode none)"
            )
        return clip, {}
    size = int(size or 0)  # validated: modes other than none have a size
    if mode == "full-frame":
        frames = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_LINEAR) for f in clip.frames])
        return clip.with_frames(frames), {}
    from bench.faces import align
    from bench.faces.align import warp_frames

    faces = align(clip, size=size)
    coverage = float(faces.found.mean())
    missing = [int(t) for t in np.flatnonzero(~faces.found)]
    if coverage < min_coverage or not faces.found.any():
        raise FaceCoverageError(
            f"{clip.name}: a face was found on {coverage:.0%} of {clip.num_frames} frames, below the "
            f"{min_coverage:.0%} that protocol {protocol_id} requires (frames without a face: {missing[:10]})"
        )
    transforms = faces.transforms[_nearest_found(faces.found)]
    frames = warp_frames(clip.frames, transforms, size, size) if missing else faces.crops
    return clip.with_frames(frames), {"face_coverage": coverage, "frames_without_face": missing}


def _process(record: UtteranceRecord, protocol: Protocol) -> Clip:
    clip = read_clip(record.video_path, fps=protocol.fps, sample_rate=protocol.sample_rate,
                     require_audio=record.audio_path is None)  # fmt: skip
    if record.audio_path is not None:
        clip = clip.with_audio(_read_audio(record.audio_path, protocol.sample_rate), protocol.sample_rate)
    clip = apply_length_policy(clip, protocol.length_policy)
    clip, extra = apply_crop(clip, protocol)
    meta = {
        "utterance_id": record.utterance_id, "speaker": record.speaker, "dataset": record.dataset,
        "transcript": record.transcript, "protocol": protocol.full_id, "source_path": str(record.video_path),
        "audio_path": str(record.audio_path) if record.audio_path else None,
        "word_timings": thaw(record.word_timings), "record": thaw(record.meta), **extra,
    }  # fmt: skip
    return Clip(clip.frames, clip.fps, clip.audio, clip.sample_rate, meta)


def prepare_clip(record: UtteranceRecord, protocol: Protocol) -> Clip:
    """``record`` preprocessed as ``protocol`` says, from the cache when it is there.

    ``meta`` carries ``utterance_id``, ``speaker``, ``dataset``, ``transcript``, ``word_timings``, ``protocol``,
    ``source_path`` and, for ``aligned-face`` crops, ``face_coverage`` and ``frames_without_face``.

    Raises:
        FileNotFoundError: a source file is missing.
        MediaError: a source file is unreadable, damaged, or lacks audio.
        FaceCoverageError: too few frames with a face for an ``aligned-face`` crop.
    """
    folder = prepared_dir(record, protocol)
    meta_path, clip_path = folder / "meta.json", folder / "clip.mkv"
    if meta_path.is_file() and clip_path.is_file():
        cached = read_clip(clip_path, fps=None, sample_rate=None, require_audio=True)
        cached.meta.update(read_json(meta_path), path=str(clip_path))
        return cached
    clip = _process(record, protocol)
    write_clip(clip_path, clip)
    write_json_atomic(meta_path, clip.meta)
    clip.meta["path"] = str(clip_path)
    return clip


@dataclass
class PrepareReport:
    """Outcome of :func:`prepare_all`: counts and one failure row per video that could not be prepared."""

    prepared: int = 0
    cached: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    failure_file: Path | None = None

    @property
    def total(self) -> int:
        """Videos considered."""
        return self.prepared + self.cached + len(self.failures)


def _prepare_one(record: UtteranceRecord, protocol: Protocol, face_tracks: bool = False) -> dict[str, Any] | None:
    """Prepare one record; a failure row instead of an exception for the errors a bad video raises."""
    try:
        clip = prepare_clip(record, protocol)
        if face_tracks:  # warm bench.faces' disk cache (keyed by the frames) for the face metrics
            from bench.faces import track

            track(clip)
    except _EXPECTED_ERRORS as exc:
        return {
            "utterance_id": record.utterance_id, "speaker": record.speaker, "video_path": str(record.video_path),
            "audio_path": str(record.audio_path) if record.audio_path else None, "error": type(exc).__name__,
            "reason": str(exc), "protocol": protocol.full_id, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }  # fmt: skip
    return None


def prepare_all(
    records: Sequence[UtteranceRecord],
    protocol: Protocol,
    workers: int = 1,
    progress: bool = True,
    face_tracks: bool = False,
) -> PrepareReport:
    """Prepare every record (``workers`` processes), skipping cached ones; failures go to a JSONL file.

    With ``face_tracks``, the dlib face track of every newly prepared clip (default ``TrackSettings``) is computed
    too, so face metrics later find it in ``bench.faces``' disk cache.

    The failure file ``cache_dir("prepared") / f"failures-{protocol.full_id}.jsonl"`` is rewritten at the end with
    the failures of this run (empty when all succeeded), so it always describes the cache's current state.
    """
    from tqdm import tqdm

    report = PrepareReport()
    todo = []
    for record in records:
        if is_prepared(record, protocol):
            report.cached += 1
        else:
            todo.append(record)
    with tqdm(total=len(records), initial=report.cached, desc=f"prepare {protocol.full_id}", unit="video",
              disable=not progress) as bar:  # fmt: skip
        for failure in _run(todo, protocol, workers, bar.update, face_tracks):
            if failure is None:
                report.prepared += 1
            else:
                report.failures.append(failure)
    report.failures.sort(key=lambda row: row["utterance_id"])
    report.failure_file = cache_dir("prepared") / f"failures-{protocol.full_id}.jsonl"
    write_text_atomic(report.failure_file, "".join(json.dumps(row, sort_keys=True) + "\n" for row in report.failures))
    return report


def _run(
    records: list[UtteranceRecord], protocol: Protocol, workers: int, tick: Any, face_tracks: bool
) -> Iterable[dict[str, Any] | None]:
    workers = max(1, min(workers, len(records)))
    if workers == 1:
        for record in records:
            yield _prepare_one(record, protocol, face_tracks)
            tick()
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_prepare_one, record, protocol, face_tracks) for record in records]
        for future in as_completed(futures):
            yield future.result()
            tick()
