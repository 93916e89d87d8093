"""Fixtures of the face tests: the real GRID clips, read once per session (analyses memoise on them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.media import Clip, read_clip


@pytest.fixture(scope="session")
def grid_clips(grid_paths: list[Path]) -> dict[str, Clip]:
    """Utterance id -> clip (25 fps, 360x288): bbaf2n (speaker s1), swwp2s (s2), lbax4n, lrwp9a."""
    clips = {}
    for path in grid_paths:
        clip = read_clip(path)
        clip.meta["utterance_id"] = path.stem
        clips[path.stem] = clip
    return clips
