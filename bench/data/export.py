"""A protocol's split as plain files, for methods that run outside talkbench (``talkbench data export``).

A method with its own inference script needs what ``talkbench run`` gives the registered ones: each test utterance's
identity image and driving audio, and, to score its videos, the references in the protocol's crop. For the test
split, ``OUT`` receives::

    reference/<speaker>/<utterance>.mkv   the prepared clip (protocol crop, fps, audio rate; lossless, with audio)
    identity/<speaker>/<utterance>.png    its first frame: the identity image talkbench run gives every method
    audio/<speaker>/<utterance>.wav       its audio, float32 WAV at the protocol's rate: the driving audio
    adapt/<speaker>/<utterance>.mkv       few-shot protocols: each test speaker's adaptation clips
    transcripts.tsv                       id and transcript, for lip-reading metrics
    manifest.csv                          one row per clip: id, split, speaker, files, transcript, dataset source
    export.json                           the protocol, the dataset root, counts, and the evaluate command

Another split (``train``, ``val``, ``adapt``) goes to ``<split>/<speaker>/<utterance>.mkv``. The ``id``
(``<speaker>/<utterance>``) is where the generated video goes below the folder ``talkbench evaluate --generated``
reads, so that it pairs with its reference and counts for its speaker. A video that cannot be prepared is listed in
``failures.jsonl`` and by the command, never dropped silently; files already exported are kept, so an interrupted
export resumes. A method that works on whole frames can start from the row's ``source`` (the dataset's own file, and
``source_audio`` where the audio comes from another file) instead: ``talkbench evaluate --protocol`` applies the
protocol's crop to generated videos of another size.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from bench.data.prepare import prepare_all, prepare_clip
from bench.data.records import UtteranceRecord
from bench.data.splits import split_records
from bench.io import atomic_path, write_json_atomic, write_text_atomic
from bench.media import Clip, write_clip

if TYPE_CHECKING:
    from bench.protocols import Protocol

MANIFEST_COLUMNS = ("id", "split", "speaker", "utterance_id", "clip", "identity", "audio", "transcript", "source", "source_audio")


@dataclass
class ExportReport:
    """What :func:`export_split` wrote: one manifest row per clip, and the videos that could not be prepared."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Clips written per split, in the order written."""
        return dict(Counter(row["split"] for row in self.rows))


def export_split(
    protocol: Protocol, root: str | Path | None, out: str | Path, split: str = "test", workers: int = 1, progress: bool = True
) -> ExportReport:
    """Write ``split`` of ``protocol`` (and, for a few-shot test split, its adaptation clips) below ``out``.

    Raises:
        ValueError: an unknown split, or ``adapt`` for a protocol that is not few-shot.
        FileNotFoundError: the dataset root or a listed file is missing.
        NotADirectoryError: ``out`` is a file.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out}: a file; give the folder to export into")
    splits = [split, "adapt"] if split == "test" and protocol.few_shot else [split]
    records = {name: split_records(protocol, name, root) for name in splits}
    prepared = prepare_all([r for recs in records.values() for r in recs], protocol, workers, progress)
    failed = {row["utterance_id"] for row in prepared.failures}
    report = ExportReport(failures=prepared.failures)
    todo = [(name, record) for name, recs in records.items() for record in recs if record.utterance_id not in failed]
    for name, record in tqdm(todo, desc=f"export {protocol.full_id}", unit="video", disable=not progress):
        report.rows.append(_export_one(record, protocol, out, name))
    _write_tables(report, protocol, root, out)
    return report


def _export_one(record: UtteranceRecord, protocol: Protocol, out: Path, split: str) -> dict[str, Any]:
    """Write one record's files (those not there yet) and return its manifest row."""
    key = f"{record.speaker}/{record.utterance_id}"
    folder = "reference" if split == "test" else split
    row = {"id": key, "split": split, "speaker": record.speaker, "utterance_id": record.utterance_id,
           "clip": f"{folder}/{key}.mkv", "identity": "", "audio": "", "transcript": record.transcript or "",
           "source": str(record.video_path), "source_audio": str(record.audio_path or "")}  # fmt: skip
    if split == "test":
        row.update(identity=f"identity/{key}.png", audio=f"audio/{key}.wav")
    if not all((out / row[name]).is_file() for name in ("clip", "identity", "audio") if row[name]):
        clip = prepare_clip(record, protocol)  # from the cache prepare_all filled
        write_clip(out / row["clip"], clip)
        if split == "test":
            _write_png(out / row["identity"], clip.frames[0])
            _write_wav(out / row["audio"], clip)
    return row


def _write_png(path: Path, image: np.ndarray) -> None:
    """``image`` (RGB uint8) as a PNG, atomically."""
    import cv2

    ok, data = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise OSError(f"{path}: OpenCV could not encode the identity image")
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.tobytes())


def _write_wav(path: Path, clip: Clip) -> None:
    """The clip's audio as a float32 WAV at its rate, atomically (bit-exact: what the reference clip carries)."""
    import soundfile

    if clip.audio is None:
        raise ValueError(f"{clip.name}: the prepared clip has no audio to drive a method")
    buffer = io.BytesIO()
    soundfile.write(buffer, clip.audio, clip.sample_rate, subtype="FLOAT", format="WAV")
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def _write_tables(report: ExportReport, protocol: Protocol, root: str | Path | None, out: Path) -> None:
    """manifest.csv, transcripts.tsv, failures.jsonl and export.json."""
    table = io.StringIO()
    writer = csv.DictWriter(table, MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(sorted(report.rows, key=lambda row: (row["split"], row["id"])))
    write_text_atomic(out / "manifest.csv", table.getvalue())
    spoken = sorted((row["id"], row["transcript"]) for row in report.rows if row["split"] == "test" and row["transcript"])
    if spoken:
        write_text_atomic(out / "transcripts.tsv", "utterance_id\ttranscript\n" + "".join(f"{i}\t{t}\n" for i, t in spoken))
    write_text_atomic(out / "failures.jsonl", "".join(json.dumps(row, sort_keys=True) + "\n" for row in report.failures))
    write_json_atomic(out / "export.json", {
        "protocol": protocol.full_id, "dataset": protocol.dataset, "root": str(root) if root else None,
        "clips": report.counts, "failed": len(report.failures), "evaluate": evaluate_command(protocol, out, bool(spoken)),
    })  # fmt: skip


def evaluate_command(protocol: Protocol, out: Path, transcripts: bool) -> str:
    """The ``talkbench evaluate`` line that scores a method's videos (named by the manifest's ids) on this export."""
    from bench.protocols import PROTOCOL_DIR

    named = protocol.full_id if protocol.path.parent == PROTOCOL_DIR else protocol.path  # a user's file by its path
    line = f"talkbench evaluate --generated YOUR_VIDEOS --reference {out / 'reference'} --protocol {named}"
    if transcripts:
        line += f" --transcripts {out / 'transcripts.tsv'}"
    return line + " --out runs/YOUR_METHOD"

