"""Media I/O: the :class:`Clip` type and its one reader and one writer."""

from __future__ import annotations

from bench.media.clip import Clip, MediaError
from bench.media.io import probe, read_clip, write_clip

__all__ = ["Clip", "MediaError", "probe", "read_clip", "write_clip"]
