"""What a result records about where it was computed: versions, git commit, weights, device."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import bench

PACKAGES = (
    "torch", "torchvision", "numpy", "scipy", "scikit-image", "av", "pandas", "librosa", "python_speech_features",
    "dlib-bin", "face-recognition-models", "opencv-contrib-python", "pytorch-fid", "lpips", "syncnet-python", "jiwer",
)  # fmt: skip


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    """Installed versions of the libraries whose behaviour can move numbers (None when absent)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(path: Path | None = None) -> str | None:
    """The commit of the talkbench checkout (with ``-dirty`` when modified), or None outside a git checkout."""
    root = path or Path(bench.__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}-dirty" if dirty else commit


def device_description(device: str) -> str:
    """The device in words (GPU name for CUDA devices; torch is imported only for those)."""
    if device.startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return f"{device} ({platform.processor() or platform.machine()})"


def environment(device: str = "cpu", weight_hashes: dict[str, str] | None = None, seed: int = 0) -> dict[str, Any]:
    """The environment block of a result."""
    return {
        "talkbench": bench.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "git_commit": git_commit(),
        "device": device_description(device),
        "weights_sha256": dict(weight_hashes or {}),
        "seed": seed,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
