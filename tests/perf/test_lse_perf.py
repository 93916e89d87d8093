"""Speed of the AV-offset search: talkbench's one batched pass against syncnet-python's per-frame loop."""

from __future__ import annotations

import pytest
import torch
from syncnet_python.SyncNetInstance import calc_pdist

from metrics.lse import sync_distances

GEN = torch.Generator().manual_seed(0)
# 70 windows: one 3 s GRID clip; 745 windows: 30 s of video
EMBEDDINGS = {n: (torch.randn(n, 1024, generator=GEN), torch.randn(n, 1024, generator=GEN)) for n in (70, 745)}


@pytest.mark.parametrize("windows", sorted(EMBEDDINGS))
@pytest.mark.parametrize("implementation", ["talkbench", "syncnet-python"])
def test_offset_search_speed(benchmark, windows: int, implementation: str) -> None:
    video, audio = EMBEDDINGS[windows]
    if implementation == "talkbench":
        out = benchmark(sync_distances, video, audio, 15)
    else:
        out = benchmark(lambda: torch.stack(calc_pdist(video, audio, vshift=15)))
    assert out.shape == (windows, 31)
