"""Split selection end to end on small corpora: speakers, few-shot adapt, hash ranges, lists, pinned counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from data_helpers import write_protocol

import bench.data.synthetic as synthetic
from bench.data import split_records
from bench.data.splits import all_records, hash_fraction
from bench.data.synthetic import Corpus
from bench.protocols import load_protocol

SYNTH = """
name = "toy-synth"
version = 1
dataset = "synthgrid"
description = "toy"
fps = 25.0
sample_rate = 16000
length_policy = "video"
aggregation = "mean-over-videos"
metrics = ["lmd"]
{extra}
checksum = "TBD"

[crop]
mode = "none"
size = 128

[splits.train]
speakers = ["s01"]

[splits.test]
speakers = ["s02"]
{test}
"""


def _protocol(tmp_path: Path, extra: str = "", test: str = "", name: str = "toy-synth"):
    write_protocol(tmp_path, SYNTH.format(extra=extra, test=test).replace("toy-synth", name))
    return load_protocol(name, tmp_path)


def test_speaker_split_and_pinned_count(tmp_path: Path, synth: Corpus) -> None:
    p = _protocol(tmp_path, test="expected_count = 2")
    train, test = split_records(p, "train", synth.root), split_records(p, "test", synth.root)
    assert {r.speaker for r in train} == {"s01"} and {r.speaker for r in test} == {"s02"}
    assert len(train) == len(test) == 2 and split_records(p, "val", synth.root) == []
    wrong = _protocol(tmp_path / "b", test="expected_count = 3")
    with pytest.raises(ValueError, match="split test .* holds 2 utterances, the protocol pins 3"):
        split_records(wrong, "test", synth.root)
    with pytest.raises(ValueError, match="no few-shot adaptation split"):
        split_records(p, "adapt", synth.root)
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        split_records(p, "dev", synth.root)


def test_few_shot_adapt_is_disjoint_from_test(tmp_path: Path, synth: Corpus) -> None:
    p = _protocol(tmp_path, extra="few_shot = 1")
    adapt, test = split_records(p, "adapt", synth.root), split_records(p, "test", synth.root)
    assert len(adapt) == 1 and len(test) == 1 and adapt[0].speaker == test[0].speaker == "s02"
    both = sorted(r.utterance_id for r in adapt + test)
    assert both == sorted(r.utterance_id for r in synth if r.speaker == "s02")
    assert adapt[0].utterance_id == min(both, key=lambda u: hash_fraction(0, u))  # the smallest hash fraction
    assert split_records(p, "adapt", synth.root) == adapt  # deterministic
    three = _protocol(tmp_path / "d", extra="few_shot = 2")
    with pytest.raises(ValueError, match="speaker s02 has 2 utterances; few-shot needs more than 2"):
        split_records(three, "test", synth.root)
    assert set(all_records(p, synth.root)) == {"train", "val", "test", "adapt"}


def test_hash_ranges_partition_utterances(tmp_path: Path, synth: Corpus) -> None:
    text = SYNTH.format(extra="", test="hash_range = [0.0, 0.5]").replace(
        '[splits.train]\nspeakers = ["s01"]', '[splits.train]\nspeakers = ["s02"]\nhash_range = [0.5, 1.0]'
    )
    write_protocol(tmp_path, text)
    p = load_protocol("toy-synth", tmp_path)
    train, test = split_records(p, "train", synth.root), split_records(p, "test", synth.root)
    assert sorted(r.utterance_id for r in train + test) == sorted(r.utterance_id for r in synth if r.speaker == "s02")
    assert all(hash_fraction(0, r.utterance_id) < 0.5 for r in test)
    assert all(hash_fraction(0, r.utterance_id) >= 0.5 for r in train)


def test_missing_speakers_and_utterances_are_errors(tmp_path: Path, synth: Corpus, grid_layout: Path) -> None:
    p = _protocol(tmp_path, test='utterances = ["s02_nope"]')
    with pytest.raises(FileNotFoundError, match=r"1 listed utterances are absent, e.g. \['s02_nope'\]"):
        split_records(p, "test", synth.root)
    grid_si = load_protocol("grid-speaker-independent-v1")
    with pytest.raises(
        FileNotFoundError, match=r"split test .*speakers \['s4', 's7', 's13', 's17', 's19', 's20', 's22', 's30'\] have no"
    ):
        split_records(grid_si, "test", grid_layout)
    with pytest.raises(ValueError, match="needs its root folder"):
        split_records(grid_si, "train", None)
    with pytest.raises(FileNotFoundError, match="no GRID speaker folders"):
        split_records(grid_si, "train", tmp_path)


def test_grid_protocol_on_a_grid_layout(tmp_path: Path, grid_layout: Path) -> None:
    text = SYNTH.format(extra="", test="").replace('dataset = "synthgrid"', 'dataset = "grid"')
    text = text.replace('["s01"]', '["s1", "s3"]').replace('["s02"]', '["s2"]')
    write_protocol(tmp_path, text)
    p = load_protocol("toy-synth", tmp_path)
    assert [r.utterance_id for r in split_records(p, "train", grid_layout)] == ["s1_bbaf2n", "s3_lbax4n"]
    assert [r.transcript for r in split_records(p, "test", grid_layout)] == ["set white with p two soon"]


def test_lrs2_protocols_read_lists_and_pin_counts(lrs2_layout: Path) -> None:
    p = load_protocol("lrs2-test-v1")
    assert [r.utterance_id for r in split_records(p, "train", lrs2_layout)] == [
        "5535415699068794046_00001", "5535415699068794046_00002"]  # fmt: skip
    with pytest.raises(ValueError, match="holds 1 utterances, the protocol pins 1243"):
        split_records(p, "test", lrs2_layout)
    pairs = load_protocol("lrs2-wav2lip-pairs-v1")
    with pytest.raises(ValueError, match="holds 2 utterances, the protocol pins 14239"):
        split_records(pairs, "test", lrs2_layout)
    (lrs2_layout / "evaluation/test_filelists/lrs2.txt").unlink()
    with pytest.raises(FileNotFoundError, match="copy evaluation/test_filelists/lrs2.txt from Rudrabha/Wav2Lip"):
        split_records(pairs, "test", lrs2_layout)


def test_synthgrid_without_root_uses_the_demo_corpus(synth: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_demo(**kwargs: object) -> Corpus:
        calls.append(kwargs)
        return synth

    monkeypatch.setattr(synthetic, "demo_corpus", fake_demo)
    demo = load_protocol("synthgrid-demo")
    with pytest.raises(FileNotFoundError, match=r"speakers \['s03', 's04', 's05', 's06'\] have no utterances"):
        split_records(demo, "train")
    assert calls  # generated (here: returned) by the synthetic corpus's own function
