"""``talkbench evaluate --threads N`` (issue 16): decoding and metrics overlap in one process, value for value the same."""

from __future__ import annotations

import json
import os
import threading
import time
import weakref

import numpy as np
import pytest
from harness_helpers import killed_copy
from test_evaluate_workers import DEFAULT_SUITE, cli

import bench.threaded
import metrics
from bench.cli import main
from bench.evaluate import EvalConfig, evaluate, pair_directories
from bench.media import Clip
from bench.threaded import OrderedSlots, check_threads, default_threads
from metrics import Item, Score
from metrics.base import Metric


def test_default_suite_threads_equal_one_thread(grid_pairs, tmp_path, monkeypatch) -> None:
    """psnr, ssim, cpbd, fdbm and lmd on real faces: per_video.csv byte for byte and summary.json the same."""
    runs = {}
    for threads in (1, 3):
        monkeypatch.setenv("TALKBENCH_CACHE", str(tmp_path / f"cache-{threads}"))  # no face track shared
        cli(*grid_pairs, tmp_path / f"t{threads}", DEFAULT_SUITE, 1, threads)
        runs[threads] = [(tmp_path / f"t{threads}" / name).read_text() for name in ("per_video.csv", "summary.json")]
    assert runs[1][0] == runs[3][0]
    assert json.loads(runs[1][1]) == json.loads(runs[3][1])
    lines = runs[1][0].splitlines()
    assert len(lines) == 4 and all(",ok," in line for line in lines[1:])


def test_failures_order_and_set_metrics_are_kept(toy_metrics, toy_dirs, tmp_path) -> None:
    """Missing, black and corrupt videos give the same rows in the same order, the set-level metric the same value."""
    outputs = []
    for threads in (1, 2):
        out = tmp_path / f"t{threads}"
        evaluate(pair_directories(*toy_dirs), EvalConfig(["test-mad", "test-moments"]), out, progress=False,
                 threads=threads)  # fmt: skip
        journal = [json.loads(line)["video"] for line in (out / "rows.jsonl").read_text().splitlines()]
        assert journal == sorted(journal)  # journaled in input order, each video once
        outputs.append(((out / "per_video.csv").read_text(), json.loads((out / "summary.json").read_text())))
    assert outputs[0] == outputs[1]
    table, summary = outputs[0]
    assert "corrupt" in table and "no generated video" in table and "all frames are black" in table
    assert summary["set_metrics"]["test-moments"]["videos_left_out"] == 1  # the black clip


def test_resume_with_threads(toy_metrics, toy_dirs, tmp_path) -> None:
    """A killed run (three journaled videos and a torn line) resumed with threads gives the clean run, set metric too."""
    specs, config = pair_directories(*toy_dirs), EvalConfig(metrics=["test-mad", "test-moments"])
    evaluate(specs, config, tmp_path / "clean", progress=False)
    killed = tmp_path / "killed"
    lines = killed_copy(tmp_path / "clean", killed)
    toy_metrics.CALLS.clear()
    evaluate(specs, config, killed, progress=False, resume=True, threads=2)
    assert sorted(toy_metrics.CALLS) == sorted({"black", "u0", "u1", "u2", "u3"} - {json.loads(x)["video"] for x in lines[:3]})
    for name in ("per_video.csv", "summary.json"):
        assert (killed / name).read_text() == (tmp_path / "clean" / name).read_text()


class _Busy(Metric):
    """Sleeps a little and records how many calls of itself, and of any _Busy metric, run at once."""

    needs = frozenset()
    running: dict[str, int] = {}
    peak: dict[str, int] = {}
    lock = threading.Lock()

    def score(self, item: Item) -> Score:
        with self.lock:
            self.running[self.name] = self.running.get(self.name, 0) + 1
            self.running["*"] = self.running.get("*", 0) + 1
            for key in (self.name, "*"):
                self.peak[key] = max(self.peak.get(key, 0), self.running[key])
        time.sleep(0.02)
        with self.lock:
            self.running[self.name] -= 1
            self.running["*"] -= 1
        return Score(float(item.generated.frames.mean()), item.generated.num_frames)


@pytest.fixture
def busy_metrics():
    names = [f"test-busy-{k}" for k in range(4)]
    for name in names:
        metrics.REGISTRY.add(name, type(name.replace("-", "_"), (_Busy,), {"name": name}))
    _Busy.running.clear(), _Busy.peak.clear()
    yield names
    for name in names:
        metrics.REGISTRY._entries.pop(name, None)


@pytest.mark.parametrize("threads", [2, 3])
def test_metrics_overlap_but_each_runs_one_call_at_a_time(busy_metrics, toy_dirs, tmp_path, threads) -> None:
    """Different metrics run side by side, at most ``threads`` at once; no metric object is ever used by two threads."""
    evaluate(pair_directories(*toy_dirs), EvalConfig(busy_metrics), tmp_path / "run", progress=False, threads=threads)
    assert _Busy.peak["*"] == threads  # 4 metrics x 6 videos of 20 ms: the slots fill
    assert all(_Busy.peak[name] == 1 for name in busy_metrics)
    assert threading.active_count() == 1 or not any(t.name.startswith("talkbench-") for t in threading.enumerate())


def test_a_freed_slot_goes_to_the_lowest_waiting_key() -> None:
    """Calls waiting for the one slot run in key order (oldest video, then lane), whatever order they arrived in."""
    slots, holding, release = OrderedSlots(1), threading.Event(), threading.Event()
    ran: list[tuple[int, int]] = []
    holder = threading.Thread(target=slots.run, args=((0, 0), lambda: (holding.set(), release.wait())))
    holder.start()
    holding.wait()
    keys = [(3, 1), (1, 2), (2, 0), (1, -1), (3, 0)]
    waiters = [threading.Thread(target=slots.run, args=(key, lambda key=key: ran.append(key))) for key in keys]
    for waiter in waiters:  # one at a time, each queued before the next arrives
        waiter.start()
        deadline = time.monotonic() + 10
        while len(slots._waiting) < waiters.index(waiter) + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
    assert not ran
    release.set()
    for thread in (holder, *waiters):
        thread.join(10)
    assert ran == sorted(keys)


def test_a_call_interrupted_while_waiting_leaves_no_stale_key() -> None:
    """Ctrl-C while a call waits for a slot: its key leaves the queue, so later calls still get the slot."""
    slots, holding, release = OrderedSlots(1), threading.Event(), threading.Event()
    holder = threading.Thread(target=slots.run, args=((5, 0), lambda: (holding.set(), release.wait())), daemon=True)
    holder.start()
    holding.wait()
    condition = slots._changed

    class Interrupting:  # the condition, but its first wait raises as a KeyboardInterrupt would
        interrupted = False

        def __getattr__(self, name):
            return getattr(condition, name)

        def __enter__(self):
            return condition.__enter__()

        def __exit__(self, *exc):
            return condition.__exit__(*exc)

        def wait(self, timeout=None):
            if not Interrupting.interrupted:
                Interrupting.interrupted = True
                raise KeyboardInterrupt("simulated Ctrl-C")
            return condition.wait(timeout)

    slots._changed = Interrupting()  # type: ignore[assignment]
    ran: list[int] = []
    later = threading.Thread(target=slots.run, args=((6, 0), lambda: ran.append(6)), daemon=True)
    try:
        with pytest.raises(KeyboardInterrupt):
            slots.run((0, -1), lambda: None)  # the lowest key, as the main thread's set-level update has
        assert slots._waiting == []
        later.start()
    finally:
        release.set()
    for thread in (holder, later):
        thread.join(10)
    assert ran == [6] and not later.is_alive()


def test_two_slots_run_two_calls_at_once() -> None:
    """With two slots, two calls overlap (each waits for the other to start), and a third waits for a free slot."""
    slots, barrier = OrderedSlots(2), threading.Barrier(2, timeout=10)
    started: list[int] = []

    def call(k: int) -> int:
        started.append(k)
        if k < 2:
            barrier.wait()  # would time out if the two first calls could not run together
        return k

    threads = [threading.Thread(target=slots.run, args=((k, 0), lambda k=k: call(k))) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(started) == [0, 1, 2] and not barrier.broken


def test_at_most_ahead_videos_are_in_memory(busy_metrics, toy_dirs, tmp_path, monkeypatch) -> None:
    """When the loader starts reading a video, at most ``AHEAD - 1`` others are alive: the video whose row was just
    made is dropped before the next one is read, so memory stays flat (the 8-video perf run once held three)."""
    import bench.evaluate

    alive: weakref.WeakSet[Clip] = weakref.WeakSet()  # the loaded items' generated clips
    seen: list[int] = []
    original = bench.evaluate.load_or_reason

    def counting(spec, config):
        seen.append(len(alive))  # videos still referenced when this one starts to load
        item = original(spec, config)
        if not isinstance(item, str):
            alive.add(item.generated)
        return item

    monkeypatch.setattr(bench.evaluate, "load_or_reason", counting)
    specs = pair_directories(*toy_dirs)
    evaluate(specs, EvalConfig(busy_metrics), tmp_path / "run", progress=False, threads=2)
    assert len(seen) == len(specs) and max(seen) == bench.threaded.AHEAD - 1, seen


def test_a_crashing_metric_stops_the_run_and_its_threads(toy_metrics, toy_dirs, tmp_path) -> None:
    """An exception that is not a MetricError (a bug, a kill) reaches the caller as in one thread, with the same rows
    journaled before it; no thread is left behind."""
    metrics.REGISTRY.add("test-mad-killed", toy_metrics.MeanAbsDiff, interrupt_after=2)
    journals = []
    try:
        for threads in (1, 2):
            toy_metrics.CALLS.clear()
            with pytest.raises(KeyboardInterrupt, match="simulated kill"):
                evaluate(pair_directories(*toy_dirs), EvalConfig(["test-mad-killed"]), tmp_path / f"t{threads}",
                         progress=False, threads=threads)  # fmt: skip
            journals.append((tmp_path / f"t{threads}" / "rows.jsonl").read_text())
    finally:
        metrics.REGISTRY._entries.pop("test-mad-killed", None)
    assert not any(t.name.startswith("talkbench-") for t in threading.enumerate())
    assert journals[0] == journals[1] and '"u0"' in journals[0] and '"u1"' not in journals[0]


def test_memo_computes_an_analysis_once_across_threads() -> None:
    """Two threads asking a clip for the same analysis share one computation; analyses may nest."""
    clip = Clip(np.zeros((2, 8, 8, 3), np.uint8))
    calls: list[str] = []

    def slow() -> int:
        calls.append("outer")
        time.sleep(0.05)
        return clip.memo("inner", lambda: calls.append("inner") or 2) + 1

    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(clip.memo("outer", slow))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [3, 3, 3, 3] and calls == ["outer", "inner"]


def test_a_memoised_clip_still_pickles() -> None:
    import pickle

    clip = Clip(np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3))
    grey = clip.grey()
    copy = pickle.loads(pickle.dumps(clip))
    np.testing.assert_array_equal(copy.grey(), grey)


def test_thread_count_checks(toy_dirs, tmp_path, monkeypatch, capsys) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        check_threads(0, 1)
    with pytest.raises(ValueError, match="the worker processes are the parallelism"):
        check_threads(2, 2)
    check_threads(1, 4), check_threads(4, 1)
    args = ["evaluate", "--generated", str(toy_dirs[0]), "--out", str(tmp_path / "r"), "--metrics", "psnr"]
    assert main([*args, "--threads", "2", "--workers", "2"]) == 2
    assert "--threads 2 with --workers 2: the worker processes are the parallelism" in capsys.readouterr().err
    assert main([*args, "--threads", "0"]) == 2
    assert "threads must be an integer of at least 1, got 0" in capsys.readouterr().err
    if hasattr(bench.threaded.os, "sched_getaffinity"):
        monkeypatch.setattr(bench.threaded.os, "sched_getaffinity", lambda pid: {0, 1, 2})
        assert default_threads() == 3
        monkeypatch.setattr(bench.threaded.os, "sched_getaffinity", lambda pid: set(range(64)))
        assert default_threads() == bench.threaded.MAX_THREADS
        assert default_threads(workers=2) == 1
        monkeypatch.setenv("WORLD_SIZE", "4")  # under torchrun the ranks are the parallelism
        assert default_threads() == 1
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("threads", [1, 2])
def test_one_thread_asked_for_is_one_thread_used(toy_metrics, toy_dirs, tmp_path, monkeypatch, threads) -> None:
    """``--threads 1`` holds FFmpeg's decoder, OpenCV and OpenMP (torch) to one thread while it runs, then puts the
    caller's settings back; ``--threads 2`` leaves them to the libraries."""
    import cv2
    import torch

    from bench.media import io

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    before = (cv2.getNumThreads(), torch.get_num_threads(), io._DECODE_THREADS)
    seen = []
    original = io._decode

    def spy(file, container, fps):
        got = original(file, container, fps)
        seen.append((got["video"].codec_context.thread_count, io._DECODE_THREADS, cv2.getNumThreads(),
                     torch.get_num_threads(), os.environ["OMP_NUM_THREADS"]))  # fmt: skip
        return got

    monkeypatch.setattr(io, "_decode", spy)
    gen, ref = toy_dirs
    assert main(["evaluate", "--generated", str(gen), "--reference", str(ref), "--metrics", "test-mad", "--out",
                 str(tmp_path / "run"), "--no-progress", "--threads", str(threads)]) == 0  # fmt: skip
    assert len(seen) >= 8  # the pairs' videos were decoded
    if threads == 1:
        assert set(seen) == {(1, 1, 1, 1, "1")}
    else:  # FFmpeg's automatic count (0 asked; it opens with the cores + 1)
        assert {s[1:] for s in seen} == {(0, *before[:2], "3")}
    assert (cv2.getNumThreads(), torch.get_num_threads(), io._DECODE_THREADS) == before
    assert os.environ["OMP_NUM_THREADS"] == "3"


def test_blas_threads_sleep_beside_the_commands_threads_unless_told_otherwise() -> None:
    """``--threads N``: OpenBLAS keeps its threads but they sleep when idle (OPENBLAS_THREAD_TIMEOUT=4, set before numpy
    loads it); ``--threads 1``: one BLAS thread instead; a value the user set is kept."""
    from test_evaluate_workers import _python

    code = """
import os, sys
import bench.cli.evaluate as command
def chosen(args, threads):
    print(threads, os.environ.get("OPENBLAS_NUM_THREADS"), os.environ.get("OPENBLAS_THREAD_TIMEOUT"), "numpy" in sys.modules)
    return 0
command._evaluate = chosen
from bench.cli import main
main(["evaluate", "--generated", "unused", "--out", "unused", "--threads", sys.argv[1]])
"""
    assert _python(code, "2").split() == ["2", "None", "4", "False"]
    assert _python(code, "1").split()[:3] == ["1", "1", "None"]  # (numpy is loaded by then to hold OpenCV to one thread)
    assert _python(code, "2", env={"OPENBLAS_THREAD_TIMEOUT": "12"}).split() == ["2", "None", "12", "False"]


@pytest.mark.skipif(not os.confstr_names.get("CS_GNU_LIBC_VERSION"), reason="glibc's malloc")
def test_the_command_reuses_freed_memory_unless_malloc_was_tuned() -> None:
    """``talkbench evaluate`` keeps freed blocks for reuse (bench.cli.evaluate.keep_freed_memory): a 48 MiB array
    allocated again after one was freed touches no fresh pages, where by default glibc maps (and faults in) a new one
    every time; a user's MALLOC_*_ or GLIBC_TUNABLES is left alone."""
    from test_evaluate_workers import _python

    code = """
import resource
import bench.cli.evaluate as command
def chosen(args, threads):
    import numpy as np
    np.ones(48 << 20, np.uint8)  # allocated, written and freed
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    np.ones(48 << 20, np.uint8)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return 0
command._evaluate = chosen
from bench.cli import main
main(["evaluate", "--generated", "unused", "--out", "unused", "--threads", "2"])
"""
    kept = int(_python(code))
    tuned = int(_python(code, env={"MALLOC_MMAP_THRESHOLD_": str(128 << 10)}))  # glibc's default, as a user's choice
    assert kept <= 4 < tuned  # 12288 faults with 4 KiB pages, 24 with transparent huge pages
