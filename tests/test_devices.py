"""A device name is checked before any work: a typo or a missing GPU is one clear error, never a torch traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import metrics
from bench.cli import main
from bench.devices import check_device


def test_cpu_is_accepted_without_importing_torch():
    code = "import sys; from bench.devices import check_device; check_device('cpu'); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "", "tpu"])
def test_names_torch_does_not_know_are_refused_with_the_choices(name):
    with pytest.raises(ValueError, match="use cpu, cuda, cuda:N or mps"):
        check_device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_cuda_without_a_cuda_device_says_so():
    for name in ("cuda", "cuda:0"):
        with pytest.raises(ValueError, match=f"device '{name}': no CUDA device here"):
            check_device(name)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cuda_index_beyond_the_devices_is_refused():
    count = torch.cuda.device_count()
    assert check_device("cuda") == "cuda" and check_device(f"cuda:{count - 1}") == f"cuda:{count - 1}"
    with pytest.raises(ValueError, match=f"has {count} CUDA device"):
        check_device(f"cuda:{count}")


def test_metrics_and_baselines_check_their_device():
    import baselines

    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        metrics.create("psnr", device="gpu")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        baselines.create("static_frame", device="gpu")


def test_the_commands_refuse_a_bad_device_before_any_work(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["evaluate", "--generated", str(tmp_path), "--metrics", "psnr", "--out", str(out), "--device", "gpu"]
    assert main(args) == 2
    assert "unknown device 'gpu'" in capsys.readouterr().err and not out.exists()
    assert main(["run", "--out", str(out), "--device", "gpu", "--no-progress"]) == 2
    assert "unknown device 'gpu'" in capsys.readouterr().err and not out.exists()
