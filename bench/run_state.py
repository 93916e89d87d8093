"""Checkpoints of set-level metric state (FID, KID), so a resumed run neither loses nor double-counts a video.

torch and safetensors are imported only when there is set-level state to save or restore.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.io import atomic_path, read_json, write_json_atomic
from metrics import SetMetric

if TYPE_CHECKING:
    import torch


class SetCheckpoint:
    """Saves every set-level metric's state and the videos it includes, atomically, every ``interval_s`` seconds."""

    def __init__(
        self, directory: Path, set_metrics: Mapping[str, SetMetric], interval_s: float = 60.0, suffix: str = ""
    ) -> None:
        self.tensors_path = directory / f"set_state{suffix}.safetensors"
        self.index_path = directory / f"set_state{suffix}.json"
        self.set_metrics = set_metrics
        self.interval_s = interval_s
        self.last = time.monotonic()

    def save(self, videos: set[str]) -> None:
        """Write the current state and the videos it includes."""
        if not self.set_metrics:
            return
        from safetensors.torch import save_file

        tensors = {
            f"{name}/{key}": _as_tensor(value)
            for name, metric in self.set_metrics.items()
            for key, value in metric.state().items()
        }
        with atomic_path(self.tensors_path) as tmp:
            save_file(tensors, str(tmp))
        write_json_atomic(self.index_path, {"videos": sorted(videos), "state_file": self.tensors_path.name})
        self.last = time.monotonic()

    def maybe_save(self, videos: set[str]) -> None:
        """Save when the interval has passed since the last save."""
        if self.set_metrics and time.monotonic() - self.last >= self.interval_s:
            self.save(videos)

    def restore(self) -> set[str]:
        """Load the saved state into the (reset) metrics; returns the videos it includes (empty without one)."""
        if not self.set_metrics or not self.index_path.exists() or not self.tensors_path.exists():
            return set()
        from safetensors.torch import load_file

        index = read_json(self.index_path)
        tensors = load_file(str(self.tensors_path))
        for name, metric in self.set_metrics.items():
            prefix = f"{name}/"
            state: dict[str, Any] = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
            metric.reset()
            if state:
                metric.merge_state(state)
        return set(index["videos"])


def _as_tensor(value: Any) -> torch.Tensor:
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu().contiguous()
    return torch.from_numpy(np.ascontiguousarray(value))
