"""Shared fixtures: the real GRID clips beside the project, and an isolated cache per test session."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
GRID_DIR = SHARED / "data" / "grid"
CPBD_REFERENCE_DIR = SHARED / "reference" / "cpbd"


def grid_manifest() -> list[dict[str, str]]:
    """Rows of ../shared/data/grid/manifest.tsv."""
    with open(GRID_DIR / "manifest.tsv", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.fixture(scope="session")
def grid_dir() -> Path:
    if not GRID_DIR.is_dir():
        pytest.skip(f"real GRID clips not found at {GRID_DIR}")
    return GRID_DIR


@pytest.fixture(scope="session")
def grid_paths(grid_dir: Path) -> list[Path]:
    return [grid_dir / row["file"] for row in grid_manifest()]


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never write to the user's cache; the synthetic corpus is cached once per session."""
    import os

    os.environ.setdefault("TALKBENCH_CACHE", str(tmp_path_factory.mktemp("talkbench-cache")))
    os.environ.setdefault("TALKBENCH_WEIGHTS", str(tmp_path_factory.mktemp("talkbench-weights")))
