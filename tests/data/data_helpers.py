"""Helpers of the dataset tests: protocol files with recorded checksums, faceless clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.media import Clip, write_clip
from bench.protocols import canonical_checksum

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


def write_protocol(directory: Path, text: str) -> Path:
    """Write a protocol file named from its content, recording its checksum (the ``checksum = "TBD"`` line)."""
    data = tomllib.loads(text)
    text = text.replace('checksum = "TBD"', f'checksum = "{canonical_checksum(data)}"')
    path = directory / f"{data['name']}-v{data['version']}.toml"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def noise_video(path: Path, frames: int = 10, size: int = 64, seed: int = 0) -> Path:
    """A faceless clip (uniform noise) with a tone, for face-coverage failures."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (frames, size, size, 3), dtype=np.uint8)
    tone = (0.1 * np.sin(np.arange(frames * 640) / 10)).astype(np.float32)
    return write_clip(path, Clip(pixels, 25.0, tone, 16000))
