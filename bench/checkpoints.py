"""Shipped demo checkpoints: trained by a recorded command, listed with their SHA-256 in ``MANIFEST.toml``, verified on load.

``talkbench run --config baselines/demo-train.toml --train-checkpoints [--only NAME ...]`` fits each listed method on
the protocol's training speakers (steps bind, a fixed thread count, the config's seed) and writes
``baselines/checkpoints/<row>/`` (``config.json`` + ``model.safetensors``) and one ``[<row>]`` table of
``MANIFEST.toml``: the weights' SHA-256, the exact command, the protocol, steps and seconds, torch version, thread
count, git commit, and the first logged loss values (``trace_keys`` / ``trace_values``) so that a retrain can show
it reproduces the checkpoint's first steps bit for bit (``--verify-first-steps N``).
"""

from __future__ import annotations

import fcntl
import json
import math
import platform
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import baselines
from baselines.base import Baseline, Budget, FitReport
from bench.environment import git_commit
from bench.io import read_toml, sha256_file

if TYPE_CHECKING:
    from bench.run import BenchmarkConfig, MethodSpec

CHECKPOINT_DIR = Path(baselines.__file__).resolve().parent / "checkpoints"
MANIFEST = "MANIFEST.toml"
TRACE_STEPS = 20  # logged loss values recorded per checkpoint: enough to show a retrain follows the same path
HEADER = (
    "# Shipped demo checkpoints, one table per row; written by `talkbench run --config baselines/demo-train.toml\n"
    "# --train-checkpoints [--only NAME]`, never by hand. trace_*: the fit's first logged loss values, in order.\n"
)


class CheckpointError(ValueError):
    """A shipped checkpoint is missing a file, is not in the manifest, or its SHA-256 does not match."""


def read_manifest(directory: Path = CHECKPOINT_DIR) -> dict[str, dict[str, Any]]:
    """The manifest's tables by row (empty when there is no manifest)."""
    path = directory / MANIFEST
    if not path.is_file():
        return {}
    return read_toml(path)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"manifest values are str, int, float, bool, lists or tables of them, got {type(value).__name__}")


def manifest_text(tables: dict[str, dict[str, Any]]) -> str:
    """The manifest as TOML: rows sorted by name, keys in insertion order; floats written exactly (``repr``)."""
    blocks = []
    for row in sorted(tables):
        lines = [f"[{json.dumps(row)}]"] + [f"{k} = {_toml_value(v)}" for k, v in tables[row].items() if v is not None]
        blocks.append("\n".join(lines))
    return HEADER + "\n" + "\n\n".join(blocks) + "\n"


def record_checkpoint(row: str, entry: dict[str, Any], directory: Path = CHECKPOINT_DIR) -> None:
    """Replace ``row``'s table of the manifest, under a file lock (helpers may train different rows at once)."""
    import os

    directory.mkdir(parents=True, exist_ok=True)
    lock = os.open(directory, os.O_RDONLY)  # the folder itself is the lock: no stray lock file in the checkout
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        tables = read_manifest(directory)
        tables[row] = entry
        tmp = directory / f".{MANIFEST}.tmp"
        tmp.write_text(manifest_text(tables))
        tmp.replace(directory / MANIFEST)
    finally:
        os.close(lock)


def shipped_checkpoint(row: str, protocol: str, directory: Path = CHECKPOINT_DIR) -> tuple[Path, dict[str, Any]] | None:
    """``row``'s verified checkpoint folder and manifest entry, or None when none is shipped for ``protocol``.

    Raises:
        CheckpointError: the folder exists without a manifest entry, a file is missing, or the SHA-256 differs.
    """
    folder = directory / row
    entry = read_manifest(directory).get(row)
    if entry is None or entry.get("protocol") != protocol:
        if (folder / "model.safetensors").exists() and entry is None:
            raise CheckpointError(
                f"{folder}: a checkpoint without an entry in {directory / MANIFEST}; retrain it with "
                f"`talkbench run --config baselines/demo-train.toml --train-checkpoints --only {row}`"
            )
        return None
    weights = folder / "model.safetensors"
    for path in (weights, folder / "config.json"):
        if not path.is_file():
            raise CheckpointError(f"{path}: missing, but {directory / MANIFEST} lists checkpoint {row!r}")
    actual = sha256_file(weights)
    if actual != entry["sha256"]:
        raise CheckpointError(
            f"{weights}: SHA-256 {actual} does not match the manifest's {entry['sha256']}; the file "
            f"was changed or corrupted. Retrain with `{entry.get('command', '--train-checkpoints')}`"
        )
    return folder, entry


class _TraceFull(Exception):
    """Raised inside a fit to stop it once the requested number of loss values is logged."""


@contextmanager
def loss_trace(limit: int, stop: bool = False) -> Iterator[list[tuple[str, float]]]:
    """Collect the first ``limit`` loss values any fit logs (``FitReport.log``), in order; ``stop`` ends the fit there.

    The fit keeps its full budget (schedules that depend on the step count are unchanged); ``stop`` only cuts it
    short, so the values equal the first ``limit`` of the full fit.
    """
    trace: list[tuple[str, float]] = []
    original = FitReport.log

    def log(self: FitReport, **values: float) -> None:
        original(self, **values)
        for key, value in values.items():
            if len(trace) < limit:
                trace.append((key, float(value)))
        if stop and len(trace) >= limit:
            raise _TraceFull

    FitReport.log = log  # type: ignore[method-assign]
    try:
        yield trace
    except _TraceFull:
        pass
    finally:
        FitReport.log = original  # type: ignore[method-assign]


def machine() -> str:
    """The CPU in words: model name, logical cores, architecture (for the manifest and the tables' provenance)."""
    import os

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical cores, {platform.machine()} {platform.system()}"


def train_checkpoint(
    model: Baseline, clips: Sequence[Any], budget: Budget, row: str, meta: dict[str, Any], directory: Path = CHECKPOINT_DIR
) -> dict[str, Any]:
    """Fit ``model`` within ``budget``, save it as ``directory/<row>`` and record it in the manifest; returns the entry.

    ``meta`` carries what the manifest records about how it was made (command, protocol, config, seed, threads).
    """
    import torch

    with loss_trace(TRACE_STEPS) as trace:
        report = model.fit(clips, budget)
    folder = directory / row
    tmp = directory / f".{row}.tmp"
    model.save(tmp)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "model.safetensors"):
        (tmp / name).replace(folder / name)
    tmp.rmdir()
    weights = folder / "model.safetensors"
    entry = {
        "method": model.name, "preset": model.preset, **meta, "sha256": sha256_file(weights),
        "bytes": weights.stat().st_size, "fit_steps": budget.steps, "steps": report.steps,
        "seconds": round(report.seconds, 1), "torch": torch.__version__, "git_commit": git_commit() or "unknown",
        "machine": machine(), "trace_keys": [k for k, _ in trace], "trace_values": [v for _, v in trace],
    }  # fmt: skip
    record_checkpoint(row, entry, directory)
    return entry


def verify_first_steps(model: Baseline, clips: Sequence[Any], budget: Budget, entry: dict[str, Any], steps: int) -> str:
    """Refit ``model`` for its first ``steps`` logged loss values and compare them bit for bit with ``entry``'s trace.

    Returns:
        A one-line confirmation.

    Raises:
        CheckpointError: the trace is shorter than ``steps`` or a value differs (the first difference is named).
    """
    recorded = list(zip(entry.get("trace_keys", []), entry.get("trace_values", []), strict=True))
    if len(recorded) < steps:
        raise CheckpointError(f"the manifest records {len(recorded)} loss values, fewer than the {steps} asked for")
    with loss_trace(steps, stop=True) as trace:
        model.fit(clips, budget)
    for i, (want, got) in enumerate(zip(recorded[:steps], trace, strict=False)):
        if want[0] != got[0] or not _same_float(want[1], got[1]):
            raise CheckpointError(
                f"loss value {i}: retrain logged {got[0]}={got[1]!r}, the checkpoint's fit {want[0]}={want[1]!r}"
            )
    if len(trace) < steps:
        raise CheckpointError(f"the retrain logged only {len(trace)} loss values, fewer than the {steps} asked for")
    return f"first {steps} logged loss values reproduce the shipped checkpoint's fit bit for bit"


def _same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def train_checkpoints(
    config: BenchmarkConfig, command: str, only: Sequence[str] = (), verify_steps: int | None = None, progress: bool = True
) -> list[str]:
    """Fit the config's methods (``only`` these rows) and write their shipped checkpoints; one line per method.

    With ``verify_steps``, nothing is written: each method is refitted only until it has logged that many loss
    values, which must equal the manifest's record bit for bit. Runs with ``config.threads`` torch threads (1 when
    unset), recorded in the manifest.
    """
    from bench.data import split_records
    from bench.protocols import load_protocol
    from bench.run import torch_threads, training_clips

    unknown = sorted(set(only) - {m.row for m in config.methods})
    if unknown:
        raise ValueError(f"--only names {', '.join(unknown)}, not in the benchmark")
    protocol = load_protocol(config.protocol)
    train = split_records(protocol, "train", config.data_root)
    threads = config.threads or 1
    lines, clips = [], None
    with torch_threads(threads):
        for method in [m for m in config.methods if not only or m.row in only]:
            model = baselines.create(method.name, preset=method.preset, device=config.device, seed=config.seed, **method.options)
            if not model.trainable:
                lines.append(f"{method.row}: nothing to train")
                continue
            clips = clips or training_clips(train, protocol, method.row, progress)
            budget = Budget(method.fit_steps, method.fit_seconds)
            recipe = {
                "protocol": protocol.name, "protocol_id": protocol.full_id, "command": f"{command} --only {method.row}",
                "seed": config.seed, "threads": threads, "fit_seconds": method.fit_seconds, "options": dict(method.options),
            }  # fmt: skip
            if verify_steps:
                entry = _recorded(config.checkpoints, method, recipe)
                lines.append(f"{method.row}: " + verify_first_steps(model, clips, budget, entry, verify_steps))
            else:
                entry = train_checkpoint(model, clips, budget, method.row, recipe, config.checkpoints)
                lines.append(f"{method.row}: {entry['steps']} steps in {entry['seconds']} s, sha256 {entry['sha256']}")
    return lines


def _recorded(directory: Path, method: MethodSpec, recipe: dict[str, Any]) -> dict[str, Any]:
    """The manifest entry of ``method``, checked to have been made with the same recipe as this config's."""
    entry = read_manifest(directory).get(method.row)
    if entry is None:
        raise CheckpointError(f"{directory}: no shipped checkpoint {method.row!r} to verify")
    want = {"preset": method.preset, "fit_steps": method.fit_steps, "seed": recipe["seed"], "threads": recipe["threads"],
            "options": recipe["options"], "protocol": recipe["protocol"]}  # fmt: skip
    differ = [
        f"{k} {entry.get(k)!r} (manifest) vs {v!r} (config)"
        for k, v in want.items()
        if entry.get(k, {} if k == "options" else None) != v
    ]
    if differ:
        raise CheckpointError(f"{method.row}: the config no longer matches the checkpoint's recipe: {'; '.join(differ)}")
    return entry
