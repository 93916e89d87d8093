"""The lazy-import rule (issue 16): the command line starts without the heavy libraries, and a metric's
dependencies are imported only when that metric is asked for.

Each check runs in a fresh interpreter, since this test process has long imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import metrics

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "pandas", "cv2", "dlib", "scipy", "skimage", "av", "librosa", "numpy")


def modules_after(code: str) -> set[str]:
    """The top-level names in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_building_the_parser_imports_no_heavy_library() -> None:
    """``talkbench --help`` and every argument error cost only the parser: no torch, pandas, cv2, dlib, numpy."""
    loaded = modules_after("import bench.cli\nbench.cli.build_parser()")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


ARGUMENT_ERRORS = [
    ["--help"], ["evaluate"], ["evaluate", "--out"], ["run", "--threads", "x"], ["data", "prepare", "nosuchdataset"],
    ["data", "synth"], ["compare"], ["leaderboard"], ["weights", "path"], ["version", "--nosuchflag"],
]


def test_help_and_argument_errors_import_no_heavy_library() -> None:
    """``--help`` and each command's argument errors (argparse exits) in one fresh interpreter: nothing heavy."""
    code = (
        f"import bench.cli\nfor argv in {ARGUMENT_ERRORS!r}:\n"
        "    try:\n        bench.cli.main(argv)\n    except SystemExit:\n        pass"
    )
    loaded = modules_after(code)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_one_metric_imports_only_its_module() -> None:
    """Creating ``psnr`` imports metrics.psnr and the shared helpers, not LSE, FID, LPIPS, WER or their libraries."""
    loaded = modules_after("import metrics\nmetrics.create('psnr')")
    metric_modules = {m for m in loaded if m.startswith("metrics.") and not m.startswith("metrics._")}
    assert metric_modules == {"metrics.base", "metrics.psnr"}, metric_modules
    assert not loaded & {"pandas", "dlib", "torchvision", "librosa", "lpips", "jiwer"}  # (torch itself imports torch.distributed)


def test_evaluate_imports_no_distributed_machinery_outside_torchrun() -> None:
    """``bench.evaluate`` and a single-process world import neither torch (so not torch.distributed) nor pandas."""
    loaded = modules_after("import bench.evaluate\nfrom bench.distributed import init_from_env\ninit_from_env()")
    assert not loaded & {"torch", "torch.distributed", "pandas"}, sorted(loaded & {"torch", "pandas"})


def test_every_builtin_name_has_its_home() -> None:
    """``metrics.HOMES`` names the module of every built-in metric (a missing row would import every metric)."""
    for name in metrics.available():
        target = metrics.REGISTRY.entry(name).resolve()
        if not target.__module__.startswith("metrics."):
            continue  # a plugin's metric
        assert target.__module__ == f"metrics.{metrics.HOMES[name.split('-', 1)[0]]}", name


def test_weight_free_evaluation_on_the_cpu_imports_no_torch(grid_paths, tmp_path) -> None:
    """``talkbench evaluate`` with psnr, ssim, cpbd, fdbm and lmd on a real GRID pair never imports torch (nor pandas):
    these metrics run on numpy, OpenCV and dlib on the CPU, and torch's import alone was 1.5 s of such a run.
    Nor scikit-image (the face alignment's similarity fit is batched numpy), urllib.request (only downloads need it) or
    SciPy (FDBM's spectra come from numpy.fft, the same pocketfft as scipy.fft; CPBD filters and labels in numpy and
    OpenCV: scipy.fft and scipy.ndimage cost 0.14 s and 0.26 s to import).
    """
    generated = tmp_path / "generated"
    generated.mkdir()
    (generated / grid_paths[0].name).symlink_to(grid_paths[0])
    argv = ["evaluate", "--generated", str(generated), "--reference", str(grid_paths[0].parent), "--metrics",
            "psnr,ssim,cpbd,fdbm,lmd", "--out", str(tmp_path / "run"), "--no-progress", "--device", "cpu",
            "--threads", "2"]  # fmt: skip
    cache = str(tmp_path / "cache")
    code = f"import os\nos.environ['TALKBENCH_CACHE'] = {cache!r}\nimport bench.cli\nassert bench.cli.main({argv!r}) == 0"
    loaded = modules_after(code)
    assert "bench.evaluate" in loaded and "metrics.lmd" in loaded
    assert "dlib" not in loaded  # with threads, the face tracks are computed in the helper process (bench.helper_process)
    assert not loaded & {"torch", "pandas"}, sorted(loaded & {"torch", "pandas"})
    assert not loaded & {"skimage", "urllib.request", "scipy"}, sorted(loaded & {"skimage", "urllib.request", "scipy"})


def test_cpbd_scores_without_scipy() -> None:
    """CPBD's default (port) style never imports SciPy, whose scipy.ndimage alone costs ~0.26 s of CPU to import (its
    array-API set-up); the MATLAB style imports scipy.ndimage on its first frame, not when the metric is created."""
    frames = "np.random.default_rng(0).integers(0, 256, (1, 200, 200, 3), np.uint8)"
    for name, expected in (("cpbd", False), ("cpbd-matlab", True)):
        create = f"import metrics\ncpbd = metrics.create({name!r})"
        assert "scipy" not in modules_after(create), name
        score = (f"{create}\nimport numpy as np\nfrom bench.media import Clip\nfrom metrics import Item\n"
                 f"cpbd(Item(Clip({frames}), video_id='noise'))")
        assert ("scipy" in modules_after(score)) is expected, name
