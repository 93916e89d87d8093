"""`talkbench run` end to end on a small synthetic corpus: fit, adapt, generate, evaluate, tabulate, resume;
shipped checkpoints; byte-identical tables; the run folder's model origin; --publish."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from bench.checkpoints import read_manifest
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
checkpoints = "{tmp_path / 'checkpoints'}"
threads = 1

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


def test_a_users_own_method_runs_as_a_plugin(benchmark_config):
    """A method registered outside the package (``TALKBENCH_PLUGINS``) is fitted, generated, evaluated and tabulated
    like a shipped one, its config options applied; the README's "Adding a method" describes this path."""
    import os
    import subprocess
    import sys

    config, root = benchmark_config
    text = config.read_text().split("[[method]]")[0]
    methods = '[[method]]\nname = "static_frame"\n\n[[method]]\nname = "loud_mouth"\noptions = { strength = 0.8 }\n'
    config.write_text(text + methods)
    env = {**os.environ, "TALKBENCH_PLUGINS": "plugin_baselines", "PYTHONPATH": str(Path(__file__).parent)}
    done = subprocess.run([sys.executable, "-m", "bench", "run", "--config", str(config), "--no-progress",
                           "--metrics", "psnr"], env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    board = pd.read_csv(root / "board" / "mini.csv").set_index("method")
    assert set(board.index) == {"static_frame", "loud_mouth"}
    assert 5 < board.loc["loud_mouth", "psnr"] < board.loc["static_frame", "psnr"]  # the darkened mouth costs PSNR
    saved = (root / "out" / "loud_mouth" / "model" / "config.json").read_text()
    assert '"strength": 0.8' in saved


def test_run_names_rows_with_videos_not_fully_scored(benchmark_config, capsys):
    """A generated video that cannot be read is a failed row in its run, and the command's summary says so."""
    config, root = benchmark_config
    assert main(["run", "--config", str(config), "--methods", "static_frame,ground_truth", "--no-progress"]) == 0
    assert "not fully scored" not in capsys.readouterr().out
    video = sorted((root / "out" / "static_frame" / "videos").iterdir())[0]
    video.write_bytes(b"not a video")  # the next run keeps the file; without the evaluation it evaluates afresh
    shutil.rmtree(root / "out" / "static_frame" / "eval")
    assert main(["run", "--config", str(config), "--methods", "static_frame,ground_truth", "--no-progress"]) == 0
    table = root / "out" / "static_frame" / "eval" / "per_video.csv"
    assert f"  static_frame: 1 of 2 videos not fully scored (the reasons: {table})" in capsys.readouterr().out
    assert "not a readable media file" in table.read_text()


def test_a_config_that_is_not_toml_is_named(tmp_path):
    from bench.run import load_config

    config = tmp_path / "bench.toml"
    config.write_text('[benchmark]\nprotocol = "synthgrid-demo\n')
    with pytest.raises(ValueError, match=f"^{config}: not valid TOML \\("):
        load_config(config)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[benchmark]\nprotocol = "synthgrid-demo"\nthread = 2\n[[method]]\nname = "static_frame"\n',
         "[benchmark] has no key(s) thread; keys: checkpoints, data_root, device"),
        ('[benchmark]\nprotocol = "synthgrid-demo"\n[[method]]\nname = "wav2lip"\nfit_step = 3\n',
         "[[method]] wav2lip has no key(s) fit_step; keys: adapt_seconds, adapt_steps, fit_seconds, fit_steps"),
        ('[benchmark]\nprotocol = "synthgrid-demo"\n[[method]]\nname = "wav2lpi"\n',
         "[[method]] wav2lpi: unknown baseline 'wav2lpi'; did you mean 'wav2lip'"),
        ('[benchmark]\nprotocol = "synthgrid-demo"\n[[method]]\nname = "wav2lip"\nlabel = "big"\npreset = "huge"\n',
         "[[method]] big: unknown preset 'huge'; presets: paper, tiny"),
        ('[benchmark]\nprotocol = "synthgrid-demo"\n[[method]]\nname = "speech2vid"\noptions = { colour = 1 }\n',
         "[[method]] speech2vid: unknown config option(s) colour; options: "),
        ('[benchmark]\nprotocol = "synthgrid-demo"\nseed = -1\n[[method]]\nname = "static_frame"\n',
         "[benchmark] seed must be a non-negative integer, got -1"),
        ('[benchmark]\nprotocol = "synthgrid-demo"\nthreads = "2"\n[[method]]\nname = "static_frame"\n',
         "[benchmark] threads must be an integer of at least 1, got '2'"),
        ('[benchmark]\nprotocol = "synthgrid-demo"\n[[method]]\nname = "static_frame"\n[[method]]\nname = "wav2lip"\n'
         'fit_steps = -5\n', "[[method]] wav2lip: fit_steps / fit_seconds: budget steps must be a non-negative integer, got -5"),
        ('[benchmark]\nprotocol = "synthgrid-demo"\n[[method]]\nname = "wav2lip"\nadapt_seconds = "30"\n',
         "[[method]] wav2lip: adapt_steps / adapt_seconds: budget seconds must be a non-negative number, got '30'"),
    ],
)  # fmt: skip
def test_config_mistakes_are_named_before_anything_runs(tmp_path, extra, message):
    from bench.run import load_config

    config = tmp_path / "bench.toml"
    config.write_text(extra)
    with pytest.raises(ValueError) as error:
        load_config(config)
    assert str(error.value).startswith(f"{config}: {message}")


def test_run_rejects_unknown_methods(benchmark_config, capsys):
    config, _ = benchmark_config
    assert main(["run", "--config", str(config), "--methods", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["run", "--config", str(config), "--methods", " , "]) == 2  # not "every method"
    assert "--methods names no method" in capsys.readouterr().err
    assert main(["run", "--config", str(config), "--metrics", ","]) == 2  # not "the protocol's metrics"
    assert "--metrics names no metric" in capsys.readouterr().err


TABLES = ("md", "csv", "tex", "html")


def test_shipped_checkpoints_byte_identical_tables_and_model_origin(benchmark_config, capsys):
    config, root = benchmark_config
    board = root / "board" / "mini"
    text = config.read_text().replace(f'leaderboard = "{board}"\n', "")
    config.write_text(text)  # tables go under each run folder
    train = ["run", "--config", str(config), "--train-checkpoints", "--no-progress"]
    assert main(train) == 0
    entry = read_manifest(root / "checkpoints")["wav2lip"]
    assert entry["steps"] == 2 and entry["protocol"] == "mini-demo" and entry["threads"] == 1
    assert entry["command"] == f"talkbench run --config {config} --train-checkpoints --only wav2lip"
    assert "ground_truth" not in read_manifest(root / "checkpoints")  # anchors have nothing to train
    assert main([*train, "--only", "wav2lip", "--verify-first-steps", "6"]) == 0
    assert "first 6 logged loss values reproduce" in capsys.readouterr().out

    for out in ("a", "b"):
        assert main(["run", "--config", str(config), "--out", str(root / out), "--no-progress"]) == 0
        printed = capsys.readouterr().out
        assert f"wav2lip: shipped checkpoint {entry['sha256'][:12]}" in printed and "fitted" not in printed
        assert "time per stage:" in printed and "wav2lip: generate" in printed and "wav2lip: evaluate" in printed
    for ext in TABLES:  # same command, same machine: the same bytes, whatever the output folder
        assert (root / "a" / f"leaderboard.{ext}").read_bytes() == (root / "b" / f"leaderboard.{ext}").read_bytes()
    assert "Computed on " in (root / "a" / "leaderboard.md").read_text()
    assert ",wav2lip/eval," in (root / "a" / "leaderboard.csv").read_text()  # sources relative to the run folder

    # a config that asks for another model than the one shipped (here another budget) gets what it asks for
    config.write_text(text.replace("fit_steps = 2", "fit_steps = 3"))
    assert main(["run", "--config", str(config), "--out", str(root / "own"), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "wav2lip: not the shipped checkpoint (fit_steps (config vs checkpoint): 3 vs 2): fitting as the config says" in printed
    assert "wav2lip: fitted 3 steps" in printed and "shipped checkpoint " not in printed.replace("not the shipped", "")
    config.write_text(text)

    # a run folder whose videos came from the shipped checkpoint does not resume as a retrain, and vice versa
    assert main(["run", "--config", str(config), "--out", str(root / "a"), "--retrain", "--no-progress"]) == 2
    assert "made from a shipped checkpoint" in capsys.readouterr().err
    weights = root / "checkpoints" / "wav2lip" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + bytes([weights.read_bytes()[-1] ^ 1]))
    assert main(["run", "--config", str(config), "--out", str(root / "c"), "--no-progress"]) == 2
    assert "does not match the manifest" in capsys.readouterr().err

    # a retrained checkpoint (another SHA-256) makes the run folder's videos stale: they are made again
    config.write_text(text.replace("fit_steps = 2", "fit_steps = 3"))
    assert main([*train, "--only", "wav2lip"]) == 0
    assert main(["run", "--config", str(config), "--out", str(root / "a"), "--no-progress"]) == 0
    assert "the shipped checkpoint changed" in capsys.readouterr().out


def test_demo_writes_tables_in_the_run_folder_unless_published(monkeypatch, tmp_path):
    import bench.run

    seen = []
    report = {"protocol": "p", "metrics": [], "unavailable": {}, "tables": [], "timings": {"tables": 0.5}, "not_fully_scored": {}}
    monkeypatch.setattr(bench.run, "run_benchmark", lambda config, progress, publish: seen.append((config, publish)) or report)
    assert main(["run", "--out", str(tmp_path)]) == 0
    assert main(["run", "--publish", "--retrain"]) == 0
    (plain, published), (publishing, published_again) = seen
    assert plain.leaderboard is None and not published and plain.out == tmp_path and not plain.retrain
    assert publishing.leaderboard == Path("leaderboards/synthgrid-demo") and published_again and publishing.retrain
    assert publishing.out == Path("runs/synthgrid-demo-retrain") and publishing.threads == 2
    assert all(m.adapt_seconds is None for m in plain.methods)  # adaptation is bound by steps only
    paper = Path(__file__).resolve().parents[2] / "baselines" / "oneshot_a2v" / "paper-tables.toml"  # sets leaderboard
    assert main(["run", "--config", str(paper), "--publish"]) == 0
    assert seen[-1][0].leaderboard == Path("leaderboards/oneshot_a2v-tables-synthgrid")
    assert main(["run", "--config", str(paper), "--publish", str(tmp_path / "mine")]) == 0
    assert seen[-1][0].leaderboard == tmp_path / "mine"


DEMO_SUBSET = """
name = "synthgrid-demo"
version = 90
dataset = "synthgrid"
description = "the demo's data, checkpoints and s07 adaptation clips, on four of s07's test clips, sync and identity columns"
fps = 25.0
sample_rate = 16000
length_policy = "video"
aggregation = "mean-over-videos"
few_shot = 2
metrics = ["mouth-sync", "mouth-sync-centre", "acd-i"]

[metric_options.acd-i]  # as in synthgrid-demo: every fifth frame (dlib's descriptor costs ~0.08 s a face here)
frame_stride = 5

[crop]
mode = "none"
size = 128

[splits]
seed = 0

[splits.train]
speakers = ["s01", "s02", "s03", "s04", "s05", "s06"]

[splits.test]
utterances = ["s07_lgbt0p", "s07_lwbp7s", "s07_bgwe5a", "s07_brbc5s", "s07_bwas5n", "s07_lril2p"]
"""


@pytest.mark.slow
def test_demo_trained_rows_show_faces_and_sync_ordering(tmp_path):
    """The shipped checkpoints on four demo test clips (issue 17, item 3): a face on >= 90% of each trained row's
    frames; ACD-I against the identity image below 0.6 (dlib's same-person threshold); the mouth opening moves (its
    standard deviation over a clip at least half the ground truth's, mean over clips); ground truth beats
    static_frame on mouth-sync (a still mouth scores the worst value, -1) and shifted_audio on mouth-sync-centre (peak
    within 2 frames of 0; the shifted row is out of sync by more than that)."""
    import json

    import numpy as np

    from bench.checkpoints import CHECKPOINT_DIR
    from bench.faces import FaceTrack, track
    from bench.faces.landmarks import mouth_opening
    from bench.media import read_clip

    trained = sorted(row for row, entry in read_manifest(CHECKPOINT_DIR).items() if entry.get("protocol") == "synthgrid-demo")
    protocol = tmp_path / "synthgrid-demo-v90.toml"
    protocol.write_text(DEMO_SUBSET)
    protocol.write_text(f'checksum = "{file_checksum(protocol)}"\n' + DEMO_SUBSET)
    rows = ["ground_truth", "shifted_audio", "static_frame", *trained]
    methods = "".join(f'\n[[method]]\nname = "{name}"\nadapt_steps = 20\n' for name in rows)
    config = tmp_path / "demo.toml"
    config.write_text(f'[benchmark]\nprotocol = "{protocol}"\nout = "{tmp_path / "out"}"\nthreads = 2\n{methods}')
    assert main(["run", "--config", str(config), "--no-progress"]) == 0

    def mean(row: str, metric: str) -> float:
        return json.loads((tmp_path / "out" / row / "eval" / "summary.json").read_text())["metrics"][metric]["mean"]

    assert mean("ground_truth", "mouth-sync") > mean("static_frame", "mouth-sync") == -1.0
    assert mean("ground_truth", "mouth-sync-centre") > mean("shifted_audio", "mouth-sync-centre")

    def tracks(row: str) -> dict[str, FaceTrack]:
        return {video.name: track(read_clip(video)) for video in sorted((tmp_path / "out" / row / "videos").glob("*.mkv"))}

    truth = {name: np.nanstd(mouth_opening(t.landmarks)) for name, t in tracks("ground_truth").items()}
    rates, identity, movement = {}, {}, {}
    for row in trained:
        found = tracks(row)
        rates[row] = float(sum(t.found.sum() for t in found.values()) / sum(t.found.size for t in found.values()))
        identity[row] = mean(row, "acd-i")
        ratios = [np.nanstd(mouth_opening(t.landmarks)) / truth[name] for name, t in found.items() if t.found.any()]
        movement[row] = float(np.mean(ratios)) if ratios else 0.0
    assert all(rate >= 0.9 for rate in rates.values()), f"face rate per trained row: {rates}"
    assert all(value < 0.6 for value in identity.values()), f"ACD-I per trained row: {identity}"
    assert all(ratio >= 0.5 for ratio in movement.values()), f"mouth-opening spread / ground truth's: {movement}"
    sync = {row: mean(row, "mouth-sync") for row in trained}
    assert all(value > mean("static_frame", "mouth-sync") for value in sync.values()), f"mouth-sync per row: {sync}"


def test_a_checkpoint_serves_only_the_model_a_row_asks_for():
    """The method and seed always count; preset, options and fit_steps only where the config file set them."""
    from bench.run import MethodSpec

    entry = {"method": "wav2lip", "seed": 0, "preset": "tiny", "options": {"expert_fraction": 0.2}, "fit_steps": 1500}
    assert MethodSpec("wav2lip").checkpoint_differences(entry, 0) == []  # the demo: nothing set, the model as shipped
    assert MethodSpec("wav2lip").checkpoint_differences(entry, 3) == ["seed (config vs checkpoint): 3 vs 0"]
    asked = MethodSpec("wav2lip", preset="paper", fit_steps=1500, given=frozenset({"preset", "fit_steps"}))
    assert asked.checkpoint_differences(entry, 0) == ["preset (config vs checkpoint): 'paper' vs 'tiny'"]
    other = MethodSpec("speech2vid", label="wav2lip", options={}, given=frozenset({"options"}))
    assert other.checkpoint_differences(entry, 0) == [
        "method (config vs checkpoint): 'speech2vid' vs 'wav2lip'",
        "options (config vs checkpoint): {} vs {'expert_fraction': 0.2}",
    ]
