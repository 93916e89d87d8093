"""The typing guard: mypy (settings in pyproject.toml, ``disallow_untyped_defs``) is clean on bench, metrics and
baselines. Part of the default test run, so the README's one test command and CI check it too (also ``tox -e lint``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_is_clean_on_the_packages(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api", reason="mypy is a dev dependency (pip install -e '.[dev]')")
    stdout, stderr, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(tmp_path),
                                      str(ROOT / "bench"), str(ROOT / "metrics"), str(ROOT / "baselines")])  # fmt: skip
    assert status == 0, f"mypy found type errors:\n{stdout}{stderr}"
