"""The real GRID clips for the face-metric tests (face tracks and embeddings are cached on disk per session)."""

from __future__ import annotations

from pathlib import Path

from bench.media import Clip, read_clip


def load_grid_clips(paths: list[Path]) -> dict[str, Clip]:
    """Utterance id -> clip: bbaf2n (speaker s1), swwp2s (s2), lbax4n, lrwp9a."""
    clips = {}
    for path in paths:
        clip = read_clip(path)
        clip.meta["utterance_id"] = path.stem
        clips[path.stem] = clip
    return clips
