"""Landmark-regression tables (the layout of Zheng et al.'s Table 1) for baselines that predict landmarks.

``talkbench run`` scores generated videos; a landmark-mapping ablation is scored on the predicted landmarks against
the true ones, which only a dataset with known landmarks (synthgrid) has. This runner reads an ordinary benchmark
config (``[benchmark]`` protocol and ``[[method]]`` entries, as ``talkbench run --config``) plus a ``[table]`` table
(``seeds``, ``out``: the table's path stem, ``title``), and for each method and seed: creates the baseline, fits it
on the protocol's train split within the method's budget (the fit report's seconds: the "train" row), then asks it for its
``landmark_report(test_clips)`` (the registered capability: any baseline that defines it can be tabulated; others
are refused by name). True landmarks come from the dataset records (``meta["landmarks_path"]``), put in
``clip.meta["landmarks"]`` of every clip. Writes ``<out>.md`` (methods as columns, measures as rows, mean +- sd over
seeds, then the paper's reported rows from ``leaderboards/published.toml``), ``<out>.csv`` and ``<out>.json``
(every per-seed value, the budgets, the protocol and the environment).

Usage: ``python tools/landmark_table.py baselines/cascaded_tcn/paper-tables.toml``
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


def with_landmarks(records: list[Any], protocol: Any) -> list[Any]:
    """The protocol's clips of ``records`` with their true landmarks in ``meta["landmarks"]``."""
    from bench.data import prepare_clip

    clips = []
    for record in records:
        path = record.meta.get("landmarks_path")
        if not path:
            raise ValueError(f"{record.utterance_id}: the dataset gives no true landmarks (a landmark table needs synthgrid)")
        clip = prepare_clip(record, protocol)
        landmarks = np.load(path)
        if landmarks.shape != (clip.num_frames, 68, 2) or protocol.crop.mode != "none":
            raise ValueError(f"{record.utterance_id}: true landmarks {landmarks.shape} do not fit the prepared clip")
        clip.meta["landmarks"] = landmarks.astype(np.float32)
        clips.append(clip)
    return clips


def run_method(method: Any, seed: int, train: list[Any], test: list[Any], device: str) -> dict[str, float]:
    """Fit one method with one seed and return its landmark report plus the training wall time."""
    import baselines
    from baselines import Budget

    model = baselines.create(method.name, preset=method.preset, device=device, seed=seed, **method.options)
    if not hasattr(model, "landmark_report"):
        raise ValueError(f"baseline {method.name} has no landmark_report: it cannot be put in a landmark table")
    report = model.fit(train, Budget(method.fit_steps, method.fit_seconds))
    return {**model.landmark_report(test), "train-s": report.seconds}


def _cell(values: list[float]) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "-"
    sd = float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0
    return f"{np.mean(finite):.4g} ± {sd:.2g}"


def reported_rows(path: Path, method: str, protocol: str) -> list[dict[str, Any]]:
    """Entries of ``published.toml`` for ``method`` under ``protocol`` (the paper's own setting)."""
    if not path.is_file():
        return []
    with open(path, "rb") as f:
        data = tomllib.load(f)
    return [e for e in data.get("result", []) if e.get("method") == method and e.get("protocol") == protocol]


def _reported_lines(table: dict[str, Any], published: Path) -> list[str]:
    """The paper's reported rows, as a second Markdown table."""
    reported: dict[str, str] = table.get("reported") or {}
    rows = reported_rows(published, reported["method"], reported["protocol"]) if reported else []
    if not rows:
        return []
    names = list(rows[0]["metrics"])
    lines = ["", f"Reported ({rows[0].get('citation', '')}; protocol {reported['protocol']}):", "",
             "| preset | " + " | ".join(names) + " | notes |", "|---" * (len(names) + 2) + "|"]  # fmt: skip
    for row in rows:
        values = " | ".join(f"{row['metrics'][n]:.4g}" if n in row["metrics"] else "-" for n in names)
        lines.append(f"| {row.get('preset', '')} | {values} | {row.get('notes', '')} |")
    return lines


def _mean_sd(values: list[float]) -> list[str]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return ["", ""]
    return [f"{np.mean(finite):.6g}", f"{np.std(finite, ddof=1) if len(finite) > 1 else 0.0:.3g}"]


def write_tables(results: dict[str, dict[str, list[float]]], table: dict[str, Any], meta: dict[str, Any]) -> list[Path]:
    """Markdown, CSV and JSON of the per-seed results."""
    stem = Path(table["out"])
    stem.parent.mkdir(parents=True, exist_ok=True)
    labels = list(results)
    measures = list(dict.fromkeys(k for r in results.values() for k in r))
    lines = [f"# {table.get('title', 'Landmark regression')}", "", meta["description"], "",
             "| measure | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]  # fmt: skip
    lines += [f"| {m} | " + " | ".join(_cell(results[label].get(m, [])) for label in labels) + " |" for m in measures]
    lines += _reported_lines(table, Path(meta["published"]))
    paths = [stem.with_suffix(".md"), stem.with_suffix(".csv"), stem.with_suffix(".json")]
    paths[0].write_text("\n".join(lines) + "\n")
    with open(paths[1], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["measure", *(f"{label} {part}" for label in labels for part in ("mean", "sd"))])
        for m in measures:
            writer.writerow([m, *(cell for label in labels for cell in _mean_sd(results[label].get(m, [])))])
    paths[2].write_text(json.dumps({**meta, "results": results}, indent=2, default=str) + "\n")
    return paths


def main(argv: list[str] | None = None) -> int:
    """Run the table of a config file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    args = parser.parse_args(argv)
    import torch

    from bench.data import split_records
    from bench.environment import environment
    from bench.protocols import load_protocol
    from bench.run import load_config

    torch.set_num_threads(1)
    config = load_config(args.config)
    with open(args.config, "rb") as f:
        table = tomllib.load(f).get("table", {})
    protocol = load_protocol(config.protocol)
    train = with_landmarks(split_records(protocol, "train", config.data_root), protocol)
    test = with_landmarks(split_records(protocol, "test", config.data_root), protocol)
    seeds = [int(s) for s in table.get("seeds", [config.seed])]
    results: dict[str, dict[str, list[float]]] = {}
    for method in config.methods:
        for seed in seeds:
            report = run_method(method, seed, train, test, config.device)
            print(f"{method.row} seed {seed}: " + ", ".join(f"{k} {v:.4g}" for k, v in report.items()), flush=True)
            for key, value in report.items():
                results.setdefault(method.row, {}).setdefault(key, []).append(float(value))
    meta = {"config": str(args.config), "protocol": protocol.full_id, "seeds": seeds, "published": str(config.published),
            "train_clips": len(train), "test_clips": len(test), "description": table.get("description", ""),
            "methods": [vars(m) for m in config.methods], "environment": environment(config.device, seed=seeds[0])}  # fmt: skip
    for path in write_tables(results, table, meta):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
