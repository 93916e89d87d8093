"""A generic folder of the user's own videos.

Layout under ``root``::

    <any/sub/path>/<name>.mp4       any container FFmpeg reads (.mp4 .mkv .avi .mov .mpg .webm)
    transcripts.tsv                 optional: columns utterance_id, transcript (and optionally speaker)

The utterance id is the path below ``root`` without suffix, ``/`` replaced by ``_``. The speaker is the first folder
below ``root`` (``speaker/clip.mp4``), else the ``speaker`` column of ``transcripts.tsv``, else the utterance id.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from bench.data.datasets import Adapter
from bench.data.records import UtteranceRecord, safe_id, unique_ids

DATASET = "folder"
VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".mpg", ".mpeg", ".webm")  # also what `talkbench evaluate` pairs
TRANSCRIPTS = "transcripts.tsv"


def visible_files(root: Path, suffixes: Sequence[str]) -> list[Path]:
    """The files below ``root`` with one of ``suffixes``, sorted, hidden ones aside (never a user's videos).

    Hidden: a name or folder starting with a dot, such as macOS's ``._`` resource copies or notebook checkpoints.
    """
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))  # fmt: skip


def read_transcripts(path: Path) -> dict[str, dict[str, str]]:
    """Rows of a transcripts table by utterance id: tab-separated, or comma-separated for a ``.csv`` file.

    Raises:
        FileNotFoundError: no such file.
        ValueError: columns missing or an id repeated, naming the file.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such transcripts file")
    comma = path.suffix.lower() == ".csv"
    with open(path, newline="") as f:
        reader = csv.DictReader(f, delimiter="," if comma else "\t")
        missing = {"utterance_id", "transcript"} - set(reader.fieldnames or ())
        if missing:
            kind = "comma-separated (.csv)" if comma else "tab-separated"
            raise ValueError(f"{path}: missing columns {sorted(missing)} ({kind}, with a header row)")
        rows: dict[str, dict[str, str]] = {}
        for row in reader:
            uid = row["utterance_id"]
            if uid in rows:
                raise ValueError(f"{path}: utterance {uid!r} is listed twice")
            rows[uid] = row
    return rows


def scan(root: str | Path) -> list[UtteranceRecord]:
    """Every video under ``root`` (recursively), with transcripts from ``transcripts.tsv`` when present.

    Raises:
        FileNotFoundError: ``root`` is missing or holds no videos.
        ValueError: ``transcripts.tsv`` names videos that do not exist.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: video folder not found")
    videos = visible_files(root, VIDEO_SUFFIXES)
    if not videos:
        raise FileNotFoundError(f"{root}: no videos ({', '.join(VIDEO_SUFFIXES)}) found under this folder")
    table = read_transcripts(root / TRANSCRIPTS) if (root / TRANSCRIPTS).is_file() else {}
    records = []
    for video in videos:
        rel = video.relative_to(root).with_suffix("")
        uid = safe_id(*rel.parts)
        row = table.get(uid, {})
        speaker = rel.parts[0] if len(rel.parts) > 1 else (row.get("speaker") or uid)
        transcript = " ".join(row["transcript"].lower().split()) if row.get("transcript") else None
        records.append(UtteranceRecord(uid, speaker, DATASET, video, None, transcript, None, {"relative": str(rel)}))
    unknown = set(table) - {r.utterance_id for r in records}
    if unknown:
        raise ValueError(f"{root / TRANSCRIPTS}: lists utterances with no video: {sorted(unknown)[:5]}")
    return unique_ids(records, root)


ADAPTER = Adapter(DATASET, scan)
