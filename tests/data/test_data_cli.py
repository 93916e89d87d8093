"""``talkbench data check``, ``data prepare`` and ``data protocols`` on small layouts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from data_helpers import write_protocol

from bench.cli import main
from bench.cli.datasets import check_dataset
from bench.protocols import PROTOCOL_DIR

GRID_TOY = """
name = "grid-toy"
version = 1
dataset = "grid"
description = "toy"
fps = 25.0
sample_rate = 16000
length_policy = "video"
aggregation = "mean-over-videos"
metrics = ["lmd"]
few_shot = 1
checksum = "TBD"

[crop]
mode = "full-frame"
size = 48

[splits.train]
speakers = ["s1"]

[splits.test]
speakers = ["s2", "s3"]
"""


def test_check_reports_counts_missing_files_and_checksums(grid_layout: Path, capsys: pytest.CaptureFixture) -> None:
    sums = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(grid_layout)}\n"
                   for p in sorted(grid_layout.rglob("*.mpg")))  # fmt: skip
    (grid_layout / "SHA256SUMS").write_text(sums)
    report = check_dataset("grid", grid_layout)
    assert report.counts["utterances"] == 3 and report.counts["speakers"] == 3
    assert report.counts["with_transcript"] == 2 and report.counts["checksums verified"] == 3
    assert report.problems == [
        f"missing align file (s<N>/align/<code>.align or align/s<N>/<code>.align) for {grid_layout}/s3/lbax4n.mpg"
    ]
    (grid_layout / "s3" / "align").mkdir()
    (grid_layout / "s3" / "align" / "lbax4n.align").write_text("0 100 sil\n100 200 lay\n")
    assert main(["data", "check", "grid", "--root", str(grid_layout)]) == 0
    assert "utterances: 3" in capsys.readouterr().out
    video = grid_layout / "s1" / "bbaf2n.mpg"
    video.write_bytes(video.read_bytes()[:-10])  # damaged download
    (grid_layout / "s2" / "video" / "mpg_6000" / "swwp2s.mpg").unlink()
    assert main(["data", "check", "grid", "--root", str(grid_layout)]) == 1
    out = capsys.readouterr().out
    assert f"{video}: sha256 differs from the recorded" in out
    assert "swwp2s.mpg: listed in the checksum file but missing" in out and "2 problems" in out
    (grid_layout / "s3" / "lbax4n.mpg").write_bytes(b"")  # no checksum covers it
    assert f"{grid_layout}/s3/lbax4n.mpg: empty file (0 bytes)" in check_dataset("grid", grid_layout).problems[0]


def test_check_with_protocol_resolves_splits(tmp_path: Path, grid_layout: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "check", "grid", "--root", str(grid_layout), "--protocol", "grid-speaker-independent"]) == 1
    out = capsys.readouterr().out
    assert "problem: grid-speaker-independent-v1 train: " in out and "have no utterances in the dataset" in out
    protocol = write_protocol(tmp_path / "p", GRID_TOY)
    report = check_dataset("grid", grid_layout, str(protocol))
    assert report.counts["grid-toy-v1 train"] == 1 and report.counts["grid-toy-v1 val"] == 0
    assert "grid-toy-v1 test: " in report.problems[-2] and "grid-toy-v1 adapt: " in report.problems[-1]
    assert "speaker s2 has 1 utterances; few-shot needs more than 1" in report.problems[-1]


def test_check_lrs2_lists(lrs2_layout: Path) -> None:
    (lrs2_layout / "mvlrs_v1/main/6330311066473698535/00011.mp4").unlink()
    report = check_dataset("lrs2", lrs2_layout)
    assert report.counts["list train.txt"] == 2 and report.counts["list test.txt"] == 1
    assert any("val.txt: listed video" in p and "00011.mp4 is missing" in p for p in report.problems)
    assert any("test.txt lists 1 videos; the official list has 1243" in n for n in report.notes)


def test_prepare_command(tmp_path: Path, grid_layout: Path, capsys: pytest.CaptureFixture) -> None:
    protocol = write_protocol(tmp_path / "p", GRID_TOY.replace("few_shot = 1\n", ""))
    args = ["data", "prepare", "grid", "--root", str(grid_layout), "--protocol", str(protocol), "--no-progress"]
    assert main(args) == 0
    assert "grid-toy-v1: 3 videos (train 1, val 0, test 2): 3 prepared, 0 already cached, 0 failed" in capsys.readouterr().out
    assert main([*args, "--workers", "2"]) == 0
    assert "0 prepared, 3 already cached" in capsys.readouterr().out
    (grid_layout / "s3" / "lbax4n.mpg").write_bytes(b"not a video")
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "1 failed" in out and "failed s3_lbax4n: " in out and "failure record: " in out
    assert main(["data", "prepare", "lrs2", "--root", str(grid_layout), "--protocol", str(protocol)]) == 2
    assert "is for dataset grid, not lrs2" in capsys.readouterr().err
    assert main(["data", "prepare", "grid", "--protocol", str(protocol)]) == 2
    assert "needs --root" in capsys.readouterr().err


def test_protocols_command(capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "protocols"]) == 0
    assert "grid-fewshot-v1: grid, 10-shot, aligned-face 128, 13 metrics" in capsys.readouterr().out
    assert main(["data", "protocols", "--hash", str(PROTOCOL_DIR / "lrs2-test-v1.toml")]) == 0
    recorded = (PROTOCOL_DIR / "lrs2-test-v1.toml").read_text().split('checksum = "')[1][:64]
    assert capsys.readouterr().out.strip() == recorded
