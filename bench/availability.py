"""Which metrics can run here: those whose pretrained files are all present."""

from __future__ import annotations

from collections.abc import Iterable

import metrics


def unavailable_metrics(names: Iterable[str]) -> dict[str, str]:
    """Metric name -> why it cannot run (a missing weights file and the command that fetches it)."""
    from bench import weights

    missing: dict[str, str] = {}
    for name in names:
        cls = metrics.REGISTRY.entry(name).resolve()
        for weight in getattr(cls, "weights", ()):
            if not weights.available(weight):
                missing[name] = f"weights {weight!r} missing: run `talkbench weights fetch {weight}`"
                break
    return missing
