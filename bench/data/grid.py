"""GRID audio-visual corpus (Cooke et al. 2006) as distributed: per-speaker video archives and align files.

Accepted layouts under ``root`` (speaker folders ``s1`` ... ``s34``; ``s21`` has no video)::

    s1/bbaf2n.mpg                      from s1.mpg_vcd.zip (or normal-quality s1.mpg_6000.part*.tar:
    s1/video/mpg_6000/bbaf2n.mpg        the second form)
    s1/align/bbaf2n.align              word alignments, found in any of these places
    align/s1/bbaf2n.align  or  alignments/s1/bbaf2n.align  or  s1/bbaf2n.align

``.align`` lines are ``start end word`` in units of 1/1000 of a 25 fps frame (1/25000 s); the transcript is the
words without ``sil`` and ``sp``, lower case (LipNet upper-cases them for WER; metrics normalise case). The audio
is the video's own track. Utterance codes repeat across speakers, so utterance ids are ``<speaker>_<code>``.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.data.datasets import Adapter
from bench.data.records import UtteranceRecord, unique_ids

DATASET = "grid"
SPEAKERS = tuple(f"s{i}" for i in range(1, 35) if i != 21)
"""The 33 speakers with video (s21's video was never released)."""
ALIGN_UNITS_PER_SECOND = 25000.0
_SPEAKER_DIR = re.compile(r"^s([1-9]|[12][0-9]|3[0-4])$")
_VIDEO_SUFFIXES = (".mpg", ".mpeg", ".mp4", ".avi", ".mov", ".mkv")
_SILENCE = {"sil", "sp"}
_GRAMMAR = (
    {"b": "bin", "l": "lay", "p": "place", "s": "set"},
    {"b": "blue", "g": "green", "r": "red", "w": "white"},
    {"a": "at", "b": "by", "i": "in", "w": "with"},
    None,  # letter: itself (GRID has no w)
    {
        "z": "zero",
        "1": "one",
        "2": "two",
        "3": "three",
        "4": "four",
        "5": "five",
        "6": "six",
        "7": "seven",
        "8": "eight",
        "9": "nine",
    },
    {"a": "again", "n": "now", "p": "please", "s": "soon"},
)


def decode_code(code: str) -> str:
    """The sentence a six-character GRID utterance code stands for: ``bbaf2n`` -> ``bin blue at f two now``.

    Raises:
        ValueError: ``code`` is not a GRID code.
    """
    if len(code) != 6:
        raise ValueError(f"{code!r} is not a six-character GRID utterance code")
    words = []
    for char, slot in zip(code.lower(), _GRAMMAR, strict=True):
        if slot is None:
            if not char.isalpha():
                raise ValueError(f"{code!r}: the fourth character of a GRID code is a letter")
            words.append(char)
        elif char in slot:
            words.append(slot[char])
        else:
            raise ValueError(f"{code!r}: {char!r} is not a GRID word initial here ({', '.join(slot)})")
    return " ".join(words)


def read_align(path: Path) -> tuple[tuple[str, float, float], ...]:
    """Words with start and end seconds from a GRID ``.align`` file, silences excluded.

    Raises:
        ValueError: a line is not ``start end word`` with integer times, naming the file and line.
    """
    words = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            raise ValueError(f"{path}:{number}: expected 'start end word' with integer times, got {line!r}")
        if parts[2] not in _SILENCE:
            words.append((parts[2].lower(), int(parts[0]) / ALIGN_UNITS_PER_SECOND, int(parts[1]) / ALIGN_UNITS_PER_SECOND))
    return tuple(words)


def _video_dir(speaker_dir: Path) -> Path:
    nested = speaker_dir / "video" / "mpg_6000"
    return nested if nested.is_dir() else speaker_dir


def _align_path(root: Path, speaker: str, code: str) -> Path | None:
    for candidate in (
        root / speaker / "align" / f"{code}.align",
        root / "align" / speaker / f"{code}.align",
        root / "alignments" / speaker / f"{code}.align",
        root / speaker / f"{code}.align",
    ):
        if candidate.is_file():
            return candidate
    return None


def check_layout(root: Path) -> list[Path]:
    """The speaker folders of a GRID root, or a clear error saying what was expected."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: GRID root folder not found")
    speakers = sorted((p for p in root.iterdir() if p.is_dir() and _SPEAKER_DIR.match(p.name)),
                      key=lambda p: int(p.name[1:]))  # fmt: skip
    if not speakers:
        raise FileNotFoundError(
            f"{root}: no GRID speaker folders; expected s1/ ... s34/ holding <code>.mpg videos "
            "(or s1/video/mpg_6000/<code>.mpg) as extracted from the GRID archives"
        )
    return speakers


def scan(root: str | Path) -> list[UtteranceRecord]:
    """Every GRID utterance under ``root``; a video without an align file gets ``transcript=None``."""
    root = Path(root)
    records = []
    for speaker_dir in check_layout(root):
        speaker = speaker_dir.name
        videos = sorted(p for p in _video_dir(speaker_dir).iterdir() if p.suffix.lower() in _VIDEO_SUFFIXES)
        for video in videos:
            align = _align_path(root, speaker, video.stem)
            words = read_align(align) if align else None
            records.append(UtteranceRecord(
                utterance_id=f"{speaker}_{video.stem}", speaker=speaker, dataset=DATASET, video_path=video,
                transcript=" ".join(w for w, _, _ in words) if words is not None else None, word_timings=words,
                meta={"code": video.stem, "align_path": str(align) if align else None},
            ))  # fmt: skip
    if not records:
        raise FileNotFoundError(f"{root}: GRID speaker folders hold no videos ({', '.join(_VIDEO_SUFFIXES)})")
    return unique_ids(records, root)


ADAPTER = Adapter(DATASET, scan, companion="align file (s<N>/align/<code>.align or align/s<N>/<code>.align)")
