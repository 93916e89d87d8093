"""Speed and memory of ``talkbench evaluate`` (issue 7, item 9) on the real GRID clips.

The pairs: generated = a degraded copy of each GRID clip (Gaussian blur sigma 1 plus Gaussian noise sigma 4, written
losslessly), reference = the original ``.mpg``; paired by file name. Metrics psnr, ssim, cpbd, fdbm and lmd.

* Speed: :func:`bench.evaluate.evaluate` beside :func:`reference_loop.reference_loop` (scikit-image, the ``cpbd``
  package, numpy FFT and dlib detection plus landmarks on every frame), side by side in one run. Each timed round
  of ``evaluate`` starts cold: ``TALKBENCH_CACHE`` points at a fresh empty folder (no face track from an earlier
  round on disk) and the clips are read anew (nothing memoised). dlib's models are loaded before either side is
  timed. Both sides run on one torch thread and are timed in CPU seconds (``time.process_time``), so that other
  processes on a shared machine distort the ratio less than wall time; wall times are recorded too.
* Agreement: the per-video values of both sides match (tolerances at :data:`TOLERANCE`).
* Memory: the ``talkbench evaluate`` command on N and 4N distinct videos in child processes; the child's peak
  resident set (``VmHWM``) must not grow with the number of videos.

Measured on a 2-vCPU machine, quiet, 2026-12-05 (Intel Xeon host, four runs, 04:00-04:35 UTC): the reference
55.2-56.7 s; talkbench on one thread 10.6-11.1x CPU, 12.1-12.8x wall. Through the command line (a fresh process on a
warm model cache and compiled bytecode, imports and dlib's models included, no face tracks): 3.50-3.83 s wall with the
default 2 threads and the face-track helper process, 15.6-15.8x wall in three runs and 14.8x in one (13.5-13.7x before
the helper: test_cli_speedup_target); on one thread 9.0-9.7x CPU, 8.9-9.5x wall. With the generated clips as H.264
``.mp4`` instead of lossless FFV1: 2.83-2.96 s, 18.1-18.8x (test_cli_speedup_target_h264).
Per pair, on one thread, talkbench spends ~0.42 s decoding the two clips (~0.39 s of it the FFV1 clip; the reference
pays the same), ~0.28 s in SSIM, ~0.24 s in CPBD (grey conversion included), ~0.3 s tracking faces for LMD, ~0.07 s
in FDBM and ~0.04 s in PSNR. Peak RSS of the command: 711-714 MiB for 4 videos, 685-710 MiB for 16 (two videos in
memory at a time with threads); of its face-track helper 179 MiB for both.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from reference_loop import DlibPerFrame, aligned_mouth, lmd_reference, reference_loop

import metrics
from bench.evaluate import EvalConfig, evaluate, pair_directories
from bench.faces import TrackSettings, track
from bench.faces.detect import dlib_model
from bench.media import Clip, read_clip, write_clip
from bench.results import load_run
from metrics import Item
from metrics._frames import grey

METRICS = ["psnr", "ssim", "cpbd", "fdbm", "lmd"]
TARGET = 10.0  # issue 7, item 9: at least 10x faster than the frame-by-frame reference
FLOOR = 9.0  # regression guard below the measured 9.5-11.6x (CPU time, shared 2-core machine)
MEMORY_GROWTH = 1.3  # peak RSS with 4N videos below this times the peak with N videos
# psnr/cpbd/fdbm: same arithmetic (relative differences <= 1e-14 measured). lmd (relative): talkbench tracks
# (detection every 15 frames) and predicts landmarks on crops upscaled to 160 px (GRID faces are ~125 px wide), where
# the reference detects and predicts on every raw frame. Both change the landmarks by ~0.4 px on average and LMD of
# these pairs by up to 15 % (measured: upscaling alone -12 to -17 %, tracking alone -1 to +7 %; swwp2s 7.12 vs 8.34);
# with per-frame detection and no upscaling the landmarks, and so LMD, are identical (test_lmd_definition_matches).
# ssim: metrics.ssim filters the Gaussian window in float32 (<= 2e-7 on GRID, its docstring; 2.6e-7 measured here).
TOLERANCE = {"psnr": 1e-9, "ssim": 1e-6, "cpbd": 1e-9, "fdbm": 1e-9, "lmd": 0.1}  # lmd: tracking vs per-frame detection
REPO = Path(__file__).resolve().parents[2]


def degrade(frames: np.ndarray, seed: int) -> np.ndarray:
    """A plausible generator output: blurred (sigma 1) and noisy (sigma 4) copy of the frames, uint8."""
    blurred = np.stack([cv2.GaussianBlur(f, (0, 0), 1.0) for f in frames]).astype(np.float32)
    noise = np.random.default_rng(seed).normal(0.0, 4.0, frames.shape).astype(np.float32)
    return np.clip(np.rint(blurred + noise), 0, 255).astype(np.uint8)


def degraded_pairs(grid_paths: list[Path], generated: Path, suffix: str, lossless: bool) -> tuple[Path, Path]:
    """(generated dir, reference dir): a degraded copy of each real GRID clip written to ``generated``, the originals."""
    for seed, path in enumerate(grid_paths):
        clip = read_clip(path)
        write_clip(generated / f"{path.stem}{suffix}", Clip(degrade(clip.frames, seed), fps=clip.fps), lossless=lossless)
    return generated, grid_paths[0].parent


@pytest.fixture(scope="module")
def pairs(grid_paths: list[Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The benchmark's pairs: the degraded copies written losslessly (FFV1 in ``.mkv``, as talkbench writes videos)."""
    return degraded_pairs(grid_paths, tmp_path_factory.mktemp("generated"), ".mkv", lossless=True)


@pytest.fixture(scope="module")
def h264_pairs(grid_paths: list[Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same degraded frames as methods' inference scripts deliver their videos: H.264 (yuv420p, crf 18) in ``.mp4``.

    FFmpeg decodes such a clip in ~0.07 s of CPU, the lossless FFV1 copy in ~0.39 s (noise makes it dense).
    """
    return degraded_pairs(grid_paths, tmp_path_factory.mktemp("generated-h264"), ".mp4", lossless=False)


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def timings() -> dict[str, dict[str, float]]:
    """CPU and wall seconds of each side, shared by the side-by-side benchmarks of this module."""
    return {}


def run_talkbench(generated: Path, reference: Path) -> dict[str, dict[str, float]]:
    """``evaluate`` with cold caches (a fresh TALKBENCH_CACHE and run folder); per-video values."""
    with tempfile.TemporaryDirectory(prefix="talkbench-perf-") as tmp:
        cache, run = Path(tmp) / "cache", Path(tmp) / "run"
        previous = os.environ.get("TALKBENCH_CACHE")
        os.environ["TALKBENCH_CACHE"] = str(cache)
        try:
            evaluate(pair_directories(generated, reference), EvalConfig(METRICS), run, progress=False)
            _, table = load_run(run)
            tracks = len(list(cache.glob("faces/track/*.npz")))
        finally:
            if previous is None:
                os.environ.pop("TALKBENCH_CACHE", None)
            else:
                os.environ["TALKBENCH_CACHE"] = previous
    assert (table["status"] == "ok").all(), table[["video", "status", "reason"]]
    assert tracks == 2 * len(table), f"{tracks} face tracks computed for {len(table)} pairs: a cache was reused"
    return {row["video"]: {m: float(row[m]) for m in METRICS} for _, row in table.iterrows()}


def run_reference(generated: Path, reference: Path, models: DlibPerFrame) -> dict[str, dict[str, float]]:
    """The frame-by-frame reference on the same pairs."""
    specs = [(g, reference / f"{g.stem}.mpg") for g in sorted(generated.iterdir()) if g.suffix in (".mkv", ".mp4")]
    return reference_loop(specs, models)


@pytest.fixture(scope="module")
def models() -> DlibPerFrame:
    """dlib's models loaded for both sides before anything is timed."""
    dlib_model("hog"), dlib_model("landmarks")
    return DlibPerFrame()


@pytest.fixture(scope="module")
def measured() -> dict[str, dict]:
    """Per side: the per-video values and the best CPU and wall seconds, filled by the benchmarks below."""
    return {}


def measure(side: str, pairs: tuple[Path, Path], models: DlibPerFrame, measured: dict[str, dict]) -> None:
    """One timed round of one side; keeps its values and its best CPU and wall seconds."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = run_talkbench(*pairs) if side == "talkbench" else run_reference(*pairs, models)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    entry = measured.setdefault(side, {"cpu_s": math.inf, "wall_s": math.inf})
    entry.update(values=result, cpu_s=min(entry["cpu_s"], cpu), wall_s=min(entry["wall_s"], wall))


@pytest.mark.parametrize("side", ["talkbench", "reference"])
def test_evaluate_side_by_side(benchmark, pairs, models, measured, side: str) -> None:
    """Both sides on the 4 GRID pairs in one run; talkbench best of 3 cold rounds, the slow reference once."""
    benchmark.group = "evaluate psnr,ssim,cpbd,fdbm,lmd: 4 GRID pairs"
    rounds = 3 if side == "talkbench" else 1
    benchmark.pedantic(measure, args=(side, pairs, models, measured), rounds=rounds, iterations=1)
    benchmark.extra_info.update(cpu_s=measured[side]["cpu_s"], wall_s=measured[side]["wall_s"])
    assert sorted(measured[side]["values"]) == sorted(p.stem for p in pairs[0].glob("*.mkv"))


def speedups(pairs: tuple[Path, Path], models: DlibPerFrame, measured: dict[str, dict]) -> tuple[float, float]:
    """CPU and wall speed-ups of talkbench over the reference (measured above; measured here when run alone)."""
    for side in ("talkbench", "reference"):
        if side not in measured:
            measure(side, pairs, models, measured)
    ours, theirs = measured["talkbench"], measured["reference"]
    cpu_ratio, wall_ratio = theirs["cpu_s"] / ours["cpu_s"], theirs["wall_s"] / ours["wall_s"]
    print(
        f"\nevaluate 4 GRID pairs: talkbench {ours['cpu_s']:.2f} s CPU ({ours['wall_s']:.2f} s wall), reference "
        f"{theirs['cpu_s']:.2f} s CPU ({theirs['wall_s']:.2f} s wall): {cpu_ratio:.1f}x CPU, {wall_ratio:.1f}x wall"
    )
    return cpu_ratio, wall_ratio


def test_speedup_floor(pairs, models, measured, record_property) -> None:
    """Regression guard: talkbench at least :data:`FLOOR` times faster than the reference in CPU time."""
    cpu_ratio, wall_ratio = speedups(pairs, models, measured)
    record_property("evaluate_speedup_cpu", cpu_ratio)
    record_property("evaluate_speedup_wall", wall_ratio)
    assert cpu_ratio >= FLOOR, f"{cpu_ratio:.1f}x CPU, floor {FLOOR:.0f}x (target {TARGET:.0f}x)"


def test_speedup_target(pairs, models, measured) -> None:
    """Issue 7, item 9: ``talkbench evaluate`` runs at least 10x faster than the reference (wall time, one thread each).

    Measured 10.9-13.3x wall (9.5-11.6x CPU time: the CPU floor above guards that) on shared 2-vCPU machines.
    """
    _, wall_ratio = speedups(pairs, models, measured)
    assert wall_ratio >= TARGET, f"{wall_ratio:.1f}x wall, target {TARGET:.0f}x"


CLI_TARGET = 15.0  # issue 16: through the command line, start-up included, one process
CLI_FLOOR = 7.5  # regression guard below the measured 9.0-9.7x CPU on one thread


def cli_seconds(generated: Path, reference: Path, root: Path, models: Path, threads: int) -> tuple[float, float]:
    """CPU seconds (user + system, every thread) and wall seconds of ``talkbench evaluate --threads N`` in a child
    process with a copy of the ``models`` cache (no face tracks)."""
    import resource

    args = ["evaluate", "--generated", str(generated), "--reference", str(reference), "--metrics", ",".join(METRICS)]
    args += ["--out", str(root / "run"), "--no-progress", "--threads", str(threads)]
    shutil.copytree(models, root / "cache")
    env = {**os.environ, "TALKBENCH_CACHE": str(root / "cache")}  # the user's thread settings
    before, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bench", *args], cwd=REPO, env=env, capture_output=True, text=True, check=False)
    wall, after = time.perf_counter() - wall, resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode == 0, done.stderr[-3000:]
    _, table = load_run(root / "run")
    assert len(table) == len(list(reference.glob("*.mpg"))) and (table["status"] == "ok").all(), table
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


@pytest.fixture(scope="module")
def cli_ratios(pairs, models, measured, tmp_path_factory, warm_models) -> dict[str, float]:
    """The reference's CPU seconds over the CLI's on one thread (``--threads 1``), and its wall seconds over the
    CLI's as a user runs it (``--threads`` by default: the usable cores, 2 here); best of 2 fresh processes each,
    alternating."""
    from bench.threaded import default_threads

    if "reference" not in measured:
        measure("reference", pairs, models, measured)
    threads = default_threads()
    runs: dict[int, list[tuple[float, float]]] = {1: [], threads: []}
    for k, count in enumerate((1, threads, 1, threads)):
        runs[count].append(cli_seconds(*pairs, tmp_path_factory.mktemp(f"cli{k}"), warm_models, count))
    cpu, wall = min(r[0] for r in runs[1]), min(r[1] for r in runs[threads])
    theirs = measured["reference"]
    ratios = {"cpu": theirs["cpu_s"] / cpu, "wall": theirs["wall_s"] / wall, "threads": threads,
              "wall_one_thread": theirs["wall_s"] / min(r[1] for r in runs[1])}  # fmt: skip
    print(f"\ntalkbench evaluate (CLI, start-up included) --threads 1: {cpu:.2f} s CPU; --threads {threads}: {wall:.2f} s "
          f"wall; reference {theirs['cpu_s']:.2f} s CPU {theirs['wall_s']:.2f} s wall: {ratios['cpu']:.1f}x CPU, "
          f"{ratios['wall']:.1f}x wall ({ratios['wall_one_thread']:.1f}x on one thread; target {CLI_TARGET:.0f}x)")  # fmt: skip
    return ratios


def test_cli_speedup_floor(cli_ratios, record_property) -> None:
    """Regression guard: ``talkbench evaluate`` as a user runs it (a fresh process: imports, dlib models, decoding,
    metrics, writing the run) at least :data:`CLI_FLOOR` times the reference's CPU time on the 4 GRID pairs.
    """
    for key in ("cpu", "wall", "wall_one_thread"):
        record_property(f"evaluate_cli_speedup_{key}", cli_ratios[key])
    assert cli_ratios["cpu"] >= CLI_FLOOR


def test_cli_speedup_target(cli_ratios) -> None:
    """Issue 16: ``talkbench evaluate`` through the CLI at least 15x the frame-by-frame reference in wall time (what a
    user waits), start-up included, one process with its default threads (and its face-track helper process).

    Met since face tracks are computed in the helper (bench.helper_process): before, dlib's predictor held the
    command's interpreter lock and every numpy or OpenCV call of the other thread waited ~6 ms beside it (13.5-13.7x).
    Measured 15.6-15.8x in three runs and 14.8x in one (2026-12-05, quiet host): close to the line on a noisy shared
    host; 14.1-14.5x in three runs the same day when the host was busier (the reference 61-69 s instead of 55-57 s),
    and 14.9x, 15.8x, 15.3x and 13.9x on the busy host (the reference 60-73 s) once the command kept freed memory for reuse
    (bench.cli.evaluate.keep_freed_memory) and PSNR summed its squares in cache-sized blocks; 15.2x, 15.8x, 16.6x and
    15.8x (3.51-3.98 s, the reference 55.5-62.7 s) once CPBD no longer imported scipy.ndimage (0.26 s of CPU) and the
    helper loaded dlib's models during the command's start-up instead of after the first video (bench.threaded.warm_up);
    16.9x, 15.8x and 16.4x (the reference 62.4, 60.5 and 64.3 s) with SSIM's uint8 sums by OpenCV.
    """
    assert cli_ratios["wall"] >= CLI_TARGET


@pytest.fixture(scope="module")
def h264_cli_ratio(h264_pairs, models, tmp_path_factory, warm_models) -> float:
    """The reference's wall seconds over the CLI's (default threads, best of 3 fresh processes) on the H.264 pairs."""
    from bench.threaded import default_threads

    measured: dict[str, dict] = {}
    measure("reference", h264_pairs, models, measured)
    walls = [cli_seconds(*h264_pairs, tmp_path_factory.mktemp(f"h264-cli{k}"), warm_models, default_threads())[1]
             for k in range(3)]  # fmt: skip
    theirs = measured["reference"]["wall_s"]
    print(f"\ntalkbench evaluate (CLI) on H.264 generated clips: {min(walls):.2f} s wall; reference {theirs:.2f} s wall: "
          f"{theirs / min(walls):.1f}x (target {CLI_TARGET:.0f}x)")  # fmt: skip
    return theirs / min(walls)


def test_cli_speedup_target_h264(h264_cli_ratio, record_property) -> None:
    """Issue 16's 15x through the CLI (wall, start-up included, default threads) when the generated videos come as
    H.264 ``.mp4``, as methods' inference scripts write them (FFV1, talkbench's own lossless format, costs ~1.3 s more
    CPU to decode per 4 pairs: test_cli_speedup_target).
    """
    record_property("evaluate_cli_speedup_wall_h264", h264_cli_ratio)
    assert h264_cli_ratio >= CLI_TARGET


def test_values_agree_with_reference(pairs, models, measured) -> None:
    """Per video, talkbench's values equal the reference loop's (lmd within the landmark procedures' difference)."""
    for side in ("talkbench", "reference"):
        if side not in measured:
            measure(side, pairs, models, measured)
    ours, theirs = measured["talkbench"]["values"], measured["reference"]["values"]
    report, failures = [], []
    for video, reference_values in sorted(theirs.items()):
        for metric in METRICS:
            a, b = ours[video][metric], reference_values[metric]
            error = abs(a - b) / abs(b)
            report.append(f"{video} {metric}: talkbench {a:.10g} reference {b:.10g} relative difference {error:.2e}")
            if not error <= TOLERANCE[metric]:
                failures.append(report[-1])
    print("\n" + "\n".join(report))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("settings", [TrackSettings(detect_every=1, landmark_min_size=0), TrackSettings()])
def test_lmd_definition_matches(pairs, models, settings: TrackSettings) -> None:
    """The reference's LMD arithmetic on talkbench's landmarks: per-frame dlib landmarks are reproduced exactly by
    ``track`` with per-frame detection and no upscaling, and on the default tracks it gives the ``lmd`` metric's value.
    """
    generated, reference = pairs
    lmd = metrics.create("lmd")
    for path in sorted(generated.glob("*.mkv")):
        clips = [read_clip(path), read_clip(reference / f"{path.stem}.mpg")]
        tracks = [track(Clip(c.frames), settings, cache=False).landmarks.astype(np.float64) for c in clips]
        value = lmd_reference(aligned_mouth(tracks[0]), aligned_mouth(tracks[1]))
        if settings == TrackSettings():
            assert value == pytest.approx(lmd(Item(*clips, video_id=path.stem)).value, rel=1e-12, abs=1e-12)
        else:
            per_frame = [np.array([models.landmarks(grey(f)) for f in c.frames]) for c in clips]
            np.testing.assert_array_equal(tracks[0], per_frame[0])
            np.testing.assert_array_equal(tracks[1], per_frame[1])


CHILD = """
import json, sys
from bench import helper_process
from bench.cli import main
import bench.faces.detect as detect, metrics

def status(key, pid="self"):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":")) / 1024

helper_peaks = [0.0]
close = helper_process.HelperProcess.close
def measured_close(self):  # the face-track helper's own peak, read before it stops
    helper_peaks.extend(status("VmHWM", pid) for pid in list(self._executor._processes))
    close(self)
helper_process.HelperProcess.close = measured_close

detect.dlib_model("hog"), detect.dlib_model("landmarks"), metrics.available()
ready = status("VmRSS")
code = main(sys.argv[1:])
print(json.dumps({"code": code, "ready_mib": ready, "peak_mib": status("VmHWM"), "helper_peak_mib": max(helper_peaks)}))
"""


def distinct_pairs(grid_paths: list[Path], count: int, root: Path) -> tuple[Path, Path]:
    """``count`` pairs cycling through the GRID clips, every video with distinct frames (no face track reused)."""
    generated, reference = root / "generated", root / "reference"
    generated.mkdir(), reference.mkdir()
    clips = [read_clip(p) for p in grid_paths]
    for k in range(count):
        clip = clips[k % len(clips)]
        frames = clip.frames.copy()
        frames[:, 0, 0, 0] = k  # one corner pixel tells the copies apart
        write_clip(reference / f"v{k:02d}.mkv", Clip(frames, fps=clip.fps))
        write_clip(generated / f"v{k:02d}.mkv", Clip(degrade(clip.frames, 100 + k), fps=clip.fps))
    return generated, reference


def peak_memory(pairs_dir: tuple[Path, Path], root: Path) -> dict[str, float]:
    """``talkbench evaluate`` in a child process with a fresh cache; its resident set before the run and its peak."""
    if not Path("/proc/self/status").is_file():
        pytest.skip("peak resident set is read from /proc (Linux)")
    args = ["--generated", str(pairs_dir[0]), "--reference", str(pairs_dir[1]), "--metrics", ",".join(METRICS)]
    args += ["--out", str(root / "run"), "--no-progress"]
    env = {**os.environ, "TALKBENCH_CACHE": str(root / "cache")}  # the user's thread settings
    done = subprocess.run(
        [sys.executable, "-c", CHILD, "evaluate", *args], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] == 0, done.stderr[-3000:]
    _, table = load_run(root / "run")
    assert (table["status"] == "ok").all(), table[["video", "status", "reason"]]
    return {"videos": len(table), **{k: result[k] for k in ("ready_mib", "peak_mib", "helper_peak_mib")}}


# 4 videos already reach the steady state (two in memory while the next one loads); from 2 to 8 the growth over the
# loaded models moved by 1.16-1.41x from run to run (2 videos: 157-184 MiB), from 4 to 16 by 1.00-1.08x (2026-12-04)
N_SMALL, N_LARGE = 4, 16


def test_memory_flat_in_the_number_of_videos(grid_paths, tmp_path, record_property) -> None:
    """Peak RSS of ``talkbench evaluate`` on 4N videos stays within 1.3x of the peak on N videos.

    Each video holds 75 frames of 360x288 (2 x 23 MiB of frames per pair, plus analyses): keeping finished videos
    in memory would add well over 200 MiB from N to 4N, beyond the allowed growth.
    """
    figures = {}
    for count in (N_SMALL, N_LARGE):
        root = tmp_path / f"n{count}"
        root.mkdir()
        figures[count] = peak_memory(distinct_pairs(grid_paths, count, root), root)
    small, large = figures[N_SMALL], figures[N_LARGE]
    for count, figure in figures.items():
        record_property(f"peak_mib_{count}", figure["peak_mib"])
        record_property(f"helper_peak_mib_{count}", figure["helper_peak_mib"])
    print(
        f"\npeak RSS: {N_SMALL} videos {small['peak_mib']:.0f} MiB (ready {small['ready_mib']:.0f}), "
        f"{N_LARGE} videos {large['peak_mib']:.0f} MiB (ready {large['ready_mib']:.0f}): "
        f"x{large['peak_mib'] / small['peak_mib']:.3f}, growth over ready "
        f"{small['peak_mib'] - small['ready_mib']:.0f} -> {large['peak_mib'] - large['ready_mib']:.0f} MiB; "
        f"face-track helper process {small['helper_peak_mib']:.0f} -> {large['helper_peak_mib']:.0f} MiB"
    )
    from bench.threaded import default_threads

    if default_threads() > 1:  # the command's default threads: its face tracks in the helper process, flat too
        assert 0 < large["helper_peak_mib"] <= MEMORY_GROWTH * small["helper_peak_mib"], figures
    assert large["videos"] == N_LARGE and small["videos"] == N_SMALL
    assert large["peak_mib"] < MEMORY_GROWTH * small["peak_mib"], figures
    growth = {count: f["peak_mib"] - f["ready_mib"] for count, f in figures.items()}  # above the loaded models
    assert growth[N_LARGE] < MEMORY_GROWTH * growth[N_SMALL], figures
