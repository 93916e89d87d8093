"""``talkbench data prepare`` and ``talkbench data check``: preprocess a dataset for a protocol, or audit its layout."""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.data import datasets
from bench.io import sha256_file


def register_data(subparsers: argparse._SubParsersAction) -> None:
    """Add ``talkbench data prepare``, ``data export``, ``data check`` and ``data protocols``."""
    p = _protocol_command(subparsers, "prepare", "preprocess a dataset's clips for a protocol into the cache")
    p.add_argument("--face-tracks", action="store_true", help="also cache the prepared clips' face tracks (dlib)")
    p.set_defaults(handler=_prepare)
    e = _protocol_command(subparsers, "export", "write a protocol's split as plain files (references, identity images, "
                          "driving audio, manifest) for a method run outside talkbench")  # fmt: skip
    e.add_argument("--out", required=True, type=Path, help="folder to write (an interrupted export resumes there)")
    e.add_argument("--split", default="test", choices=("test", "train", "val", "adapt"),
                   help="which split (default test: references, identity images, driving audio; few-shot protocols "
                   "add the adaptation clips)")
    e.set_defaults(handler=_export)
    c = subparsers.add_parser("check", help="check a dataset's layout: counts, missing files, checksums")
    c.add_argument("dataset", choices=datasets.names(), help="dataset name")
    c.add_argument("--root", type=Path, help="dataset root folder (synthgrid: default the cached demo corpus)")
    c.add_argument("--protocol", help="also resolve every split of this protocol against the dataset")
    c.set_defaults(handler=_check)
    s = subparsers.add_parser("protocols", help="list the protocols, or print a protocol file's checksum")
    s.add_argument("--hash", type=Path, metavar="FILE", help="print the checksum FILE should record")
    s.set_defaults(handler=_protocols)


def _protocol_command(subparsers: argparse._SubParsersAction, name: str, text: str) -> argparse.ArgumentParser:
    """A ``data`` command that prepares a dataset's clips for a protocol: dataset, root, protocol, workers, progress."""
    p = subparsers.add_parser(name, help=text)
    p.add_argument("dataset", choices=datasets.names(), help="dataset name (must be the protocol's)")
    p.add_argument("--root", type=Path, help="dataset root folder (synthgrid: default the cached demo corpus)")
    p.add_argument("--protocol", required=True, help="protocol id, e.g. grid-speaker-independent or ...-v1")
    p.add_argument("--workers", type=int, default=1, help="worker processes preparing clips (default 1)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def _root(args: argparse.Namespace) -> Path | None:
    if args.root is None and datasets.get(args.dataset).needs_root:
        raise ValueError(f"dataset {args.dataset} needs --root (the folder the dataset was extracted to)")
    return args.root


def _prepare(args: argparse.Namespace) -> int:
    from bench.data.prepare import prepare_all
    from bench.data.splits import all_records

    protocol = _protocol_for(args)
    splits = all_records(protocol, _root(args))
    records = list({r.utterance_id: r for recs in splits.values() for r in recs}.values())
    report = prepare_all(records, protocol, args.workers, not args.no_progress, args.face_tracks)
    sizes = ", ".join(f"{name} {len(recs)}" for name, recs in splits.items())
    print(f"{protocol.full_id}: {len(records)} videos ({sizes}): {report.prepared} prepared, {report.cached} "
          f"already cached, {len(report.failures)} failed")  # fmt: skip
    return _failed(report.failures, report.failure_file)


def _failed(failures: list[dict[str, Any]], record: Path | None) -> int:
    """Print the first ten videos that could not be prepared and where all are listed; the command's exit status."""
    for row in failures[:10]:
        print(f"  failed {row['utterance_id']}: {row['reason']}")
    if failures:
        print(f"failure record: {record}")
    return 1 if failures else 0


def _export(args: argparse.Namespace) -> int:
    from bench.data.export import evaluate_command, export_split

    protocol = _protocol_for(args)
    report = export_split(protocol, _root(args), args.out, args.split, args.workers, not args.no_progress)
    counts = ", ".join(f"{split} {n}" for split, n in report.counts.items())
    print(f"{protocol.full_id}: exported {len(report.rows)} clips ({counts or 'none'}) to {args.out}, "
          f"{len(report.failures)} could not be prepared")  # fmt: skip
    if args.split == "test":
        print("for each test row of manifest.csv, write YOUR_VIDEOS/<id>.mp4 (any format FFmpeg reads) made from its "
              "identity image and audio, then:")
        print(f"  {evaluate_command(protocol, args.out, (args.out / 'transcripts.tsv').is_file())}")
    return _failed(report.failures, args.out / "failures.jsonl")


def _protocol_for(args: argparse.Namespace) -> Any:
    """The protocol named by ``--protocol``, which must be on the dataset named."""
    from bench.protocols import load_protocol

    protocol = load_protocol(args.protocol)
    if protocol.dataset != args.dataset:
        raise ValueError(f"protocol {protocol.full_id} is for dataset {protocol.dataset}, not {args.dataset}")
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    return protocol


@dataclass
class CheckReport:
    """What ``talkbench data check`` found; ``problems`` make the command fail."""

    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check_dataset(dataset: str, root: Path | None, protocol_id: str | None = None) -> CheckReport:
    """Scan ``root`` as ``dataset``: counts, missing companion and listed files, checksums, protocol splits."""
    adapter = datasets.get(dataset)
    report = CheckReport()
    records = adapter.records(root)
    report.counts.update(
        utterances=len(records), speakers=len({r.speaker for r in records}),
        with_transcript=sum(r.transcript is not None for r in records),
        with_word_timings=sum(r.word_timings is not None for r in records),
        with_separate_audio=sum(r.audio_path is not None for r in records),
    )  # fmt: skip
    if adapter.companion is not None:
        report.problems += [f"missing {adapter.companion} for {r.video_path}" for r in records if r.transcript is None]
    media = [p for r in records for p in (r.video_path, r.audio_path) if p is not None and p.is_file()]
    report.problems += [f"{p}: empty file (0 bytes), an interrupted copy or extraction" for p in media if p.stat().st_size == 0]
    if adapter.check is not None and root is not None:
        counts, problems, notes = adapter.check(Path(root))
        report.counts.update(counts)
        report.problems += problems
        report.notes += notes
    if root is not None:
        _check_checksums(Path(root), report)
    if protocol_id:
        _check_protocol(protocol_id, dataset, root, report)
    return report


def _known_checksums(root: Path) -> dict[str, str]:
    """Relative path -> sha256 from ``SHA256SUMS`` (sha256sum format) or ``manifest.tsv`` (file, sha256 columns)."""
    known: dict[str, str] = {}
    sums = root / "SHA256SUMS"
    if sums.is_file():
        for number, line in enumerate(sums.read_text().splitlines(), 1):
            parts = line.strip().split(maxsplit=1)
            if not parts:
                continue
            if len(parts) != 2 or len(parts[0]) != 64:
                raise ValueError(f"{sums}:{number}: expected '<sha256>  <relative path>', got {line!r}")
            known[parts[1].lstrip("*")] = parts[0].lower()
    manifest = root / "manifest.tsv"
    if manifest.is_file():
        with open(manifest, newline="") as f:
            reader = csv.DictReader(f, delimiter="\t")
            if {"file", "sha256"} <= set(reader.fieldnames or ()):
                known.update({row["file"]: row["sha256"].lower() for row in reader if row.get("sha256")})
    return known


def _check_checksums(root: Path, report: CheckReport) -> None:
    known = _known_checksums(root)
    if not known:
        report.notes.append(f"no SHA256SUMS or manifest.tsv with sha256 under {root}: checksums not verified")
        return
    bad = 0
    for rel, expected in sorted(known.items()):
        path = root / rel
        if not path.is_file():
            report.problems.append(f"{path}: listed in the checksum file but missing")
        elif sha256_file(path) != expected:
            bad += 1
            report.problems.append(f"{path}: sha256 differs from the recorded {expected[:12]}...")
    report.counts["checksums verified"] = len(known) - bad


def _check_protocol(protocol_id: str, dataset: str, root: Path | None, report: CheckReport) -> None:
    from bench.data.splits import split_records
    from bench.protocols import load_protocol

    protocol = load_protocol(protocol_id)
    if protocol.dataset != dataset:
        report.problems.append(f"protocol {protocol.full_id} is for dataset {protocol.dataset}, not {dataset}")
        return

    for split in ("train", "val", "test", "adapt"):
        if split == "adapt" and not protocol.few_shot:
            continue
        try:
            report.counts[f"{protocol.full_id} {split}"] = len(split_records(protocol, split, root))
        except (FileNotFoundError, ValueError) as exc:
            report.problems.append(f"{protocol.full_id} {split}: {exc}")


def _check(args: argparse.Namespace) -> int:
    report = check_dataset(args.dataset, _root(args), args.protocol)
    for name, value in report.counts.items():
        print(f"{name}: {value}")
    for note in report.notes:
        print(f"note: {note}")
    for problem in report.problems[:50]:
        print(f"problem: {problem}")
    if len(report.problems) > 50:
        print(f"... and {len(report.problems) - 50} more problems")
    print(f"{len(report.problems)} problems" if report.problems else "ok")
    return 1 if report.problems else 0


def _protocols(args: argparse.Namespace) -> int:
    from bench.protocols import available, file_checksum, load_protocol

    if args.hash:
        print(file_checksum(args.hash))
        return 0
    for pid in available():
        protocol: Any = load_protocol(pid)
        few = f", {protocol.few_shot}-shot" if protocol.few_shot else ""
        print(f"{pid}: {protocol.dataset}{few}, {protocol.crop.mode} {protocol.crop.size or ''}, {len(protocol.metrics)} metrics")
    return 0
