"""A helper process for work that holds Python's interpreter lock while it runs: dlib's face tracking.

dlib's landmark predictor and HOG detector hold the lock for each call, so in ``talkbench evaluate --threads N`` every
numpy or OpenCV call of another thread waits beside them, about one switch interval (5 ms) each: SSIM scored beside
face tracking took 1.6x as long. In a helper process, face tracks cost the same CPU but no thread of the command
waits on them (the four GRID pairs through the command with its default two threads: 3.41-3.51 s instead of
3.85-3.99 s, six alternating runs each).

One helper per process, shared: the threaded evaluation starts it when a metric asks for background work
(:meth:`metrics.Metric.prepare`) and stops it at its end; it runs until the last of its users (two evaluations in
two threads, or the command and its evaluation) has stopped it. ``talkbench evaluate`` starts it first thing, while the
command is still a single thread that has imported neither numpy nor torch, so that it can be forked
(:func:`start_method`): the fork takes milliseconds and the helper's imports and model loading overlap the command's
own start-up. This module imports the standard library only, so that importing it keeps the command lean.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")

_HELPER: HelperProcess | None = None
_USERS = 0  # start() calls not yet matched by stop()
_GUARD = threading.Lock()


def start_method() -> str:
    """``"fork"`` while this process runs a single thread and has not imported torch, else ``"spawn"``.

    With one thread no lock can be held by another at the fork, so the child starts in a consistent state; torch is
    excluded because its CUDA and thread-pool state is documented as not fork-safe. Threads are counted in
    ``/proc/self/task`` (Linux); where that cannot be read, ``"spawn"``.
    """
    if "torch" in sys.modules:
        return "spawn"
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:
        return "spawn"
    return "fork" if threads == 1 else "spawn"


def _start_child() -> None:
    """In the helper: leave Ctrl-C to the parent (which stops the helper) and keep the libraries to one thread each."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(name, "1")  # read when numpy or OpenMP start their pools, after the fork


class HelperProcess:
    """One child process that runs submitted functions in order; work is keyed so that it is computed once.

    Functions and their arguments travel by pickle (functions by their qualified name), results come back the same way;
    an exception raised in the helper is raised again by :meth:`Future.result`.
    """

    def __init__(self, method: str | None = None) -> None:
        self.method = method or start_method()
        self._executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(self.method), initializer=_start_child)
        self._pending: dict[Hashable, Future[Any]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._executor.submit(int)  # the process is forked (or spawned) now, not at the first real request

    def submit(self, key: Hashable, fn: Callable[..., T], *args: Any) -> Future[T]:
        """``fn(*args)`` in the helper, or the request already pending under ``key``.

        Raises:
            concurrent.futures.process.BrokenProcessPool: the helper died or was stopped.
        """
        with self._lock:
            if self._closed:
                raise BrokenProcessPool("the helper process was stopped")
            future = self._pending.get(key)
            if future is None:
                future = self._pending[key] = self._executor.submit(fn, *args)
        return future

    def result(self, key: Hashable, fn: Callable[..., T], *args: Any) -> T:
        """The result of the request under ``key`` (made now if not pending); the key is then forgotten.

        Raises:
            concurrent.futures.process.BrokenProcessPool: the helper died (killed, out of memory) or was stopped.
            concurrent.futures.CancelledError: stopped before the request ran.
        """
        future = self.submit(key, fn, *args)
        try:
            return future.result()
        finally:
            with self._lock:
                if self._pending.get(key) is future:
                    del self._pending[key]

    def close(self) -> None:
        """Stop the helper; requests not yet started are cancelled."""
        with self._lock:
            self._closed = True
            self._pending.clear()
        self._executor.shutdown(wait=True, cancel_futures=True)


def start() -> HelperProcess:
    """The process-wide helper, started now if none runs; each call is matched by one :func:`stop`."""
    global _HELPER, _USERS
    with _GUARD:
        if _HELPER is None:
            _HELPER = HelperProcess()
        _USERS += 1
        return _HELPER


def running() -> HelperProcess | None:
    """The process-wide helper if one runs (work offered to it then goes there), else None."""
    return _HELPER


def stop() -> None:
    """Leave the process-wide helper, stopping it when this was its last user (nothing if none runs)."""
    global _HELPER, _USERS
    with _GUARD:
        if _HELPER is None:
            return
        _USERS -= 1
        if _USERS > 0:
            return
        helper, _HELPER = _HELPER, None
    helper.close()
