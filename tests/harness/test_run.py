"""`talkbench run` end to end on a small synthetic corpus: fit, adapt, generate, evaluate, tabulate, resume."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.cli import main
from bench.data.synthetic import synthesize_corpus
from bench.protocols import file_checksum

PROTOCOL = """
name = "mini-demo"
version = 1
dataset = "synthgrid"
description = "three synthetic speakers: two train, one test with one adaptation clip"
fps = 25.0
sample_rate = 16000
length_policy = "video"
aggregation = "mean-over-videos"
few_shot = 1
metrics = ["psnr", "ssim", "fdbm", "lse-d"]

[crop]
mode = "none"
size = 128

[splits]
seed = 0

[splits.train]
speakers = ["s01", "s02"]

[splits.test]
speakers = ["s03"]
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return synthesize_corpus(tmp_path_factory.mktemp("corpus"), speakers=3, sentences=3, seed=5, workers=1, progress=False)


@pytest.fixture
def benchmark_config(tmp_path, corpus):
    protocol = tmp_path / "mini-demo-v1.toml"
    protocol.write_text(PROTOCOL)
    protocol.write_text(f'checksum = "{file_checksum(protocol)}"\n' + PROTOCOL)
    config = tmp_path / "bench.toml"
    config.write_text(f"""
[benchmark]
protocol = "{protocol}"
out = "{tmp_path / 'out'}"
leaderboard = "{tmp_path / 'board' / 'mini'}"
published = "{tmp_path / 'none.toml'}"
data_root = "{corpus.root}"

[[method]]
name = "ground_truth"

[[method]]
name = "static_frame"

[[method]]
name = "wav2lip"
preset = "tiny"
fit_steps = 2
adapt_steps = 1
""")
    return config, tmp_path


def test_run_fits_generates_evaluates_tabulates_and_resumes(benchmark_config, capsys):
    config, root = benchmark_config
    assert main(["run", "--config", str(config), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "lse-d unavailable" in out and "talkbench weights fetch syncnet-v2" in out
    for method in ("ground_truth", "static_frame", "wav2lip"):
        table = pd.read_csv(root / "out" / method / "eval" / "per_video.csv")
        assert len(table) == 2  # three s03 sentences, one taken for adaptation
        assert list(table.columns[:4]) == ["video", "status", "reason", "speaker"]
        assert "lse-d" not in table.columns  # unavailable metrics are not silently scored
    board = (root / "board" / "mini.md").read_text()
    assert "ground_truth" in board and "static_frame" in board and "wav2lip" in board
    assert "psnr ↑" in board and "| ground_truth | **∞** |" in board
    for ext in ("csv", "tex", "html"):
        assert (root / "board" / f"mini.{ext}").exists()

    model = root / "out" / "wav2lip" / "model" / "model.safetensors"
    video = next((root / "out" / "wav2lip" / "videos").iterdir())
    stamps = (model.stat().st_mtime_ns, video.stat().st_mtime_ns)
    assert main(["run", "--config", str(config), "--no-progress"]) == 0  # resumes: nothing refitted or regenerated
    assert "fitted" not in capsys.readouterr().out
    assert (model.stat().st_mtime_ns, video.stat().st_mtime_ns) == stamps


def test_run_rejects_unknown_methods(benchmark_config, capsys):
    config, _ = benchmark_config
    assert main(["run", "--config", str(config), "--methods", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
