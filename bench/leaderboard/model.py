"""The leaderboard data model: columns (metrics with their direction), rows (methods), cells (mean and CI).

Directions come from the metric classes (``higher_is_better``) and nowhere else. Reproduced rows come from run
directories (``summary.json`` + ``config.json``); reported rows from ``leaderboards/published.toml``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import metrics
from bench.io import read_json, read_toml
from bench.results import scoring_differences


@dataclass(frozen=True)
class Column:
    """A metric column: its name and which way is better (None: no direction, never ranked)."""

    metric: str
    higher_is_better: bool | None

    @property
    def arrow(self) -> str:
        """``↑``, ``↓`` or nothing."""
        return {True: "↑", False: "↓", None: ""}[self.higher_is_better]


@dataclass(frozen=True)
class Cell:
    """One value: its mean, 95% interval, ``n`` and coverage, and on how many of its run's videos it stands.

    ``n`` counts videos, or frames for a set-level metric; ``videos`` of ``total`` counts videos for both.
    """

    mean: float
    ci_low: float = math.nan
    ci_high: float = math.nan
    n: int | None = None
    coverage: float | None = None
    videos: int | None = None
    total: int | None = None

    @property
    def has_ci(self) -> bool:
        """Whether an interval is known."""
        return not (math.isnan(self.ci_low) or math.isnan(self.ci_high))

    @property
    def incomplete(self) -> bool:
        """Whether the value stands on fewer videos than the run holds (the others failed for this metric)."""
        return self.videos is not None and self.total is not None and self.videos < self.total and not math.isnan(self.mean)


@dataclass
class Row:
    """A method's row: reproduced from a run directory, or reported by a paper."""

    method: str
    kind: Literal["reproduced", "reported"]
    cells: dict[str, Cell] = field(default_factory=dict)
    source: str = ""
    notes: str = ""

    @property
    def key(self) -> str:
        """The row's name in the table, unique in it: a reported row is marked as such beside a reproduced one."""
        return f"{self.method} (reported)" if self.kind == "reported" else self.method


@dataclass
class Leaderboard:
    """A protocol's table."""

    protocol: str
    columns: list[Column]
    rows: list[Row]

    def ranks(self, metric: str) -> dict[str, int]:
        """Rank (1 = best) of each row for ``metric``, by :attr:`Row.key`; reported and reproduced rows compete together."""
        column = next(c for c in self.columns if c.metric == metric)
        if column.higher_is_better is None:
            return {}
        values = sorted(
            {r.cells[metric].mean for r in self.rows if metric in r.cells and not math.isnan(r.cells[metric].mean)},
            reverse=column.higher_is_better,
        )
        place = {v: i + 1 for i, v in enumerate(values)}
        return {r.key: place[r.cells[metric].mean] for r in self.rows if r.cells.get(metric) and r.cells[metric].mean in place}

    def coverage_note(self) -> str | None:
        """The footnote for values that stand on fewer videos than their run holds; None if none do.

        Each format puts its own ``*`` before the text.
        """
        parts = []
        for row in self.rows:
            counts: dict[tuple[int | None, int | None], list[str]] = {}
            for column in self.columns:
                cell = row.cells.get(column.metric)
                if cell is not None and cell.incomplete:
                    counts.setdefault((cell.videos, cell.total), []).append(column.metric)
            parts += [f"{row.key} {', '.join(names)} on {n} of {total}" for (n, total), names in counts.items()]
        if not parts:
            return None
        return (f"scored on fewer videos than the run evaluated: {'; '.join(parts)}; the others failed for that "
                "metric, each with its reason in the run's per_video.csv.")  # fmt: skip


def direction(metric: str, fallback: bool | None = None) -> bool | None:
    """A metric's direction from its class; ``fallback`` for metrics not installed here."""
    if metric in metrics.REGISTRY:
        metric_class: type[metrics.Metric] = metrics.REGISTRY.entry(metric).resolve()
        return metric_class.higher_is_better
    return fallback


def run_row(directory: Path) -> tuple[str | None, Row, dict[str, bool | None]]:
    """A reproduced row from a run directory: its protocol id, the row, and the directions the run recorded."""
    summary = read_json(directory / "summary.json")
    config = read_json(directory / "config.json")
    method = config.get("label") or directory.name
    cells: dict[str, Cell] = {}
    directions: dict[str, bool | None] = {}
    videos = summary.get("counts", {}).get("videos")
    per_video = summary.get("aggregation", "mean-over-videos") == "mean-over-videos"  # n counts videos (older runs)
    for name, agg in summary.get("metrics", {}).items():
        cells[name] = Cell(_f(agg["mean"]), _f(agg["ci_low"]), _f(agg["ci_high"]), agg["n"], agg["coverage"],
                           videos=agg.get("videos", agg["n"] if per_video else None), total=videos)  # fmt: skip
        directions[name] = agg.get("higher_is_better")
    for name, res in summary.get("set_metrics", {}).items():
        used = None if videos is None else videos - res.get("videos_left_out", 0)
        cells[name] = Cell(_f(res["value"]), n=res.get("frames"), videos=used, total=videos)
        directions[name] = res.get("higher_is_better")
    protocol = (summary.get("protocol") or {}).get("id")
    return protocol, Row(method, "reproduced", cells, source=str(directory)), directions


def published_rows(path: Path, protocol: str) -> list[Row]:
    """Reported rows for ``protocol`` from a ``published.toml``."""
    if not path.exists():
        return []
    data = read_toml(path)
    rows = []
    for entry in data.get("result", []):
        if entry.get("protocol") != protocol:
            continue
        cells = {name: Cell(float(value)) for name, value in entry.get("metrics", {}).items()}
        source = entry.get("citation", "")
        method = f"{entry['method']} [{entry['preset']}]" if "preset" in entry else entry["method"]  # a method's variants
        rows.append(Row(method, "reported", cells, source=source, notes=entry.get("notes", "")))
    return rows


NO_PROTOCOL = "none"  # the id that tabulates runs evaluated without --protocol (scored alike, as any table's runs)


def build_leaderboard(
    protocol: str,
    run_dirs: Iterable[Path],
    published: Path | None = None,
    metric_order: Sequence[str] | None = None,
) -> Leaderboard:
    """The table for ``protocol`` from the runs that name it (others are ignored) and the published rows.

    ``protocol`` :data:`NO_PROTOCOL` (``"none"``) takes the runs evaluated without a protocol (``--metrics`` only).

    Raises:
        ValueError: two of the runs were scored differently although they name the same protocol (two ``+custom``
            runs with different overrides), so their values do not belong in one table; two rows share a name; or
            ``metric_order`` names a metric that no row has.
    """
    rows: list[Row] = []
    recorded: dict[str, bool | None] = {}
    first: tuple[Path, Row] | None = None
    for directory in map(Path, run_dirs):
        run_protocol, row, directions = run_row(directory)
        if (run_protocol or NO_PROTOCOL) != protocol:
            continue
        if first is None:
            first = directory, row
        elif differences := scoring_differences(first[0], directory, set(first[1].cells) & set(row.cells)):
            raise ValueError(f"{directory} was scored differently from {first[0]} under {protocol}, so they cannot "
                             "share a table:\n" + "\n".join(f"  {line}" for line in differences))  # fmt: skip
        rows.append(row)
        recorded.update(directions)
    rows += published_rows(published, protocol) if published else []
    _check_unique(rows, protocol)
    present = {m for r in rows for m in r.cells}
    absent = [m for m in metric_order or [] if m not in present]
    if absent:
        raise ValueError(f"no row for {protocol} has {', '.join(absent)} (the rows have {', '.join(sorted(present))})")
    names = list(metric_order or [])
    names += sorted(present - set(names))
    columns = [Column(m, direction(m, recorded.get(m))) for m in names]
    return Leaderboard(protocol, columns, rows)


def run_protocols(run_dirs: Iterable[Path]) -> dict[str, int]:
    """How many of the runs each protocol id has (:data:`NO_PROTOCOL` for runs evaluated without one)."""
    return dict(Counter(run_row(Path(directory))[0] or NO_PROTOCOL for directory in run_dirs))


def _check_unique(rows: Sequence[Row], protocol: str) -> None:
    """Refuse two rows of one name (two runs of one label from two benchmarks, say): a table could not tell them apart."""
    sources: dict[str, list[str]] = {}
    for row in rows:
        sources.setdefault(row.key, []).append(row.source or "?")
    clashes = {key: where for key, where in sources.items() if len(where) > 1}
    if clashes:
        lines = "\n".join(f"  {key}: {', '.join(where)}" for key, where in clashes.items())
        raise ValueError(f"rows of the same name for {protocol}; pass the runs of one table, or label them apart:\n{lines}")


def _f(value: Any) -> float:
    return math.nan if value is None else float(value)
