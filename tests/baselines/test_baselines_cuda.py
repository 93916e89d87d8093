"""The trained baselines on CUDA: same weights from the same seed, same pictures within rounding, training runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import baselines
from baselines.base import Budget

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


@pytest.mark.parametrize("name", ["wav2lip", "speech2vid", "oneshot_a2v"])
def test_cuda_matches_cpu_and_trains(name, grid_faces):
    real = grid_faces[0]
    cpu = baselines.create(name, preset="tiny", seed=2)
    gpu = baselines.create(name, preset="tiny", seed=2, device="cuda")
    a = cpu.generate(real.frames[0], real.audio[:16000], 16000).frames.astype(int)
    b = gpu.generate(real.frames[0], real.audio[:16000], 16000).frames.astype(int)
    assert np.abs(a - b).max() <= 2  # float rounding of cuDNN vs oneDNN, then 8-bit quantisation
    report = gpu.fit(grid_faces[:2], Budget(steps=4))
    assert report.steps == 4
    assert all(p.device.type == "cuda" for m in gpu.modules.values() for p in m.parameters())
