"""LRS2-BBC (Afouras, Chung, Senior, Vinyals, Zisserman 2018) with its official lists and Wav2Lip's cross-audio pairs.

Layout under ``root`` (``root`` may also be the ``mvlrs_v1`` folder itself)::

    mvlrs_v1/main/<video id>/<n>.mp4        train/val/test videos, 25 fps, face-centred 160x160
    mvlrs_v1/main/<video id>/<n>.txt        "Text:  WORDS ..." then "Conf: ..."
    mvlrs_v1/pretrain/<video id>/<n>.mp4    pretrain videos (their .txt adds a "WORD START END ASDSCORE" table)
    train.txt  val.txt  test.txt            official lists: one "<video id>/<n>" per line (test lines may carry a
                                            second token, which is ignored as Wav2Lip's loader does)

LRS2 names no speakers: the BBC programme folder (``<video id>``) stands in for the speaker. Utterance ids are
``<video id>_<n>``; a cross-audio pair is ``<video>__<audio source>``.
"""

from __future__ import annotations

from pathlib import Path

from bench.data.datasets import Adapter
from bench.data.records import UtteranceRecord, safe_id, unique_ids

DATASET = "lrs2"
SUBSETS = ("main", "pretrain")
TEST_VIDEOS = 1243
"""Official test list length."""
WAV2LIP_PAIRS = 14239
"""Lines of Wav2Lip's ``evaluation/test_filelists/lrs2.txt``."""


def data_root(root: str | Path) -> Path:
    """The folder holding ``main/`` (``root/mvlrs_v1`` or ``root`` itself), or a clear error."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: LRS2 root folder not found")
    for candidate in (root / "mvlrs_v1", root):
        if (candidate / "main").is_dir() or (candidate / "pretrain").is_dir():
            return candidate
    raise FileNotFoundError(
        f"{root}: not an LRS2 root; expected mvlrs_v1/main/<video id>/<n>.mp4 (with .txt transcripts) and the "
        "official train.txt, val.txt, test.txt lists beside mvlrs_v1/"
    )


def read_transcript(path: Path) -> tuple[str, tuple[tuple[str, float, float], ...] | None]:
    """Transcript (lower case) and, for pretrain files, word timings from an LRS2 ``.txt``."""
    lines = path.read_text(errors="replace").splitlines()
    text = next((ln.split(":", 1)[1] for ln in lines if ln.startswith("Text:")), None)
    if text is None or not text.split():
        raise ValueError(f"{path}: no 'Text:' line with words (an LRS2 transcript starts 'Text:  WORDS')")
    words = None
    if "WORD START END ASDSCORE" in (ln.strip() for ln in lines):
        start = [ln.strip() for ln in lines].index("WORD START END ASDSCORE") + 1
        parsed = []
        for number, line in enumerate(lines[start:], start + 1):
            parts = line.split()
            if not parts:
                continue
            try:
                parsed.append((parts[0].lower(), float(parts[1]), float(parts[2])))
            except (IndexError, ValueError) as exc:
                raise ValueError(f"{path}:{number}: expected 'WORD START END ASDSCORE', got {line!r}") from exc
        words = tuple(parsed)
    return " ".join(text.lower().split()), words


def _record(base: Path, subset: str, entry: str) -> UtteranceRecord:
    video = base / subset / f"{entry}.mp4"
    txt = video.with_suffix(".txt")
    transcript, words = read_transcript(txt) if txt.is_file() else (None, None)
    folder = entry.split("/")[0]
    return UtteranceRecord(safe_id(entry), folder, DATASET, video, None, transcript, words,
                           {"entry": entry, "subset": subset})  # fmt: skip


def scan(root: str | Path, subset: str = "main") -> list[UtteranceRecord]:
    """Every video of ``subset`` (``main`` or ``pretrain``)."""
    if subset not in SUBSETS:
        raise ValueError(f"LRS2 subset must be one of {', '.join(SUBSETS)}, got {subset!r}")
    base = data_root(root)
    folder = base / subset
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: LRS2 {subset}/ folder not found")
    entries = sorted(f"{p.parent.name}/{p.stem}" for p in folder.glob("*/*.mp4"))
    if not entries:
        raise FileNotFoundError(f"{folder}: no <video id>/<n>.mp4 files")
    return unique_ids([_record(base, subset, e) for e in entries], folder)


def list_path(root: str | Path, name: str) -> Path:
    """Where an official list (``train.txt``...) is: beside ``mvlrs_v1/`` or inside it."""
    root = Path(root)
    for candidate in (root / name, data_root(root) / name, data_root(root).parent / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{root / name}: LRS2 list not found (the official {name} from the LRS2 download)")


def read_list(path: Path) -> list[str]:
    """Entries ``<video id>/<n>`` of an official list (first token of each non-empty line)."""
    entries = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    bad = [e for e in entries if e.count("/") != 1]
    if bad:
        raise ValueError(f"{path}: entries must look like '<video id>/<n>', got {bad[:3]}")
    return entries


def list_records(root: str | Path, name: str, subset: str = "main") -> list[UtteranceRecord]:
    """Records of an official list, refusing entries whose video is missing."""
    path = list_path(root, name)
    base = data_root(root)
    records = [_record(base, subset, e) for e in read_list(path)]
    missing = [r.video_path for r in records if not r.video_path.is_file()]
    if missing:
        raise FileNotFoundError(f"{path}: {len(missing)} listed videos are missing, e.g. {missing[0]}")
    return unique_ids(records, path)


def pair_records(root: str | Path, pairs_file: str | Path) -> list[UtteranceRecord]:
    """Wav2Lip's cross-audio pairs: each line ``<video> <audio source>`` (entries of ``main/``).

    The record's ``video_path`` gives the identity frames and ``audio_path`` the video whose audio drives it; the
    transcript is the audio source's.
    """
    path = Path(pairs_file)
    if not path.is_absolute():
        path = Path(root) / path
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: Wav2Lip pair list not found; copy evaluation/test_filelists/lrs2.txt from Rudrabha/Wav2Lip there"
        )
    base = data_root(root)
    records = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise ValueError(f"{path}:{number}: expected '<video> <audio source>', got {line!r}")
        video, audio = (base / "main" / f"{p}.mp4" for p in parts)
        for file in (video, audio):
            if not file.is_file():
                raise FileNotFoundError(f"{path}:{number}: {file} does not exist")
        txt = audio.with_suffix(".txt")
        transcript = read_transcript(txt)[0] if txt.is_file() else None  # the words spoken are the audio's
        records.append(UtteranceRecord(
            f"{safe_id(parts[0])}__{safe_id(parts[1])}", parts[0].split("/")[0], DATASET, video, audio, transcript, None,
            {"entry": parts[0], "audio_entry": parts[1], "subset": "main", "pair_line": number},
        ))  # fmt: skip
    return unique_ids(records, path)


def check_lists(root: Path) -> tuple[dict[str, int], list[str], list[str]]:
    """``talkbench data check``: the official list files, their counts, and the videos they name that are missing."""
    counts: dict[str, int] = {}
    problems: list[str] = []
    notes: list[str] = []
    base = data_root(root)
    for name in ("train.txt", "val.txt", "test.txt"):
        try:
            path = list_path(root, name)
        except FileNotFoundError as exc:
            problems.append(str(exc))
            continue
        entries = read_list(path)
        counts[f"list {name}"] = len(entries)
        problems += [f"{path}: listed video {base / 'main' / e}.mp4 is missing" for e in entries
                     if not (base / "main" / f"{e}.mp4").is_file()]  # fmt: skip
    if counts.get("list test.txt") not in (None, TEST_VIDEOS):
        notes.append(f"test.txt lists {counts['list test.txt']} videos; the official list has {TEST_VIDEOS}")
    return counts, problems, notes


ADAPTER = Adapter(
    DATASET, scan, companion="transcript (<n>.txt beside the video)", list_records=list_records,
    pair_records=pair_records, check=check_lists,
)  # fmt: skip
