"""``talkbench data export``: a protocol's split as files a method outside talkbench runs on, scored end to end."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
from data_helpers import write_protocol
from skimage import io as skio

from bench.cli import main
from bench.data.export import export_split
from bench.data.prepare import prepare_clip
from bench.data.splits import split_records
from bench.evaluate import pair_directories
from bench.media import Clip, read_clip, write_clip
from bench.protocols import load_protocol

GRID_TOY = """
name = "grid-export"
version = 1
dataset = "grid"
description = "toy: one training speaker, two test speakers"
fps = 25.0
sample_rate = 16000
length_policy = "video"
aggregation = "mean-over-videos"
metrics = ["psnr", "mouth-sync"]
checksum = "TBD"

[crop]
mode = "full-frame"
size = 96

[splits.train]
speakers = ["s1"]

[splits.test]
speakers = ["s2", "s3"]
"""


def manifest(out: Path) -> list[dict[str, str]]:
    with open(out / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_export_gives_a_method_its_inputs_and_scores_its_videos(tmp_path, grid_layout, capsys):
    """The references are the prepared clips, the identity image their first frame and the WAV their audio, bit for
    bit; videos a method wrote from them, named by the manifest's ids, are scored per speaker by the printed command;
    a second export keeps what is there."""
    protocol = write_protocol(tmp_path / "p", GRID_TOY)
    out = tmp_path / "export"
    args = ["data", "export", "grid", "--root", str(grid_layout), "--protocol", str(protocol), "--out", str(out),
            "--no-progress"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "grid-export-v1: exported 2 clips (test 2) to" in printed and "0 could not be prepared" in printed
    rows = manifest(out)
    assert [(r["id"], r["split"], r["speaker"]) for r in rows] == [("s2/s2_swwp2s", "test", "s2"), ("s3/s3_lbax4n", "test", "s3")]
    records = {r.utterance_id: r for r in split_records(load_protocol(protocol), "test", grid_layout)}
    for row in rows:
        prepared = prepare_clip(records[row["utterance_id"]], load_protocol(protocol))
        reference = read_clip(out / row["clip"], fps=None, sample_rate=None)
        np.testing.assert_array_equal(reference.frames, prepared.frames)
        assert reference.frames.shape[1:] == (96, 96, 3)
        np.testing.assert_array_equal(skio.imread(out / row["identity"]), prepared.frames[0])
        audio, rate = soundfile.read(out / row["audio"], dtype="float32")
        assert rate == 16000
        np.testing.assert_array_equal(audio, prepared.audio)
    assert (out / "transcripts.tsv").read_text().splitlines()[1] == "s2/s2_swwp2s\tset white with p two soon"
    assert [Path(r["source"]).name for r in rows] == ["swwp2s.mpg", "lbax4n.mpg"] and rows[0]["source_audio"] == ""

    generated = tmp_path / "mine"  # a method run outside talkbench: the identity image still, over the driving audio
    for row in rows:
        image, (audio, rate) = skio.imread(out / row["identity"]), soundfile.read(out / row["audio"], dtype="float32")
        frames = np.repeat(image[None], int(len(audio) / rate * 25), axis=0)
        write_clip(generated / f"{row['id']}.mp4", Clip(frames, 25.0, audio, rate), lossless=False)
    with pytest.raises(ValueError, match=r"\(a talkbench data export: pass .*export/reference\)"):
        pair_directories(generated, out)  # the export's root instead of its reference folder
    command = next(line.strip() for line in printed.splitlines() if line.strip().startswith("talkbench evaluate"))
    command = command.replace("YOUR_VIDEOS", str(generated)).replace("runs/YOUR_METHOD", str(tmp_path / "run"))
    assert main([*command.split()[1:], "--no-progress", "--metrics", "psnr"]) == 0
    table = pd.read_csv(tmp_path / "run" / "per_video.csv", keep_default_na=False)
    assert list(table["video"]) == ["s2/s2_swwp2s", "s3/s3_lbax4n"] and list(table["speaker"]) == ["s2", "s3"]
    assert (table["status"] == "ok").all() and (table["psnr"].astype(float) > 15).all()

    stamp = (out / rows[0]["clip"]).stat().st_mtime_ns
    assert main(args) == 0  # resumes: nothing rewritten
    assert (out / rows[0]["clip"]).stat().st_mtime_ns == stamp


def test_a_video_that_cannot_be_prepared_is_listed_not_dropped(tmp_path, grid_layout, capsys):
    protocol = write_protocol(tmp_path / "p", GRID_TOY)
    (grid_layout / "s3" / "lbax4n.mpg").write_bytes(b"not a video")
    out = tmp_path / "export"
    assert main(["data", "export", "grid", "--root", str(grid_layout), "--protocol", str(protocol), "--out", str(out),
                 "--no-progress"]) == 1  # fmt: skip
    printed = capsys.readouterr().out
    assert "exported 1 clips (test 1)" in printed and "1 could not be prepared" in printed and "failed s3_lbax4n" in printed
    assert [r["id"] for r in manifest(out)] == ["s2/s2_swwp2s"]
    assert "s3_lbax4n" in (out / "failures.jsonl").read_text()


def test_a_few_shot_export_brings_the_adaptation_clips(tmp_path, synth):
    """A few-shot protocol's test export also writes each test speaker's adaptation clips; other splits on request."""
    text = GRID_TOY.replace('"grid-export"', '"synth-export"').replace('"grid"', '"synthgrid"')
    text = text.replace('["s1"]', '["s01"]').replace('["s2", "s3"]', '["s02"]').replace('size = 96', 'size = 128')
    text = text.replace('mode = "full-frame"', 'mode = "none"').replace('checksum = "TBD"', 'few_shot = 1\nchecksum = "TBD"')
    protocol = write_protocol(tmp_path / "p", text)
    out = tmp_path / "export"
    base = ["data", "export", "synthgrid", "--root", str(synth.root), "--protocol", str(protocol), "--no-progress"]
    assert main([*base, "--out", str(out)]) == 0
    splits = [(r["split"], r["speaker"], bool(r["identity"])) for r in manifest(out)]
    assert splits == [("adapt", "s02", False), ("test", "s02", True)]
    assert all((out / r["clip"]).is_file() for r in manifest(out))
    assert main([*base, "--out", str(tmp_path / "train"), "--split", "train"]) == 0
    assert {r["split"] for r in manifest(tmp_path / "train")} == {"train"}
    assert not (tmp_path / "train" / "transcripts.tsv").exists() and (tmp_path / "train" / "train" / "s01").is_dir()
    with pytest.raises(SystemExit):
        main([*base, "--out", str(out), "--split", "bogus"])
    (tmp_path / "a-file").write_text("")
    with pytest.raises(NotADirectoryError, match="a-file: a file; give the folder to export into"):
        export_split(load_protocol(protocol), synth.root, tmp_path / "a-file")
