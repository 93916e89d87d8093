"""The utterance record: one video of a dataset, as its adapter finds it on disk.

Every dataset adapter (:mod:`bench.data.grid`, :mod:`bench.data.tcd_timit`, :mod:`bench.data.lrs2`,
:mod:`bench.data.grid_lombard`, :mod:`bench.data.folder`, :mod:`bench.data.synthgrid`) yields these records;
splits select among them and :func:`bench.data.prepare.prepare_clip` turns one into a preprocessed :class:`Clip`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class FrozenMap(Mapping[str, Any]):
    """A read-only, picklable mapping (``types.MappingProxyType`` cannot be pickled to worker processes)."""

    __slots__ = ("_data",)
    _data: dict[str, Any]

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        """Copy ``data``; nested dicts are frozen too."""
        frozen = {}
        for key, value in dict(data or {}).items():
            frozen[str(key)] = FrozenMap(value) if isinstance(value, Mapping) else value
        object.__setattr__(self, "_data", frozen)

    def __getitem__(self, key: str) -> Any:
        """The value of ``key``."""
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        """Keys in insertion order."""
        return iter(self._data)

    def __len__(self) -> int:
        """Number of keys."""
        return len(self._data)

    def __repr__(self) -> str:
        """Like a dict."""
        return repr(self._data)

    def __hash__(self) -> int:
        """Hash of the content (so frozen dataclasses holding one, such as protocols, are hashable)."""
        return hash(json.dumps(thaw(self), sort_keys=True, default=str))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as the plain dict."""
        return (FrozenMap, (thaw(self),))

    def __setattr__(self, name: str, value: Any) -> None:
        """Refuse mutation."""
        raise AttributeError("FrozenMap is read-only")


def thaw(value: Any) -> Any:
    """Plain dicts and lists from :class:`FrozenMap` and tuples (for JSON and for callers that mutate)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class UtteranceRecord:
    """One utterance video of a dataset.

    Attributes:
        utterance_id: unique within the dataset and safe as a file name (``s1_bbaf2n``, ``01M_sa1``); results,
            generated videos and caches are named by it.
        speaker: speaker id as the dataset names it (``s1``, ``01M``, ``Lipspkr1``).
        dataset: dataset name (``grid``, ``tcd-timit``, ``lrs2``, ``grid-lombard``, ``folder``, ``synthgrid``).
        video_path: the video file.
        audio_path: a separate audio file when the dataset ships one (or, for cross-audio pairs, the file whose
            audio drives the video); None means the video's own audio track.
        transcript: the spoken words, lower case, or None when unknown.
        word_timings: ``((word, start_s, end_s), ...)`` when the dataset aligns words, else None.
        meta: dataset-specific extras (JSON-able values), e.g. ``{"condition": "lombard", "view": "front"}``.
    """

    utterance_id: str
    speaker: str
    dataset: str
    video_path: Path
    audio_path: Path | None = None
    transcript: str | None = None
    word_timings: tuple[tuple[str, float, float], ...] | None = None
    meta: Mapping[str, Any] = field(default_factory=FrozenMap, compare=False, hash=False)

    def __post_init__(self) -> None:
        """Validate the id (it becomes a file name) and freeze ``meta``."""
        if not _SAFE_ID.match(self.utterance_id):
            raise ValueError(
                f"{self.video_path}: utterance id {self.utterance_id!r} is not a safe file name "
                "(letters, digits, '.', '_' and '-' only, not starting with a dot)"
            )
        if not self.speaker:
            raise ValueError(f"{self.video_path}: utterance {self.utterance_id} has an empty speaker id")
        object.__setattr__(self, "video_path", Path(self.video_path))
        if self.audio_path is not None:
            object.__setattr__(self, "audio_path", Path(self.audio_path))
        if not isinstance(self.meta, FrozenMap):
            object.__setattr__(self, "meta", FrozenMap(self.meta))

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary (for failure records and cached metadata)."""
        return {
            "utterance_id": self.utterance_id, "speaker": self.speaker, "dataset": self.dataset,
            "video_path": str(self.video_path), "audio_path": str(self.audio_path) if self.audio_path else None,
            "transcript": self.transcript,
            "word_timings": [list(w) for w in self.word_timings] if self.word_timings is not None else None,
            "meta": thaw(self.meta),
        }  # fmt: skip


def safe_id(*parts: str) -> str:
    """Join id parts with ``_``, replacing characters that cannot be in a file name by ``-``."""
    text = "_".join(p.strip("/") for p in parts if p)
    return re.sub(r"[^A-Za-z0-9._-]", "-", text.replace("/", "_"))


def unique_ids(records: list[UtteranceRecord], root: Path) -> list[UtteranceRecord]:
    """Return ``records`` after checking their ids are unique (a duplicate would overwrite results)."""
    seen: dict[str, Path] = {}
    for rec in records:
        if rec.utterance_id in seen:
            raise ValueError(
                f"{root}: utterance id {rec.utterance_id!r} is used by both {seen[rec.utterance_id]} and {rec.video_path}"
            )
        seen[rec.utterance_id] = rec.video_path
    return records
