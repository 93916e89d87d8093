"""The helper process of threaded evaluation (bench.helper_process) and the metrics' ``prepare`` hook."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

import metrics
from bench import helper_process
from bench.evaluate import EvalConfig, evaluate, pair_directories
from metrics import Item, Score
from metrics.base import Metric

REPO = Path(__file__).resolve().parents[2]


def test_requests_run_in_the_helper_keyed_once_and_errors_come_back() -> None:
    helper = helper_process.HelperProcess()
    try:
        assert helper.result("sqrt", math.sqrt, 2.25) == 1.5
        first = helper.submit("pid", _pid)
        assert helper.submit("pid", _pid) is first  # pending under its key: not asked twice
        assert helper.result("pid", _pid) not in (0, _pid())  # ran in another process
        with pytest.raises(ValueError, match="invalid literal"):
            helper.result("bad", int, "x")
        assert helper._pending == {}  # collected results are forgotten
    finally:
        helper.close()


def test_the_helper_is_shared_and_stops_with_its_last_user() -> None:
    """Two users (the command and its evaluation, or two evaluations in two threads): the first to leave does not
    stop the other's helper; the last does. A stop with no helper running does nothing."""
    first = helper_process.start()
    try:
        assert helper_process.start() is first
        helper_process.stop()
        assert helper_process.running() is first and first.result("still", math.sqrt, 4.0) == 2.0
    finally:
        helper_process.stop()
    assert helper_process.running() is None
    helper_process.stop()
    assert helper_process.running() is None
    with pytest.raises(BrokenProcessPool, match="stopped"):
        first.submit("late", math.sqrt, 1.0)


def _pid() -> int:
    import os

    return os.getpid()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="threads are counted in /proc (Linux)")
def test_the_command_forks_its_helper_before_numpy_and_stops_it(grid_paths, tmp_path) -> None:
    """``talkbench evaluate --threads 2`` forks the helper as a single thread without numpy and asks it at once, still
    without numpy, to load the face models (bench.threaded.warm_up), before the first face track; none is left running."""
    generated = tmp_path / "generated"
    generated.mkdir()
    (generated / grid_paths[0].name).symlink_to(grid_paths[0])
    argv = ["evaluate", "--generated", str(generated), "--reference", str(grid_paths[0].parent), "--metrics", "psnr,lmd",
            "--out", str(tmp_path / "run"), "--no-progress", "--threads", "2"]  # fmt: skip
    code = f"""
import json, os, sys
os.environ["TALKBENCH_CACHE"] = {str(tmp_path / "cache")!r}
from bench import helper_process
started = []
original = helper_process.HelperProcess.__init__
def recording(self, method=None):
    original(self, method)
    started.append((self.method, "numpy" in sys.modules))
helper_process.HelperProcess.__init__ = recording
asked = []
submit = helper_process.HelperProcess.submit
def recording_submit(self, key, fn, *args):
    asked.append((key if isinstance(key, str) else key[0], "numpy" in sys.modules))
    return submit(self, key, fn, *args)
helper_process.HelperProcess.submit = recording_submit
import bench.cli
assert bench.cli.main({argv!r}) == 0
print(json.dumps([started, helper_process.running() is None, asked]))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    started, stopped, asked = json.loads(done.stdout.strip().splitlines()[-1])
    assert started == [["fork", False]] and stopped
    assert asked[0] == ["bench.threaded.warm_up", False], asked
    assert [key for key, _ in asked[1:]].count("bench.faces.track") >= 2, asked  # the pair's tracks, after it
    row = json.loads((tmp_path / "run" / "rows.jsonl").read_text().splitlines()[0])
    assert row["video"] == grid_paths[0].stem and row["values"]["lmd"] == 0.0  # compared with itself


class _Preparing(Metric):
    """Records where and when ``prepare`` runs; the score is the mean frame value."""

    name = "test-preparing"
    calls: list[tuple[str, str, bool]] = []
    scored: set[str] = set()

    def prepare(self, item: Item) -> None:
        helper = helper_process.running()
        self.calls.append((item.video_id, threading.current_thread().name, helper is not None))
        if item.video_id == "u1":
            raise RuntimeError("a prepare that fails")

    def score(self, item: Item) -> Score:
        self.scored.add(item.video_id)
        return Score(float(item.generated.frames.mean()), item.generated.num_frames)


@pytest.fixture
def preparing():
    metrics.REGISTRY.add(_Preparing.name, _Preparing)
    _Preparing.calls.clear(), _Preparing.scored.clear()
    yield _Preparing
    metrics.REGISTRY._entries.pop(_Preparing.name, None)


@pytest.mark.parametrize("threads", [1, 2])
def test_prepare_runs_on_the_loader_once_per_read_video_with_threads_only(preparing, toy_dirs, tmp_path, threads) -> None:
    """With threads: once per video read, on the loader thread, with the helper running; a failing prepare is ignored
    (score reports problems). On one thread nothing runs in the background: prepare is not called, no helper starts."""
    out = tmp_path / "run"
    evaluate(pair_directories(*toy_dirs), EvalConfig([preparing.name]), out, progress=False, threads=threads)
    rows = {json.loads(line)["video"]: json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()}
    read = sorted(video for video, row in rows.items() if row["status"] == "ok")  # loaded: not missing, not corrupt
    assert len(read) == 6 and sorted(preparing.scored) == read
    assert rows["u1"]["status"] == "ok" and math.isfinite(rows["u1"]["values"][preparing.name])
    if threads == 1:
        assert preparing.calls == []
    else:
        assert sorted(video for video, _, _ in preparing.calls) == read
        assert all(thread.startswith("talkbench-load") and helper for _, thread, helper in preparing.calls)
    assert helper_process.running() is None


def test_warm_up_loads_the_models_of_the_metrics_that_use_the_helper(monkeypatch) -> None:
    """``metrics.HELPER_MODELS`` by a name's first part; each target called once, whatever the variants asked."""
    from bench.faces import tracking
    from bench.threaded import warm_up

    calls: list[str] = []
    monkeypatch.setattr(tracking, "load_models", lambda: calls.append("face models"))
    warm_up(["psnr", "ssim", "cpbd"])
    assert calls == []
    warm_up(["psnr", "lmd", "lmd-mouth", "blink"])
    assert calls == ["face models"]


def test_load_models_loads_the_tracker_s_detector_and_predictor(monkeypatch) -> None:
    from bench.faces import TrackSettings, tracking

    loaded: list[str] = []
    monkeypatch.setattr(tracking, "dlib_model", loaded.append)
    tracking.load_models()
    tracking.load_models(TrackSettings(detector="cnn"))
    assert loaded == ["hog", "landmarks", "cnn", "landmarks"]


def test_helper_models_name_exactly_the_metrics_that_prepare_work() -> None:
    """A built-in metric with a ``prepare`` of its own has its models in ``metrics.HELPER_MODELS`` (else the helper
    loads them only at its first request), and only those do."""
    for name in metrics.available():
        target = metrics.REGISTRY.entry(name).resolve()
        if not target.__module__.startswith("metrics."):
            continue  # a plugin's metric
        prepares = target.prepare is not Metric.prepare
        assert prepares == (name.split("-", 1)[0] in metrics.HELPER_MODELS), name
    for target in set(metrics.HELPER_MODELS.values()):
        module, function = target.split(":")
        assert callable(getattr(__import__(module, fromlist=[function]), function)), target
