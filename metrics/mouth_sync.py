"""mouth-sync and mouth-offset: a weight-free lip-sync sanity measure from dlib landmarks and the audio's loudness.

No reference implementation: talkbench's own measure (issue 17), for machines without SyncNet's weights. Per frame
the mouth opening is the inner-lip height over the inter-ocular distance (:func:`bench.faces.mouth_opening`, dlib
68 points from :func:`bench.faces.track`); from the driving audio, the loudness of each video frame
(:func:`bench.audio.loudness_envelope`: 500-4000 Hz band RMS to the power 0.6). Both are detrended (minus their
centred 7-frame moving mean, which removes the utterance's slow speech/silence shape that every GRID sentence
shares and keeps the syllable rhythm), then correlated (Pearson over the overlapping frames) with the audio shifted
by -15..+15 frames. ``mouth-sync`` is the peak correlation (higher is better, at most 1), ``mouth-offset`` the offset
of the peak with the sign of ``av-offset``: video frame i matches audio frame ``i - offset``, so audio delayed by k
frames gives -k. Like LSE-D (the minimum over offsets), the peak does not fall when a whole clip is shifted;
``mouth-sync-centre`` is the peak over offsets -2..+2 only (real GRID video peaks within 1 frame of 0), so a clip
out of sync by more than 2 frames scores low there. ``-mouth-width`` variants normalise by the mouth corners 48-54.

A mouth whose opening varies by less than ``min_motion`` (standard deviation, inter-ocular units) does not move:
it gets the worst values, -1 and +15, and ``extras["mouth_static"] = 1`` with the measured deviation, never NaN
or a silent 0. A clip without a face on half its frames, or silent audio, is not scored (a failed score, reason).

What it can say: whether the mouth opens and closes with the loudness of the driving audio, and at which lag. What
it cannot: which sounds are formed (a mouth that opens on every loud frame scores well whatever it says), and on
short clips chance peaks are high (a 3 s clip with another sentence's audio reaches about 0.45); it is a sanity
check beside LSE-D/C, not a replacement for SyncNet.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import ClassVar, Literal

import numpy as np

import metrics
from bench.audio import loudness_envelope, num_video_frames
from bench.faces import TrackSettings, mouth_opening, track, track_soon
from metrics.base import Item, Metric, MetricError, Need, Score
from metrics.blink import fill_gaps

MIN_OVERLAP = 10  # frames every offset must compare at least; shorter clips search fewer offsets
MIN_COVERAGE = 0.5  # the least fraction of frames with a face (others take interpolated openings)
WORST_PEAK = -1.0


def detrend(signal: np.ndarray, window: int) -> np.ndarray:
    """``signal`` minus its centred moving mean over ``window`` frames (edge values repeated); 1 leaves it as is."""
    values = np.asarray(signal, np.float64)
    if window < 1 or window % 2 == 0:
        raise ValueError(f"detrend window must be an odd number of frames >= 1, got {window}")
    if window == 1:
        return values.copy()
    padded = np.pad(values, window // 2, mode="edge")
    return values - np.convolve(padded, np.ones(window) / window, mode="valid")


def cross_correlation(video: np.ndarray, audio: np.ndarray, max_offset: int) -> np.ndarray:
    """Pearson correlation ``[2 max_offset + 1]`` of ``video[i]`` with ``audio[i - d]`` for ``d = -max_offset..``.

    Each offset uses the frames where both exist; NaN where either side is constant there.
    """
    v, a = np.asarray(video, np.float64), np.asarray(audio, np.float64)
    if v.ndim != 1 or v.shape != a.shape or max_offset < 0 or len(v) - max_offset < 2:
        raise ValueError(f"need two 1-D signals of one length > max_offset + 1, got {v.shape}, {a.shape}, {max_offset}")
    out = np.full(2 * max_offset + 1, np.nan)
    for j, d in enumerate(range(-max_offset, max_offset + 1)):
        x, y = v[max(d, 0) : len(v) + min(d, 0)], a[max(-d, 0) : len(a) - max(d, 0)]
        x, y = x - x.mean(), y - y.mean()
        norm = np.sqrt(np.dot(x, x) * np.dot(y, y))
        if norm > 0:
            out[j] = np.dot(x, y) / norm
    return out


def sync_peak(correlations: np.ndarray) -> tuple[float, int]:
    """``(peak, offset)`` of :func:`cross_correlation`'s curve; the offset is ``argmax - max_offset``."""
    curve = np.asarray(correlations, np.float64)
    if not np.isfinite(curve).any():
        raise ValueError("no offset has a defined correlation (a constant signal)")
    best = int(np.nanargmax(curve))
    return float(curve[best]), best - (len(curve) - 1) // 2


def sync_curve(opening: np.ndarray, loudness: np.ndarray, max_offset: int = 15, detrend_frames: int = 7) -> np.ndarray:
    """Both per-frame signals detrended, then :func:`cross_correlation` over ``-max_offset..max_offset`` frames.

    Reversing both signals reverses the curve: the same peak, the negated offset (every step is symmetric in time).
    """
    return cross_correlation(detrend(opening, detrend_frames), detrend(loudness, detrend_frames), max_offset)


@dataclass(frozen=True)
class MouthSyncResult:
    """One clip's analysis, shared by ``mouth-sync`` and ``mouth-offset`` (recorded as extras beside each value)."""

    mouth_sync_peak: float
    mouth_sync_offset: int
    mouth_sync_frames: int  # frames used: min(video frames, whole frames of audio)
    mouth_sync_max_offset: int  # offsets searched: vshift, fewer on clips shorter than vshift + MIN_OVERLAP
    mouth_sync_coverage: float  # fraction of used frames with a face (others are interpolated)
    mouth_opening_std: float  # standard deviation of the mouth opening, inter-ocular (or mouth-width) units
    mouth_static: bool  # the mouth does not move: peak and offset are the worst values
    curve: tuple[float, ...]  # correlation per offset -max_offset..max_offset (empty when static); not an extra

    def extras(self) -> dict[str, float]:
        """Every field but the curve as a float."""
        return {key: float(value) for key, value in asdict(self).items() if key != "curve"}

    def centre_peak(self, centre: int) -> float:
        """The highest correlation over offsets ``-centre..centre`` (the worst value when static or undefined)."""
        middle = self.mouth_sync_max_offset
        window = np.asarray(self.curve[max(middle - centre, 0) : middle + centre + 1], np.float64)
        finite = window[np.isfinite(window)]
        return float(finite.max()) if finite.size else WORST_PEAK


class _MouthSyncMetric(Metric):
    """Shared analysis; subclasses report the peak or its offset.

    Input: ``Clip.frames`` uint8 ``[T, H, W, 3]`` and the driving audio (any rate of at least 8 kHz).

    Args:
        vshift: largest offset searched, in frames (15, as LSE).
        detrend_frames: odd window of the moving mean removed from both signals (1: none).
        band: audio band in Hz whose loudness counts.
        exponent: power on the band RMS (0.6: Stevens' loudness).
        normalise: mouth opening over the ``"inter-ocular"`` distance or the ``"mouth-width"``.
        min_motion: the least standard deviation of the mouth opening that counts as moving.
        centre: ``mouth-sync`` only: None reports the peak over all offsets; k the peak over offsets -k..k, so that
            a clip out of sync by more than k frames scores low.
        device: unused (NumPy only); accepted like every metric.
    """

    needs: ClassVar[frozenset[Need]] = frozenset({Need.AUDIO})
    field: ClassVar[str] = ""  # the MouthSyncResult attribute this metric reports

    def __init__(
        self,
        vshift: int = 15,
        detrend_frames: int = 7,
        band: tuple[float, float] | list[float] = (500.0, 4000.0),
        exponent: float = 0.6,
        normalise: Literal["inter-ocular", "mouth-width"] = "inter-ocular",
        min_motion: float = 0.01,
        centre: int | None = None,
        device: str = "cpu",
    ) -> None:
        super().__init__(device)
        if int(vshift) != vshift or vshift < 1 or int(detrend_frames) != detrend_frames or detrend_frames % 2 == 0:
            raise ValueError(f"vshift must be an integer >= 1 and detrend_frames odd, got {vshift}, {detrend_frames}")
        if normalise not in ("inter-ocular", "mouth-width"):
            raise ValueError(f"normalise must be 'inter-ocular' or 'mouth-width', got {normalise!r}")
        if len(band) != 2 or not 0 <= band[0] < band[1] or exponent <= 0 or min_motion < 0:
            raise ValueError(f"bad band {band}, exponent {exponent} or min_motion {min_motion}")
        if centre is not None and (int(centre) != centre or not 0 <= centre <= vshift):
            raise ValueError(f"centre must be None or an integer in 0..vshift, got {centre}")
        self.vshift, self.detrend_frames = int(vshift), int(detrend_frames)
        self.band, self.exponent, self.normalise = (float(band[0]), float(band[1])), float(exponent), normalise
        self.min_motion, self.centre = float(min_motion), None if centre is None else int(centre)

    def prepare(self, item: Item) -> None:
        """Start the face track in the helper process (threaded evaluation), when there is audio to compare it with."""
        if item.audio is not None:
            track_soon(item.generated, TrackSettings())

    def analyse(self, item: Item) -> MouthSyncResult:
        """The clip's analysis, computed once per clip, driving audio and options (memoised on the clip)."""
        if item.audio is None or item.sample_rate is None:
            raise MetricError(f"{item.video_id}: no driving audio")
        audio, sample_rate = np.ascontiguousarray(item.audio, np.float32), int(item.sample_rate)
        digest = hashlib.sha256(audio.tobytes()).hexdigest()[:16]
        options = (self.vshift, self.detrend_frames, self.band, self.exponent, self.normalise, self.min_motion)
        key = ("mouth-sync", digest, sample_rate, options)

        def attempt() -> MouthSyncResult | MetricError:
            try:
                return self._compute(item, audio, sample_rate)
            except MetricError as exc:
                return exc  # shared too: the other metric does not track the face again

        result = item.generated.memo(key, attempt)
        if isinstance(result, MetricError):
            raise result
        return result

    def _compute(self, item: Item, audio: np.ndarray, sample_rate: int) -> MouthSyncResult:
        clip = item.generated
        try:
            used = min(clip.num_frames, num_video_frames(len(audio), sample_rate, clip.fps))
            loudness = loudness_envelope(audio, sample_rate, clip.fps, used, self.band, self.exponent)
        except ValueError as exc:
            raise MetricError(f"{item.video_id}: {exc}") from None
        max_offset = min(self.vshift, used - MIN_OVERLAP)
        if max_offset < 1 or used < self.detrend_frames:
            raise MetricError(f"{item.video_id}: {used} frames with audio; mouth-sync needs at least {MIN_OVERLAP + 1}")
        if np.ptp(loudness) == 0:
            raise MetricError(f"{item.video_id}: the driving audio has no loudness in {self.band} Hz (silent)")
        face_track = track(clip, TrackSettings())
        found = face_track.found[:used]
        if found.mean() < MIN_COVERAGE:
            raise MetricError(f"{item.video_id}: face on {found.mean():.0%} of frames, below {MIN_COVERAGE:.0%}: "
                              f"{face_track.describe_missing()}")  # fmt: skip
        opening = fill_gaps(mouth_opening(face_track.landmarks[:used], self.normalise))
        spread = float(np.std(opening))
        if spread < self.min_motion:
            return MouthSyncResult(WORST_PEAK, max_offset, used, max_offset, float(found.mean()), spread, True, ())
        curve = sync_curve(opening, loudness, max_offset, self.detrend_frames)
        try:
            peak, offset = sync_peak(curve)
        except ValueError as exc:
            raise MetricError(f"{item.video_id}: {exc}") from None
        return MouthSyncResult(peak, offset, used, max_offset, float(found.mean()), spread, False, tuple(curve.tolist()))

    def score(self, item: Item) -> Score:
        """Score one item (see the class docstring)."""
        result = self.analyse(item)
        value = float(getattr(result, self.field))
        if self.centre is not None and self.field == "mouth_sync_peak":
            value = result.centre_peak(self.centre)
        return Score(value, result.mouth_sync_frames, extras=result.extras())


@metrics.variants({"mouth-sync": {}, "mouth-sync-centre": {"centre": 2}, "mouth-sync-mouth-width": {"normalise": "mouth-width"}})
class MouthSync(_MouthSyncMetric):
    """Peak correlation of mouth opening and audio loudness over +-15 frames (or +-``centre``); higher is better.

    -1 (the worst value) for a mouth that does not move. ``extras`` carry the offset, frames, face coverage, the
    mouth opening's standard deviation and ``mouth_static``.

    Example:
        >>> a = np.sin(np.arange(62) / 2)
        >>> peak, offset = sync_peak(cross_correlation(a[:60], a[2:], 5))  # video frame i shows audio frame i - 2
        >>> round(peak, 6), offset
        (1.0, 2)
    """

    name: ClassVar[str] = "mouth-sync"
    field: ClassVar[str] = "mouth_sync_peak"
    higher_is_better: ClassVar[bool | None] = True
    score_range: ClassVar[tuple[float | None, float | None]] = (-1.0, 1.0)


@metrics.variants({"mouth-offset": {}, "mouth-offset-mouth-width": {"normalise": "mouth-width"}})
class MouthOffset(_MouthSyncMetric):
    """Offset in frames of the mouth-sync peak (audio delayed by k frames gives -k); no direction, 0 is ideal.

    Example:
        >>> metrics.create("mouth-offset").higher_is_better is None, metrics.create("mouth-offset").vshift
        (True, 15)
    """

    name: ClassVar[str] = "mouth-offset"
    field: ClassVar[str] = "mouth_sync_offset"
    higher_is_better: ClassVar[bool | None] = None
