"""Regression checks between two runs: a paired bootstrap per metric, aware of each metric's direction."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.results import load_run, scoring_differences
from bench.stats import paired_bootstrap


@dataclass(frozen=True)
class MetricComparison:
    """One metric of run B against run A.

    ``worsening`` is the mean change in the bad direction (positive = B is worse), with its 95% interval
    ``[worse_low, worse_high]``, over the ``n`` videos both runs scored (a video infinite in both, such as PSNR of
    identical frames, changed by 0 and counts among them). ``lost`` counts the videos A scored and B did not (B failed
    them, lacks them, or lacks the metric). ``infinitely_worse`` and ``infinitely_better`` count the videos infinite
    in one run only (PSNR ∞ in A and finite in B is infinitely worse). B regresses when it lost a video or got
    infinitely worse on one, whatever the tolerance, or when the interval lies entirely above ``tolerance``.
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
    lost: int = 0
    infinitely_worse: int = 0
    infinitely_better: int = 0

    @property
    def regressed(self) -> bool:
        """Whether B lost or got infinitely worse on a video A scored, or is worse beyond the tolerance (95%)."""
        worse = self.higher_is_better is not None and self.n > 0 and self.worse_low > self.tolerance
        return self.lost > 0 or self.infinitely_worse > 0 or worse

    @property
    def improved(self) -> bool:
        """Whether B, not regressed, is better than A with 95% confidence or infinitely better on a video."""
        better = self.higher_is_better is not None and self.n > 0 and self.worse_high < 0
        return not self.regressed and (better or self.infinitely_better > 0)


def compare_tables(
    summary_a: Mapping[str, Any],
    table_a: pd.DataFrame,
    table_b: pd.DataFrame,
    tolerances: Mapping[str, float] | None = None,
    seed: int = 0,
) -> list[MetricComparison]:
    """Compare each per-item metric of run A with run B, paired by video; a video A scored and B did not is lost.

    Raises:
        ValueError: a tolerance names a metric that run A does not have (a misspelt name would otherwise be ignored).
    """
    tolerances = tolerances or {}
    unknown = sorted(set(tolerances) - set(summary_a.get("metrics", {})))
    if unknown:
        raise ValueError(f"tolerance for {', '.join(unknown)}, not a per-video metric of the baseline run "
                         f"({', '.join(summary_a.get('metrics', {}))})")  # fmt: skip
    b_by_video = table_b.set_index("video")
    results = []
    for metric, info in summary_a.get("metrics", {}).items():
        if metric not in table_a:
            continue
        a = table_a[metric].to_numpy(float)
        if metric in b_by_video:
            b = b_by_video[metric].reindex(table_a["video"]).to_numpy(float)
        else:
            b = np.full(len(a), math.nan)
        lost = int(np.count_nonzero(~np.isnan(a) & np.isnan(b)))
        direction = info.get("higher_is_better")
        sign = -1.0 if direction else 1.0  # worsening = sign * (b - a)
        same_infinity = np.isinf(a) & (a == b)
        one_infinite = (np.isinf(a) | np.isinf(b)) & ~np.isnan(a) & ~np.isnan(b) & ~same_infinity
        with np.errstate(invalid="ignore"):
            worse = sign * (b - a) > 0
        paired = np.isfinite(a) & np.isfinite(b) | same_infinity
        d = paired_bootstrap(np.where(same_infinity, 0.0, a), np.where(same_infinity, 0.0, b), seed=seed)
        mean_a, mean_b = (float(v[paired].mean()) if paired.any() else math.nan for v in (a, b))
        low, high = sorted((sign * d.ci_low, sign * d.ci_high))
        results.append(
            MetricComparison(
                metric, direction, mean_a, mean_b, sign * d.delta, low, high, d.n, tolerances.get(metric, 0.0), lost,
                infinitely_worse=int(np.count_nonzero(one_infinite & worse)) if direction is not None else 0,
                infinitely_better=int(np.count_nonzero(one_infinite & ~worse)) if direction is not None else 0,
            )
        )  # fmt: skip
    return results


def compare_runs(
    run_a: str | Path, run_b: str | Path, tolerances: Mapping[str, float] | None = None
) -> list[MetricComparison]:
    """Compare two stored runs (``run_b`` against the baseline ``run_a``).

    Raises:
        ValueError: the runs were scored differently (protocol, frame rate, audio rate, length policy, crop, or the
            options of a metric both runs have), so their values cannot be compared.
    """
    summary_a, table_a = load_run(run_a)
    summary_b, table_b = load_run(run_b)
    shared = set(summary_a.get("metrics", {})) & set(summary_b.get("metrics", {}))
    differences = scoring_differences(Path(run_a), Path(run_b), shared)
    if differences:
        raise ValueError(f"{run_a} and {run_b} were not scored the same way, so their values do not compare:\n"
                         + "\n".join(f"  {line}" for line in differences))  # fmt: skip
    return compare_tables(summary_a, table_a, table_b, tolerances)


def format_comparisons(results: list[MetricComparison]) -> str:
    """A plain-text table of comparisons."""
    lines = [f"{'metric':<16}{'A':>10}{'B':>10}{'worse by':>11}  {'95% CI':<22}{'n':>5}{'lost':>6}  verdict"]
    for r in results:
        if r.lost:
            verdict = f"REGRESSED: B did not score {r.lost} of the videos A scored"
        elif r.infinitely_worse:
            verdict = f"REGRESSED: B is infinitely worse on {r.infinitely_worse} of the videos (infinite in one run only)"
        elif r.higher_is_better is None:
            verdict = "no direction"
        elif r.n == 0 and not r.infinitely_better:
            verdict = "not compared: no video has a value in both runs"
        else:
            verdict = "REGRESSED" if r.regressed else ("improved" if r.improved else "no change")
        ci = f"[{_f(r.worse_low)}, {_f(r.worse_high)}]"
        lines.append(
            f"{r.metric:<16}{_f(r.mean_a):>10}{_f(r.mean_b):>10}{_f(r.worsening):>11}  {ci:<22}{r.n:>5}{r.lost:>6}  {verdict}"
        )
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
