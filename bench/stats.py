"""Aggregate statistics: mean, standard deviation, bootstrap confidence intervals, coverage, paired comparisons.

Bootstraps use a fixed seed and record their iteration count, so every number in a summary is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

BOOTSTRAP_ITERATIONS = 1000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Aggregate:
    """Summary of one metric over a set of videos.

    Attributes:
        mean: mean over scored videos (NaN when none was scored).
        std: sample standard deviation (ddof=1; NaN for fewer than two).
        ci_low, ci_high: percentile bootstrap 95% interval of the mean.
        n: videos scored.
        total: videos that should have been scored.
        coverage: n / total.
        iterations, seed: how the bootstrap was drawn.
    """

    mean: float
    std: float
    ci_low: float
    ci_high: float
    n: int
    total: int
    coverage: float
    iterations: int = BOOTSTRAP_ITERATIONS
    seed: int = BOOTSTRAP_SEED

    def as_dict(self) -> dict[str, float | int]:
        """Plain dictionary for JSON."""
        return asdict(self)


def bootstrap_means(values: np.ndarray, iterations: int, seed: int) -> np.ndarray:
    """Means of ``iterations`` resamples (with replacement) of ``values``."""
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(values), size=(iterations, len(values)))
    return values[index].mean(axis=1)


def aggregate(
    values: Sequence[float], total: int | None = None, iterations: int = BOOTSTRAP_ITERATIONS, seed: int = BOOTSTRAP_SEED
) -> Aggregate:
    """Aggregate per-video values; NaNs are unscored videos and count against coverage, not in the mean.

    Infinite values are scores (PSNR of identical frames is +inf) and make the mean infinite, never dropped.
    """
    array = np.asarray(values, dtype=np.float64)
    scored = array[~np.isnan(array)]
    total = len(array) if total is None else total
    n = len(scored)
    coverage = n / total if total else math.nan
    if n == 0:
        return Aggregate(math.nan, math.nan, math.nan, math.nan, 0, total, coverage, iterations, seed)
    mean = float(scored.mean())
    if not np.isfinite(mean):
        return Aggregate(mean, math.nan, mean, mean, n, total, coverage, iterations, seed)
    std = float(scored.std(ddof=1)) if n > 1 else math.nan
    if n > 1:
        means = bootstrap_means(scored, iterations, seed)
        low, high = np.percentile(means, [2.5, 97.5])
    else:
        low = high = mean
    return Aggregate(mean, std, float(low), float(high), n, total, coverage, iterations, seed)


@dataclass(frozen=True)
class PairedDifference:
    """Paired bootstrap of ``b - a`` over videos scored in both runs."""

    mean_a: float
    mean_b: float
    delta: float
    ci_low: float
    ci_high: float
    n: int


def paired_bootstrap(
    a: npt.ArrayLike, b: npt.ArrayLike, iterations: int = BOOTSTRAP_ITERATIONS, seed: int = BOOTSTRAP_SEED
) -> PairedDifference:
    """Mean difference ``b - a`` and its 95% bootstrap interval, over the pairs where both are finite."""
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired values need equal lengths, got {len(x)} and {len(y)}")
    both = np.isfinite(x) & np.isfinite(y)
    x, y = x[both], y[both]
    if len(x) == 0:
        return PairedDifference(math.nan, math.nan, math.nan, math.nan, math.nan, 0)
    diff = y - x
    means = bootstrap_means(diff, iterations, seed) if len(diff) > 1 else diff
    low, high = np.percentile(means, [2.5, 97.5])
    return PairedDifference(float(x.mean()), float(y.mean()), float(diff.mean()), float(low), float(high), len(x))
