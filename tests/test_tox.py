"""tox.ini runs as the README says: every command of every environment is an allowed external (tox 4 refuses the
rest, so `tox -e perf` once failed before running a single benchmark)."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_tox_command_is_an_allowed_external() -> None:
    config = configparser.ConfigParser(interpolation=None)
    config.read(REPO / "tox.ini")
    base = config["testenv"]
    allowed = {line.strip() for line in base.get("allowlist_externals", "").splitlines() if line.strip()}
    environments = [name for name in config.sections() if name.startswith("testenv:")]
    assert {"testenv:tests", "testenv:lint", "testenv:perf"} <= set(environments)
    for name in ["testenv", *environments]:
        section = config[name]
        for key in ("commands_pre", "commands"):
            for line in section.get(key, base.get(key, "")).splitlines():
                if line.strip():
                    program = shlex.split(line)[0]
                    assert program in allowed, f"[{name}] {key}: {program} is not in allowlist_externals {sorted(allowed)}"
