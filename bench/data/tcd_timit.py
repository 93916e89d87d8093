"""TCD-TIMIT (Harte and Gillen, IEEE TMM 2015): 59 volunteers and 3 professional lipspeakers reading TIMIT sentences.

Layout under ``root``, as the per-speaker archives from sigmedia.tcd.ie extract::

    volunteers/01M/Clips/straightcam/sa1.mp4        frontal view (30degcam/ holds the 30-degree view)
    volunteers/01M/Clips/straightcam/sa1.wav        optional separate audio (else the mp4's own track)
    volunteers/01M/Clips/straightcam/sa1.txt        optional transcript (TIMIT style: "start end words")
    lipspeakers/Lipspkr1/Clips/straightcam/sa1.mp4

Speakers are the folder names (``01M`` ... ``59F``, ``Lipspkr1`` ... ``Lipspkr3``); utterance ids are
``<speaker>_<sentence>``. Video is 30 fps (protocols resample to 25 fps by timestamps).
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.data.datasets import Adapter
from bench.data.records import UtteranceRecord, unique_ids

DATASET = "tcd-timit"
GROUPS = ("volunteers", "lipspeakers")
VIEWS = ("straightcam", "30degcam")
_VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv")


def read_transcript(path: Path) -> str:
    """Words of a TIMIT-style ``.txt`` (``start end words``, or just words), lower case, punctuation removed."""
    text = path.read_text(errors="replace").strip()
    parts = text.split(maxsplit=2)
    if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
        text = parts[2]
    words = re.sub(r"[^a-z0-9' ]", " ", text.lower()).split()
    if not words:
        raise ValueError(f"{path}: transcript file holds no words")
    return " ".join(words)


def check_layout(root: Path, groups: tuple[str, ...] = GROUPS, view: str = "straightcam") -> list[Path]:
    """Speaker clip folders (``<group>/<speaker>/Clips/<view>``), or a clear error saying what was expected."""
    root = Path(root)
    if view not in VIEWS:
        raise ValueError(f"TCD-TIMIT view must be one of {', '.join(VIEWS)}, got {view!r}")
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: TCD-TIMIT root folder not found")
    present = [g for g in groups if (root / g).is_dir()]
    if not present:
        raise FileNotFoundError(
            f"{root}: no {' or '.join(groups)} folder; expected volunteers/<NN>[MF]/Clips/{view}/<sentence>.mp4 "
            f"and lipspeakers/Lipspkr<N>/Clips/{view}/<sentence>.mp4 as extracted from the TCD-TIMIT archives"
        )
    folders = []
    for group in present:
        for speaker in sorted(p for p in (root / group).iterdir() if p.is_dir()):
            clips = speaker / "Clips" / view
            if not clips.is_dir():
                raise FileNotFoundError(f"{speaker}: expected a Clips/{view}/ folder of <sentence>.mp4 videos")
            folders.append(clips)
    return folders


def scan(root: str | Path, groups: tuple[str, ...] = GROUPS, view: str = "straightcam") -> list[UtteranceRecord]:
    """Every TCD-TIMIT utterance of ``groups`` in ``view``."""
    root = Path(root)
    records = []
    for clips in check_layout(root, groups, view):
        speaker, group = clips.parent.parent.name, clips.parent.parent.parent.name
        for video in sorted(p for p in clips.iterdir() if p.suffix.lower() in _VIDEO_SUFFIXES):
            wav, txt = video.with_suffix(".wav"), video.with_suffix(".txt")
            records.append(UtteranceRecord(
                utterance_id=f"{speaker}_{video.stem}", speaker=speaker, dataset=DATASET, video_path=video,
                audio_path=wav if wav.is_file() else None,
                transcript=read_transcript(txt) if txt.is_file() else None,
                meta={"group": group, "view": view, "sentence": video.stem},
            ))  # fmt: skip
    if not records:
        raise FileNotFoundError(f"{root}: the TCD-TIMIT speaker folders hold no videos in Clips/{view}/")
    return unique_ids(records, root)


ADAPTER = Adapter(DATASET, scan)
