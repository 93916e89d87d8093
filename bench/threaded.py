"""``talkbench evaluate --threads N``: one process decodes the next videos while its metrics score the current ones.

A loader thread reads the videos in input order, at most :data:`AHEAD` of them in memory at a time, and hands each
metric its item. Every per-item metric has a lane of its own, a thread that scores the videos one after another in
input order, so that no metric object is ever used by two threads at once; at most ``threads`` metric calls compute
at a time, the oldest video's first (:class:`OrderedSlots`). Set-level metrics are fed by the calling thread, in input
order. Every value therefore equals the sequential one, and the rows come back in input order.

The gain comes from work that runs outside Python's global interpreter lock: FFmpeg's decoding, OpenCV's filters and
numpy's array loops. dlib's face models hold the lock while they run, so face tracks are computed in a helper process
(:mod:`bench.helper_process`): each metric's :meth:`~metrics.Metric.prepare` starts its background work there as soon
as the loader has read the video, and its ``score`` collects the result.
"""

from __future__ import annotations

import heapq
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from bench.evaluate import EvalConfig, Evaluator, ItemSpec
    from bench.helper_process import HelperProcess
    from bench.results import VideoRow
    from metrics import Item, Metric, Score

AHEAD = 2  # videos loaded or being scored at a time: memory stays flat in the number of videos
MAX_THREADS = 4  # a video's five or so metrics rarely keep more cores busy
T = TypeVar("T")


def default_threads(workers: int = 1) -> int:
    """Threads for one process: its usable cores, at most :data:`MAX_THREADS`.

    1 when worker processes or ``torchrun`` ranks are the parallelism. The usable cores are the CPU affinity where the
    system tells it.
    """
    if workers > 1 or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_THREADS))


def one_thread_libraries() -> Callable[[], None]:
    """Hold the libraries' own thread pools to one thread: OpenMP (torch), OpenCV and FFmpeg's decoder.

    For a process that is to compute on one thread: ``talkbench evaluate --threads 1`` (one core asked for, one core
    used; FFmpeg's FFV1 decoder alone would otherwise add slice threads) and each ``--workers`` process (the processes
    are the parallelism). The values do not change: one decoder thread gives the same frames (tests/test_media.py).
    Returns a function that puts the previous settings back (the command line can be called from Python); torch, if
    first imported during the run, keeps the one thread it started with.
    """
    import cv2

    from bench.media.io import set_decode_threads

    torch = sys.modules.get("torch")
    omp, cv2_threads = os.environ.get("OMP_NUM_THREADS"), cv2.getNumThreads()
    torch_threads = torch.get_num_threads() if torch is not None else 0
    os.environ["OMP_NUM_THREADS"] = "1"  # read by OpenMP when a library starts its pool later (torch's import)
    if torch is not None:
        torch.set_num_threads(1)
    cv2.setNumThreads(1)
    decode_threads = set_decode_threads(1)

    def restore() -> None:
        if omp is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = omp
        if torch is not None:
            torch.set_num_threads(torch_threads)
        cv2.setNumThreads(cv2_threads)
        set_decode_threads(decode_threads)

    return restore


def check_threads(threads: int, workers: int) -> None:
    """``ValueError`` for a thread count below 1, or threads on top of worker processes (they would compete)."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an integer of at least 1, got {threads!r}")
    if threads > 1 and workers > 1:
        raise ValueError(f"--threads {threads} with --workers {workers}: the worker processes are the parallelism; "
                         "pass one of them")  # fmt: skip


def warm_up(names: Sequence[str]) -> None:
    """In the helper process: load what the metrics ``names`` will ask of it (``metrics.HELPER_MODELS``), once each.

    Submitted by :func:`start_warm_up`; a failure here (a model file missing) is left to the metric's own request,
    which reports it on the video's row.
    """
    import importlib

    from metrics import HELPER_MODELS

    for target in dict.fromkeys(HELPER_MODELS.get(name.split("-", 1)[0], "") for name in names):
        if target:
            module, function = target.split(":")
            getattr(importlib.import_module(module), function)()


def start_warm_up(helper: HelperProcess, names: Sequence[str]) -> None:
    """Ask ``helper`` to :func:`warm_up` for ``names``, once per helper (a later request is the pending one).

    Imports nothing beyond the standard library, so that the command can ask before it imports numpy.
    """
    helper.submit("bench.threaded.warm_up", warm_up, list(names))


def threaded_rows(
    specs: Sequence[ItemSpec], evaluator: Evaluator, config: EvalConfig, threads: int
) -> Iterator[VideoRow]:
    """Rows of ``specs`` scored with overlapping decoding and metrics, yielded in input order."""
    from bench import helper_process
    from bench.evaluate import failed_row, load_or_reason
    from metrics import Metric

    slots = OrderedSlots(threads)
    metrics = evaluator.item_metrics
    preparing = [metric for metric in metrics.values() if type(metric).prepare is not Metric.prepare]
    helper = helper_process.start() if preparing else None
    if helper is not None:
        start_warm_up(helper, [metric.name for metric in preparing])
    lanes = {name: ThreadPoolExecutor(1, thread_name_prefix=f"talkbench-{name}") for name in metrics}
    loader = ThreadPoolExecutor(1, thread_name_prefix="talkbench-load")

    def start(position: int, spec: ItemSpec) -> tuple[Item | str, dict[str, Future[Score]]]:
        """On the loader thread: load one video, start its background work, queue it on every metric's lane."""
        item = load_or_reason(spec, config)
        if isinstance(item, str):
            return item, {}
        for metric in preparing:
            try:
                metric.prepare(item)
            except Exception:  # noqa: BLE001, S110  (score() meets the same problem and reports it on the row)
                pass
        return item, {
            name: lanes[name].submit(slots.run, (position, lane), _bind(metric, item))
            for lane, (name, metric) in enumerate(metrics.items())
        }

    window: deque[tuple[int, ItemSpec, Future]] = deque()
    queued = enumerate(specs)
    try:
        for position, spec in queued:
            window.append((position, spec, loader.submit(start, position, spec)))
            if len(window) == AHEAD:
                break
        while window:
            position, spec, started = window.popleft()
            item, futures = started.result()
            if isinstance(item, str):
                row = failed_row(spec, list(metrics), item)
            else:
                left_out = slots.run((position, -1), lambda: evaluator.update_sets(item))  # noqa: B023  (called at once)
                row = evaluator.row(item, {name: future.result() for name, future in futures.items()}, left_out)
            del item, futures, started  # this video's frames go before the next one is read: AHEAD in memory, not one more
            following = next(queued, None)
            if following is not None:
                window.append((*following, loader.submit(start, *following)))
            yield row
    finally:
        for executor in (loader, *lanes.values()):
            executor.shutdown(wait=True, cancel_futures=True)
        if helper is not None:
            helper_process.stop()


class OrderedSlots:
    """At most ``n`` calls at a time; a freed slot goes to the waiting call with the lowest key, not the quickest thread.

    Keyed by (video position, lane), the oldest video's metrics always go first. With a plain semaphore a lane that had
    just finished one video took the slot straight back for the next while an older video's metric waited (measured on
    the four GRID pairs: the first video's LMD waited 1.1 s behind the second video's metrics), and that video's row,
    which the loader waits for before reading on, came late.
    """

    def __init__(self, n: int) -> None:
        self._free = n
        self._waiting: list[tuple[int, int]] = []
        self._changed = threading.Condition()

    def run(self, key: tuple[int, int], call: Callable[[], T]) -> T:
        """``call()`` once a slot is free and no waiting key is lower than ``key`` (keys must be unique)."""
        with self._changed:
            heapq.heappush(self._waiting, key)
            try:
                while self._free == 0 or self._waiting[0] != key:
                    self._changed.wait()
            except BaseException:  # interrupted while waiting (Ctrl-C): a stale key would hold every later call back
                self._waiting.remove(key)
                heapq.heapify(self._waiting)
                self._changed.notify_all()
                raise
            heapq.heappop(self._waiting)
            self._free -= 1
            if self._free and self._waiting:
                self._changed.notify_all()
        try:
            return call()
        finally:
            with self._changed:
                self._free += 1
                self._changed.notify_all()


def _bind(metric: Metric, item: Item) -> Callable[[], Score]:
    return lambda: metric(item)
