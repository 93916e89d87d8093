"""Regression checks between two runs: a paired bootstrap per metric, aware of each metric's direction."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.results import load_run
from bench.stats import paired_bootstrap


@dataclass(frozen=True)
class MetricComparison:
    """One metric of run B against run A.

    ``worsening`` is the mean change in the bad direction (positive = B is worse), with its 95% interval
    ``[worse_low, worse_high]``. B regresses when the interval lies entirely above ``tolerance``.
    """

    metric: str
    higher_is_better: bool | None
    mean_a: float
    mean_b: float
    worsening: float
    worse_low: float
    worse_high: float
    n: int
    tolerance: float

    @property
    def regressed(self) -> bool:
        """Whether B is worse than A by more than the tolerance, with 95% confidence."""
        return self.higher_is_better is not None and self.n > 0 and self.worse_low > self.tolerance

    @property
    def improved(self) -> bool:
        """Whether B is better than A with 95% confidence."""
        return self.higher_is_better is not None and self.n > 0 and self.worse_high < 0


def compare_tables(
    summary_a: Mapping[str, Any],
    table_a: pd.DataFrame,
    table_b: pd.DataFrame,
    tolerances: Mapping[str, float] | None = None,
    seed: int = 0,
) -> list[MetricComparison]:
    """Compare the per-item metrics common to both tables over the videos common to both."""
    tolerances = tolerances or {}
    merged = table_a.merge(table_b, on="video", suffixes=("_a", "_b"))
    results = []
    for metric, info in summary_a.get("metrics", {}).items():
        if f"{metric}_a" not in merged or f"{metric}_b" not in merged:
            continue
        direction = info.get("higher_is_better")
        sign = -1.0 if direction else 1.0  # worsening = sign * (b - a)
        d = paired_bootstrap(merged[f"{metric}_a"].to_numpy(float), merged[f"{metric}_b"].to_numpy(float), seed=seed)
        low, high = sorted((sign * d.ci_low, sign * d.ci_high))
        results.append(
            MetricComparison(
                metric, direction, d.mean_a, d.mean_b, sign * d.delta, low, high, d.n, tolerances.get(metric, 0.0)
            )
        )
    return results


def compare_runs(
    run_a: str | Path, run_b: str | Path, tolerances: Mapping[str, float] | None = None
) -> list[MetricComparison]:
    """Compare two stored runs (``run_b`` against the baseline ``run_a``)."""
    summary_a, table_a = load_run(run_a)
    _, table_b = load_run(run_b)
    return compare_tables(summary_a, table_a, table_b, tolerances)


def format_comparisons(results: list[MetricComparison]) -> str:
    """A plain-text table of comparisons."""
    lines = [f"{'metric':<16}{'A':>10}{'B':>10}{'worse by':>11}  {'95% CI':<22}{'n':>5}  verdict"]
    for r in results:
        verdict = "REGRESSED" if r.regressed else ("improved" if r.improved else "no change")
        if r.higher_is_better is None:
            verdict = "no direction"
        ci = f"[{_f(r.worse_low)}, {_f(r.worse_high)}]"
        lines.append(f"{r.metric:<16}{_f(r.mean_a):>10}{_f(r.mean_b):>10}{_f(r.worsening):>11}  {ci:<22}{r.n:>5}  {verdict}")
    return "\n".join(lines)


def _f(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.4f}"


def parse_tolerances(text: str | None) -> dict[str, float]:
    """``"psnr=0.5,ssim=0.01"`` -> ``{"psnr": 0.5, "ssim": 0.01}``."""
    tolerances: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"bad tolerance {part!r}: expected metric=value")
        tolerances[name.strip()] = float(value)
    return tolerances
