"""Toy metrics for harness tests: a per-item metric that counts its calls and a float64 set-level metric.

Imported by tests directly, and by subprocesses through ``TALKBENCH_PLUGINS=plugin_metrics``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import metrics
from metrics import Item, MetricError, Need, Score, SetMetric
from metrics.base import Metric

CALLS: list[str] = []


class MeanAbsDiff(Metric):
    """Mean absolute pixel difference to the reference; fails on a clip whose frames are all zero."""

    name = "test-mad"
    higher_is_better = False
    needs = frozenset({Need.REFERENCE})

    def __init__(self, device: str = "cpu", interrupt_after: int | None = None) -> None:
        super().__init__(device)
        self.interrupt_after = interrupt_after

    def score(self, item: Item) -> Score:
        CALLS.append(item.video_id)
        if self.interrupt_after is not None and len(CALLS) > self.interrupt_after:
            raise KeyboardInterrupt("simulated kill")
        if not item.generated.frames.any():
            raise MetricError("all frames are black")
        g, r = item.generated.frames, item.reference.frames
        n = min(len(g), len(r))
        return Score(float(np.abs(g[:n].astype(float) - r[:n]).mean()), n)


class FrameMoments(SetMetric):
    """Set-level: mean of all frames' mean intensity, kept as float64 sums (exactly mergeable)."""

    name = "test-moments"
    higher_is_better = None

    def __init__(self, device: str = "cpu") -> None:
        super().__init__(device)
        self.reset()

    def update(self, item: Item) -> int:
        if not item.generated.frames.any():
            raise MetricError("nothing but black frames")
        means = item.generated.frames.reshape(item.generated.num_frames, -1).mean(axis=1)
        self.total += torch.tensor(means.sum(), dtype=torch.float64)
        self.count += len(means)
        return len(means)

    def compute(self) -> Score:
        if self.count.item() == 0:
            return Score.failed("no frames")
        return Score(float(self.total / self.count), int(self.count.item()))

    def reset(self) -> None:
        self.total = torch.zeros((), dtype=torch.float64)
        self.count = torch.zeros((), dtype=torch.int64)

    def state(self) -> dict[str, Any]:
        return {"total": self.total, "count": self.count}

    def merge_state(self, other: dict[str, Any]) -> None:
        self.total = self.total + other["total"]
        self.count = self.count + other["count"]


if "test-mad" not in metrics.REGISTRY._entries:
    metrics.REGISTRY.add("test-mad", MeanAbsDiff)
    metrics.REGISTRY.add("test-moments", FrameMoments)
