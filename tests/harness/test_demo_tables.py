"""The shipped demo: a retrain with the recorded command follows the checkpoint's first steps bit for bit, and a fresh
run reproduces the committed ``leaderboards/synthgrid-demo.*`` (a cheap subset of rows and columns).

Tolerance of the table comparison: on the machine the tables name in their provenance (same CPU model, core count,
2 torch threads) the cells must be equal to the last digit (the demo is deterministic: steps bind, threads fixed);
on another machine within 0.5% relative, since CPU kernels of another instruction set round differently and a few
pixel values of a generated frame may move by one grey level.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pandas as pd
import pytest

from bench.checkpoints import CHECKPOINT_DIR, machine, read_manifest
from bench.cli import main

REPO = Path(__file__).resolve().parents[2]
PUBLISHED = REPO / "leaderboards" / "synthgrid-demo"
CHEAP_TRAINED = "speech2vid"  # the shipped row that generates fastest
COLUMNS = ["psnr", "ssim", "fdbm"]  # cheap columns: no face analysis
RELATIVE_TOLERANCE = 5e-3


def _demo_entries() -> dict[str, dict]:
    return {row: e for row, e in read_manifest(CHECKPOINT_DIR).items() if e.get("protocol") == "synthgrid-demo"}


@pytest.mark.slow
def test_retraining_with_the_recorded_command_reproduces_the_first_steps(monkeypatch, capsys):
    entries = _demo_entries()
    assert CHEAP_TRAINED in entries, f"no shipped {CHEAP_TRAINED} checkpoint in {CHECKPOINT_DIR}"
    command = shlex.split(entries[CHEAP_TRAINED]["command"])
    assert command[:2] == ["talkbench", "run"] and "--train-checkpoints" in command
    monkeypatch.chdir(REPO)  # the recorded command names the config relative to the checkout
    assert main([*command[1:], "--verify-first-steps", "5", "--no-progress"]) == 0
    assert f"{CHEAP_TRAINED}: first 5 logged loss values reproduce" in capsys.readouterr().out


@pytest.mark.slow
def test_committed_demo_tables_reproduce(tmp_path):
    from bench.protocols import load_protocol

    republish = "the committed tables are stale: republish them with `talkbench run --publish`"
    record = Path(f"{PUBLISHED}.provenance.json")
    assert record.is_file(), f"{record} missing: {republish}"
    provenance = json.loads(record.read_text())
    assert provenance["protocol"] == load_protocol("synthgrid-demo").full_id, republish
    for row, entry in _demo_entries().items():
        assert provenance["models"].get(row, {}).get("sha256") == entry["sha256"], f"{row}: {republish}"
    rows = ["ground_truth", "static_frame", CHEAP_TRAINED]
    argv = ["run", "--methods", ",".join(rows), "--metrics", ",".join(COLUMNS), "--out", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    committed = pd.read_csv(f"{PUBLISHED}.csv", dtype=str, keep_default_na=False).set_index("method")
    fresh = pd.read_csv(tmp_path / "leaderboard.csv", dtype=str, keep_default_na=False).set_index("method")
    same_machine = provenance["machine"] == machine() and provenance["torch_threads"] == 2
    for row in rows:
        for column in COLUMNS:
            want, got = committed.loc[row, column], fresh.loc[row, column]
            if same_machine or want in ("inf", ""):
                assert got == want, f"{row} {column}: fresh {got}, committed {want} (same machine: must be equal)"
            else:
                assert float(got) == pytest.approx(float(want), rel=RELATIVE_TOLERANCE), f"{row} {column}"
