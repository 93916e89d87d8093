"""``talkbench leaderboard``: tables for one protocol from stored runs, beside the published numbers."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli._names import split_names

DEFAULT_PUBLISHED = Path("leaderboards/published.toml")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``leaderboard`` command."""
    p = sub.add_parser("leaderboard", help="build Markdown/CSV/LaTeX/HTML tables for a protocol from stored runs")
    p.add_argument("runs", nargs="+", type=Path, help="run directories, or folders searched for them")
    p.add_argument("--protocol", required=True,
                   help="protocol id; runs of other protocols are left out ('none': the runs evaluated without one)")
    p.add_argument("--out", required=True, type=Path, help="output stem: writes STEM.md, STEM.csv, STEM.tex, STEM.html")
    p.add_argument("--published", type=Path,
                   help=f"reported numbers (TOML) shown beside (default {DEFAULT_PUBLISHED}, where it exists)")
    p.add_argument("--formats", help="comma-separated subset of md,csv,tex,html (default all)")
    p.add_argument("--metrics", help="comma-separated metric order (default: alphabetical)")
    p.set_defaults(handler=run_leaderboard)


def find_runs(paths: list[Path]) -> list[Path]:
    """Run directories (holding ``summary.json``) at or below ``paths``, sorted, without duplicates."""
    found: set[Path] = set()
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such run directory")
        direct = path / "summary.json"
        found.update(p.parent for p in ([direct] if direct.exists() else path.rglob("summary.json")))
    if not found:
        raise ValueError(f"no finished runs (summary.json) under {', '.join(map(str, paths))}")
    return sorted(found)


def run_leaderboard(args: argparse.Namespace) -> int:
    """Handler of ``talkbench leaderboard``."""
    from bench.leaderboard import build_leaderboard, write_all
    from bench.leaderboard.model import run_protocols
    from bench.leaderboard.render import FORMATS

    order = split_names(args.metrics) if args.metrics is not None else None
    if order == []:
        raise ValueError("--metrics names no metric")
    if args.published is not None and not args.published.is_file():
        raise FileNotFoundError(f"{args.published}: no such file of published numbers (--published)")
    runs = find_runs(args.runs)
    board = build_leaderboard(args.protocol, runs, args.published or DEFAULT_PUBLISHED, order)
    if not board.rows:
        found = ", ".join(f"{p} ({n} run{'s' if n > 1 else ''})" for p, n in sorted(run_protocols(runs).items()))
        raise ValueError(f"no run or published row for protocol {args.protocol!r}; the runs found are for: {found}; "
                         "pass one of these ids ('none' takes the runs evaluated without --protocol)")  # fmt: skip
    formats = tuple(split_names(args.formats or ",".join(FORMATS)))
    if not formats:
        raise ValueError(f"--formats names no format; formats: {', '.join(FORMATS)}")
    for path in write_all(board, args.out, formats):
        print(f"wrote {path}")
    return 0
