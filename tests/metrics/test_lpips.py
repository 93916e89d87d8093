"""LPIPS against the ``lpips`` package building its own backbone, with a test-made AlexNet state dict (no download)."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import lpips as lpips_package
import numpy as np
import pytest
import torch
import torchvision
from _tester import MetricTester, consecutive_pair, named_clip, one_torch_thread  # noqa: F401

import metrics
from bench import weights
from metrics import Item
from metrics.lpips import build_lpips, load_backbone, lpips_distance

ALEX = "alexnet-lpips"


@pytest.fixture(scope="module")
def alexnet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded random torchvision AlexNet state dict under the official file name, also in a torch hub cache."""
    directory = tmp_path_factory.mktemp("lpips-weights")
    torch.manual_seed(0)
    state = torchvision.models.alexnet().state_dict()
    target = directory / weights.get(ALEX).filename
    torch.save(state, target)
    hub = directory / "torch-home" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / target.name).symlink_to(target)
    return target


def use_test_weights(monkeypatch: pytest.MonkeyPatch, alexnet_file: Path) -> None:
    """The weights manager and torchvision's hub cache both see the test-made file (marked unverified)."""
    monkeypatch.setenv("TALKBENCH_WEIGHTS", str(alexnet_file.parent))
    monkeypatch.setenv("TORCH_HOME", str(alexnet_file.parent / "torch-home"))
    entry = weights.get(ALEX)
    monkeypatch.setitem(weights.TABLE, ALEX, dataclasses.replace(entry, sha256=None, size=None))


@pytest.fixture
def test_weights(monkeypatch: pytest.MonkeyPatch, alexnet_file: Path) -> Path:
    use_test_weights(monkeypatch, alexnet_file)
    return alexnet_file


@pytest.fixture(scope="module")
def models(alexnet_file: Path) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Ours (backbone from the weights manager) and the package's (backbone through torchvision), built once."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_test_weights(monkeypatch, alexnet_file)
        return build_lpips("alex"), package_lpips()


def package_lpips() -> torch.nn.Module:
    """The package's own model: torchvision loads the AlexNet backbone from the hub cache (TORCH_HOME)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return lpips_package.LPIPS(pretrained=True, net="alex", pnet_rand=False, verbose=False).eval()


def to_lpips_input(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


class TestLPIPS(MetricTester):
    metric = "lpips"
    atol, rtol = 1e-6, 0.0
    batch_atol = 1e-6
    reason = "same network and weights; float32 convolutions may differ in the last bits between batch sizes"

    @pytest.fixture(autouse=True)
    def _models(self, test_weights, models):
        self.ours, self.package = models

    def function(self, generated, reference):
        return lpips_distance(self.ours, generated, reference).double()

    def reference(self, generated, reference):
        with torch.no_grad():
            return float(self.package(to_lpips_input(generated[None]), to_lpips_input(reference[None])))


def test_backbone_weights_are_the_files(alexnet_file, models):
    ours, package = models
    state = torch.load(alexnet_file, weights_only=True)
    assert torch.equal(getattr(ours.net.slice1, "0").weight, state["features.0.weight"])
    assert torch.equal(getattr(ours.net.slice5, "10").bias, state["features.10.bias"])
    assert torch.equal(ours.lin0.model[1].weight, package.lin0.model[1].weight)  # linear layers: the package's


def test_distance_grows_with_the_frame_gap(models):
    model = models[0]
    frames = consecutive_pair(1)[1]
    near = lpips_distance(model, consecutive_pair(1)[0], frames)
    far = lpips_distance(model, consecutive_pair(1, start=40)[0], frames)
    same = lpips_distance(model, frames, frames)
    assert float(same) == pytest.approx(0.0, abs=1e-7) and 0 < float(near) < float(far)


@pytest.mark.parametrize(("name", "file"), [("lpips", "alexnet-owt-7be5be79.pth"), ("lpips-vgg", "vgg16-397923af.pth")])
def test_missing_backbone_names_the_file_and_the_command(monkeypatch, tmp_path, name, file):
    monkeypatch.setenv("TALKBENCH_WEIGHTS", str(tmp_path))
    generated, reference = consecutive_pair(1)
    metric = metrics.create(name)
    assert metric.weights == (weights.TABLE[f"{'alexnet' if name == 'lpips' else 'vgg16'}-lpips"].name,)
    with pytest.raises(weights.WeightsMissingError) as error:
        metric(Item(named_clip(generated, "gen"), named_clip(reference, "ref")))
    assert file in str(error.value) and f"talkbench weights fetch {metric.weights[0]}" in str(error.value)


def test_a_state_dict_without_the_backbone_keys_is_refused(models):
    with pytest.raises(ValueError, match=r"broken.pth: no 'features\.0\.weight'"):
        load_backbone(models[0].net, {"classifier.1.weight": torch.zeros(1)}, "broken.pth")
