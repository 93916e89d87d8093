"""Reference implementations of the seven methods, plus anchor rows, behind one registry.

``baselines.create("wav2lip", preset="tiny")``, ``baselines.available()``; third-party baselines join through the
entry-point group ``talkbench.baselines``. Each method lives in its own sub-package (model, training, config).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from baselines.base import Baseline, Budget, FitReport, frame_count
from bench.registry import Registry

REGISTRY: Registry[Baseline] = Registry("baseline", "talkbench.baselines", "baselines")
register = REGISTRY.register


def create(name: str, preset: str = "tiny", **options: Any) -> Baseline:
    """A baseline by registry name, in the given preset, with config overrides."""
    return REGISTRY.create(name, preset=preset, **options)


def load(name: str, directory: str | Path, device: str = "cpu") -> Baseline:
    """A saved baseline from ``directory``."""
    cls: type[Baseline] = REGISTRY.entry(name).resolve()
    return cls.load(directory, device=device, name=name)


def available() -> list[str]:
    """Names of all registered baselines."""
    return REGISTRY.available()


__all__ = ["REGISTRY", "Baseline", "Budget", "FitReport", "available", "frame_count", "create", "load", "register"]
