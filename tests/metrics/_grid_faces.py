"""The real GRID clips for the face-metric tests, read once per test module (face tracks are cached on disk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.media import Clip, read_clip


@pytest.fixture(scope="module")
def grid_clips(grid_paths: list[Path]) -> dict[str, Clip]:
    """Utterance id -> clip: bbaf2n (speaker s1), swwp2s (s2), lbax4n, lrwp9a."""
    clips = {}
    for path in grid_paths:
        clip = read_clip(path)
        clip.meta["utterance_id"] = path.stem
        clips[path.stem] = clip
    return clips
