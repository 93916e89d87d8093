"""Blink statistics from the eye aspect ratio (EAR): blinks per second, mean blink duration, blink count.

EAR per frame (Soukupova & Cech 2016, mean of both eyes) comes from dlib's 68 landmarks tracked by
:func:`bench.faces.track`. Two detectors, after Vougioukas' blink detector
(https://github.com/DinoMan/blink-detector, ``blink/detector.py``; SPECS M7):

* offline (default, the one used for statistics): peaks of the negative EAR derivative
  ``-(EAR[i+1] - EAR[i])`` with ``scipy.signal.find_peaks(height=0.072, distance=4)``. A blink starts at the peak
  frame if ``EAR[p-1] <= EAR[p]``, else at the last EAR peak (height ``(min + max) / 2``) at or before ``p`` (0 if
  none); it ends at the first EAR peak from ``p`` up to the next onset (or the end of the signal). A blink with no
  such peak is dropped unless it is the last one (then it ends on the last frame). Only blinks lasting more than 0
  frames are counted, as the reference's ``save_blink_distribution``.
* online (``-online`` variants): EAR below 0.2 for at least 2 consecutive frames starts a blink; it ends on the
  first frame whose EAR is above 0.2 and above the previous EAR by more than 0.01; its duration runs from the last
  open, steady frame before it.

Frames without a face take the EAR interpolated from their neighbours (the reference reuses the previous face box);
clips whose face coverage is below ``min_coverage`` are not scored. These statistics have no direction: compare them
with real videos (``higher_is_better = None``). Deviation: the reference detector's peak height has varied between
versions (0.072 in SPECS' commit, 0.0425 later); 0.072 is used.
"""

from __future__ import annotations

from typing import ClassVar, Literal, NamedTuple

import numpy as np
from scipy.signal import find_peaks

from bench.faces import TrackSettings, eye_aspect_ratio, track, track_soon
from metrics import variants
from metrics.base import Item, Metric, MetricError, Score

Statistic = Literal["rate", "duration", "count"]
Detector = Literal["offline", "online"]


class Blink(NamedTuple):
    """One detected blink (frame indices).

    Attributes:
        start: where the blink's duration starts (the detector's rule).
        onset: when the eye closes: the frame before the steepest EAR drop (offline), the first frame below the
            threshold (online). This is what is compared with known blink onsets.
        end: where it ends; the duration is ``end - start`` frames.
    """

    start: int
    onset: int
    end: int


def fill_gaps(values: np.ndarray) -> np.ndarray:
    """Replace NaN by linear interpolation between valid neighbours (nearest value at the ends)."""
    values = np.asarray(values, np.float64)
    valid = np.isfinite(values)
    if not valid.any():
        raise ValueError("no valid value to interpolate from")
    index = np.arange(len(values))
    return np.interp(index, index[valid], values[valid])


def offline_blinks(ear: np.ndarray, height: float = 0.072, distance: int = 4) -> list[Blink]:
    """Blinks of an EAR signal by the offline derivative-peak detector."""
    ear = np.asarray(ear, np.float64)
    if len(ear) < 2:
        return []
    onsets, _ = find_peaks(-np.diff(ear), height=height, distance=distance)
    level = (ear.min() + ear.max()) / 2
    blinks = []
    for i, p in enumerate(onsets):
        if ear[p - 1] <= ear[p]:  # p == 0 compares with the last frame, as the reference's signal[-1]
            start = int(p)
        else:
            left, _ = find_peaks(ear[: p + 1], height=level, distance=1)
            start = int(left[-1]) if len(left) else 0
        stop = onsets[i + 1] if i + 1 < len(onsets) else len(ear)
        right, _ = find_peaks(ear[p:stop], height=level, distance=1)
        if len(right):
            end = int(p + right[0])
        elif i == len(onsets) - 1:
            end = len(ear) - 1
        else:
            continue
        blinks.append(Blink(start, int(p), end))
    return blinks


def online_blinks(ear: np.ndarray, threshold: float = 0.2, consecutive: int = 2, tolerance: float = 0.01) -> list[Blink]:
    """Blinks of an EAR signal by the online threshold detector, frame by frame."""
    blinks: list[Blink] = []
    last, counter, closed, in_blink, first_closed = 0.0, 0, 0, False, 0
    for t, value in enumerate(np.asarray(ear, np.float64)):
        counter += 1
        if in_blink:
            if value - last > tolerance and value > threshold:
                blinks.append(Blink(t - counter, first_closed, t))
                counter, closed, in_blink = 0, 0, False
        else:
            if value < threshold:
                first_closed = t if closed == 0 else first_closed
                closed += 1
            else:
                closed = 0
                if abs(last - value) < tolerance or value > last:
                    counter = 0
            in_blink = closed >= consecutive
        last = value
    return blinks


def blink_statistics(blinks: list[Blink], num_frames: int, fps: float) -> dict[str, float]:
    """Count, rate (per second) and mean duration (seconds; NaN without blinks) of blinks lasting > 0 frames."""
    durations = [b.end - b.start for b in blinks if b.end > b.start]
    return {
        "count": float(len(durations)),
        "rate": len(durations) * fps / num_frames,
        "duration": float(np.mean(durations)) / fps if durations else float("nan"),
    }


@variants(
    {
        "blink-rate": {"statistic": "rate"},
        "blink-duration": {"statistic": "duration"},
        "blink-count": {"statistic": "count"},
        "blink-rate-online": {"statistic": "rate", "detector": "online"},
        "blink-duration-online": {"statistic": "duration", "detector": "online"},
        "blink-count-online": {"statistic": "count", "detector": "online"},
    }
)
class Blinks(Metric):
    """Blink rate (1/s), mean blink duration (s) or blink count of the generated clip, from its EAR.

    Input: ``Item.generated`` frames uint8 ``[T, H, W, 3]``. No direction: compare with the real videos' values.
    ``extras`` carries all three statistics and the face coverage.

    Example:
        >>> import numpy as np
        >>> ear = np.r_[np.full(8, 0.3), 0.31, 0.3, 0.05, 0.05, 0.3, 0.32, np.full(8, 0.3)]
        >>> offline_blinks(ear), online_blinks(ear)
        ([Blink(start=8, onset=9, end=13)], [Blink(start=8, onset=10, end=12)])
    """

    name: ClassVar[str] = "blink-rate"
    higher_is_better: ClassVar[bool | None] = None
    score_range: ClassVar[tuple[float | None, float | None]] = (0.0, None)

    def __init__(
        self,
        statistic: Statistic = "rate",
        detector: Detector = "offline",
        min_coverage: float = 0.5,
        device: str = "cpu",
    ) -> None:
        super().__init__(device)
        if statistic not in ("rate", "duration", "count"):
            raise ValueError(f"blink statistic must be 'rate', 'duration' or 'count', got {statistic!r}")
        if detector not in ("offline", "online"):
            raise ValueError(f"blink detector must be 'offline' or 'online', got {detector!r}")
        if not 0.0 < min_coverage <= 1.0:
            raise ValueError(f"min_coverage must be in (0, 1], got {min_coverage}")
        self.statistic = statistic
        self.detector = detector
        self.min_coverage = min_coverage

    def prepare(self, item: Item) -> None:
        """Start the face track in the helper process (threaded evaluation)."""
        track_soon(item.generated, TrackSettings())

    def score(self, item: Item) -> Score:
        """Track the face, compute EAR, detect blinks and return the chosen statistic."""
        clip = item.generated
        face_track = track(clip, TrackSettings())
        if face_track.coverage < self.min_coverage:
            raise MetricError(
                f"{item.video_id}: face coverage {face_track.coverage:.2f} below {self.min_coverage}: "
                f"{face_track.describe_missing()}"
            )
        ear = fill_gaps(eye_aspect_ratio(face_track.landmarks))
        blinks = offline_blinks(ear) if self.detector == "offline" else online_blinks(ear)
        stats = blink_statistics(blinks, clip.num_frames, clip.fps)
        value = stats[self.statistic]
        if not np.isfinite(value):
            raise MetricError(f"{item.video_id}: no blink detected, so there is no mean blink duration")
        extras = {k: v for k, v in stats.items() if np.isfinite(v)} | {"coverage": face_track.coverage}
        return Score(float(value), clip.num_frames, extras=extras)
