"""Metric plugins and their registry.

Use ``metrics.create("ssim")``, ``metrics.available()``, or the one-clip convenience :func:`score`. Third-party
metrics join through the entry-point group ``talkbench.metrics`` (``name = "package.module:Class"``, or a module
that registers its variants when imported).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.media import Clip
from bench.registry import Registry
from metrics.base import Item, Kind, Metric, MetricError, Need, Score, SetMetric

# The module that registers each built-in name, by the name's first dash-separated part: looking up ``psnr`` imports
# metrics.psnr alone, not every metric's dependencies (tests/test_lazy_imports.py checks the table).
HOMES = {
    "acd": "acd", "av": "lse", "blink": "blink", "cer": "wer", "cpbd": "cpbd", "fdbm": "fdbm", "fid": "fid",
    "kid": "kid", "lmd": "lmd", "lpips": "lpips", "lse": "lse", "mouth": "mouth_sync", "psnr": "psnr", "ssim": "ssim",
    "wer": "wer",
}  # fmt: skip
# What the helper process loads ahead of the first video for the built-in metrics whose ``prepare`` starts work there
# (by the name's first part, as in HOMES): ``module:function`` called there once, so that dlib's detector and landmark
# predictor (~0.5 s) load while the command itself starts up (bench.threaded.warm_up; tests/harness/test_helper_process.py
# checks the table against the metrics' ``prepare``).
HELPER_MODELS = {
    "blink": "bench.faces.tracking:load_models", "lmd": "bench.faces.tracking:load_models",
    "mouth": "bench.faces.tracking:load_models",
}  # fmt: skip
REGISTRY: Registry[Metric] = Registry("metric", "talkbench.metrics", "metrics", HOMES)
register = REGISTRY.register
variants = REGISTRY.variants


def create(name: str, **options: Any) -> Metric:
    """A metric by registry name, with its variant's preset options merged with ``options``."""
    return REGISTRY.create(name, **options)


def available() -> list[str]:
    """Names of all registered metrics and variants."""
    return REGISTRY.available()


def score(
    name: str,
    generated: Clip,
    reference: Clip | None = None,
    *,
    audio: np.ndarray | None = None,
    identity: np.ndarray | None = None,
    transcript: str | None = None,
    **options: Any,
) -> dict[str, float]:
    """Score one clip with one metric; returns ``{name: value, **extras}``.

    Metric objects are built once per name and options and reused (a metric's models and tables load once);
    per-clip analyses (face tracks, grey frames) are memoised on the clip itself.

    Raises:
        MetricError: the clip could not be scored (the message gives the reason).
    """
    metric = _cached_metric(name, options)
    item = Item(generated, reference, identity=identity, audio=audio, transcript=transcript)
    result = metric(item)
    if not result.ok:
        raise MetricError(f"{item.video_id}: {name}: {result.reason}")
    return {metric.name: result.value, **result.extras}


_METRICS: dict[tuple[str, str], Metric] = {}


def _cached_metric(name: str, options: dict[str, Any]) -> Metric:
    """The metric ``name`` with ``options``, created on first use (set-level metrics are reset by their ``score``)."""
    key = (name, repr(sorted(options.items())) if options else "")
    metric = _METRICS.get(key)
    if metric is None:
        if len(_METRICS) >= 64:
            _METRICS.clear()
        metric = _METRICS[key] = create(name, **options)
    return metric


__all__ = [
    "REGISTRY",
    "Item",
    "Kind",
    "Metric",
    "MetricError",
    "Need",
    "Score",
    "SetMetric",
    "available",
    "create",
    "register",
    "score",
    "variants",
]
