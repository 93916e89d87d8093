"""KID: the unbiased polynomial-kernel MMD against a direct double sum, subsets, reservoirs, real GRID frames."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from _inception_weights import fid_weights_dir, make_fid_weights, test_weights, use_test_weights  # noqa: F401
from _tester import one_torch_thread  # noqa: F401  (autouse: one thread on shared machines)

import metrics
from bench import weights
from bench.media import Clip, read_clip
from metrics import Item
from metrics._inception import InceptionFeatures
from metrics.kid import KID, Reservoir, kernel_inception_distance, polynomial_mmd2

# Matrix products against a Python double sum over the same float64 values.
ATOL, RTOL = 1e-12, 1e-10


def direct_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased MMD^2 estimator written out term by term, k(a, b) = (a.b / d + 1)^3."""
    m, d = x.shape

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return (float(np.dot(a, b)) / d + 1.0) ** 3

    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(m), 2))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return xx / (m * (m - 1)) + yy / (m * (m - 1)) - 2 * xy / m**2


@pytest.mark.parametrize("m, d", [(2, 3), (6, 4), (9, 16)])
def test_polynomial_mmd2_equals_direct_formula(m: int, d: int):
    rng = np.random.default_rng(m * d)
    x, y = rng.normal(size=(m, d)), rng.normal(0.5, 2.0, size=(m, d))
    assert polynomial_mmd2(x, y) == pytest.approx(direct_mmd2(x, y), abs=ATOL, rel=RTOL)


def test_subsets_as_torch_fidelity_and_clean_fid():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 8)), rng.normal(0.3, 1.0, size=(40, 8))
    # subset size above both sides shrinks to the smaller side (clean-fid); each subset is then a seeded draw
    mean, std, m = kernel_inception_distance(x, y, subsets=5, subset_size=1000, seed=3)
    draw = np.random.default_rng(3)
    expected = [polynomial_mmd2(x[draw.choice(30, 30, replace=False)], y[draw.choice(40, 30, replace=False)])
                for _ in range(5)]  # fmt: skip
    assert m == 30 and mean == pytest.approx(np.mean(expected), rel=RTOL) and std == pytest.approx(np.std(expected))
    # same distribution: KID near 0; shifted: clearly positive; deterministic under the seed
    same, _, _ = kernel_inception_distance(rng.normal(size=(400, 8)), rng.normal(size=(400, 8)), 20, 100)
    shifted, _, _ = kernel_inception_distance(rng.normal(size=(400, 8)), rng.normal(1.0, 1, size=(400, 8)), 20, 100)
    assert abs(same) < 0.05 < shifted
    assert kernel_inception_distance(x, y, 5, 10, seed=1) == kernel_inception_distance(x, y, 5, 10, seed=1)
    with pytest.raises(ValueError, match="KID needs"):
        kernel_inception_distance(x[:1], y)


def test_reservoir_keeps_all_below_capacity_and_a_uniform_sample_above():
    rows = np.arange(50, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    small = Reservoir(100, seed=0, dim=2)
    small.add(rows[:20])
    small.add(rows[20:])
    np.testing.assert_array_equal(small.rows, rows)
    counts = np.zeros(50)
    for seed in range(400):
        r = Reservoir(10, seed=seed, dim=2)
        for chunk in np.array_split(rows, 7):
            r.add(chunk)
        assert r.seen == 50 and len(r.rows) == 10 and len(np.unique(r.rows[:, 0])) == 10
        counts[r.rows[:, 0].astype(int)] += 1
    inclusion = counts / 400  # each row is kept with probability 10/50
    assert abs(inclusion.mean() - 0.2) < 1e-12 and inclusion.min() > 0.1 and inclusion.max() < 0.3


def test_reservoir_merge_is_a_uniform_sample_of_the_union():
    rows = np.arange(60, dtype=np.float32)[:, None]
    from_first = []
    for seed in range(300):
        a, b = Reservoir(10, seed, dim=1), Reservoir(10, seed + 1000, dim=1)
        a.add(rows[:15])
        b.add(rows[15:])  # 45 rows: b holds 10 of them
        a.merge(b.rows, b.seen)
        assert a.seen == 60 and len(a.rows) == 10 and len(np.unique(a.rows)) == 10
        from_first.append(int((a.rows < 15).sum()))
    assert np.mean(from_first) == pytest.approx(10 * 15 / 60, abs=0.3)  # hypergeometric mean 2.5
    c = Reservoir(100, 0, dim=1)
    c.add(rows[:15])
    c.merge(rows[15:], 45)  # below capacity: exact concatenation
    np.testing.assert_array_equal(c.rows, rows)


@pytest.fixture(scope="module")
def grid_clips(grid_paths: list[Path]) -> list[Clip]:
    return [c.with_frames(c.frames[::8]) for c in (read_clip(p) for p in grid_paths[:2])]


def test_kid_on_grid_clips_equals_direct_formula_on_their_features(test_weights, grid_clips):
    generated, reference = grid_clips
    metric = metrics.create("kid", subsets=3)
    assert metric.update(Item(generated, reference)) == 10
    score = metric.compute()
    features = InceptionFeatures()
    x, y = features(generated).numpy(), features(reference).numpy()
    assert x.shape == (10, 2048) and np.isfinite(x).all()
    # 10 frames per side < subset size 1000: each subset is the whole set, and MMD^2 does not depend on order
    assert score.ok and score.frames == 10 and score.extras["kid_subset_size"] == 10
    assert score.value == pytest.approx(direct_mmd2(x.astype(np.float64), y.astype(np.float64)), rel=1e-9)
    assert score.extras["kid_std"] < 1e-9 * max(1.0, abs(score.value))

    whole, left, right = KID(subsets=3), KID(subsets=3), KID(subsets=3)
    for item in (Item(generated, reference), Item(reference, generated)):
        whole.update(item)
    left.update(Item(generated, reference))
    right.update(Item(reference, generated))
    left.merge_state({k: torch.as_tensor(v).clone() for k, v in right.state().items()})
    assert left.compute().value == pytest.approx(whole.compute().value, rel=1e-9)

    bounded = KID(subsets=4, subset_size=4, max_features=6)  # memory bound: 6 rows per side kept out of 10
    bounded.update(Item(generated, reference))
    state = bounded.state()
    assert state["gen_rows"].shape == (6, 2048) and int(state["gen_seen"]) == 10
    assert all((row == x).all(axis=1).any() for row in state["gen_rows"].numpy())
    result = bounded.compute()
    assert result.ok and result.frames == 10 and result.extras["kid_subset_size"] == 4 and np.isfinite(result.value)


def test_kid_refuses_missing_reference_and_weights(test_weights, grid_clips, tmp_path, monkeypatch):
    with pytest.raises(metrics.MetricError, match="needs the reference"):
        KID().update(Item(grid_clips[0]))
    assert not KID().compute().ok
    with pytest.raises(ValueError, match="max_features"):
        KID(subset_size=1000, max_features=10)
    monkeypatch.setenv("TALKBENCH_WEIGHTS", str(tmp_path))
    with pytest.raises(weights.WeightsMissingError, match="talkbench weights fetch pt-inception-fid"):
        KID().update(Item(grid_clips[0].with_frames(grid_clips[0].frames[:2]), grid_clips[1]))


def test_state_survives_the_run_checkpoint(tmp_path):
    from bench.run_state import SetCheckpoint

    rng = np.random.default_rng(0)
    metric, empty = KID(subsets=3, subset_size=5, max_features=8), KID()
    metric._gen.add(rng.normal(size=(12, 2048)).astype(np.float32))  # over the bound: a reservoir of 8
    metric._ref.add(rng.normal(size=(3, 2048)).astype(np.float32))
    SetCheckpoint(tmp_path, {"kid": metric, "empty": empty}).save({"v1"})
    restored, restored_empty = KID(subsets=3, subset_size=5, max_features=8), KID()
    assert SetCheckpoint(tmp_path, {"kid": restored, "empty": restored_empty}).restore() == {"v1"}
    assert restored.compute().value == metric.compute().value and restored.compute().frames == 12
    assert restored_empty._gen.rows.shape == (0, 2048) and not restored_empty.compute().ok
