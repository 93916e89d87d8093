"""``talkbench run``: the benchmark job (the built-in synthgrid demo when no config is given).

``talkbench run`` writes its tables under the run folder and leaves the checkout alone; ``--publish`` also writes
them to ``leaderboards/<protocol>.*`` with a provenance file (machine, threads, versions, checkpoints).
``--retrain`` fits every method from scratch instead of starting from the shipped checkpoints;
``--train-checkpoints`` (with a config such as ``baselines/demo-train.toml``) trains and writes those checkpoints.
"""

from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path

from bench.cli._names import split_names


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``run`` command."""
    p = sub.add_parser("run", help="fit/load, adapt, generate and evaluate every method of a benchmark; write tables")
    p.add_argument("--config", type=Path, help="benchmark TOML ([benchmark] + [[method]]); default: the synthgrid demo")
    p.add_argument("--out", type=Path, help="output directory (default: the config's, or runs/synthgrid-demo)")
    p.add_argument("--device", help="cpu, cuda, ... (overrides the config)")
    p.add_argument("--methods", help="comma-separated subset of the config's methods")
    p.add_argument("--only", action="append", default=[], metavar="NAME", help="only this method (repeatable)")
    p.add_argument("--metrics", help="comma-separated metrics instead of the protocol's")
    p.add_argument("--threads", type=int, help="torch threads (default: the config's; the demo uses 2)")
    p.add_argument("--retrain", action="store_true", help="fit every method from scratch, ignoring shipped checkpoints")
    p.add_argument("--publish", nargs="?", const="", metavar="STEM",
                   help="also write the tables to STEM.{md,csv,tex,html} (default: the config's leaderboard, else "
                        "leaderboards/<protocol>)")  # fmt: skip
    p.add_argument("--train-checkpoints", action="store_true", help="train the config's methods and ship their checkpoints")
    p.add_argument("--verify-first-steps", type=int, metavar="N",
                   help="refit until N loss values are logged; compare them with the manifest (nothing written)")  # fmt: skip
    p.add_argument("--checkpoints", type=Path, help="folder of shipped checkpoints (default baselines/checkpoints)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(handler=run_run)


def run_run(args: argparse.Namespace) -> int:
    """Handler of ``talkbench run``."""
    from bench.checkpoints import train_checkpoints
    from bench.run import demo_config, load_config, run_benchmark

    config = load_config(args.config) if args.config else demo_config(args.out, retrain=args.retrain)
    for key in ("out", "device", "threads", "checkpoints"):
        if getattr(args, key) is not None:
            setattr(config, key, getattr(args, key))
    config.retrain = config.retrain or args.retrain
    wanted = set(split_names(args.methods or "")) | set(args.only)
    if args.methods is not None and not wanted:
        raise ValueError("--methods names no method")
    unknown = wanted - {m.row for m in config.methods}
    if unknown:
        raise ValueError(f"--methods/--only name {', '.join(sorted(unknown))}, not in the benchmark")
    if wanted:
        config.methods = [m for m in config.methods if m.row in wanted]
    if args.metrics is not None:
        config.metrics = split_names(args.metrics)
        if not config.metrics:
            raise ValueError("--metrics names no metric")
    if args.train_checkpoints or args.verify_first_steps:
        if not args.config:
            raise ValueError("--train-checkpoints needs --config (the demo's: baselines/demo-train.toml)")
        command = shlex.join(["talkbench", "run", "--config", str(args.config), "--train-checkpoints"])
        start = time.monotonic()
        for line in train_checkpoints(config, command, sorted(wanted), args.verify_first_steps, not args.no_progress):
            print(line)
        print(f"done in {time.monotonic() - start:.0f} s")
        return 0
    if args.publish is not None:
        from bench.protocols import load_protocol

        # a config's own leaderboard stem wins over the protocol's (paper tables would overwrite the demo's)
        config.leaderboard = Path(args.publish or config.leaderboard or f"leaderboards/{load_protocol(config.protocol).name}")
    start = time.monotonic()
    report = run_benchmark(config, progress=not args.no_progress, publish=args.publish is not None)
    print(f"protocol {report['protocol']}: metrics {', '.join(report['metrics'])}")
    for name, reason in report["unavailable"].items():
        print(f"  unavailable: {name} ({reason})")
    for row, (count, total, table) in report["not_fully_scored"].items():
        print(f"  {row}: {count} of {total} videos not fully scored (the reasons: {table})")
    for path in report["tables"]:
        print(f"wrote {path}")
    print("time per stage:")
    for stage, seconds in report["timings"].items():
        print(f"  {seconds:7.1f} s  {stage}")
    print(f"done in {time.monotonic() - start:.0f} s")
    return 0
