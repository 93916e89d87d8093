"""Protocol files: loading, versions, include, checksums, validation, and the content of the shipped protocols."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from data_helpers import write_protocol

import metrics
from bench.data import grid
from bench.data.splits import hash_fraction
from bench.protocols import PROTOCOL_DIR, ProtocolError, available, file_checksum, load_protocol

SHIPPED = [
    "grid-fewshot-v1", "grid-seen-speakers-v1", "grid-speaker-independent-v1", "lrs2-test-v1",
    "lrs2-wav2lip-pairs-v1", "synthgrid-demo-v1", "synthgrid-demo-v2", "tcd-timit-recommended-v1",
]  # fmt: skip

BASE = """
name = "toy"
version = {version}
dataset = "grid"
description = "a toy protocol"
fps = 25.0
sample_rate = 16000
length_policy = "video"
aggregation = "mean-over-videos"
metrics = ["lmd"]
checksum = "TBD"

[crop]
mode = "full-frame"
size = 64

[splits.train]
speakers = ["s1"]

[splits.test]
speakers = ["s2"]
"""


def test_every_shipped_protocol_loads_with_its_recorded_checksum() -> None:
    assert available() == SHIPPED
    for pid in SHIPPED:
        protocol = load_protocol(pid)
        assert protocol.full_id == protocol.id == pid
        assert protocol.checksum == file_checksum(PROTOCOL_DIR / f"{pid}.toml")
        assert f"-v{protocol.version}" == pid[pid.rindex("-v") :] and protocol.aggregation == "mean-over-videos"
        assert hash(protocol) == hash(load_protocol(pid)) and protocol == load_protocol(pid)
        assert pickle.loads(pickle.dumps(protocol)) == protocol  # travels to preprocessing workers


def test_every_protocol_metric_is_registered() -> None:
    registered = set(metrics.available())
    for pid in SHIPPED:
        missing = [m for m in load_protocol(pid).metrics if m not in registered]
        assert not missing, f"{pid} lists metrics the registry lacks: {missing}"


def test_latest_version_and_exact_version(tmp_path: Path) -> None:
    write_protocol(tmp_path, BASE.format(version=1))
    write_protocol(tmp_path, BASE.format(version=2).replace("sample_rate = 16000", "sample_rate = 22050"))
    assert load_protocol("toy", tmp_path).full_id == "toy-v2"
    assert load_protocol("toy", tmp_path).sample_rate == 22050
    assert load_protocol("toy-v1", tmp_path).sample_rate == 16000
    assert load_protocol(str(tmp_path / "toy-v1.toml")).full_id == "toy-v1"
    with pytest.raises(KeyError, match="did you mean toy"):
        load_protocol("tyo", tmp_path)


def test_edit_without_version_bump_is_refused(tmp_path: Path) -> None:
    path = write_protocol(tmp_path, BASE.format(version=1))
    path.write_text(path.read_text() + "\n# a comment and blank lines do not change the content\n\n")
    assert load_protocol("toy-v1", tmp_path).fps == 25.0
    path.write_text(path.read_text().replace("fps = 25.0", "fps = 30.0"))
    with pytest.raises(ProtocolError, match="recorded checksum.*bump 'version'"):
        load_protocol("toy-v1", tmp_path)
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    shutil.copy(PROTOCOL_DIR / "grid-speaker-independent-v1.toml", shipped)
    edited = shipped / "grid-speaker-independent-v1.toml"
    edited.write_text(edited.read_text().replace('"s1", ', "", 1))  # move a speaker out of the test split
    with pytest.raises(ProtocolError, match="checksum"):
        load_protocol("grid-speaker-independent-v1", shipped)


def test_include_merges_base_and_replaces_splits_whole(tmp_path: Path) -> None:
    write_protocol(tmp_path, BASE.format(version=1))
    variant = """
name = "toy-fewshot"
version = 1
include = "toy-v1"
description = "the toy with adaptation"
few_shot = 3
checksum = "TBD"

[crop]
size = 32

[splits.test]
speakers = ["s2", "s3"]
hash_range = [0.0, 0.5]
"""
    write_protocol(tmp_path, variant)
    p = load_protocol("toy-fewshot", tmp_path)
    assert (p.full_id, p.include, p.few_shot, p.fps, p.metrics) == ("toy-fewshot-v1", "toy-v1", 3, 25.0, ("lmd",))
    assert (p.crop.mode, p.crop.size) == ("full-frame", 32)  # tables merge key by key
    assert p.splits["train"].speakers == ("s1",)
    assert p.splits["test"].speakers == ("s2", "s3") and p.splits["test"].hash_range == (0.0, 0.5)
    pairs = load_protocol("lrs2-wav2lip-pairs-v1")  # its test split replaces lrs2-test-v1's whole
    assert pairs.splits["test"].list_file is None and pairs.splits["test"].expected_count == 14239
    assert pairs.splits["train"].list_file == "train.txt" and pairs.length_policy == "min"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("fps = 25.0", "fps = 25.0\ncolour = 1"), "unknown keys"),
        (('mode = "full-frame"', 'mode = "mouth"'), "crop.mode must be one of"),
        (('speakers = ["s2"]', 'speakers = ["s1"]'), "share speakers"),
        (('length_policy = "video"', 'length_policy = "longest"'), "length_policy must be one of"),
        (('metrics = ["lmd"]', 'metrics = ["lmd", "lmd"]'), "distinct"),
        (("version = 1", "version = 1\nfew_shot = 0"), "few_shot must be a positive"),
        (("[splits.test]", "[splits.test]\nlist_file = 'a.txt'\npairs_file = 'b.txt'"), "both list_file and pairs_file"),
    ],
)
def test_invalid_protocols_are_refused(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    write_protocol(tmp_path, BASE.format(version=1).replace(*edit))
    with pytest.raises(ProtocolError, match=message):
        load_protocol("toy-v1", tmp_path)


def test_include_cycle_and_wrong_file_name(tmp_path: Path) -> None:
    text = BASE.format(version=1).replace('description = "a toy protocol"', 'description = "x"\ninclude = "toy-v1"')
    write_protocol(tmp_path, text)
    with pytest.raises(ProtocolError, match="include cycle"):
        load_protocol("toy-v1", tmp_path)
    other = tmp_path / "other"
    path = write_protocol(other, BASE.format(version=1))
    path.rename(other / "toy-v3.toml")
    with pytest.raises(ProtocolError, match="file name must be 'toy-v1.toml'"):
        load_protocol("toy-v3", other)


def test_grid_speaker_split_follows_its_documented_procedure() -> None:
    p = load_protocol("grid-speaker-independent-v1")
    train, val, test = (set(p.splits[s].speakers) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (16, 7, 10)
    assert train | val | test == set(grid.SPEAKERS) and len(grid.SPEAKERS) == 33 and "s21" not in grid.SPEAKERS
    assert not (train & val or train & test or val & test)
    unseen = ["s1", "s2", "s20", "s22"]  # LipNet's unseen-speaker test set
    rest = [s for s in grid.SPEAKERS if s not in unseen]
    perm = [rest[i] for i in np.random.default_rng(2018).permutation(len(rest))]
    assert test == set(unseen + perm[:6]) and val == set(perm[6:13]) and train == set(perm[13:])
    few = load_protocol("grid-fewshot-v1")
    assert few.few_shot == 10 and few.splits == p.splits and few.metrics == p.metrics and few.crop == p.crop


def test_seen_speaker_split_partitions_every_speaker() -> None:
    p = load_protocol("grid-seen-speakers-v1")
    ranges = sorted(p.splits[s].hash_range for s in ("train", "val", "test"))
    assert ranges == [(0.0, 0.255), (0.255, 0.305), (0.305, 1.0)]
    assert all(set(p.splits[s].speakers) == set(grid.SPEAKERS) for s in ("train", "val", "test"))
    fractions = np.array([hash_fraction(0, f"s1_{i:06d}") for i in range(4000)])
    assert 0.24 < np.mean(fractions < 0.255) < 0.27  # about 255 of 1000 sentences per speaker are test


def test_tcd_timit_and_pinned_counts() -> None:
    tcd = load_protocol("tcd-timit-recommended-v1")
    train, test = set(tcd.splits["train"].speakers), set(tcd.splits["test"].speakers)
    assert len(test) == 17 and len(train) == 42 and not train & test
    assert {"13F", "15F", "21M", "54M"} <= test and not any(s.startswith("Lipspkr") for s in train | test)
    assert load_protocol("lrs2-test").splits["test"].expected_count == 1243
    assert load_protocol("lrs2-test").splits["test"].list_file == "test.txt"
    demo = load_protocol("synthgrid-demo")
    assert (demo.dataset, demo.fps, demo.sample_rate, demo.crop.mode, demo.crop.size) == ("synthgrid", 25.0, 16000, "none", 128)
    assert demo.splits["test"].expected_count == 24 and demo.few_shot == 2


def test_demo_v2_adds_the_weight_free_sync_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.run import choose_metrics, demo_config

    v1, v2 = load_protocol("synthgrid-demo-v1"), load_protocol("synthgrid-demo-v2")
    assert load_protocol(demo_config().protocol) == v2  # the demo runs the latest version
    assert [m for m in v2.metrics if m not in v1.metrics] == ["mouth-sync", "mouth-sync-centre", "mouth-offset"]
    assert set(v1.metrics) < set(v2.metrics) and v2.include == "synthgrid-demo-v1"
    assert (v2.splits, v2.crop, v2.metric_options, v2.few_shot) == (v1.splits, v1.crop, v1.metric_options, v1.few_shot)
    sync = {"lse-d", "lse-c", "av-offset"}
    monkeypatch.setattr("bench.weights.available", lambda name: name != "syncnet-v2")  # a fresh machine: no SyncNet
    runnable, missing = choose_metrics(list(v2.metrics))
    assert set(missing) == sync and {"mouth-sync", "mouth-sync-centre", "mouth-offset"} <= set(runnable)
    monkeypatch.setattr("bench.weights.available", lambda name: True)  # SyncNet's weights present: LSE as in v1
    runnable, missing = choose_metrics(list(v2.metrics))
    assert not missing and runnable == list(v2.metrics)
