"""Every committed table made by ``talkbench run`` names, in its provenance, only checkpoints that are still shipped.

A table whose row came from a demo checkpoint that has since been retrained shows numbers no checkout can reproduce;
this catches it without rerunning anything (the demo table's numbers are recomputed in test_demo_tables.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.checkpoints import CHECKPOINT_DIR, read_manifest

REPO = Path(__file__).resolve().parents[2]
RECORDS = sorted((REPO / "leaderboards").glob("*.provenance.json"))


def test_there_are_committed_tables():
    assert len(RECORDS) >= 5, RECORDS


@pytest.mark.parametrize("record", RECORDS, ids=[path.name.split(".")[0] for path in RECORDS])
def test_committed_table_rows_come_from_checkpoints_still_shipped(record: Path):
    shipped = {entry["sha256"]: row for row, entry in read_manifest(CHECKPOINT_DIR).items()}
    models = json.loads(record.read_text())["models"]
    stale = [row for row, model in models.items() if model["source"] == "shipped checkpoint" and model["sha256"] not in shipped]
    assert not stale, (f"{record.name}: rows {', '.join(stale)} come from checkpoints no longer shipped; rerun the "
                       "`talkbench run` that wrote it (its config names the table under [benchmark] leaderboard)")  # fmt: skip
    for row, model in models.items():
        assert model["source"] in ("shipped checkpoint", "fit", "no training"), f"{record.name}: {row}: {model}"
