"""Lombard GRID (Alghamdi et al., JASA 2018): 54 talkers, 50 Lombard and 50 plain GRID sentences each, two views.

Layout under ``root`` (flat folders, as the corpus is distributed)::

    front/s2_l_bbim3a.mov       front view; ``_l_`` Lombard, ``_p_`` plain speech
    side/s2_l_bbim3a.mov        side view
    audio/s2_l_bbim3a.wav       optional separate audio (else the video's own track)
    alignment/s2_l_bbim3a.json  phone alignments (not read: the transcript follows from the GRID code)

The transcript is decoded from the six-character GRID code (:func:`bench.data.grid.decode_code`). Utterance ids
are the file stems (unique: they carry speaker and condition); ``meta`` holds ``condition`` and ``view``.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.data.datasets import Adapter
from bench.data.grid import decode_code
from bench.data.records import UtteranceRecord, unique_ids

DATASET = "grid-lombard"
VIEWS = ("front", "side")
CONDITIONS = {"l": "lombard", "p": "plain"}
_NAME = re.compile(r"^(?P<speaker>s[0-9]+)_(?P<condition>[lp])_(?P<code>[a-z0-9]{6})$")
_VIDEO_SUFFIXES = (".mov", ".mp4", ".avi", ".mkv")


def check_layout(root: Path, view: str = "front") -> Path:
    """The folder of ``view`` videos, or a clear error saying what was expected."""
    root = Path(root)
    if view not in VIEWS:
        raise ValueError(f"Lombard GRID view must be one of {', '.join(VIEWS)}, got {view!r}")
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: Lombard GRID root folder not found")
    folder = root / view
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{root}: no {view}/ folder; expected {view}/s<N>_<l|p>_<code>.mov videos (and optionally audio/*.wav) "
            "as distributed with the Lombard GRID corpus"
        )
    return folder


def scan(root: str | Path, view: str = "front", conditions: tuple[str, ...] = ("lombard", "plain")) -> list[UtteranceRecord]:
    """Every Lombard GRID video of ``view`` whose condition is in ``conditions``.

    Raises:
        ValueError: a video name is not ``s<N>_<l|p>_<code>`` or its code is not a GRID sentence.
    """
    root = Path(root)
    folder = check_layout(root, view)
    records = []
    for video in sorted(p for p in folder.iterdir() if p.suffix.lower() in _VIDEO_SUFFIXES):
        match = _NAME.match(video.stem)
        if not match:
            raise ValueError(f"{video}: Lombard GRID video names look like s2_l_bbim3a.mov")
        condition = CONDITIONS[match["condition"]]
        if condition not in conditions:
            continue
        wav = root / "audio" / f"{video.stem}.wav"
        try:
            transcript = decode_code(match["code"])
        except ValueError as exc:
            raise ValueError(f"{video}: {exc}") from exc
        records.append(UtteranceRecord(
            utterance_id=video.stem, speaker=match["speaker"], dataset=DATASET, video_path=video,
            audio_path=wav if wav.is_file() else None, transcript=transcript,
            meta={"condition": condition, "view": view, "code": match["code"]},
        ))  # fmt: skip
    if not records:
        raise FileNotFoundError(f"{folder}: no Lombard GRID videos ({', '.join(_VIDEO_SUFFIXES)}) of {conditions}")
    return unique_ids(records, root)


ADAPTER = Adapter(DATASET, scan)
