"""The :class:`Clip`: the one data model that flows through talkbench."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")
_MEMO_GUARD = threading.Lock()  # guards the creation of a clip's per-analysis locks


class MediaError(ValueError):
    """A media file or clip cannot be used; the message names the file and the problem."""


@dataclass(eq=False)
class Clip:
    """A talking-face video: frames, optional mono audio, and metadata.

    Attributes:
        frames: uint8 array ``[T, H, W, 3]``, RGB.
        fps: frames per second.
        audio: mono float32 samples in [-1, 1], or None for a silent clip.
        sample_rate: audio samples per second (kept even when ``audio`` is None).
        meta: free-form metadata (source path, utterance id, ground truth of synthetic clips, ...).

    Per-clip analyses (face tracks, landmarks, embeddings) are memoised on the clip with :meth:`memo`, so every
    metric that needs one shares a single computation, also when metrics run in concurrent threads.

    Example:
        >>> import numpy as np
        >>> clip = Clip(np.zeros((25, 8, 8, 3), np.uint8), fps=25.0)
        >>> clip.num_frames, clip.duration
        (25, 1.0)
    """

    frames: np.ndarray
    fps: float = 25.0
    audio: np.ndarray | None = None
    sample_rate: int = 16000
    meta: dict[str, Any] = field(default_factory=dict)
    _memo: dict[Hashable, Any] = field(default_factory=dict, repr=False, compare=False)
    _memo_locks: dict[Hashable, threading.Lock] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        source = self.meta.get("path", "<in-memory clip>")
        frames = np.asarray(self.frames)
        if frames.dtype != np.uint8:
            raise MediaError(f"{source}: frames must be uint8 [T, H, W, 3], got dtype {frames.dtype}")
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise MediaError(f"{source}: frames must have shape [T, H, W, 3], got {frames.shape}")
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise MediaError(f"{source}: fps must be positive, got {self.fps}")
        self.frames = frames
        if self.audio is not None:
            audio = np.asarray(self.audio)
            if audio.ndim != 1:
                raise MediaError(f"{source}: audio must be mono 1-D, got shape {audio.shape}")
            if not np.issubdtype(audio.dtype, np.floating):
                raise MediaError(f"{source}: audio must be float samples in [-1, 1], got dtype {audio.dtype}")
            self.audio = audio.astype(np.float32, copy=False)
        if self.sample_rate <= 0:
            raise MediaError(f"{source}: sample_rate must be positive, got {self.sample_rate}")

    @property
    def num_frames(self) -> int:
        """Number of video frames."""
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """Frame size as ``(height, width)``."""
        return int(self.frames.shape[1]), int(self.frames.shape[2])

    @property
    def duration(self) -> float:
        """Video duration in seconds."""
        return self.num_frames / self.fps

    @property
    def name(self) -> str:
        """A name for messages: the utterance id or source path when known."""
        return str(self.meta.get("utterance_id") or self.meta.get("path") or "<in-memory clip>")

    def content_hash(self) -> str:
        """SHA-256 of frames, fps, audio and sample rate: the key of on-disk analysis caches."""

        def compute() -> str:
            h = hashlib.sha256()
            h.update(np.asarray(self.frames.shape, np.int64).tobytes())
            h.update(np.ascontiguousarray(self.frames).data)  # hashed in place, not copied
            h.update(np.float64(self.fps).tobytes())
            if self.audio is not None:
                h.update(np.ascontiguousarray(self.audio).data)
                h.update(np.int64(self.sample_rate).tobytes())
            return h.hexdigest()

        return self.memo(("content_hash",), compute)

    def grey(self) -> np.ndarray:
        """The frames' OpenCV-exact luma, uint8 ``[T, H, W]``, read-only.

        Converted once per clip (:func:`bench.media.luma.luma`) for every metric and face analysis that reads grey.
        """
        from bench.media.luma import luma

        def convert() -> np.ndarray:
            values = luma(self.frames)
            values.setflags(write=False)
            return values

        return self.memo(("grey",), convert)

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Return the analysis cached under ``key`` on this clip, computing it once.

        Thread-safe: a thread asking for an analysis that another is computing waits for it instead of computing it
        again (each analysis has its own lock, so analyses that build on others nest freely).
        """
        try:
            return self._memo[key]
        except KeyError:
            pass
        with _MEMO_GUARD:
            lock = self._memo_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._memo:
                self._memo[key] = compute()
        return self._memo[key]

    def memoised(self, key: Hashable) -> bool:
        """Whether an analysis is cached under ``key`` on this clip."""
        return key in self._memo

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its locks (they cannot be pickled); the analyses go along."""
        return {**self.__dict__, "_memo_locks": {}}

    def with_audio(self, audio: np.ndarray | None, sample_rate: int | None = None) -> Clip:
        """A copy sharing the frames, with other audio (analyses of the frames are not carried over)."""
        return Clip(self.frames, self.fps, audio, sample_rate or self.sample_rate, dict(self.meta))

    def with_frames(self, frames: np.ndarray, fps: float | None = None) -> Clip:
        """A copy sharing the audio, with other frames."""
        return Clip(frames, fps or self.fps, self.audio, self.sample_rate, dict(self.meta))
