"""Which metrics can run here, the hashes of the files they use, and who uses each file of the weights table.

Users are derived from the metrics' and baselines' ``weights`` attributes, never kept by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import metrics


def _weights_of(name: str, options: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """The pretrained files a metric variant needs, from an instance (a variant's options can change them)."""
    return tuple(metrics.create(name, **dict(options or {})).weights)


def unavailable_metrics(names: Iterable[str]) -> dict[str, str]:
    """Metric name -> why it cannot run (a missing weights file and the command that fetches it)."""
    from bench import weights

    missing: dict[str, str] = {}
    for name in names:
        for weight in _weights_of(name):
            if not weights.available(weight):
                missing[name] = f"weights {weight!r} missing: run `talkbench weights fetch {weight}`"
                break
    return missing


def weight_hashes(names: Iterable[str]) -> dict[str, str]:
    """SHA-256 of every present pretrained file the metrics use: what a result records."""
    from bench import weights

    return {w: weights.file_hash(w) for name in names for w in _weights_of(name) if weights.available(w)}


def weight_users() -> dict[str, list[str]]:
    """Weights-table name -> every metric variant and baseline that uses the file, from their ``weights`` attributes."""
    import baselines

    users: dict[str, list[str]] = {}
    for name in metrics.available():
        for weight in _weights_of(name):
            users.setdefault(weight, []).append(name)
    for name in baselines.available():
        method: type[baselines.Baseline] = baselines.REGISTRY.entry(name).resolve()
        for weight in method.weights:
            users.setdefault(weight, []).append(name)
    return users
