"""``talkbench run``: the benchmark job (the built-in synthgrid demo when no config is given)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.run import demo_config, load_config, run_benchmark


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``run`` command."""
    p = sub.add_parser("run", help="fit/load, adapt, generate and evaluate every method of a benchmark; write tables")
    p.add_argument("--config", type=Path, help="benchmark TOML ([benchmark] + [[method]]); default: the synthgrid demo")
    p.add_argument("--out", type=Path, help="output directory (default: the config's, or runs/synthgrid-demo)")
    p.add_argument("--device", help="cpu, cuda, ... (overrides the config)")
    p.add_argument("--methods", help="comma-separated subset of the config's methods")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(handler=run_run)


def run_run(args: argparse.Namespace) -> int:
    """Handler of ``talkbench run``."""
    config = load_config(args.config) if args.config else demo_config()
    if args.out:
        config.out = args.out
    if args.device:
        config.device = args.device
    if args.methods:
        wanted = {m.strip() for m in args.methods.split(",")}
        unknown = wanted - {m.row for m in config.methods}
        if unknown:
            raise ValueError(f"--methods names {', '.join(sorted(unknown))}, not in the benchmark")
        config.methods = [m for m in config.methods if m.row in wanted]
    start = time.monotonic()
    report = run_benchmark(config, progress=not args.no_progress)
    print(f"protocol {report['protocol']}: metrics {', '.join(report['metrics'])}")
    for name, reason in report["unavailable"].items():
        print(f"  unavailable: {name} ({reason})")
    for path in report["tables"]:
        print(f"wrote {path}")
    print(f"done in {time.monotonic() - start:.0f} s")
    return 0
