from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from harness_helpers import make_clip  # noqa: E402


@pytest.fixture
def toy_metrics():
    """Register the toy metrics for one test, then remove them so registry-wide contract tests never see them."""
    import plugin_metrics

    import metrics

    for name, cls in (("test-mad", plugin_metrics.MeanAbsDiff), ("test-moments", plugin_metrics.FrameMoments)):
        if name not in metrics.REGISTRY._entries:
            metrics.REGISTRY.add(name, cls)
    plugin_metrics.CALLS.clear()
    yield plugin_metrics
    for name in ("test-mad", "test-moments"):
        metrics.REGISTRY._entries.pop(name, None)


@pytest.fixture
def toy_dirs(tmp_path: Path):
    """Reference and generated folders: 4 pairs, one generated without reference, one reference without generated,
    one black generated clip (a metric fails on it) and one corrupt generated file."""
    from bench.media import write_clip

    ref, gen = tmp_path / "ref", tmp_path / "gen"
    ref.mkdir()
    gen.mkdir()
    for i in range(4):
        clip = make_clip(i)
        write_clip(ref / f"u{i}.mkv", clip)
        noisy = np.clip(clip.frames.astype(int) + (i + 1), 0, 255).astype(np.uint8)
        write_clip(gen / f"u{i}.mkv", clip.with_frames(noisy))
    write_clip(gen / "only_generated.mkv", make_clip(10))
    write_clip(ref / "only_reference.mkv", make_clip(11))
    write_clip(ref / "black.mkv", make_clip(12))
    write_clip(gen / "black.mkv", make_clip(12, black=True))
    write_clip(ref / "corrupt.mkv", make_clip(13))
    (gen / "corrupt.mkv").write_bytes(b"this is not a video")
    return gen, ref




@pytest.fixture
def grid_pairs(tmp_path: Path, grid_dir: Path) -> tuple[Path, Path]:
    """Three short real GRID pairs (16 frames): the reference, and a blurred noisy copy as the generated video."""
    import cv2

    from bench.media import Clip, read_clip, write_clip

    gen, ref = tmp_path / "gen", tmp_path / "ref"
    gen.mkdir(), ref.mkdir()
    for k, path in enumerate(sorted(grid_dir.glob("*.mpg"))[:3]):
        frames = read_clip(path).frames[20:36]
        noise = np.random.default_rng(k).normal(0, 4, frames.shape)
        blurred = np.stack([cv2.GaussianBlur(f, (0, 0), 1.0) for f in frames])
        write_clip(ref / f"{path.stem}.mkv", Clip(frames, fps=25.0))
        write_clip(gen / f"{path.stem}.mkv", Clip(np.clip(np.rint(blurred + noise), 0, 255).astype(np.uint8), fps=25.0))
    return gen, ref
