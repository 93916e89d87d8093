"""Issue 16: what a user feels beyond the arithmetic: start-up, per-call overhead, workers, GPU frames per second.

Every assertion is a ratio of two quantities measured in the same run (never an absolute time), CPU seconds where
one process does the work (``time.process_time``, or the children's rusage for subprocesses) and wall seconds only
for the workers, whose point is wall time.

* Start-up: ``talkbench --help`` and an argument error cost a small fraction of ``import torch`` (the 2.1 s that
  ``--help`` used to take was torch, torch.distributed and pandas).
* Per call: ``metrics.score(name, clip)`` on one 256x256 frame costs at most 20 % more than the metric's inner
  function on the same frame (the grey conversion included where the metric needs grey), the median of three fresh
  processes; CPBD through ``metrics.score`` at least 30x the ``cpbd`` package.
* Workers: ``talkbench evaluate --workers 2`` at least 1.7x one process on one thread (``--threads 1``, which holds
  FFmpeg's decoder, OpenCV and OpenMP to one thread as each worker does) in wall time on 8 real GRID pairs (each
  command on a warm model cache without face tracks, best of two alternating runs); ``--threads 2`` on the same
  pairs is recorded beside it, and on 4 pairs guarded by a floor.
* GPU: frames per second of psnr and ssim on CPU and, when a GPU is present, on it (recorded, not asserted).
"""

from __future__ import annotations

import importlib
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage
import torch
from timing import best_in_turns

import metrics
from bench.media import Clip, read_clip
from metrics._frames import grey
from metrics.cpbd import cpbd
from metrics.fdbm import fdbm
from metrics.psnr import psnr
from metrics.ssim import ssim

REPO = Path(__file__).resolve().parents[2]
OVERHEAD = 1.2  # metrics.score at most 20 % above the inner function
CPBD_API_TARGET = 30.0
STARTUP_FRACTION = 0.25  # --help at most a quarter of `import torch` (issue: --help took 2.1 s, all of it imports)
WORKERS_TARGET = 1.7  # issue 16; measured 1.81-1.94x
THREADS_FLOOR = 1.35  # regression guard below the measured 1.65-1.75x of --threads 2 on 2 cores (1.51-1.56x before the helper)


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def grid_frames(grid_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """A 256x256 RGB crop of a real GRID frame and a slightly brighter copy as its reference."""
    frame = np.ascontiguousarray(read_clip(grid_dir / "bbaf2n.mpg").frames[30][16:272, 52:308])
    return frame, np.clip(frame.astype(np.int16) + 3, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def frames(grid_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return grid_frames(grid_dir)


def child_cpu(argv: list[str]) -> float:
    """CPU seconds (user + system) of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, cwd=REPO, capture_output=True, check=False, env={**os.environ, "OMP_NUM_THREADS": "1"})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def test_startup_is_a_fraction_of_importing_torch(record_property) -> None:
    python = sys.executable
    torch_cpu = min(child_cpu([python, "-c", "import torch"]) for _ in range(2))
    for argv in (["--help"], ["evaluate"], ["evaluate", "--generated", "x", "--out", "y", "--workers", "z"]):
        ours = min(child_cpu([python, "-m", "bench", *argv]) for _ in range(3))
        record_property(f"startup_cpu_{argv[0]}", ours)
        print(f"talkbench {' '.join(argv)}: {ours:.2f} s CPU; import torch {torch_cpu:.2f} s CPU ({ours / torch_cpu:.2f})")
        assert ours <= STARTUP_FRACTION * torch_cpu


def inner(name: str, frame: np.ndarray, reference: np.ndarray) -> Callable[[], object]:
    """The metric's inner function on one frame, as a user of the library function would call it."""
    batch, ref = frame[None], reference[None]
    return {
        "psnr": lambda: float(psnr(batch, ref, data_range=255).mean()),
        "ssim": lambda: float(ssim(batch, ref, data_range=255).mean()),
        "cpbd": lambda: cpbd(grey(batch)[0]),
        "fdbm": lambda: float(fdbm(grey(batch)).mean()),
    }[name]


def api_call(name: str, frame: np.ndarray, reference: np.ndarray) -> Callable[[], object]:
    """``metrics.score`` on the one-frame clips, as a user of the API would call it."""
    clip, ref_clip = Clip(frame[None]), Clip(reference[None])
    return (lambda: metrics.score(name, clip, ref_clip)) if name in ("psnr", "ssim") else (lambda: metrics.score(name, clip))


def measure_overheads(grid_dir: Path) -> dict[str, tuple[float, float]]:
    """Best CPU seconds of ``metrics.score`` and of the inner function on one frame, per metric, in this process."""
    torch.set_num_threads(1)
    frame, reference = grid_frames(grid_dir)
    best = {}
    for name in OVERHEAD_METRICS:
        rounds = 1000 if name in ("psnr", "fdbm") else 100  # about 0.2 s a measurement: a short one is mostly noise
        best[name] = best_in_turns(api_call(name, frame, reference), inner(name, frame, reference), (rounds, rounds))
    return best


OVERHEAD_METRICS = ("psnr", "ssim", "cpbd", "fdbm")
PROCESSES = 3
CHILD = "import json, sys; from pathlib import Path; from test_overhead_perf import measure_overheads; "
CHILD += "print(json.dumps(measure_overheads(Path(sys.argv[1]))))"


@pytest.fixture(scope="module")
def overheads(grid_dir: Path) -> list[dict[str, list[float]]]:
    """:func:`measure_overheads` in :data:`PROCESSES` fresh interpreters.

    One process's figures carry a bias of its own: the same inner function on the same frame took 0.42-0.51 ms
    (FDBM) from one process to the next, and the API beside it 0.36-0.45 ms, so one process's ratio moved by ±15%
    (where its arrays and buffers happen to lie in memory). The median of the processes' ratios is asserted.
    """
    runs = []
    for _ in range(PROCESSES):
        done = subprocess.run([sys.executable, "-c", CHILD, str(grid_dir)], cwd=Path(__file__).parent, capture_output=True,
                              text=True, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return runs


@pytest.mark.parametrize("name", OVERHEAD_METRICS)
def test_score_overhead(frames, overheads, name, record_property) -> None:
    frame, reference = frames
    assert api_call(name, frame, reference)()[name] == pytest.approx(inner(name, frame, reference)(), rel=1e-12)
    ratios = [ours / theirs for ours, theirs in (run[name] for run in overheads)]
    ratio = statistics.median(ratios)
    record_property(f"{name}_score_overhead", ratio)
    ours, theirs = (statistics.median(run[name][side] for run in overheads) for side in (0, 1))
    print(f"{name}: metrics.score {ours * 1e3:.3f} ms, inner {theirs * 1e3:.3f} ms: x{ratio:.3f} (median of "
          f"{', '.join(f'{r:.3f}' for r in ratios)})")  # fmt: skip
    assert ratio <= OVERHEAD


def test_cpbd_through_the_api_beats_the_package(frames, record_property) -> None:
    if not hasattr(scipy.ndimage, "imread"):
        scipy.ndimage.imread = None  # cpbd 1.0.7 imports it; current SciPy no longer has it
    port = importlib.import_module("cpbd.compute")
    clip = Clip(frames[0][None])
    image = grey(frames[0][None])[0]
    assert metrics.score("cpbd", clip)["cpbd"] == pytest.approx(port.compute(image), abs=1e-12)
    ours, theirs = best_in_turns(lambda: metrics.score("cpbd", clip), lambda: port.compute(image), (6, 1))
    record_property("cpbd_api_speedup", theirs / ours)
    print(f"CPBD 256x256 via metrics.score {ours * 1e3:.2f} ms, cpbd package {theirs * 1e3:.1f} ms: {theirs / ours:.1f}x")
    assert theirs / ours >= CPBD_API_TARGET


def alternating_walls(gen: Path, ref: Path, options: dict[str, list[str]], tmp_path: Path, models: Path) -> dict[str, float]:
    """Best wall seconds of ``talkbench evaluate`` (psnr/ssim/cpbd/fdbm/lmd) with each set of extra ``options``, the
    sets run in turn, twice, each in a fresh process on a copy of the model cache (no face tracks); every run gives
    the same table."""
    from test_evaluate_perf import METRICS

    walls = dict.fromkeys(options, math.inf)
    tables = set()
    for attempt, name in enumerate([*options, *options]):
        root = tmp_path / f"run{attempt}"
        shutil.copytree(models, root / "cache")
        args = ["evaluate", "--generated", str(gen), "--reference", str(ref), "--metrics", ",".join(METRICS)]
        args += ["--out", str(root / "run"), "--no-progress", *options[name]]
        env = {**os.environ, "TALKBENCH_CACHE": str(root / "cache")}  # the user's thread settings
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "bench", *args], cwd=REPO, env=env, capture_output=True, text=True)
        walls[name] = min(walls[name], time.perf_counter() - start)
        assert done.returncode == 0, done.stderr[-2000:]
        tables.add((root / "run" / "per_video.csv").read_text())
    assert len(tables) == 1  # value for value the same
    return walls


@pytest.fixture(scope="module")
def eight_pair_walls(grid_paths, tmp_path_factory, warm_models) -> dict[str, float]:
    """8 distinct real GRID pairs: one process on one thread (``--workers 1 --threads 1``), ``--workers 2`` and
    ``--threads 2``, best wall seconds of two alternating runs each."""
    from test_evaluate_perf import distinct_pairs

    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs 2 cores")
    root = tmp_path_factory.mktemp("eight")
    gen, ref = distinct_pairs(grid_paths, 8, root)
    options = {"one": ["--workers", "1", "--threads", "1"], "workers": ["--workers", "2"], "threads": ["--threads", "2"]}
    walls = alternating_walls(gen, ref, options, root, warm_models)
    print(f"evaluate 8 GRID pairs: one thread {walls['one']:.1f} s, --workers 2 {walls['workers']:.1f} s "
          f"({walls['one'] / walls['workers']:.2f}x), --threads 2 {walls['threads']:.1f} s "
          f"({walls['one'] / walls['threads']:.2f}x) wall")  # fmt: skip
    return walls


def test_workers_speedup(eight_pair_walls, record_property) -> None:
    """Issue 16: ``talkbench evaluate --workers 2`` at least 1.7x one process on one thread, on 8 videos and 2 cores."""
    ratio = eight_pair_walls["one"] / eight_pair_walls["workers"]
    record_property("workers_speedup", ratio)
    record_property("threads_speedup_8", eight_pair_walls["one"] / eight_pair_walls["threads"])
    assert ratio >= WORKERS_TARGET


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores")
def test_threads_speedup(grid_paths, tmp_path, warm_models, record_property) -> None:
    """The 4 GRID pairs of the 15x benchmark: ``--threads 2`` (the default on 2 cores) against ``--threads 1``."""
    from test_evaluate_perf import distinct_pairs

    gen, ref = distinct_pairs(grid_paths, 4, tmp_path)
    walls = alternating_walls(gen, ref, {"one": ["--threads", "1"], "two": ["--threads", "2"]}, tmp_path, warm_models)
    ratio = walls["one"] / walls["two"]
    record_property("threads_speedup", ratio)
    print(f"evaluate 4 GRID pairs: --threads 1 {walls['one']:.1f} s, --threads 2 {walls['two']:.1f} s wall: {ratio:.2f}x")
    assert ratio >= THREADS_FLOOR


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_frames_per_second(frames, device, record_property) -> None:
    """psnr and ssim frames per second on 64 frames of 256x256 (recorded for the README; nothing asserted)."""
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    batch = np.repeat(frames[0][None], 64, axis=0)
    ref = np.repeat(frames[1][None], 64, axis=0)
    for name, function in (("psnr", psnr), ("ssim", ssim)):
        function(batch, ref, data_range=255, device=device)  # warm-up (CUDA context, kernels)
        start = time.perf_counter()
        values = function(batch, ref, data_range=255, device=device)
        float(values.sum())  # waits for the device
        fps = len(batch) / (time.perf_counter() - start)
        record_property(f"{name}_fps_{device}", fps)
        print(f"{name} on {device}: {fps:.0f} frames/s (256x256)")
