"""Shipped checkpoints: manifest round trip, SHA-256 verification, loss traces, train + bit-for-bit verification."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from baselines.base import Baseline, Budget, BudgetClock, FitReport
from bench.checkpoints import (
    CheckpointError,
    loss_trace,
    manifest_text,
    read_manifest,
    record_checkpoint,
    shipped_checkpoint,
    train_checkpoint,
    verify_first_steps,
)


@dataclass
class ToyConfig:
    lr: float = 0.1


class Toy(Baseline):
    """A linear map fitted by SGD to a fixed random target: one logged loss per step."""

    name = "toy"
    Config = ToyConfig
    PRESETS = {"tiny": {}}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.modules["net"] = torch.nn.Linear(4, 4)

    def fit(self, clips, budget: Budget) -> FitReport:
        report, clock = FitReport(0, 0.0), BudgetClock(budget)
        optimiser = torch.optim.SGD(self.modules["net"].parameters(), lr=self.config.lr)
        x = torch.randn(16, 4, generator=self.generator)
        target = torch.randn(16, 4, generator=self.generator)
        while not clock.spent():
            loss = (self.modules["net"](x) - target).pow(2).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            report.log(mse=loss.item())
            clock.tick()
        report.steps, report.seconds = clock.steps, clock.elapsed
        return report

    def _synthesize(self, image, samples, sample_rate, fps, frames, reference):  # pragma: no cover - not used
        raise NotImplementedError


def test_manifest_text_round_trips_floats_exactly_and_sorts_rows(tmp_path):
    tables = {"b": {"x": 1 / 3, "y": [0.1, math.inf, -0.0], "s": 'quote " and \\', "o": {"k": 2}, "none": None},
              "a": {"flag": True}}  # fmt: skip
    text = manifest_text(tables)
    assert text.index('["a"]') < text.index('["b"]') and "none" not in text  # None values are left out
    (tmp_path / "MANIFEST.toml").write_text(text)
    back = read_manifest(tmp_path)
    assert back["b"]["x"] == 1 / 3 and back["b"]["y"] == [0.1, math.inf, -0.0] and back["b"]["o"] == {"k": 2}
    assert back["b"]["s"] == 'quote " and \\' and back["a"] == {"flag": True}


def test_record_checkpoint_replaces_only_its_row(tmp_path):
    record_checkpoint("one", {"sha256": "a"}, tmp_path)
    record_checkpoint("two", {"sha256": "b"}, tmp_path)
    record_checkpoint("one", {"sha256": "c"}, tmp_path)
    assert read_manifest(tmp_path) == {"one": {"sha256": "c"}, "two": {"sha256": "b"}}


def test_loss_trace_keeps_the_first_values_and_can_stop_the_fit():
    with loss_trace(3) as trace:
        report = Toy(seed=1).fit([], Budget(5))
    assert [k for k, _ in trace] == ["mse"] * 3 and [v for _, v in trace] == report.losses["mse"][:3]
    with loss_trace(2, stop=True) as stopped:
        Toy(seed=1).fit([], Budget(5))
    assert stopped == trace[:2]
    assert FitReport.log.__name__ == "log" and FitReport.log.__qualname__ == "FitReport.log"  # restored


def test_train_verify_and_load_a_checkpoint(tmp_path):
    meta = {"protocol": "toy-protocol", "command": "talkbench run --config x.toml --train-checkpoints --only toy", "seed": 3}
    entry = train_checkpoint(Toy(seed=3), [], Budget(6), "toy", meta, tmp_path)
    assert entry["steps"] == 6 and entry["fit_steps"] == 6 and len(entry["trace_values"]) == 6
    assert read_manifest(tmp_path)["toy"]["sha256"] == entry["sha256"]
    line = verify_first_steps(Toy(seed=3), [], Budget(6), read_manifest(tmp_path)["toy"], 4)
    assert "first 4 logged loss values reproduce" in line
    with pytest.raises(CheckpointError, match="loss value 0"):  # another seed: another random target from step 0
        verify_first_steps(Toy(seed=4), [], Budget(6), entry, 4)
    with pytest.raises(CheckpointError, match="fewer than the 7"):
        verify_first_steps(Toy(seed=3), [], Budget(6), entry, 7)

    folder, found = shipped_checkpoint("toy", "toy-protocol", tmp_path)
    loaded = Toy.load(folder)
    x = torch.ones(1, 4)
    np.testing.assert_array_equal(
        loaded.modules["net"](x).detach().numpy(), Toy.load(tmp_path / "toy").modules["net"](x).detach().numpy()
    )
    assert found["sha256"] == entry["sha256"]
    assert shipped_checkpoint("toy", "another-protocol", tmp_path) is None  # trained for another protocol: unused

    weights = tmp_path / "toy" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="does not match the manifest"):
        shipped_checkpoint("toy", "toy-protocol", tmp_path)
    (tmp_path / "stray").mkdir()
    (tmp_path / "stray" / "model.safetensors").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="without an entry"):
        shipped_checkpoint("stray", "toy-protocol", tmp_path)
