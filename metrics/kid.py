"""KID: unbiased squared MMD between Inception pool3 features of generated and reference frames, cubic kernel.

k(x, y) = (x.y / d + 1)^3 with d = 2048. KID is the mean, over ``subsets`` random subsets of ``subset_size`` frames
drawn without replacement from each side, of the unbiased estimate
MMD^2 = (sum_{i != j} k(x_i, x_j) + sum_{i != j} k(y_i, y_j)) / (m (m - 1)) - 2 sum_{i, j} k(x_i, y_j) / m^2,
as torch-fidelity (``kid_subsets=100``, ``kid_subset_size=1000``) and clean-fid (``kernel_distance``). As in
clean-fid, the subset size shrinks to the smaller side when a side has fewer frames; the std over subsets is
reported beside the mean. Features: pytorch-fid's Inception, shared with FID (:mod:`metrics._inception`).

Memory bound: KID needs the features themselves. Each side keeps at most ``max_features`` of them (float32, 8 KiB
each: 160 MiB for both sides at the default 10,000) as a uniform reservoir sample (seeded); below that bound every
frame is kept and KID is the reference implementations' value. Distributed states merge into a uniform sample of
the union (hypergeometric split), so the bound holds after reduction too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch

from metrics import variants
from metrics._inception import WEIGHTS, InceptionFeatures, Region
from metrics.base import Item, MetricError, Need, Score, SetMetric
from metrics.networks.inception import FEATURE_DIM


def polynomial_mmd2(x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0) -> float:
    """Unbiased MMD^2 of two equal-sized samples ``[m, d]`` under k(a, b) = (a.b / d + coef0)^degree."""
    m, d = x.shape
    if y.shape != x.shape or m < 2:
        raise ValueError(f"MMD needs two samples of the same shape with m >= 2, got {x.shape} and {y.shape}")
    x, y = x.astype(np.float64), y.astype(np.float64)
    k_xx = (x @ x.T / d + coef0) ** degree
    k_yy = (y @ y.T / d + coef0) ** degree
    k_xy = (x @ y.T / d + coef0) ** degree
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.sum() / (m * m))


def kernel_inception_distance(
    x: np.ndarray, y: np.ndarray, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float, int]:
    """``(mean, std, m)`` of :func:`polynomial_mmd2` over ``subsets`` seeded random subsets of size ``m``."""
    m = min(subset_size, len(x), len(y))
    if m < 2 or subsets < 1:
        raise ValueError(f"KID needs >= 2 features per side and >= 1 subset, got {len(x)}, {len(y)}, {subsets}")
    rng = np.random.default_rng(seed)
    values = [
        polynomial_mmd2(x[rng.choice(len(x), m, replace=False)], y[rng.choice(len(y), m, replace=False)])
        for _ in range(subsets)
    ]
    return float(np.mean(values)), float(np.std(values)), m


class Reservoir:
    """A uniform random sample of at most ``capacity`` feature rows out of all rows seen (Algorithm R, seeded)."""

    def __init__(self, capacity: int, seed: int, dim: int = FEATURE_DIM) -> None:
        self.capacity, self.dim = capacity, dim
        self.rows = np.empty((0, dim), np.float32)
        self.seen = 0
        self._rng = np.random.default_rng(seed)

    def add(self, features: np.ndarray) -> None:
        """Offer rows ``[N, dim]``."""
        room = max(0, min(self.capacity - len(self.rows), len(features)))
        self.rows = np.concatenate([self.rows, features[:room].astype(np.float32)])
        for row in features[room:]:
            slot = self._rng.integers(0, self.seen + room + 1)
            if slot < self.capacity:
                self.rows[slot] = row
            room += 1
        self.seen += len(features)

    def merge(self, rows: np.ndarray, seen: int) -> None:
        """Join another reservoir: a uniform sample of the union, drawn from both samples."""
        rows = np.asarray(rows, np.float32).reshape(-1, self.dim)
        total, keep = self.seen + seen, min(self.capacity, len(self.rows) + len(rows))
        if len(self.rows) + len(rows) > self.capacity:
            from_self = int(self._rng.hypergeometric(self.seen, seen, keep))
            mine = self._rng.choice(len(self.rows), from_self, replace=False)
            theirs = self._rng.choice(len(rows), keep - from_self, replace=False)
            self.rows, rows = self.rows[np.sort(mine)], rows[np.sort(theirs)]
        self.rows = np.concatenate([self.rows, rows])
        self.seen = total


VARIANTS: dict[str, dict[str, Any]] = {"kid": {"region": "frame"}, "kid-face": {"region": "face"}}


@variants(VARIANTS)
class KID(SetMetric):
    """KID of the generated frames against each item's reference frames; lower is better.

    Input: every item's ``generated`` and ``reference`` clips (uint8 ``[T, H, W, 3]``), all frames pooled.
    ``value`` is the mean over subsets; ``extras`` hold ``kid_std`` and ``kid_subset_size``. Needs the pretrained
    file ``pt-inception-fid``.

    Example:
        >>> metric = KID(subsets=10, subset_size=100)
        >>> metric.higher_is_better, metric.kind.value
        (False, 'set')
    """

    name: ClassVar[str] = "kid"
    higher_is_better: ClassVar[bool] = False
    needs: ClassVar[frozenset[Need]] = frozenset({Need.REFERENCE})
    weights: tuple[str, ...] = (WEIGHTS,)

    def __init__(
        self,
        region: Region = "frame",
        face_size: int = 224,
        subsets: int = 100,
        subset_size: int = 1000,
        max_features: int = 10_000,
        seed: int = 0,
        batch_size: int = 50,
        device: str = "cpu",
    ) -> None:
        super().__init__(device)
        if subsets < 1 or subset_size < 2 or max_features < subset_size:
            raise ValueError(f"need subsets >= 1, subset_size >= 2, max_features >= subset_size; got {subsets}, "
                             f"{subset_size}, {max_features}")  # fmt: skip
        self.region, self.face_size, self.batch_size = region, face_size, batch_size
        self.subsets, self.subset_size, self.max_features, self.seed = subsets, subset_size, max_features, seed
        self._features = InceptionFeatures(region, face_size, batch_size, device)
        self.reset()

    def reset(self) -> None:
        """Forget the accumulated features."""
        self._gen = Reservoir(self.max_features, self.seed)
        self._ref = Reservoir(self.max_features, self.seed + 1)

    def update(self, item: Item) -> int:
        """Add the generated and reference frames of ``item``."""
        if item.reference is None:
            raise MetricError(f"{item.video_id}: KID needs the reference clip")
        generated, reference = self._features(item.generated), self._features(item.reference)
        self._gen.add(generated.numpy())
        self._ref.add(reference.numpy())
        return int(generated.shape[0])

    def compute(self) -> Score:
        """KID of everything accumulated; a failed score when a side has fewer than two frames."""
        if min(len(self._gen.rows), len(self._ref.rows)) < 2:
            return Score.failed(f"KID needs at least 2 frames on each side, got {self._gen.seen} generated, "
                                f"{self._ref.seen} reference")  # fmt: skip
        mean, std, m = kernel_inception_distance(self._gen.rows, self._ref.rows, self.subsets, self.subset_size, self.seed)
        extras = {"kid_std": std, "kid_subset_size": float(m), "kid_frames_reference": float(self._ref.seen)}
        return Score(mean, self._gen.seen, extras=extras)

    def state(self) -> dict[str, Any]:
        """Both reservoirs and how many frames each has seen."""
        return {
            "gen_rows": torch.from_numpy(self._gen.rows), "gen_seen": torch.tensor(self._gen.seen),
            "ref_rows": torch.from_numpy(self._ref.rows), "ref_seen": torch.tensor(self._ref.seen),
        }  # fmt: skip

    def merge_state(self, other: Mapping[str, Any]) -> None:
        """Join another process's :meth:`state`."""
        self._gen.merge(np.asarray(other["gen_rows"]), int(other["gen_seen"]))
        self._ref.merge(np.asarray(other["ref_rows"]), int(other["ref_seen"]))
