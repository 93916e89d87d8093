"""LipNet WER/CER: hand-computed rates, jiwer, greedy CTC decoding, the VIPL layout, real GRID clips, refusals."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import jiwer
import numpy as np
import pandas as pd
import pytest
import torch

import metrics
from bench import weights
from bench.media import Clip, read_clip
from metrics import Item
from metrics.networks.lipnet import LipNet, build_lipnet
from metrics.wer import (
    char_error_rate,
    edit_distance,
    greedy_ctc_decode,
    lipnet_input,
    normalize_transcript,
    word_error_rate,
)

# State-dict layout of VIPL LipNet-PyTorch model.py (torch.save(model.state_dict())): names and shapes.
GRU = {"weight_ih_l0": (768, None), "weight_hh_l0": (768, 256), "bias_ih_l0": (768,), "bias_hh_l0": (768,)}
VIPL_KEYS = {
    "conv1.weight": (32, 3, 3, 5, 5), "conv1.bias": (32,), "conv2.weight": (64, 32, 3, 5, 5), "conv2.bias": (64,),
    "conv3.weight": (96, 64, 3, 3, 3), "conv3.bias": (96,), "FC.weight": (28, 512), "FC.bias": (28,),
    **{f"{gru}.{name}{suffix}": tuple(inp if d is None else d for d in shape)
       for gru, inp in (("gru1", 96 * 4 * 8), ("gru2", 512)) for name, shape in GRU.items()
       for suffix in ("", "_reverse")},
}  # fmt: skip


@pytest.mark.parametrize(
    "hypothesis, reference, wer, cer",
    [
        ("BIN BLUE AT F TWO NOW", "BIN BLUE AT F TWO NOW", 0.0, 0.0),
        ("BIN BLUE AT F TWO SOON", "BIN BLUE AT F TWO NOW", 1 / 6, 3 / 21),  # 21 characters; NOW -> SOON: 3 edits
        ("BIN BLUE AT TWO NOW", "BIN BLUE AT F TWO NOW", 1 / 6, 2 / 21),  # one word deleted: "F " is 2 characters
        ("BIN BLUE BLUE AT F TWO NOW", "BIN BLUE AT F TWO NOW", 1 / 6, 5 / 21),  # one word inserted: "BLUE " is 5
        ("", "BIN BLUE AT F TWO NOW", 1.0, 1.0),
        ("A B C D E G H I", "BIN BLUE AT F TWO NOW", 8 / 6, None),  # 6 substitutions + 2 insertions: above 1
        ("A B C D E F G H", "BIN BLUE AT F TWO NOW", 7 / 6, None),  # F aligns with F: 5 subs + 2 insertions
    ],
)
def test_hand_computed_rates(hypothesis: str, reference: str, wer: float, cer: float | None):
    assert word_error_rate(hypothesis, reference) == pytest.approx(wer, abs=1e-12)
    if cer is not None:
        assert char_error_rate(hypothesis, reference) == pytest.approx(cer, abs=1e-12)


def test_soon_now_character_distance_by_hand():
    # NOW -> SOON: substitute N->S, keep O, substitute W->O, insert N: 3 edits
    assert edit_distance("NOW", "SOON") == 3 and edit_distance("", "ABC") == 3 and edit_distance("AB", "AB") == 0


def test_edit_distance_equals_jiwer_on_random_sentences():
    rng = np.random.default_rng(0)
    vocab = ["BIN", "BLUE", "AT", "F", "TWO", "NOW", "SET", "WHITE", "WITH", "P", "SOON", "LAY", "RED"]
    for _ in range(200):
        ref = " ".join(rng.choice(vocab, rng.integers(1, 8)))
        hyp = " ".join(rng.choice(vocab, rng.integers(1, 9)))
        assert word_error_rate(hyp, ref) == pytest.approx(jiwer.wer(ref, hyp), abs=1e-12)
        assert char_error_rate(hyp, ref) == pytest.approx(jiwer.cer(ref, hyp), abs=1e-12)


def test_greedy_ctc_decoding_on_constructed_scores():
    # classes: 0 blank, 1 space, 2 'A', 3 'B', ... 27 'Z'
    path = [1, 3, 3, 0, 3, 1, 0, 1, 2, 2, 1, 1, 0]
    scores = torch.full((len(path), 28), -10.0)
    scores[torch.arange(len(path)), torch.tensor(path)] = 0.0
    # leading space stripped; B B (blank between repeats); repeated and blank-separated spaces collapse to one
    assert greedy_ctc_decode(scores) == "BB A"
    word = [0, 9, 9, 10, 0, 15, 0, 1, 0]  # H I N ' ' -> "HIN"
    scores = torch.full((len(word), 28), -10.0)
    scores[torch.arange(len(word)), torch.tensor(word)] = 0.0
    assert greedy_ctc_decode(scores) == "HIN"


def test_transcripts_are_normalised_or_refused():
    assert normalize_transcript(" bin  blue at f two now.") == "BIN BLUE AT F TWO NOW"
    with pytest.raises(ValueError, match="alphabet"):
        normalize_transcript("set white with p 2 soon")


def test_network_layout_and_shapes_with_random_weights():
    torch.manual_seed(0)
    net = LipNet()
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == VIPL_KEYS
    net = build_lipnet({f"module.{k}": v for k, v in net.state_dict().items()})  # a DataParallel save loads too
    out = net(torch.rand(2, 3, 75, 64, 128))
    assert out.shape == (2, 75, 28)
    np.testing.assert_allclose(out.exp().sum(-1).detach().numpy(), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="not a VIPL LipNet"):
        build_lipnet({k: v for k, v in net.state_dict().items() if k != "FC.bias"})
    with pytest.raises(ValueError, match="expects"):
        net(torch.rand(1, 3, 75, 50, 100))  # the 100x50 crops of the original LipNet


def test_input_is_bgr_over_255_padded_to_75_frames():
    mouths = np.zeros((40, 64, 128, 3), np.uint8)
    mouths[..., 0] = 255  # red
    mouths[..., 2] = 51
    x = lipnet_input(mouths)
    assert x.shape == (1, 3, 75, 64, 128)
    assert float(x[0, 0, :40].max()) == pytest.approx(0.2) and float(x[0, 2, :40].min()) == 1.0  # B, G, R
    assert float(x[0, :, 40:].abs().max()) == 0.0
    assert lipnet_input(np.zeros((80, 64, 128, 3), np.uint8)).shape[2] == 80


@pytest.fixture(scope="module")
def lipnet_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("lipnet-weights")
    torch.save(LipNet().state_dict(), directory / weights.get("lipnet-grid-unseen").filename)
    return directory


@pytest.fixture(scope="module")
def grid_items(grid_dir: Path) -> list[Item]:
    with open(grid_dir / "manifest.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [
        Item(read_clip(grid_dir / r["file"]), transcript=r["transcript"], video_id=r["utterance_id"], dataset="grid")
        for r in rows
    ]


def test_end_to_end_on_grid_clips_with_test_weights(lipnet_weights, grid_items, monkeypatch):
    monkeypatch.setenv("TALKBENCH_WEIGHTS", str(lipnet_weights))
    wer, cer = metrics.create("wer"), metrics.create("cer")
    assert (wer.unit, cer.unit, metrics.create("wer-overlap").split) == ("word", "char", "overlap")
    for item in grid_items:
        w, c = wer(item), cer(item)
        assert w.ok and c.ok, (w.reason, c.reason)  # dlib finds every GRID face
        text, frames, missing = wer.transcribe(item.generated)
        assert frames + missing == 75 and w.frames == frames and set(text) <= set(" ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        reference = normalize_transcript(item.transcript)
        assert w.value == pytest.approx(word_error_rate(text, reference)) and w.value >= 0
        assert c.value == pytest.approx(char_error_rate(text, reference)) and np.isfinite(c.value)


def test_refusals_and_missing_weights(lipnet_weights, grid_items, monkeypatch, tmp_path):
    monkeypatch.setenv("TALKBENCH_WEIGHTS", str(lipnet_weights))
    item = grid_items[0]
    wer = metrics.create("wer")
    for dataset, says in (("lrs2", "'lrs2'"), ("", "not declared")):
        score = wer(dataclasses.replace(item, dataset=dataset))
        assert not score.ok and "GRID protocols only" in score.reason and says in score.reason
    assert metrics.create("wer", allowed_datasets=("grid", "lrs2"))(dataclasses.replace(item, dataset="lrs2")).ok
    assert "needs transcript" in wer(dataclasses.replace(item, transcript=None)).reason
    assert "alphabet" in wer(dataclasses.replace(item, transcript="set white with p 2 soon")).reason
    slow = Clip(item.generated.frames[:10], fps=30.0)
    assert "25 fps" in wer(dataclasses.replace(item, generated=slow)).reason
    blank = Clip(np.zeros((10, 64, 64, 3), np.uint8))
    assert "no face" in wer(dataclasses.replace(item, generated=blank)).reason
    monkeypatch.setenv("TALKBENCH_WEIGHTS", str(tmp_path))
    with pytest.raises(weights.WeightsMissingError, match="talkbench weights fetch lipnet-grid-overlap"):
        metrics.create("cer-overlap")(item)


def test_the_command_line_declares_the_dataset(lipnet_weights, grid_dir, monkeypatch, tmp_path, capsys):
    """``talkbench evaluate`` scores WER once the videos are declared GRID's (``--dataset grid`` or a GRID protocol),
    and without that refuses each video with a reason that says how to declare it."""
    from bench.cli import main

    monkeypatch.setenv("TALKBENCH_WEIGHTS", str(lipnet_weights))
    (tmp_path / "gen").mkdir()
    (tmp_path / "gen" / "bbaf2n.mpg").symlink_to(grid_dir / "bbaf2n.mpg")
    (tmp_path / "t.tsv").write_text("utterance_id\ttranscript\nbbaf2n\tbin blue at f two now\n")
    base = ["evaluate", "--generated", str(tmp_path / "gen"), "--transcripts", str(tmp_path / "t.tsv"), "--metrics",
            "wer", "--no-progress", "--threads", "1"]  # fmt: skip
    assert main([*base, "--out", str(tmp_path / "declared"), "--dataset", "grid"]) == 0
    row = pd.read_csv(tmp_path / "declared" / "per_video.csv").iloc[0]
    assert row["status"] == "ok" and 0 <= row["wer"] <= 2  # random weights read nonsense: the rate is a real number
    assert main([*base, "--out", str(tmp_path / "undeclared")]) == 1  # no value at all: the command stops a script
    reason = pd.read_csv(tmp_path / "undeclared" / "per_video.csv").iloc[0]["reason"]
    assert "not declared" in reason and "--dataset grid" in reason
    assert main([*base, "--out", str(tmp_path / "x"), "--dataset", "lrs2", "--protocol", "grid-seen-speakers-v1"]) == 2
    assert "contradicts --protocol grid-seen-speakers-v1, which is on grid" in capsys.readouterr().err


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_forward_equals_cpu():
    torch.manual_seed(0)
    net = LipNet().eval()
    x = torch.rand(1, 3, 75, 64, 128)
    with torch.no_grad():
        cpu = net(x)
        cuda = net.to("cuda")(x.to("cuda")).cpu()
    # cuDNN 3-D convolutions and GRUs (TF32 where allowed): agreement to float32/TF32 rounding
    np.testing.assert_allclose(cuda.numpy(), cpu.numpy(), rtol=1e-2, atol=1e-2)
