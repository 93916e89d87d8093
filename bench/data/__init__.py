"""Datasets: the built-in synthetic demo corpus "synthgrid" and dataset loaders."""

from typing import Any

_LAZY = {
    "UtteranceRecord": "bench.data.records",
    "split_records": "bench.data.splits",
    "dataset_records": "bench.data.splits",
    "prepare_clip": "bench.data.prepare",
    "prepare_all": "bench.data.prepare",
    "FaceCoverageError": "bench.data.prepare",
}


def __getattr__(name: str) -> Any:
    """Dataset adapters, splits and preprocessing, imported on first use (keeps ``import bench.data`` light)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bench.data' has no attribute {name!r}")
