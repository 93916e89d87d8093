"""``talkbench run``: fit (or load), adapt, generate and evaluate every method of a benchmark, then tabulate.

Every stage is resumable: a saved model is loaded instead of refitted, a generated video on disk is not
regenerated, and evaluation resumes from its journal. Layout of a benchmark's output directory::

    OUT/reference/<utt>.mkv          preprocessed test clips (the protocol's crop, fps and audio rate)
    OUT/<method>/model/              config.json + model.safetensors
    OUT/<method>/videos/<utt>.mkv    generated test videos (lossless)
    OUT/<method>/eval/               the evaluation run (per_video.csv, summary.json, ...)
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

import baselines
from baselines import Baseline, Budget
from bench.availability import unavailable_metrics
from bench.evaluate import EvalConfig, ItemSpec, evaluate
from bench.leaderboard import build_leaderboard, write_all
from bench.media import Clip, read_clip, write_clip

log = logging.getLogger(__name__)

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


@dataclass
class MethodSpec:
    """One method of a benchmark: a registered baseline, its preset, budgets and config overrides.

    A fit stops at ``fit_steps`` or ``fit_seconds``, whichever comes first; results are reproducible for a seed only
    while the step count binds.
    """

    name: str
    preset: str = "tiny"
    fit_steps: int | None = 500  # steps bind first on an ordinary machine, so a seeded run is reproducible;
    fit_seconds: float | None = 120.0  # the time cap only stops a much slower machine
    adapt_steps: int | None = 20
    adapt_seconds: float | None = 30.0
    options: dict[str, Any] = field(default_factory=dict)
    label: str | None = None

    @property
    def row(self) -> str:
        """The method's name in tables and folders."""
        return self.label or self.name


@dataclass
class BenchmarkConfig:
    """A benchmark: a protocol, the methods to run, where to write, and the metrics (default: the protocol's)."""

    protocol: str
    methods: list[MethodSpec]
    out: Path = Path("runs/benchmark")
    leaderboard: Path | None = None
    published: Path | None = Path("leaderboards/published.toml")
    metrics: list[str] | None = None
    data_root: Path | None = None
    device: str = "cpu"
    seed: int = 0


def load_config(path: str | Path) -> BenchmarkConfig:
    """Read a benchmark TOML file (``[benchmark]`` table and ``[[method]]`` entries)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such benchmark config")
    with open(path, "rb") as f:
        data = tomllib.load(f)
    if "benchmark" not in data or "protocol" not in data["benchmark"]:
        raise ValueError(f"{path}: needs a [benchmark] table with a protocol")
    bench = dict(data["benchmark"])
    methods = [MethodSpec(**m) for m in data.get("method", [])]
    if not methods:
        raise ValueError(f"{path}: lists no [[method]]")
    for key in ("out", "leaderboard", "published", "data_root"):
        if bench.get(key) is not None:
            bench[key] = Path(bench[key])
    return BenchmarkConfig(methods=methods, **bench)


def demo_config(out: Path = Path("runs/synthgrid-demo")) -> BenchmarkConfig:
    """The built-in demo: every registered baseline in its tiny preset (anchors included) on synthgrid."""
    methods = [MethodSpec(name) for name in baselines.available()]
    return BenchmarkConfig("synthgrid-demo", methods, out=out, leaderboard=Path("leaderboards/synthgrid-demo"))


def choose_metrics(requested: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Split metrics into those that can run here and those missing weights (with the command that fetches them)."""
    missing = unavailable_metrics(requested)
    return [m for m in requested if m not in missing], missing


def run_benchmark(config: BenchmarkConfig, progress: bool = True) -> dict[str, Any]:
    """Run every method of ``config``; returns a report with per-method summaries and unavailable metrics."""
    from bench.data import split_records
    from bench.protocols import load_protocol

    protocol = load_protocol(config.protocol)
    metric_names, unavailable = choose_metrics(config.metrics or list(protocol.metrics))
    for name, reason in unavailable.items():
        print(f"metric {name} unavailable: {reason}")
    train = split_records(protocol, "train", config.data_root)
    test = split_records(protocol, "test", config.data_root)
    adapt = split_records(protocol, "adapt", config.data_root) if protocol.few_shot else []
    reference_dir = config.out / "reference"
    references = _write_references(test, protocol, reference_dir, progress)
    eval_dirs = []
    for method in config.methods:
        model = _fit_or_load(method, config, protocol, train, progress)
        videos = config.out / method.row / "videos"
        _generate_all(model, method, config, protocol, test, adapt, references, videos, progress)
        specs = [ItemSpec(r.utterance_id, videos / f"{r.utterance_id}.mkv", references[r.utterance_id],
                          transcript=r.transcript, speaker=r.speaker, dataset=protocol.dataset) for r in test]  # fmt: skip
        eval_config = EvalConfig(
            metric_names, protocol.full_id, protocol.version, protocol.fps, protocol.sample_rate, config.device,
            config.seed, {k: dict(v) for k, v in protocol.metric_options.items() if k in metric_names},
            {"method": method.name, "preset": method.preset}, label=method.row,
        )  # fmt: skip
        eval_dir = config.out / method.row / "eval"
        evaluate(specs, eval_config, eval_dir, resume=(eval_dir / "config.json").exists(), progress=progress)
        eval_dirs.append(eval_dir)
    board = build_leaderboard(protocol.full_id, eval_dirs, config.published, metric_names)
    written = write_all(board, config.leaderboard or config.out / "leaderboard")
    return {"protocol": protocol.full_id, "metrics": metric_names, "unavailable": unavailable, "tables": written}


def _write_references(records: Sequence[Any], protocol: Any, directory: Path, progress: bool) -> dict[str, Path]:
    from bench.data import prepare_clip

    paths = {}
    for record in tqdm(records, desc="reference clips", disable=not progress):
        path = directory / f"{record.utterance_id}.mkv"
        if not path.exists():
            write_clip(path, prepare_clip(record, protocol))
        paths[record.utterance_id] = path
    return paths


def _fit_or_load(method: MethodSpec, config: BenchmarkConfig, protocol: Any, train: Sequence[Any], progress: bool) -> Baseline:
    from bench.data import prepare_clip

    model_dir = config.out / method.row / "model"
    if (model_dir / "config.json").exists() and (model_dir / "model.safetensors").exists():
        return baselines.load(method.name, str(model_dir), device=config.device)
    model = baselines.create(method.name, preset=method.preset, device=config.device, seed=config.seed, **method.options)
    if model.trainable:
        clips = [prepare_clip(r, protocol) for r in tqdm(train, desc=f"{method.row}: training clips", disable=not progress)]
        report = model.fit(clips, Budget(method.fit_steps, method.fit_seconds))
        print(f"{method.row}: fitted {report.steps} steps in {report.seconds:.1f} s")
    model.save(model_dir)
    return model


def _generate_all(
    model: Baseline, method: MethodSpec, config: BenchmarkConfig, protocol: Any, test: Sequence[Any],
    adapt: Sequence[Any], references: dict[str, Path], videos: Path, progress: bool,
) -> None:  # fmt: skip
    from bench.data import prepare_clip

    adapted: dict[str, Baseline] = {}
    for record in tqdm(test, desc=f"{method.row}: generate", disable=not progress):
        path = videos / f"{record.utterance_id}.mkv"
        if path.exists():
            continue
        speaker_model = model
        if protocol.few_shot and model.few_shot:
            if record.speaker not in adapted:
                clips = [prepare_clip(r, protocol) for r in adapt if r.speaker == record.speaker]
                adapted[record.speaker] = copy.deepcopy(model)
                adapted[record.speaker].adapt(clips, Budget(method.adapt_steps, method.adapt_seconds))
            speaker_model = adapted[record.speaker]
        reference: Clip = read_clip(references[record.utterance_id], fps=protocol.fps, sample_rate=protocol.sample_rate)
        if reference.audio is None:
            raise ValueError(f"{references[record.utterance_id]}: reference clip has no audio to drive generation")
        identity = reference.frames[0]  # the protocol's identity image: the test clip's first frame
        clip = speaker_model.generate(identity, reference.audio, reference.sample_rate, protocol.fps, reference=reference)
        write_clip(path, clip)
