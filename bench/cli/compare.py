"""``talkbench compare``: does run B regress against run A?"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``compare`` command."""
    p = sub.add_parser("compare", help="paired bootstrap of run B against run A; exit 1 when a metric regresses")
    p.add_argument("run_a", type=Path, help="baseline run directory")
    p.add_argument("run_b", type=Path, help="candidate run directory")
    p.add_argument("--tolerance", help="per-metric tolerances in the metric's units, e.g. psnr=0.5,ssim=0.01")
    p.set_defaults(handler=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    """Handler of ``talkbench compare``."""
    from bench.compare import compare_runs, format_comparisons, parse_tolerances

    results = compare_runs(args.run_a, args.run_b, parse_tolerances(args.tolerance))
    print(format_comparisons(results))
    regressed = [r.metric for r in results if r.regressed]
    if regressed:
        print(f"regression in: {', '.join(regressed)}")
        return 1
    return 0
