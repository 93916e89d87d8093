"""The one list of datasets (bench.data.datasets): every adapter declared once, found by name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bench.data import datasets

ROOT = Path(__file__).resolve().parents[2]


def test_every_adapter_module_declares_its_dataset_once():
    assert datasets.names() == ("grid", "synthgrid", "tcd-timit", "lrs2", "grid-lombard", "folder")
    assert not datasets.get("synthgrid").needs_root and datasets.get("grid").needs_root
    assert datasets.get("lrs2").list_records is not None and datasets.get("grid").list_records is None


def test_unknown_dataset_names_close_matches():
    with pytest.raises(ValueError, match=r"unknown dataset 'gird'; did you mean grid"):
        datasets.get("gird")


def test_missing_root_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="dataset 'grid' needs its root folder"):
        datasets.get("grid").records(None)
    with pytest.raises(FileNotFoundError, match="tcd-timit root folder not found"):
        datasets.get("tcd-timit").records(tmp_path / "absent")


def test_no_code_outside_the_adapters_compares_dataset_names():
    # Code branches on an adapter's declared properties, never on `dataset == "lrs2"` and the like.
    names = set(datasets.names())
    offenders = []
    for path in sorted((ROOT / "bench").rglob("*.py")):
        if path.parent.name == "data" and path.stem in datasets.ADAPTER_MODULES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                constants = [c.value for c in [node.left, *node.comparators] if isinstance(c, ast.Constant)]
                if any(isinstance(c, str) and c in names for c in constants):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, f"dataset-name branches: {offenders}"
