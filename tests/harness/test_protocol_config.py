"""A protocol id guarantees what it claims: EvalConfig.from_protocol configures every evaluation, items are held to
the protocol (size and crop, length policy), overrides stamp a derived id, and the summary honours aggregation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from harness_helpers import make_clip

from bench.cli import main
from bench.evaluate import EvalConfig, conform, evaluate, pair_directories
from bench.media import Clip, MediaError, write_clip
from bench.protocols import file_checksum, load_protocol

PROTOCOL = """
name = "toy-{mode}"
version = 1
dataset = "folder"
description = "toy protocol for the config tests"
fps = 25.0
sample_rate = 16000
length_policy = "video"
aggregation = "{aggregation}"
metrics = ["psnr", "fdbm"]

[metric_options.psnr]
region = "full"

[crop]
mode = "{mode}"
size = 32

[splits.test]
speakers = []
"""


def write_protocol(directory: Path, mode: str, aggregation: str = "mean-over-videos") -> Path:
    text = PROTOCOL.format(mode=mode, aggregation=aggregation)
    path = directory / f"toy-{mode}-v1.toml"
    path.write_text(text)
    path.write_text(f'checksum = "{file_checksum(path)}"\n' + text)
    return path


def test_from_protocol_copies_the_protocol_and_stamps_overrides(tmp_path):
    proto = load_protocol(str(write_protocol(tmp_path, "none")))
    plain = EvalConfig.from_protocol(proto)
    assert (plain.protocol, plain.metrics, plain.overrides) == ("toy-none-v1", ["psnr", "fdbm"], {})
    assert plain.crop == {"mode": "none", "size": 32, "min_coverage": 0.9}
    assert (plain.length_policy, plain.aggregation) == ("video", "mean-over-videos")
    assert plain.metric_options == {"psnr": {"region": "full"}}
    subset = EvalConfig.from_protocol(proto, {"metrics": ["fdbm"]})  # fewer metrics: no number changes
    assert subset.protocol == "toy-none-v1" and subset.metric_options == {}
    custom = EvalConfig.from_protocol(proto, {"metric_options": {"psnr": {"region": "face"}}})
    assert custom.protocol == "toy-none-v1+custom" and custom.overrides == {"metric_options": {"psnr": {"region": "face"}}}
    same = EvalConfig.from_protocol(proto, {"metric_options": {"psnr": {"region": "full"}}, "fps": 25.0})
    assert same.protocol == "toy-none-v1" and same.overrides == {}  # restating the protocol changes nothing
    extra = EvalConfig.from_protocol(proto, {"metrics": ["psnr", "ssim"], "aggregation": "mean-over-speakers"})
    assert extra.protocol == "toy-none-v1+custom"
    assert extra.overrides == {"aggregation": "mean-over-speakers", "metrics": ["ssim"]}
    with pytest.raises(ValueError, match="unknown protocol overrides"):
        EvalConfig.from_protocol(proto, {"crop_size": 64})


def _folders(tmp_path: Path, size: int) -> tuple[Path, Path]:
    gen, ref = tmp_path / "gen", tmp_path / "ref"
    for i in range(2):
        clip = make_clip(i, frames=8, size=32)
        write_clip(ref / f"u{i}.mkv", clip)
        frames = np.stack([np.kron(f, np.ones((size // 32, size // 32, 1), np.uint8)) for f in clip.frames])
        write_clip(gen / f"u{i}.mkv", clip.with_frames(frames))
    return gen, ref


def test_wrong_size_is_refused_under_crop_none_naming_file_and_size(tmp_path):
    gen, ref = _folders(tmp_path, 64)
    config = EvalConfig.from_protocol(load_protocol(str(write_protocol(tmp_path, "none"))))
    summary = evaluate(pair_directories(gen, ref), config, tmp_path / "run", progress=False)
    rows = pd.read_csv(tmp_path / "run" / "per_video.csv")
    assert summary["protocol"]["id"] == "toy-none-v1" and summary["counts"]["failed"] == 2
    assert all("frames are 64x64, protocol toy-none-v1 takes them as they are at 32x32" in r for r in rows["reason"])
    assert all(str(gen / "u") in r for r in rows["reason"])  # the file is named


def test_full_frame_protocol_resizes_what_is_not_at_its_size(tmp_path):
    gen, ref = _folders(tmp_path, 64)
    config = EvalConfig.from_protocol(load_protocol(str(write_protocol(tmp_path, "full-frame"))))
    summary = evaluate(pair_directories(gen, ref), config, tmp_path / "run", progress=False)
    assert summary["counts"]["ok"] == 2 and summary["protocol"]["id"] == "toy-full-frame-v1"
    # a 2x pixel-replicated frame resized back to 32 px bilinearly samples pairs of equal pixels: the original exactly
    assert summary["metrics"]["psnr"]["mean"] == np.inf


def test_length_policy_holds_the_audio_to_the_frames():
    clip = Clip(np.zeros((10, 32, 32, 3), np.uint8), 25.0, np.ones(9000, np.float32), 16000)
    video = conform(clip, EvalConfig(["psnr"], length_policy="video"))
    assert len(video.audio) == 6400  # 10 frames x 640 samples
    short = Clip(np.zeros((10, 32, 32, 3), np.uint8), 25.0, np.ones(100, np.float32), 16000)
    with pytest.raises(MediaError, match="shorter than one video frame"):
        conform(short, EvalConfig(["psnr"], length_policy="min"))


def test_mean_over_speakers_weights_each_speaker_once(tmp_path):
    gen, ref = tmp_path / "gen", tmp_path / "ref"
    base = make_clip(0, frames=6, size=32)
    # speaker a: two videos off by 1 and 3 grey levels (fdbm aside, psnr is exact); speaker b: one video off by 2
    for speaker, utt, delta in (("a", "u1", 1), ("a", "u2", 3), ("b", "u3", 2)):
        write_clip(ref / speaker / f"{utt}.mkv", base)
        shifted = np.clip(base.frames.astype(int) + delta, 0, 255).astype(np.uint8)
        write_clip(gen / speaker / f"{utt}.mkv", base.with_frames(shifted))
    write_clip(ref / "a" / "u4.mkv", base)
    (gen / "a" / "u4.mkv").write_bytes(b"not a video")  # fails: speaker a's mean stands on its other two videos
    config = EvalConfig.from_protocol(load_protocol(str(write_protocol(tmp_path, "none", "mean-over-speakers"))))
    summary = evaluate(pair_directories(gen, ref), config, tmp_path / "run", progress=False)
    rows = pd.read_csv(tmp_path / "run" / "per_video.csv").set_index("video")
    a, b = (rows.loc["a/u1", "psnr"] + rows.loc["a/u2", "psnr"]) / 2, rows.loc["b/u3", "psnr"]
    assert summary["metrics"]["psnr"]["mean"] == pytest.approx((a + b) / 2, rel=1e-12)
    assert summary["metrics"]["psnr"]["mean"] != pytest.approx(rows["psnr"].mean(), rel=1e-6)
    assert summary["aggregation"] == "mean-over-speakers"
    psnr = summary["metrics"]["psnr"]
    assert (psnr["n"], psnr["total"], psnr["videos"], summary["counts"]["videos"]) == (2, 2, 3, 4)  # speakers; videos
    from bench.leaderboard import build_leaderboard

    (cell,) = (row.cells["psnr"] for row in build_leaderboard(config.protocol, [tmp_path / "run"]).rows)
    assert cell.incomplete and (cell.videos, cell.total) == (3, 4)  # starred although every speaker has a mean


def test_cli_stamps_a_derived_protocol_when_options_change_numbers(tmp_path, capsys):
    gen, ref = _folders(tmp_path, 32)
    protocol = write_protocol(tmp_path, "none")
    args = ["evaluate", "--generated", str(gen), "--reference", str(ref), "--protocol", str(protocol), "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--metric-options", '{"psnr": {"colour": "grey"}}']) == 0
    first = json.loads((tmp_path / "a" / "summary.json").read_text())["protocol"]
    second = json.loads((tmp_path / "b" / "summary.json").read_text())["protocol"]
    assert first["id"] == "toy-none-v1" and second["id"] == "toy-none-v1+custom"
    assert second["overrides"] == {"metric_options": {"psnr": {"colour": "grey"}}}
    assert "results are toy-none-v1+custom" in capsys.readouterr().out


RUN_PROTOCOL = """
name = "toy-run"
version = 1
dataset = "synthgrid"
description = "two synthetic speakers, anchors only"
fps = 25.0
sample_rate = 16000
length_policy = "video"
aggregation = "mean-over-videos"
metrics = ["psnr", "fdbm"]

[crop]
mode = "none"
size = 128

[splits.train]
speakers = ["s01"]

[splits.test]
speakers = ["s02"]
"""


def test_run_and_evaluate_give_identical_numbers_under_one_protocol(tmp_path):
    from bench.data.synthetic import synthesize_corpus

    corpus = synthesize_corpus(tmp_path / "corpus", speakers=2, sentences=2, seed=3, workers=1, progress=False)
    protocol = tmp_path / "toy-run-v1.toml"
    protocol.write_text(RUN_PROTOCOL)
    protocol.write_text(f'checksum = "{file_checksum(protocol)}"\n' + RUN_PROTOCOL)
    config = tmp_path / "bench.toml"
    config.write_text(f"""
[benchmark]
protocol = "{protocol}"
out = "{tmp_path / "out"}"
published = "{tmp_path / "none.toml"}"
data_root = "{corpus.root}"

[[method]]
name = "static_frame"
""")
    assert main(["run", "--config", str(config), "--no-progress"]) == 0
    out = tmp_path / "out"
    assert main(["evaluate", "--generated", str(out / "static_frame" / "videos"), "--reference", str(out / "reference"),
                 "--protocol", str(protocol), "--out", str(tmp_path / "eval"), "--no-progress"]) == 0  # fmt: skip
    by_run = pd.read_csv(out / "static_frame" / "eval" / "per_video.csv").set_index("video")[["psnr", "fdbm"]]
    by_cli = pd.read_csv(tmp_path / "eval" / "per_video.csv").set_index("video")[["psnr", "fdbm"]]
    assert len(by_run) == 2 and by_run.equals(by_cli.loc[by_run.index])
    runs = (out / "static_frame" / "eval", tmp_path / "eval")
    stamps = [json.loads((d / "summary.json").read_text())["protocol"]["id"] for d in runs]
    assert stamps == ["toy-run-v1", "toy-run-v1"]
