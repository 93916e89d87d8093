"""``talkbench evaluate --workers N``: score videos in N worker processes on one machine, rows in input order.

The workers are forked when that is safe and spawned otherwise (:func:`bench.helper_process.start_method`): a fork
copies the parent's imports, which saves each worker about a second of start-up, but a fork while another thread of the
parent holds a lock (OpenMP pools of torch or OpenCV, FFmpeg's decoder threads) can deadlock the child. ``talkbench evaluate
--workers N`` gives OpenBLAS one thread before numpy is imported, so the command is a single thread when it forks.

Each worker builds its own :class:`~bench.evaluate.Evaluator` from the run's config and the registry entries of its
metrics (so metrics registered at run time, e.g. by a script, work too), runs one library thread and one decoder
thread, and gives its rows back in input order, which the parent journals one by one as in a single process: resume,
the journal and the atomic outputs keep their guarantees. Set-level metrics (FID, KID) accumulate over the whole set
and are refused here (``torchrun`` reduces their state exactly).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import metrics as metric_registry
from bench.distributed import World
from bench.helper_process import start_method
from metrics import SetMetric

__all__ = ["check_workers", "parallel_rows", "start_method"]

if TYPE_CHECKING:
    from bench.evaluate import EvalConfig, Evaluator, ItemSpec
    from bench.results import VideoRow

_WORKER: tuple[Evaluator, EvalConfig] | None = None  # what this worker process scores with


def check_workers(workers: int, world: World, config: EvalConfig) -> None:
    """Refuse a worker count that cannot give the single-process result.

    Raises:
        ValueError: ``workers`` below 1, or above 1 together with set-level metrics or under ``torchrun``.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if workers == 1:
        return
    if world.size > 1:
        raise ValueError("--workers is for one machine; under torchrun every rank is already a process of its own")
    set_level = [n for n in config.metrics if issubclass(metric_registry.REGISTRY.entry(n).resolve(), SetMetric)]
    if set_level:
        raise ValueError(f"--workers runs per-item metrics only; {', '.join(set_level)} accumulate over the whole set "
                         "(run them with --workers 1, or under torchrun)")  # fmt: skip


def parallel_rows(specs: Sequence[ItemSpec], evaluator: Evaluator, config: EvalConfig, workers: int) -> Iterator[VideoRow]:
    """Rows of ``specs`` scored by ``workers`` spawned processes, yielded in input order as they finish."""
    import multiprocessing

    entries = [metric_registry.REGISTRY.entry(name) for name in evaluator.metrics]
    context = multiprocessing.get_context(start_method())
    with context.Pool(min(workers, len(specs)), initializer=_start_worker, initargs=(entries, config)) as pool:
        yield from pool.imap(_score_in_worker, specs, chunksize=1)


def _start_worker(entries: list[Any], config: EvalConfig) -> None:
    """Set up a worker: one library thread and one decoder thread, and the parent's metrics registered if missing.

    The workers are the parallelism; threads on top of them only compete for the same cores.

    torch is not imported for this (2 s of CPU per worker, and the weight-free metrics never need it): OpenMP reads
    ``OMP_NUM_THREADS`` when torch or anything else starts its thread pool.
    """
    global _WORKER
    from bench.evaluate import Evaluator
    from bench.threaded import one_thread_libraries

    one_thread_libraries()

    for entry in entries:
        if entry.name not in metric_registry.REGISTRY._entries:
            metric_registry.REGISTRY.add(entry.name, entry.target, **entry.preset)
    _WORKER = (Evaluator(config.metrics, config.device, config.metric_options), config)


def _score_in_worker(spec: ItemSpec) -> VideoRow:
    from bench.evaluate import score_spec

    if _WORKER is None:
        raise RuntimeError("a worker started without an evaluator")
    return score_spec(spec, *_WORKER)
