"""Media I/O: the :class:`Clip` type and its one reader and one writer."""

from __future__ import annotations

from bench.media.clip import Clip, MediaError

__all__ = ["Clip", "MediaError"]

try:  # the reader/writer module is added by the media I/O work; Clip works without it
    from bench.media.io import probe, read_clip, write_clip  # noqa: F401

    __all__ += ["probe", "read_clip", "write_clip"]
except ModuleNotFoundError as exc:  # pragma: no cover - only while io.py does not exist
    if exc.name != "bench.media.io":
        raise
