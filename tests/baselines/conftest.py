"""Fixtures of the baseline tests: face-centred crops of the real GRID clips, single-threaded torch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.media import Clip, read_clip

# GRID frames are 360x288 with the speaker's face around the centre; this 192x192 box holds the whole face in the
# four test clips (checked by eye), standing in for a face aligner.
FACE_ROWS, FACE_COLS = slice(48, 240), slice(60, 252)


def face_crop(clip: Clip) -> Clip:
    """The clip with its frames cut to the face box."""
    return clip.with_frames(np.ascontiguousarray(clip.frames[:, FACE_ROWS, FACE_COLS]))


@pytest.fixture(scope="session")
def grid_clips(grid_paths: list[Path]) -> list[Clip]:
    """The real GRID clips at 25 fps and 16 kHz, as read (full frames)."""
    return [read_clip(path) for path in grid_paths]


@pytest.fixture(scope="session")
def grid_faces(grid_clips: list[Clip]) -> list[Clip]:
    """The real GRID clips, face-centred (192x192 crops)."""
    return [face_crop(clip) for clip in grid_clips]


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Train single-threaded: on the shared 2-core machines two OpenMP threads per process thrash (10x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
