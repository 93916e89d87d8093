"""On-disk cache of per-clip face analyses, keyed by a hash of the clip's frames, the analysis and its settings.

Face analyses depend on the frames only, so the key hashes the frames (not :meth:`Clip.content_hash`, which also
covers the audio): a generated video scored with other audio muxed in reuses its face track.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bench.cache import cache_dir, cache_key
from bench.io import atomic_path
from bench.media import Clip

CACHE_VERSION = 1  # bump when an analysis changes its output for the same input


def frames_hash(clip: Clip) -> str:
    """SHA-256 of the frames' shape and bytes (memoised on the clip)."""

    def compute() -> str:
        h = hashlib.sha256(np.asarray(clip.frames.shape, np.int64).tobytes())
        h.update(np.ascontiguousarray(clip.frames).data)  # the buffer itself: no 23 MB copy per GRID clip
        return h.hexdigest()

    return clip.memo(("bench.faces.frames_hash",), compute)


def cache_path(clip: Clip, analysis: str, settings: Mapping[str, Any]) -> Path:
    """Where the analysis ``analysis`` of ``clip`` under ``settings`` is stored."""
    key = cache_key(analysis=analysis, version=CACHE_VERSION, frames=frames_hash(clip), **dict(settings))
    return cache_dir("faces", analysis) / f"{key}.npz"


def load_or_compute(
    clip: Clip,
    analysis: str,
    settings: Mapping[str, Any],
    compute: Callable[[], dict[str, np.ndarray]],
    use_disk: bool = True,
) -> dict[str, np.ndarray]:
    """Arrays of an analysis: memoised on the clip, then read from disk, else computed and written atomically.

    A cache file that cannot be read (truncated, foreign) is recomputed and replaced, never trusted.
    """
    memo_key = _memo_key(analysis, settings)

    def from_disk() -> dict[str, np.ndarray]:
        if not use_disk:
            return compute()
        path = cache_path(clip, analysis, settings)
        if path.is_file():
            try:
                with np.load(path, allow_pickle=False) as data:
                    return {name: data[name] for name in data.files}
            except (OSError, ValueError, zipfile.BadZipFile, EOFError):
                pass  # unreadable cache entry: recompute below and overwrite it
        arrays = compute()
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
        return arrays

    return clip.memo(memo_key, from_disk)


def is_stored(clip: Clip, analysis: str, settings: Mapping[str, Any]) -> bool:
    """Whether :func:`load_or_compute` would find the analysis memoised on ``clip`` or in the disk cache."""
    return clip.memoised(_memo_key(analysis, settings)) or cache_path(clip, analysis, settings).is_file()


def _memo_key(analysis: str, settings: Mapping[str, Any]) -> tuple[Any, ...]:
    return ("bench.faces", analysis, tuple(sorted(settings.items())))
