"""``talkbench evaluate --workers N`` (issue 16): the same run, value for value, with videos scored in N processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from harness_helpers import killed_copy

from bench.cli import main
from bench.evaluate import EvalConfig, evaluate, pair_directories

DEFAULT_SUITE = "psnr,ssim,cpbd,fdbm,lmd"


def cli(gen: Path, ref: Path, out: Path, metrics: str, workers: int, threads: int = 1) -> None:
    code = main(["evaluate", "--generated", str(gen), "--reference", str(ref), "--metrics", metrics,
                 "--out", str(out), "--no-progress", "--workers", str(workers), "--threads", str(threads)])  # fmt: skip
    assert code == 0


def test_default_suite_two_workers_equal_one(grid_pairs, tmp_path, monkeypatch) -> None:
    """psnr, ssim, cpbd, fdbm and lmd on real faces: per_video.csv byte for byte and summary.json the same."""
    monkeypatch.setenv("TALKBENCH_CACHE", str(tmp_path / "cache-1"))
    cli(*grid_pairs, tmp_path / "one", DEFAULT_SUITE, 1)
    monkeypatch.setenv("TALKBENCH_CACHE", str(tmp_path / "cache-2"))  # no face track shared between the runs
    cli(*grid_pairs, tmp_path / "two", DEFAULT_SUITE, 2)
    one, two = (tmp_path / "one" / "per_video.csv").read_text(), (tmp_path / "two" / "per_video.csv").read_text()
    assert one == two
    assert len(one.splitlines()) == 4 and ",ok," in one.splitlines()[1]
    summary = [json.loads((tmp_path / run / "summary.json").read_text()) for run in ("one", "two")]
    assert summary[0] == summary[1]


def test_failures_and_order_are_kept(toy_metrics, toy_dirs, tmp_path) -> None:
    """Missing, black and corrupt videos give the same rows, in the same order, with 1 and 2 workers."""
    tables = []
    for workers in (1, 2):
        cli(*toy_dirs, tmp_path / f"w{workers}", "test-mad", workers)
        tables.append((tmp_path / f"w{workers}" / "per_video.csv").read_text())
        journal = [json.loads(line)["video"] for line in (tmp_path / f"w{workers}" / "rows.jsonl").read_text().splitlines()]
        assert journal == sorted(journal)  # journaled in input order, each video once
    assert tables[0] == tables[1]
    assert "corrupt" in tables[0] and "no generated video" in tables[0]


def test_resume_with_workers(toy_metrics, toy_dirs, tmp_path) -> None:
    """A killed run (three journaled videos and a torn line) resumed with two workers gives the clean run."""
    specs, config = pair_directories(*toy_dirs), EvalConfig(metrics=["test-mad"])
    evaluate(specs, config, tmp_path / "clean", progress=False)
    killed = tmp_path / "killed"
    lines = killed_copy(tmp_path / "clean", killed)
    toy_metrics.CALLS.clear()
    evaluate(specs, config, killed, progress=False, resume=True, workers=2)
    assert not toy_metrics.CALLS  # scored in the worker processes, none in this one
    assert (killed / "per_video.csv").read_text() == (tmp_path / "clean" / "per_video.csv").read_text()
    journal = [json.loads(line)["video"] for line in (killed / "rows.jsonl").read_text().splitlines()]
    assert sorted(journal) == sorted({json.loads(line)["video"] for line in lines})  # each video once


def test_workers_refuse_set_level_metrics(toy_metrics, toy_dirs, tmp_path) -> None:
    config = EvalConfig(metrics=["test-mad", "test-moments"])
    with pytest.raises(ValueError, match="test-moments accumulate over the whole set"):
        evaluate(pair_directories(*toy_dirs), config, tmp_path / "run", progress=False, workers=2)
    with pytest.raises(ValueError, match="at least 1"):
        evaluate(pair_directories(*toy_dirs), EvalConfig(metrics=["test-mad"]), tmp_path / "r0", progress=False, workers=0)


def _python(code: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``code`` in a fresh interpreter (no torch, unlike this test process) with a user's default thread settings
    (no OMP_NUM_THREADS or OPENBLAS_NUM_THREADS) and ``env``; its stdout."""
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False,
                          env={**clean, **(env or {})}, cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="threads are counted in /proc (Linux)")
def test_workers_fork_only_a_single_threaded_process_without_torch() -> None:
    code = """
import threading
from bench.parallel import start_method
print(start_method())
stop = threading.Event()
thread = threading.Thread(target=stop.wait)
thread.start()
print(start_method())
stop.set()
"""
    assert _python(code, env={"OPENBLAS_NUM_THREADS": "1"}).split() == ["fork", "spawn"]
    assert _python("import torch\nfrom bench.parallel import start_method\nprint(start_method())").split() == ["spawn"]
    if (os.cpu_count() or 1) > 1:  # OpenBLAS starts a thread per extra core when numpy is imported
        assert _python("from bench.parallel import start_method\nprint(start_method())").split() == ["spawn"]


def test_evaluate_with_workers_gives_blas_one_thread_unless_told_otherwise() -> None:
    code = """
import os, sys
from bench.cli.evaluate import one_thread_blas
print(one_thread_blas(), os.environ.get("OPENBLAS_NUM_THREADS"))
import numpy
del os.environ["OPENBLAS_NUM_THREADS"]
print(one_thread_blas(), os.environ.get("OPENBLAS_NUM_THREADS"))
"""
    assert _python(code).split() == ["True", "1", "False", "None"]  # numpy imported: too late to matter
    assert _python(code.replace("import numpy\n", ""), env={"OPENBLAS_NUM_THREADS": "2"}).split()[:2] == ["False", "2"]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="threads are counted in /proc (Linux)")
def test_forked_workers_equal_one_worker(grid_pairs, tmp_path, monkeypatch) -> None:
    """The command in a fresh process with default thread settings forks its two workers; the table equals the
    one-process one byte for byte."""
    code = """
import multiprocessing, sys
from bench.cli import main
chosen = []
context = multiprocessing.get_context
multiprocessing.get_context = lambda method=None: chosen.append(method) or context(method)
code = main(sys.argv[1:])
print(code, *chosen)
"""
    gen, ref = grid_pairs
    args = ["evaluate", "--generated", str(gen), "--reference", str(ref), "--metrics", DEFAULT_SUITE, "--no-progress"]
    args += ["--out", str(tmp_path / "two"), "--workers", "2"]
    out = _python(code, *args, env={"TALKBENCH_CACHE": str(tmp_path / "cache-2")})
    assert out.split()[-2:] == ["0", "fork"]
    monkeypatch.setenv("TALKBENCH_CACHE", str(tmp_path / "cache-1"))
    cli(gen, ref, tmp_path / "one", DEFAULT_SUITE, 1)
    assert (tmp_path / "two" / "per_video.csv").read_text() == (tmp_path / "one" / "per_video.csv").read_text()
