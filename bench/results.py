"""The result schema and the run directory store.

A run directory holds:

- ``config.json``: what was asked (protocol id and version, metrics and their options, inputs, seed).
- ``environment.json``: package versions, git commit, weight sha256s, device, date.
- ``rows.jsonl``: the journal, one JSON line per finished video, appended and fsync'ed; a killed run resumes
  from it without recomputing or losing a finished video (a torn last line is ignored and its video redone).
- ``set_state.safetensors`` + ``set_state.json``: accumulated state of set-level metrics (FID, KID) and the videos
  it includes, checkpointed atomically.
- ``per_video.csv`` (columns ``video``, ``status``, ``reason``, ``speaker``, then one column per metric) and
  ``summary.json``: rewritten atomically from the journal.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from bench.io import atomic_path, read_json, write_json_atomic

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 1
Status = Literal["ok", "partial", "failed"]


@dataclass
class VideoRow:
    """The outcome of one input video.

    Attributes:
        video: utterance id (the pairing key).
        status: ``ok`` (every metric scored), ``partial`` (some metrics failed) or ``failed`` (none scored).
        reason: why metrics failed, ``metric: reason`` joined by ``; `` (empty when ok).
        speaker: speaker id, for per-speaker breakdowns.
        values: per-item metric values (NaN where a metric failed).
        frames: frames each metric used.
        extras: secondary values reported with a metric (e.g. ``av-offset``), never ranked.
    """

    video: str
    status: Status
    reason: str = ""
    speaker: str = ""
    values: dict[str, float] = field(default_factory=dict)
    frames: dict[str, int] = field(default_factory=dict)
    extras: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        """One journal line."""
        data = asdict(self)
        data["values"] = {k: (None if math.isnan(v) else v) for k, v in self.values.items()}
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> VideoRow:
        """Parse a journal line."""
        data = json.loads(line)
        data["values"] = {k: (math.nan if v is None else float(v)) for k, v in data["values"].items()}
        return cls(**data)


def journal_name(suffix: str = "") -> str:
    """The journal's file name: ``rows.jsonl``, or ``rows{suffix}.jsonl`` for one rank of a torchrun run (``.rank1``)."""
    return f"rows{suffix}.jsonl"


def journaled_count(directory: str | os.PathLike[str]) -> int:
    """Finished videos in a run folder's journals, every rank's."""
    journals = sorted(Path(directory).glob(journal_name("*")))
    return sum(len(RunStore(directory, journal_name=journal.name).finished()) for journal in journals)


class RunStore:
    """A run directory: journal of finished videos, configuration, environment and outputs."""

    def __init__(self, directory: str | os.PathLike[str], journal_name: str = journal_name()) -> None:
        self.directory = Path(directory)
        self.journal = self.directory / journal_name

    def start(self, config: Mapping[str, Any], environment: Mapping[str, Any], resume: bool) -> dict[str, VideoRow]:
        """Open the run; returns the rows already finished (empty unless resuming).

        Raises:
            ValueError: the directory holds a run and ``resume`` is False, or it holds a run of another config.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        config_path = self.directory / "config.json"
        if config_path.exists():
            if not resume:
                raise ValueError(f"{self.directory}: already holds a run; pass --resume to continue it or use a new --out")
            before, now = _comparable(read_json(config_path)), _comparable(config)
            if before != now:
                changed = "; ".join(differing(before, now, sorted(set(before) | set(now))))
                raise ValueError(f"{config_path}: the run there used another configuration (then vs now: {changed}); "
                                 "cannot resume it: run the same command as before, or use a new --out")  # fmt: skip
        else:
            write_json_atomic(config_path, {"schema_version": SCHEMA_VERSION, **config})
        write_json_atomic(self.directory / "environment.json", environment)
        return self.finished() if resume else {}


    def finished(self) -> dict[str, VideoRow]:
        """Rows in the journal, by video; a torn final line (a killed write) is dropped."""
        rows: dict[str, VideoRow] = {}
        if not self.journal.exists():
            return rows
        lines = self.journal.read_text().splitlines()
        for number, line in enumerate(lines):
            try:
                row = VideoRow.from_json(line)
            except (json.JSONDecodeError, TypeError, KeyError):
                if number == len(lines) - 1:
                    break
                raise ValueError(f"{self.journal}:{number + 1}: corrupt journal line") from None
            rows[row.video] = row
        if lines and len(rows) < len(lines):
            self._rewrite_journal(rows.values())
        return rows

    def append(self, row: VideoRow) -> None:
        """Append one finished video to the journal durably."""
        with open(self.journal, "a") as f:
            f.write(row.to_json() + "\n")
            f.flush()
            os.fsync(f.fileno())

    def write_outputs(self, rows: Iterable[VideoRow], metric_names: list[str], summary: Mapping[str, Any]) -> None:
        """Write ``per_video.csv`` and ``summary.json`` atomically."""
        columns, records = table_records(rows, metric_names)
        with atomic_path(self.directory / "per_video.csv") as tmp, open(tmp, "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows([_csv_cell(record[c]) for c in columns] for record in records)
        write_json_atomic(self.directory / "summary.json", summary)

    def _rewrite_journal(self, rows: Iterable[VideoRow]) -> None:
        with atomic_path(self.journal) as tmp:
            tmp.write_text("".join(row.to_json() + "\n" for row in rows))


def table_records(rows: Iterable[VideoRow], metric_names: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """The per-video table's columns and records (NaN where a value is missing).

    Columns: ``video``, ``status``, ``reason``, ``speaker``, the metrics, then extras. Written with the standard
    library, so writing a run needs no pandas.
    """
    rows = list(rows)
    extras = sorted({k for row in rows for k in row.extras})
    records = []
    for row in rows:
        record: dict[str, Any] = {"video": row.video, "status": row.status, "reason": row.reason, "speaker": row.speaker}
        record.update({name: row.values.get(name, math.nan) for name in metric_names})
        record.update({name: row.extras.get(name, math.nan) for name in extras})
        records.append(record)
    return ["video", "status", "reason", "speaker", *metric_names, *extras], records


def _csv_cell(value: Any) -> Any:
    """A CSV cell as pandas writes it: NaN empty, floats in their shortest round-trip form."""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return value


def rows_to_frame(rows: Iterable[VideoRow], metric_names: list[str]) -> pd.DataFrame:
    """The per-video table as a data frame (see :func:`table_records`)."""
    import pandas as pd

    columns, records = table_records(rows, metric_names)
    return pd.DataFrame.from_records(records, columns=columns)


def load_run(directory: str | os.PathLike[str]) -> tuple[dict[str, Any], pd.DataFrame]:
    """The summary and per-video table of a finished run."""
    import pandas as pd

    directory = Path(directory)
    summary_path, table_path = directory / "summary.json", directory / "per_video.csv"
    for path in (summary_path, table_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing; is {directory} a finished talkbench run?")
    summary = read_json(summary_path)
    table = pd.read_csv(table_path, keep_default_na=False, na_values=["", "nan", "NaN"], dtype={"video": str, "speaker": str})
    return summary, table


def _comparable(config: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in {"schema_version", "resume", "progress"}}


# The settings of a run's config.json that move its per-video values (not labels, inputs, device, seed or aggregation)
SCORING_SETTINGS = ("protocol", "protocol_version", "fps", "sample_rate", "length_policy", "crop")


def scoring_differences(run_a: Path, run_b: Path, metrics: set[str]) -> list[str]:
    """What differs between two runs' scoring settings and the options of the shared ``metrics``; empty if nothing.

    Runs without a ``config.json`` (written by other tools) are not checked.
    """
    paths = (run_a / "config.json", run_b / "config.json")
    if not all(path.is_file() for path in paths):
        return []
    config_a, config_b = (read_json(path) for path in paths)
    shared = sorted(metrics)
    options_a, options_b = ({m: (c.get("metric_options") or {}).get(m, {}) for m in shared} for c in (config_a, config_b))
    return differing(config_a, config_b, SCORING_SETTINGS) + differing(options_a, options_b, shared, " options")


def differing(a: Mapping[str, Any], b: Mapping[str, Any], keys: Iterable[str], label: str = "") -> list[str]:
    """``"key<label>: A vs B"`` for each of ``keys`` whose value differs between ``a`` and ``b``."""
    return [f"{key}{label}: {a.get(key)!r} vs {b.get(key)!r}" for key in keys if a.get(key) != b.get(key)]
