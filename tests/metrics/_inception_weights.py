"""Test-made FID Inception weights: the official architecture and key names, seeded random values."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from bench import weights
from metrics.networks.inception import fid_inception_architecture


def make_fid_weights(directory: Path, seed: int = 0) -> Path:
    """Save a seeded random FID Inception state dict under the official file name in ``directory``.

    Convolutions get Kaiming-normal weights and batch norms random affine terms, so that features keep an O(1)
    scale through the 90-odd layers (PyTorch's default init shrinks them towards zero).
    """
    torch.manual_seed(seed)
    net = fid_inception_architecture()
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        elif isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
            torch.nn.init.normal_(module.bias, 0.0, 0.1)
    target = directory / weights.get("pt-inception-fid").filename
    torch.save(net.state_dict(), target)
    return target


def use_test_weights(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    """Point the weights manager at ``directory`` and mark the test file as unverified (it is not the official one)."""
    monkeypatch.setenv("TALKBENCH_WEIGHTS", str(directory))
    entry = weights.get("pt-inception-fid")
    monkeypatch.setitem(weights.TABLE, entry.name, dataclasses.replace(entry, sha256=None, size=None))


@pytest.fixture(scope="module")
def fid_weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights directory holding a test-made FID Inception file (random init, the real key names)."""
    directory = tmp_path_factory.mktemp("fid-weights")
    make_fid_weights(directory)
    return directory


@pytest.fixture
def test_weights(monkeypatch: pytest.MonkeyPatch, fid_weights_dir: Path) -> Path:
    """Point the weights manager at the test-made FID weights for one test."""
    use_test_weights(monkeypatch, fid_weights_dir)
    return fid_weights_dir
