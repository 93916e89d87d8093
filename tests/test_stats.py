import math

import numpy as np
import pytest

from bench.stats import aggregate, paired_bootstrap


def test_aggregate_hand_computed():
    agg = aggregate([1.0, 2.0, 3.0, 4.0])
    assert agg.mean == 2.5
    assert agg.std == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert agg.n == agg.total == 4 and agg.coverage == 1.0
    assert 1.0 <= agg.ci_low < 2.5 < agg.ci_high <= 4.0


def test_unscored_videos_count_against_coverage_not_mean():
    agg = aggregate([1.0, math.nan, 3.0, math.nan])
    assert agg.mean == 2.0 and agg.n == 2 and agg.total == 4 and agg.coverage == 0.5


def test_nothing_scored_is_nan_not_zero():
    agg = aggregate([math.nan, math.nan])
    assert math.isnan(agg.mean) and agg.coverage == 0.0


def test_bootstrap_is_deterministic_and_covers_the_mean():
    values = np.random.default_rng(3).normal(5.0, 1.0, size=200)
    a, b = aggregate(values), aggregate(values)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    # the bootstrap interval of the mean is close to the normal-theory one
    half = 1.96 * values.std(ddof=1) / math.sqrt(len(values))
    assert a.ci_high - a.ci_low == pytest.approx(2 * half, rel=0.15)


def test_paired_bootstrap_detects_a_shift_and_uses_common_pairs():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 100)
    b = a + 0.5 + rng.normal(0, 0.05, 100)
    b[3] = math.nan
    d = paired_bootstrap(a, b)
    assert d.n == 99
    assert d.ci_low > 0.4 and d.ci_high < 0.6
    with pytest.raises(ValueError, match="equal lengths"):
        paired_bootstrap([1.0], [1.0, 2.0])


def test_infinite_scores_are_scores():
    agg = aggregate([math.inf, math.inf, math.nan])
    assert agg.mean == math.inf and agg.n == 2 and agg.coverage == pytest.approx(2 / 3)
