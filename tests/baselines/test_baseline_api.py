"""The baseline API: length rule, budgets, registry, save/load errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import baselines
from baselines.base import Budget, BudgetClock, FitReport, check_driving_audio, check_identity, frame_count
from bench.audio import num_video_frames


@pytest.mark.parametrize(
    ("samples", "rate", "fps", "expected"),
    [(48000, 16000, 25.0, 75), (47647, 16000, 25.0, 74), (16639, 16000, 25.0, 25), (16640, 16000, 25.0, 26),
     (44100, 44100, 30.0, 30), (639, 16000, 25.0, 0)],
)
def test_frame_count_is_whole_frames_of_audio(samples, rate, fps, expected):
    # floor(samples / rate * fps): a frame is generated only when the audio covers all of it
    assert frame_count(samples, rate, fps) == expected == num_video_frames(samples, rate, fps)


def test_a_bad_seed_is_refused_by_every_baseline():
    import baselines

    for name in ("static_frame", "speech2vid"):
        with pytest.raises(ValueError, match="seed must be a non-negative integer, got -1"):
            baselines.create(name, preset="tiny", seed=-1)


def test_driving_audio_checks():
    samples, frames = check_driving_audio(np.full(16000, 0.1, np.float64), 16000, 25.0, "x")
    assert samples.dtype == np.float32 and frames == 25
    with pytest.raises(ValueError, match="mono float"):
        check_driving_audio(np.zeros((2, 100), np.float32), 16000, 25.0, "x")
    with pytest.raises(ValueError, match="mono float"):
        check_driving_audio(np.zeros(100, np.int16), 16000, 25.0, "x")
    with pytest.raises(ValueError, match="NaN"):
        check_driving_audio(np.full(1000, np.nan, np.float32), 16000, 25.0, "x")
    with pytest.raises(ValueError, match="shorter than one frame"):
        check_driving_audio(np.zeros(100, np.float32), 16000, 25.0, "x")
    with pytest.raises(ValueError, match=r"x: driving audio peaks at 1000, far outside \[-1, 1\]"):
        check_driving_audio(np.full(16000, 1000.0, np.float32), 16000, 25.0, "x")
    with pytest.raises(ValueError, match="digital silence"):
        check_driving_audio(np.zeros(16000, np.float32), 16000, 25.0, "x")
    with pytest.raises(ValueError, match="uint8"):
        check_identity(np.zeros((8, 8, 3), np.float32), "x")
    with pytest.raises(ValueError, match=r"\[H, W, 3\]"):
        check_identity(np.zeros((8, 8), np.uint8), "x")


def test_budget_validation_and_shares():
    with pytest.raises(ValueError, match="steps or seconds"):
        Budget()
    with pytest.raises(ValueError, match="non-negative"):
        Budget(steps=-1)
    for steps, seconds in ((2.5, None), ("5", None), (float("inf"), None), (True, None), (None, "30"), (None, float("nan"))):
        with pytest.raises(ValueError, match=r"budget (steps|seconds) must be a non-negative"):
            Budget(steps=steps, seconds=seconds)
    assert Budget(steps=10).share(0.3) == Budget(steps=3)
    assert Budget(steps=10, seconds=60.0).share(0.25) == Budget(steps=2, seconds=15.0)  # round(2.5) == 2
    assert Budget(steps=1).share(0.1) == Budget(steps=1)  # a stage given a share gets at least one step
    assert Budget(steps=10).share(0.0) == Budget(steps=0)
    assert Budget(steps=10, seconds=60.0).remaining(4, 75.0) == Budget(steps=6, seconds=0.0)
    assert Budget(seconds=60.0).remaining(100, 15.0) == Budget(seconds=45.0)
    clock = BudgetClock(Budget(steps=2))
    assert clock.tick() and not clock.tick() and clock.spent()


def test_time_budget_includes_data_preparation(grid_faces):
    model = baselines.create("speech2vid", preset="tiny", batch_size=2)
    fresh = grid_faces[0].with_frames(grid_faces[0].frames)  # nothing memoised: preparation is timed too
    report = model.fit([fresh], Budget(seconds=1.0))
    assert 1.0 <= report.seconds < 1.0 + 5.0  # at most one step past the limit (slow shared CPUs)


def test_fit_report_merge_prefixes_histories():
    a, b = FitReport(2, 1.0, {"l1": [1.0, 0.5]}), FitReport(1, 0.5)
    b.log(l1=0.25)
    a.merge(b, prefix="stage2/")
    assert (a.steps, a.seconds, a.losses) == (3, 1.5, {"l1": [1.0, 0.5], "stage2/l1": [0.25]})


def test_registry_lists_anchors_and_methods():
    names = baselines.available()
    for name in ("ground_truth", "static_frame", "shifted_audio", "speech2vid", "wav2lip", "wav2lip-nogan"):
        assert name in names
    with pytest.raises(KeyError, match="wav2lip"):
        baselines.create("wav2lpi")
    with pytest.raises(ValueError, match="unknown preset"):
        baselines.create("wav2lip", preset="huge")
    with pytest.raises(TypeError, match="colour"):
        baselines.create("speech2vid", colour="red")
    with pytest.raises(ValueError, match="width"):
        baselines.create("speech2vid", width=0.0)


def test_config_is_checked_without_building_the_model():
    """``check_config`` refuses what the constructor would, naming the options there are, and builds nothing."""
    speech2vid = baselines.REGISTRY.entry("speech2vid").resolve()
    speech2vid.check_config("tiny", {"width": 0.5})
    with pytest.raises(TypeError, match=r"speech2vid: unknown config option\(s\) colour; options: .*width"):
        speech2vid.check_config("tiny", {"colour": "red"})
    with pytest.raises(ValueError, match="unknown preset 'huge'; presets: "):
        speech2vid.check_config("huge", {})
    with pytest.raises(TypeError, match=r"static_frame: unknown config option\(s\) size \(it takes none\)"):
        baselines.REGISTRY.entry("static_frame").resolve().check_config("tiny", {"size": 3})


def test_variant_saves_and_loads_under_its_name(tmp_path):
    model = baselines.create("wav2lip-nogan", preset="tiny", width=0.05)
    assert model.name == "wav2lip-nogan" and not model.config.gan and "disc" not in model.modules
    model.save(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["baseline"] == "wav2lip-nogan"
    loaded = baselines.load("wav2lip-nogan", tmp_path)
    assert loaded.name == "wav2lip-nogan" and not loaded.config.gan and loaded.config.width == 0.05
    with pytest.raises(ValueError, match="holds baseline 'wav2lip-nogan'"):
        baselines.load("speech2vid", tmp_path)


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        baselines.load("wav2lip", tmp_path / "nothing")
    model = baselines.create("wav2lip", preset="tiny", width=0.05)
    model.save(tmp_path)
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(tmp_path / "model.safetensors"))
    save_file({**tensors, "stranger.weight": torch.zeros(1)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(ValueError, match="stranger.weight"):
        baselines.load("wav2lip", tmp_path)
    tensors.pop("generator.output_block.1.weight")
    save_file(tensors, str(tmp_path / "model.safetensors"))
    with pytest.raises(ValueError, match="do not fit"):
        baselines.load("wav2lip", tmp_path)


class _Broken(baselines.Baseline):
    """A baseline whose synthesis returns frames of the wrong size."""

    name = "broken"
    trainable = False

    def fit(self, clips, budget):
        return baselines.FitReport(0, 0.0)

    def _synthesize(self, image, samples, sample_rate, fps, frames, reference):
        return np.zeros((frames, 2, 2, 3), np.uint8)


def test_generate_checks_inputs_and_output_once_for_every_baseline():
    model = _Broken()
    with pytest.raises(ValueError, match="broken: the identity image must be uint8"):
        model.generate(np.zeros((8, 8, 3), np.float32), np.full(16000, 0.1, np.float32), 16000)
    with pytest.raises(ValueError, match="broken: driving audio is digital silence"):
        model.generate(np.zeros((8, 8, 3), np.uint8), np.zeros(16000, np.float32), 16000)
    with pytest.raises(RuntimeError, match=r"shape \(25, 2, 2, 3\), expected \(25, 8, 8, 3\)"):
        model.generate(np.zeros((8, 8, 3), np.uint8), np.full(16000, 0.1, np.float32), 16000)
