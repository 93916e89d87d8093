"""LSE-D, LSE-C and the AV offset: lip-sync error measured with SyncNet v2 (SPECS M4).

Reference: joonson/syncnet_python ``SyncNetInstance.evaluate`` and Wav2Lip ``evaluation/scores_LSE``
(https://github.com/joonson/syncnet_python, https://github.com/Rudrabha/Wav2Lip/tree/master/evaluation). For each
start frame v the 5 frames ``v..v+4`` and MFCC columns ``4v..4v+19`` are embedded; each video embedding is compared
(Euclidean, eps 1e-6) with the audio embeddings shifted by -15..+15 frames (zero features beyond the ends); the
distances are averaged over frames per shift. LSE-D is the minimum, LSE-C the median minus the minimum, and the AV
offset ``15 - argmin``: video frame i matches audio frame ``i - offset`` (audio delayed by k frames gives -k). The
31 shifts are computed in one batched pass.

Protocols: ``wav2lip-lrs`` resizes the whole frame to 224x224 (Wav2Lip's calculate_scores_LRS.py, for face-centred
outputs); ``syncnet-track`` uses face-track crops at scale 0.4 (syncnet_python run_pipeline.py, with talkbench's dlib
tracker instead of S3FD). Length: syncnet_python silently uses ``min(frames, samples // 640)`` frames; here the
``length_mismatch`` says ``"truncate"`` (the same, recorded in the extras) or ``"error"``.

Known deviations: frames are not round-tripped through JPEG and audio is not quantised to int16 as the reference's
ffmpeg extraction does (both change values slightly); the face tracker is dlib's, not S3FD.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch.nn.functional import pairwise_distance

import metrics
from bench import weights
from bench.audio import syncnet_audio_windows, syncnet_mfcc
from metrics.base import Item, Metric, MetricError, Need, Score
from metrics.networks.syncnet import CLIP_FRAMES, SyncNet, build_syncnet

FPS, SAMPLE_RATE, INPUT_SIZE = 25.0, 16000, 224
SAMPLES_PER_FRAME = 640  # 16 kHz / 25 fps
CROP_PIPELINES, LENGTH_MISMATCH = ("syncnet-track", "wav2lip-lrs"), ("truncate", "error")
_BLOCK = 32  # frames per distance block


def sync_distances(video: torch.Tensor, audio: torch.Tensor, vshift: int = 15) -> torch.Tensor:
    """Distances ``[N, 2 vshift + 1]`` between video embedding i and audio embeddings ``i - vshift .. i + vshift``.

    Audio embeddings beyond either end are zero vectors, as in syncnet_python ``calc_pdist``; the distance is
    ``F.pairwise_distance`` (``||v - a + 1e-6||``). All shifts are one batched operation, over blocks of 32 frames
    that keep the temporary at 4 MB (a 30 s clip in one piece needs 94 MB and runs slower than syncnet_python).
    """
    if video.ndim != 2 or video.shape != audio.shape or len(video) == 0:
        raise ValueError(f"embeddings must both be [N>0, D]; got {tuple(video.shape)} and {tuple(audio.shape)}")
    padded = torch.nn.functional.pad(audio, (0, 0, vshift, vshift))
    windows = padded.unfold(0, 2 * vshift + 1, 1).transpose(1, 2)  # [N, W, D]: row i = audio i-vshift..i+vshift
    blocks = range(0, len(video), _BLOCK)
    return torch.cat([pairwise_distance(video[i : i + _BLOCK, None], windows[i : i + _BLOCK]) for i in blocks])


def lse_from_distances(dists: torch.Tensor, vshift: int = 15) -> tuple[float, float, int]:
    """``(LSE-D, LSE-C, offset)`` from :func:`sync_distances`: min, median - min, and ``vshift - argmin``."""
    mean = dists.mean(dim=0)
    minval, minidx = torch.min(mean, 0)
    return float(minval), float(torch.median(mean) - minval), int(vshift - minidx)


@dataclass(frozen=True)
class SyncResult:
    """One clip's SyncNet analysis, shared by the three metrics."""

    lse_d: float
    lse_c: float
    av_offset: int
    windows: int  # 5-frame windows scored: used_frames - 5, as syncnet_python
    video_frames: int
    audio_frames: float  # audio duration in 25 fps frames (samples / 640)
    used_frames: int  # min(video_frames, floor(audio_frames)): the rest is truncated
    face_frames: int  # frames where the tracker found a face (syncnet-track; others are interpolated), else all

    def extras(self) -> dict[str, float]:
        """Everything recorded beside each value (the three numbers and the length bookkeeping)."""
        return {key: float(value) for key, value in asdict(self).items()}


@torch.no_grad()
def syncnet_scores(
    net: SyncNet,
    frames_bgr: np.ndarray,
    audio: np.ndarray,
    *,
    vshift: int = 15,
    batch_size: int = 20,
    device: str = "cpu",
) -> tuple[float, float, int, int]:
    """``(LSE-D, LSE-C, offset, windows)`` of 224x224 BGR frames ``[T, 224, 224, 3]`` and 16 kHz mono audio.

    Uses ``min(T, len(audio) // 640)`` frames like syncnet_python (callers enforce their length policy first);
    raises :class:`MetricError` below 6 usable frames.
    """
    used = min(len(frames_bgr), len(audio) // SAMPLES_PER_FRAME)
    windows = used - CLIP_FRAMES
    if windows < 1:
        raise MetricError(f"{used} usable frames; SyncNet needs at least {CLIP_FRAMES + 1} (0.24 s at 25 fps)")
    mfcc = syncnet_audio_windows(syncnet_mfcc(audio, SAMPLE_RATE), windows)
    video_emb, audio_emb = net.embed_windows(frames_bgr, mfcc, batch_size=batch_size, device=device)
    dists = sync_distances(video_emb, audio_emb, vshift)
    return (*lse_from_distances(dists, vshift), windows)


@functools.lru_cache(maxsize=4)
def _network(sha256: str) -> SyncNet:
    """The SyncNet of the cached weights file (one per file version and process)."""
    return build_syncnet(weights.load_state_dict("syncnet-v2"))


def _resize_whole_frames(frames_rgb: np.ndarray) -> np.ndarray:
    """Wav2Lip's LRS crop pipeline: every whole frame to 224x224 (cv2 bilinear), BGR."""
    import cv2

    return np.stack([cv2.resize(f[:, :, ::-1], (INPUT_SIZE, INPUT_SIZE)) for f in frames_rgb])


class _SyncNetMetric(Metric):
    """Shared SyncNet analysis; subclasses pick LSE-D, LSE-C or the offset.

    Input: ``Clip.frames`` uint8 ``[T, H, W, 3]`` at 25 fps and the driving audio at 16 kHz (read clips with
    ``read_clip(path, fps=25, sample_rate=16000)``).

    Args:
        crop_pipeline: ``"syncnet-track"`` (face-track crops at scale 0.4) or ``"wav2lip-lrs"`` (whole frame).
        length_mismatch: ``"truncate"`` to ``min(frames, samples // 640)`` as syncnet_python, or ``"error"`` when
            audio and video differ by a frame or more.
        vshift: largest offset searched, in frames (15 as Wav2Lip and run_syncnet.py).
        batch_size: 5-frame windows per forward pass.
        device: torch device.
    """

    needs: ClassVar[frozenset[Need]] = frozenset({Need.AUDIO})
    weights: tuple[str, ...] = ("syncnet-v2",)
    field: ClassVar[str] = ""  # the SyncResult attribute this metric reports

    def __init__(
        self,
        crop_pipeline: Literal["syncnet-track", "wav2lip-lrs"] = "syncnet-track",
        length_mismatch: Literal["truncate", "error"] = "truncate",
        vshift: int = 15,
        batch_size: int = 20,
        device: str = "cpu",
    ) -> None:
        super().__init__(device)
        choices = (("crop_pipeline", crop_pipeline, CROP_PIPELINES), ("length_mismatch", length_mismatch, LENGTH_MISMATCH))
        for option, value, allowed in choices:
            if value not in allowed:
                raise ValueError(f"unknown SyncNet {option} {value!r}; choose from {', '.join(allowed)}")
        if int(vshift) != vshift or vshift < 0 or int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"vshift must be >= 0 and batch_size >= 1 integers, got {vshift}, {batch_size}")
        self.crop_pipeline, self.length_mismatch = crop_pipeline, length_mismatch
        self.vshift, self.batch_size = int(vshift), int(batch_size)

    def analyse(self, item: Item) -> SyncResult:
        """The clip's SyncNet result, computed once per clip, audio, crop pipeline and weights file."""
        clip = item.generated
        if clip.fps != FPS:
            raise MetricError(f"{item.video_id}: SyncNet needs 25 fps video, got {clip.fps:g} fps (read at fps=25)")
        if item.audio is None or item.sample_rate != SAMPLE_RATE:
            raise MetricError(f"{item.video_id}: SyncNet needs 16 kHz audio, got {item.sample_rate} Hz")
        sha = weights.file_hash("syncnet-v2")  # raises WeightsMissingError with the fetch command
        self.weights_sha256 = sha
        audio = np.ascontiguousarray(item.audio, np.float32)
        digest = hashlib.sha256(audio.tobytes()).hexdigest()[:16]
        key = ("syncnet-lse", self.crop_pipeline, self.length_mismatch, self.vshift, sha, digest)

        def attempt() -> SyncResult | MetricError:
            try:
                return self._compute(item, audio, sha)
            except MetricError as exc:
                return exc  # a failure is shared too: the face tracker does not run again for the next metric

        result = clip.memo(key, attempt)
        if isinstance(result, MetricError):
            raise result
        return result

    def _compute(self, item: Item, audio: np.ndarray, sha: str) -> SyncResult:
        frames = item.generated.frames
        audio_frames = len(audio) / SAMPLES_PER_FRAME
        if self.length_mismatch == "error" and abs(audio_frames - len(frames)) >= 1:
            raise MetricError(
                f"{item.video_id}: audio is {audio_frames:.2f} frames long, video {len(frames)} frames "
                f"(length_mismatch='error'; 'truncate' scores the first min of the two as syncnet_python does)"
            )
        face_frames = len(frames)
        if self.crop_pipeline == "wav2lip-lrs":
            inputs = _resize_whole_frames(frames)
        else:
            from bench.faces import face_track_crops

            crops, found = face_track_crops(item.generated, scale=0.4, size=INPUT_SIZE)
            if not np.any(found):
                raise MetricError(f"{item.video_id}: no face found for the syncnet-track crop pipeline")
            inputs, face_frames = np.ascontiguousarray(np.asarray(crops)[..., ::-1]), int(np.sum(found))
        try:
            lse_d, lse_c, offset, windows = syncnet_scores(
                _network(sha), inputs, audio, vshift=self.vshift, batch_size=self.batch_size, device=self.device
            )
        except MetricError as exc:
            raise MetricError(f"{item.video_id}: {exc}") from None
        used = min(len(frames), len(audio) // SAMPLES_PER_FRAME)
        return SyncResult(lse_d, lse_c, offset, windows, len(frames), audio_frames, used, face_frames)

    def score(self, item: Item) -> Score:
        """Score one item (see the class docstring)."""
        result = self.analyse(item)
        return Score(float(getattr(result, self.field)), result.used_frames, extras=result.extras())


def _variants(name: str) -> dict[str, dict[str, Any]]:
    return {name: {}, **{f"{name}-{p}": {"crop_pipeline": p} for p in CROP_PIPELINES}}


@metrics.variants(_variants("lse-d"))
class LSED(_SyncNetMetric):
    """LSE-D: mean SyncNet distance at the best offset (lower is better).

    Example:
        >>> metrics.create("lse-d-wav2lip-lrs").higher_is_better
        False
    """

    name: ClassVar[str] = "lse-d"
    field: ClassVar[str] = "lse_d"
    higher_is_better: ClassVar[bool | None] = False
    score_range: ClassVar[tuple[float | None, float | None]] = (0.0, None)


@metrics.variants(_variants("lse-c"))
class LSEC(_SyncNetMetric):
    """LSE-C: SyncNet confidence, median minus minimum of the offset distances (higher is better).

    Example:
        >>> metrics.create("lse-c").higher_is_better, sorted(metrics.create("lse-c").needs)
        (True, [<Need.AUDIO: 'audio'>])
    """

    name: ClassVar[str] = "lse-c"
    field: ClassVar[str] = "lse_c"
    higher_is_better: ClassVar[bool | None] = True
    score_range: ClassVar[tuple[float | None, float | None]] = (0.0, None)


@metrics.variants(_variants("av-offset"))
class AVOffset(_SyncNetMetric):
    """AV offset in 25 fps frames found by SyncNet (audio delayed by k frames gives -k); no direction, 0 is ideal.

    Example:
        >>> metrics.create("av-offset-syncnet-track").higher_is_better is None
        True
    """

    name: ClassVar[str] = "av-offset"
    field: ClassVar[str] = "av_offset"
    higher_is_better: ClassVar[bool | None] = None
