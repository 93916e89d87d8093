"""Face tracking across a clip: detect every k frames, 68 landmarks on every frame, re-detect on drift or loss.

Between detections, the box for frame t is rebuilt from the landmarks of frame t-1 (through the offset between the
last detection box and its landmarks' bounding box), and the landmarks of frame t are predicted in it. The track is
re-detected when (a) k frames have passed, (b) the box rebuilt from the new landmarks overlaps the box they were
predicted in by less than ``min_iou`` (drift), or (c) the face patch no longer matches the patch at the last
detection (normalised cross-correlation below ``min_similarity``: the face left, the frame went blank, a cut). A
frame where the detector finds no face is first tracked backwards from the next face found (same checks); if that
fails too it is recorded as missing with a reason. Frames are never dropped.
"""

from __future__ import annotations

import warnings
from concurrent.futures import CancelledError
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from bench import helper_process
from bench.faces.cache import frames_hash, is_stored, load_or_compute
from bench.faces.detect import DetectorName, auto_upsample, box_iou, detect_faces, dlib_model
from bench.faces.landmarks import landmark_box, predict_landmarks
from bench.media import Clip

NO_FACE = "no face detected"
_PATCH = 24


@dataclass(frozen=True)
class TrackSettings:
    """How faces are found and followed.

    Attributes:
        detector: ``"hog"`` (dlib HOG, default) or ``"cnn"`` (dlib MMOD CNN, slow without a GPU build of dlib).
        upsample: detector upsampling steps; None picks enough for the short side to reach 256 px (0 for GRID's
            360x288, 1 for 128x128 clips).
        threshold: HOG detection score threshold.
        detect_every: run the detector at least every this many frames (1: per-frame detection).
        min_iou: re-detect when the landmark box drifts below this IoU with the tracked box.
        min_similarity: re-detect when the face patch's correlation with the last detected one drops below this.
        landmark_min_size: faces narrower than this (px) get landmarks on an upscaled crop (see
            :func:`bench.faces.landmarks.predict_landmarks`); 0 disables. 100 px leaves GRID-size faces (about 125 px
            in 360x288 frames) to plain dlib, as the reference LMD code runs it, and upscales small faces only.
    """

    detector: DetectorName = "hog"
    upsample: int | None = None
    threshold: float = 0.0
    detect_every: int = 15
    min_iou: float = 0.5
    min_similarity: float = 0.5
    landmark_min_size: float = 100.0

    def __post_init__(self) -> None:
        if self.detector not in ("hog", "cnn"):
            raise ValueError(f"TrackSettings.detector must be 'hog' or 'cnn', got {self.detector!r}")
        if self.detect_every < 1:
            raise ValueError(f"TrackSettings.detect_every must be >= 1, got {self.detect_every}")
        if self.upsample is not None and not 0 <= self.upsample <= 4:
            raise ValueError(f"TrackSettings.upsample must be None or 0..4, got {self.upsample}")


@dataclass(frozen=True)
class FaceTrack:
    """One face followed through a clip; frames without a face hold NaN and a reason.

    Attributes:
        boxes: float32 ``[T, 4]`` ``(x0, y0, x1, y1)`` detector-style boxes, NaN where no face.
        landmarks: float32 ``[T, 68, 2]`` ``(x, y)`` pixel coordinates, NaN where no face.
        found: bool ``[T]``.
        detected: bool ``[T]``, frames on which the detector ran.
        reasons: per frame, why no face was recorded ("" where found).
        frame_size: ``(height, width)`` of the frames.
    """

    boxes: np.ndarray
    landmarks: np.ndarray
    found: np.ndarray
    detected: np.ndarray
    reasons: tuple[str, ...]
    frame_size: tuple[int, int] = field(default=(0, 0))

    @property
    def num_frames(self) -> int:
        """Number of frames of the clip."""
        return int(self.found.shape[0])

    @property
    def coverage(self) -> float:
        """Fraction of frames with a face (0.0 for an empty clip)."""
        return float(self.found.mean()) if self.found.size else 0.0

    def describe_missing(self) -> str:
        """A short summary of the missing frames, for failure reasons."""
        missing = np.flatnonzero(~self.found)
        if missing.size == 0:
            return "face found on every frame"
        shown = ", ".join(map(str, missing[:8])) + (", ..." if missing.size > 8 else "")
        why = sorted({self.reasons[i] for i in missing})
        return f"no face on {missing.size} of {self.num_frames} frames ({shown}): {'; '.join(why)}"


def _patch(gray: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """A normalised 24x24 patch of ``box``; None when the box is off the frame or the patch is flat."""
    h, w = gray.shape
    x0, y0, x1, y1 = np.round(box).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    patch = cv2.resize(gray[y0:y1, x0:x1], (_PATCH, _PATCH), interpolation=cv2.INTER_AREA).astype(np.float32)
    patch -= patch.mean()
    norm = float(np.linalg.norm(patch))
    return patch / norm if norm > 1e-3 * _PATCH else None


class _Tracker:
    """State of one pass over a clip; ``frames`` (RGB) are read by the CNN detector only, the rest reads ``grey``."""

    def __init__(self, frames: np.ndarray | None, grey: np.ndarray, settings: TrackSettings) -> None:
        self.frames, self.grey = frames, grey
        self.s = settings
        self.upsample = settings.upsample if settings.upsample is not None else auto_upsample(*grey.shape[1:3])
        self.offset = np.zeros(4, np.float32)  # detection box minus landmark box, in landmark-box units (set on detection)
        self.template: np.ndarray | None = None

    def box_from_landmarks(self, points: np.ndarray) -> np.ndarray:
        lb = landmark_box(points)
        size = np.array([lb[2] - lb[0], lb[3] - lb[1]] * 2, np.float32)
        return lb + self.offset * size

    def follow(self, gray: np.ndarray, previous: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Landmarks in the box carried over from ``previous``; None on drift or loss."""
        box = self.box_from_landmarks(previous)
        points = predict_landmarks(gray, box, self.s.landmark_min_size)
        new_box = self.box_from_landmarks(points)
        if box_iou(box, new_box) < self.s.min_iou:
            return None
        patch = _patch(gray, landmark_box(points))
        if patch is None or self.template is None or float((patch * self.template).sum()) < self.s.min_similarity:
            return None
        return new_box, points

    def detect(self, t: int, gray: np.ndarray, hint: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Detect in frame ``t``; returns the box (closest to ``hint`` if given, else the best) and its landmarks, or raises."""
        image = gray if self.s.detector == "hog" or self.frames is None else self.frames[t]
        boxes, _ = detect_faces(image, self.s.detector, self.upsample, self.s.threshold)
        if len(boxes) == 0:
            raise LookupError(NO_FACE)
        best = 0
        if hint is not None:
            overlaps = [box_iou(hint, b) for b in boxes]
            best = int(np.argmax(overlaps)) if max(overlaps) > 0 else 0
        box = boxes[best]
        points = predict_landmarks(gray, box, self.s.landmark_min_size)
        lb = landmark_box(points)
        size = np.array([lb[2] - lb[0], lb[3] - lb[1]] * 2, np.float32)
        self.offset = (box - lb) / np.maximum(size, 1.0)
        self.template = _patch(gray, lb)
        return box, points

    def run(self) -> dict[str, np.ndarray]:
        n = self.grey.shape[0]
        out = {
            "boxes": np.full((n, 4), np.nan, np.float32),
            "landmarks": np.full((n, 68, 2), np.nan, np.float32),
            "found": np.zeros(n, bool),
            "detected": np.zeros(n, bool),
            "reasons": np.full(n, "", dtype="<U64"),
        }
        states: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}  # frame -> (offset, template) in force
        previous: np.ndarray | None = None
        last_detection = -(10**9)
        for t in range(n):
            gray = self.grey[t]
            result = None
            if previous is not None and t - last_detection < self.s.detect_every:
                result = self.follow(gray, previous)
            if result is None:
                out["detected"][t] = True
                hint = self.box_from_landmarks(previous) if previous is not None else None
                try:
                    result = self.detect(t, gray, hint)
                except LookupError as exc:
                    out["reasons"][t], previous = str(exc), None
                    continue
                last_detection = t
            out["boxes"][t], out["landmarks"][t] = result
            out["found"][t], previous = True, result[1]
            states[t] = (self.offset, self.template)
        self.backfill(out, states)
        return out

    def backfill(self, out: dict[str, np.ndarray], states: dict[int, tuple[np.ndarray, np.ndarray | None]]) -> None:
        """Track backwards into runs of frames where detection failed, from the face found right after them.

        Each filled frame passes the same drift and appearance checks as forward tracking, so blank or faceless
        frames stay missing; the detector's misses on real faces (HOG fails on some frames) are recovered.
        """
        found = out["found"]
        for b in [b for b in range(1, len(found)) if found[b] and not found[b - 1]]:
            self.offset, self.template = states[b]
            previous = out["landmarks"][b]
            t = b - 1
            while t >= 0 and not found[t]:
                result = self.follow(self.grey[t], previous)
                if result is None:
                    break
                out["boxes"][t], out["landmarks"][t] = result
                found[t], out["reasons"][t], previous = True, "", result[1]
                t -= 1


def track(clip: Clip, settings: TrackSettings | None = None, *, cache: bool = True) -> FaceTrack:
    """The face track of ``clip``: boxes and 68 landmarks on every frame, NaN and a reason where there is no face.

    One face is followed: the most confident detection at the first detection, then the detection closest to the
    track. Computed once per clip (memoised on it) and cached on disk under ``cache_dir("faces")`` keyed by a hash
    of the frames and ``settings``; ``cache=False`` skips the disk (not the memo). While a helper process runs
    (:mod:`bench.helper_process`, threaded evaluation) the track is computed there: the same function, the same values,
    and dlib does not hold this process's interpreter lock meanwhile; should the helper die, it is computed here.

    Example:
        >>> import numpy as np
        >>> from bench.media import Clip
        >>> face_track = track(Clip(np.zeros((3, 64, 64, 3), np.uint8)), cache=False)
        >>> face_track.coverage, face_track.reasons[0]
        (0.0, 'no face detected')
    """
    settings = settings or TrackSettings()
    if clip.num_frames == 0:
        raise ValueError(f"{clip.name}: cannot track faces in a clip with no frames")
    arrays = load_or_compute(clip, "track", asdict(settings), lambda: _compute(clip, settings), cache)
    return FaceTrack(
        boxes=arrays["boxes"],
        landmarks=arrays["landmarks"],
        found=arrays["found"].astype(bool),
        detected=arrays["detected"].astype(bool),
        reasons=tuple(str(r) for r in arrays["reasons"]),
        frame_size=clip.size,
    )


def track_soon(clip: Clip, settings: TrackSettings | None = None) -> None:
    """Start computing the face track of ``clip`` in the helper process, so that :func:`track` finds it done.

    Does nothing unless a helper runs (:mod:`bench.helper_process`, started by ``talkbench evaluate --threads N``),
    or when the track is memoised on the clip or cached on disk already. The values are those :func:`track` computes
    in this process: the same function runs there.
    """
    settings = settings or TrackSettings()
    helper = helper_process.running()
    if helper is None or clip.num_frames == 0 or is_stored(clip, "track", asdict(settings)):
        return
    try:
        helper.submit(_request_key(clip, settings), _track_arrays, *_inputs(clip, settings))
    except BrokenProcessPool:
        pass  # track() computes it in this process and says why


def load_models(settings: TrackSettings | None = None) -> None:
    """Load the face detector and the landmark predictor that :func:`track` uses with ``settings``, now.

    The helper process calls it as a threaded evaluation starts (``metrics.HELPER_MODELS``), so that the predictor's
    ~0.5 s of loading overlaps the command's own start-up instead of delaying the first face track.
    """
    settings = settings or TrackSettings()
    dlib_model(settings.detector)
    dlib_model("landmarks")


def _compute(clip: Clip, settings: TrackSettings) -> dict[str, np.ndarray]:
    """The track's arrays: from the helper process when one runs (dlib then holds its interpreter lock, not ours)."""
    helper = helper_process.running()
    if helper is not None:
        try:
            return helper.result(_request_key(clip, settings), _track_arrays, *_inputs(clip, settings))
        except (BrokenProcessPool, CancelledError) as exc:  # it died, or its last user stopped it meanwhile
            warnings.warn(f"{clip.name}: the helper process stopped ({str(exc) or 'cancelled'}); tracking its faces in this "
                          "process", RuntimeWarning, stacklevel=2)  # fmt: skip
    return _track_arrays(*_inputs(clip, settings))


def _inputs(clip: Clip, settings: TrackSettings) -> tuple[np.ndarray | None, np.ndarray, TrackSettings]:
    """What the tracker reads: the grey frames, and the RGB frames for the CNN detector only (a third of the bytes)."""
    return (clip.frames if settings.detector == "cnn" else None), clip.grey(), settings


def _track_arrays(frames: np.ndarray | None, grey: np.ndarray, settings: TrackSettings) -> dict[str, np.ndarray]:
    return _Tracker(frames, grey, settings).run()


def _request_key(clip: Clip, settings: TrackSettings) -> tuple[str, str, tuple[tuple[str, object], ...]]:
    return "bench.faces.track", frames_hash(clip), tuple(sorted(asdict(settings).items()))
