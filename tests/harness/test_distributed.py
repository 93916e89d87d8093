"""Two CPU processes under torchrun (gloo) give the same numbers as one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

HERE = Path(__file__).parent


def _evaluate(gen: Path, ref: Path, out: Path, nproc: int) -> None:
    env = {**os.environ, "TALKBENCH_PLUGINS": "plugin_metrics", "PYTHONPATH": str(HERE), "OMP_NUM_THREADS": "1"}
    args = ["evaluate", "--generated", str(gen), "--reference", str(ref), "--metrics", "test-mad,test-moments",
            "--out", str(out), "--no-progress"]  # fmt: skip
    if nproc == 1:
        cmd = [sys.executable, "-m", "bench", *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc),
               "--master-addr", "127.0.0.1", "--master-port", "29531", "-m", "bench", *args]  # fmt: skip
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
def test_two_processes_equal_one(toy_dirs, tmp_path):
    gen, ref = toy_dirs
    _evaluate(gen, ref, tmp_path / "one", 1)
    _evaluate(gen, ref, tmp_path / "two", 2)
    one = pd.read_csv(tmp_path / "one" / "per_video.csv", keep_default_na=False)
    two = pd.read_csv(tmp_path / "two" / "per_video.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(one, two)  # same rows, same order, same values
    s1 = json.loads((tmp_path / "one" / "summary.json").read_text())
    s2 = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert s1["metrics"] == s2["metrics"]
    assert s1["counts"] == s2["counts"]
    assert s2["set_metrics"]["test-moments"]["frames"] == 50
    assert s2["set_metrics"]["test-moments"]["value"] == pytest.approx(s1["set_metrics"]["test-moments"]["value"], rel=1e-12)
    assert (tmp_path / "two" / "rows.rank0.jsonl").exists() and (tmp_path / "two" / "rows.rank1.jsonl").exists()
