"""``talkbench run``: fit (or load), adapt, generate and evaluate every method of a benchmark, then tabulate.

A method with a shipped checkpoint for the protocol (:mod:`bench.checkpoints`) starts from it (SHA-256 verified)
unless ``retrain``; otherwise it is fitted within its budget. Every stage is resumable: a saved model is loaded
instead of refitted, a generated video on disk is not regenerated, and evaluation resumes from its journal. A run
directory made from one model origin refuses to resume from another. Layout of a benchmark's output directory::

    OUT/reference/<utt>.mkv          preprocessed test clips (the protocol's crop, fps and audio rate)
    OUT/<method>/model/              config.json + model.safetensors (fitted), origin.json (where the model came from)
    OUT/<method>/videos/<utt>.mkv    generated test videos (lossless)
    OUT/<method>/eval/               the evaluation run (per_video.csv, summary.json, ...)
    OUT/leaderboard.{md,csv,tex,html} the tables, unless the config names another place (``--publish``)
    OUT/timings.json                 seconds per stage (also printed)
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tqdm import tqdm

import baselines
from baselines import Baseline, Budget
from bench.availability import unavailable_metrics
from bench.checkpoints import CHECKPOINT_DIR, CheckpointError, shipped_checkpoint
from bench.devices import check_device
from bench.evaluate import EvalConfig, ItemSpec, evaluate
from bench.io import read_json, read_toml, write_json_atomic, write_text_atomic
from bench.leaderboard import build_leaderboard, write_all
from bench.media import Clip, read_clip, write_clip
from bench.results import differing
from bench.seeds import check_seed
from bench.threaded import check_threads

log = logging.getLogger(__name__)

DEMO_THREADS = 2  # the demo computes with 2 torch threads on every machine, so that its tables do not depend on cores


@dataclass
class MethodSpec:
    """One method of a benchmark: a registered baseline, its preset, budgets and config overrides.

    A fit stops at ``fit_steps`` or ``fit_seconds``, whichever comes first; results are reproducible for a seed only
    while the step count binds. In a config file an unset ``fit_seconds`` / ``adapt_seconds`` means no time cap.
    """

    name: str
    preset: str = "tiny"
    fit_steps: int | None = 500  # steps bind first on an ordinary machine, so a seeded run is reproducible;
    fit_seconds: float | None = 120.0  # the time cap only stops a much slower machine
    adapt_steps: int | None = 20
    adapt_seconds: float | None = 30.0
    options: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    given: frozenset[str] = field(default=frozenset(), repr=False)  # the keys a config file set (not a key itself)

    @property
    def row(self) -> str:
        """The method's name in tables and folders."""
        return self.label or self.name

    def checkpoint_differences(self, entry: dict[str, Any], seed: int) -> list[str]:
        """How this method asks for another model than the shipped checkpoint ``entry`` (a manifest table) is.

        The method and seed always count; the preset, options and fit steps where the config file set them (the
        demo sets none: it takes the checkpoints as shipped).
        """
        given = {key: getattr(self, key) for key in ("preset", "options", "fit_steps") if key in self.given}
        wanted = {"method": self.name, "seed": seed} | given
        return differing(wanted, entry, wanted, " (config vs checkpoint)")


@dataclass
class BenchmarkConfig:
    """A benchmark: a protocol, the methods to run, where to write, and the metrics (default: the protocol's).

    ``threads``: torch threads while running (None: torch's default); ``retrain``: ignore shipped checkpoints;
    ``checkpoints``: the folder of shipped checkpoints and their manifest.
    """

    protocol: str
    methods: list[MethodSpec]
    out: Path = Path("runs/benchmark")
    leaderboard: Path | None = None
    published: Path | None = Path("leaderboards/published.toml")
    metrics: list[str] | None = None
    data_root: Path | None = None
    device: str = "cpu"
    seed: int = 0
    threads: int | None = None
    retrain: bool = False
    checkpoints: Path = CHECKPOINT_DIR


def load_config(path: str | Path) -> BenchmarkConfig:
    """Read a benchmark TOML file (``[benchmark]`` table and ``[[method]]`` entries)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such benchmark config")
    data = read_toml(path)
    if "benchmark" not in data or "protocol" not in data["benchmark"]:
        raise ValueError(f"{path}: needs a [benchmark] table with a protocol")
    bench = dict(data["benchmark"])
    _check_keys(path, "[benchmark]", bench, {f.name for f in fields(BenchmarkConfig)} - {"methods"})
    method_keys = {f.name for f in fields(MethodSpec)} - {"given"}
    for entry in data.get("method", []):
        _check_keys(path, f"[[method]] {entry.get('name', '(no name)')}", entry, method_keys)
    unset = {"fit_seconds": None, "adapt_seconds": None}  # in a file, an unset time cap is none
    methods = [MethodSpec(**{**unset, **m}, given=frozenset(m)) for m in data.get("method", [])]
    if not methods:
        raise ValueError(f"{path}: lists no [[method]]")
    try:
        check_seed(bench.get("seed", 0))
        if bench.get("threads") is not None:
            check_threads(bench["threads"], workers=1)
    except ValueError as exc:
        raise ValueError(f"{path}: [benchmark] {exc}") from None
    for method in methods:  # a typo in a preset, an option or a budget fails now, not after the methods before it ran
        try:
            method_class: type[baselines.Baseline] = baselines.REGISTRY.entry(method.name).resolve()
            method_class.check_config(method.preset, method.options)
            for stage in ("fit", "adapt"):
                try:
                    baselines.Budget(steps=getattr(method, f"{stage}_steps"), seconds=getattr(method, f"{stage}_seconds"))
                except ValueError as exc:
                    raise ValueError(f"{stage}_steps / {stage}_seconds: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            message = str(exc.args[0] if exc.args else exc).removeprefix(f"{method.name}: ")
            raise ValueError(f"{path}: [[method]] {method.row}: {message}") from None
    rows = [m.row for m in methods]
    if len(set(rows)) != len(rows):
        raise ValueError(f"{path}: two [[method]] entries share a row name (give one a label)")
    for key in ("out", "leaderboard", "published", "data_root", "checkpoints"):
        if bench.get(key) is not None:
            bench[key] = Path(bench[key])
    return BenchmarkConfig(methods=methods, **bench)


def _check_keys(path: Path, table: str, entry: dict[str, Any], known: set[str]) -> None:
    """Refuse keys a config table does not have (a misspelt ``fit_step`` would otherwise be lost or crash later)."""
    unknown = sorted(set(entry) - known)
    if unknown:
        raise ValueError(f"{path}: {table} has no key(s) {', '.join(unknown)}; keys: {', '.join(sorted(known))}")


def demo_config(out: Path | None = None, retrain: bool = False) -> BenchmarkConfig:
    """The built-in demo: every registered baseline (anchors included) on synthgrid.

    Methods start from their shipped checkpoints (few-shot ones still adapt, 20 steps); with ``retrain`` they fit
    their tiny preset from scratch (500 steps, capped at 120 s) in a separate default run folder.
    """
    methods = [MethodSpec(name, adapt_seconds=None) for name in baselines.available()]
    out = out or Path("runs/synthgrid-demo-retrain" if retrain else "runs/synthgrid-demo")
    return BenchmarkConfig("synthgrid-demo", methods, out=out, threads=DEMO_THREADS, retrain=retrain)


def choose_metrics(requested: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Split metrics into those that can run here and those missing weights (with the command that fetches them)."""
    missing = unavailable_metrics(requested)
    return [m for m in requested if m not in missing], missing


class StageClock:
    """Wall seconds per named stage, in the order the stages ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as stage ``name`` (added to the stage's total)."""
        start = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.monotonic() - start


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch threads (None: unchanged), restoring the previous count."""
    import torch

    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def run_benchmark(config: BenchmarkConfig, progress: bool = True, publish: bool = False) -> dict[str, Any]:
    """Run every method of ``config``; returns a report of what was done and what could not be.

    The report: unavailable metrics, tables, model origins, timings, and ``not_fully_scored``: for each row with
    videos that failed or were scored by only some metrics, their count, the total and the run's ``per_video.csv``.

    The tables go to ``config.leaderboard`` (``publish``: the command says so) or ``OUT/leaderboard``, with a
    ``.provenance.json`` beside them; their bytes depend only on the code, checkpoints, data and machine.
    """
    with torch_threads(config.threads):
        return _run(config, progress)


def _run(config: BenchmarkConfig, progress: bool) -> dict[str, Any]:
    from bench.data import split_records
    from bench.protocols import load_protocol

    check_device(config.device)
    clock = StageClock()
    protocol = load_protocol(config.protocol)
    metric_names, unavailable = choose_metrics(config.metrics or list(protocol.metrics))
    for name, reason in unavailable.items():
        print(f"metric {name} unavailable: {reason}")
    with clock.stage("data: splits and reference clips"):
        train = split_records(protocol, "train", config.data_root)
        test = split_records(protocol, "test", config.data_root)
        adapt = split_records(protocol, "adapt", config.data_root) if protocol.few_shot else []
        references = _write_references(test, protocol, config.out / "reference", progress)
    eval_dirs, origins, not_fully_scored = [], {}, {}
    for method in config.methods:
        with clock.stage(f"{method.row}: model"):
            model, origins[method.row] = _fit_or_load(method, config, protocol, train, progress)
        videos = config.out / method.row / "videos"
        _generate_all(model, method, protocol, test, adapt, references, videos, progress, clock)
        specs = [ItemSpec(r.utterance_id, videos / f"{r.utterance_id}.mkv", references[r.utterance_id],
                          transcript=r.transcript, speaker=r.speaker, dataset=protocol.dataset) for r in test]  # fmt: skip
        meta = {"method": method.name, "preset": model.preset, "model_origin": json.dumps(origins[method.row], sort_keys=True)}
        eval_config = EvalConfig.from_protocol(protocol, {"metrics": metric_names}, device=config.device,
                                               seed=config.seed, label=method.row, inputs=meta)  # fmt: skip
        eval_dir = config.out / method.row / "eval"
        with clock.stage(f"{method.row}: evaluate"):
            summary = evaluate(specs, eval_config, eval_dir, resume=(eval_dir / "config.json").exists(), progress=progress)
        eval_dirs.append(eval_dir)
        counts = summary["counts"]
        if counts["videos"] > counts["ok"]:
            not_fully_scored[method.row] = (counts["videos"] - counts["ok"], counts["videos"], eval_dir / "per_video.csv")
    with clock.stage("tables"):
        stamp = EvalConfig.from_protocol(protocol, {"metrics": metric_names}).protocol or protocol.full_id  # +custom
        board = build_leaderboard(stamp, eval_dirs, config.published, metric_names)
        for row in board.rows:  # sources relative to the run folder: the same tables whatever --out is
            if row.kind == "reproduced":
                row.source = Path(row.source).relative_to(config.out).as_posix()
        stem = config.leaderboard or config.out / "leaderboard"
        written = write_all(board, stem) + [write_provenance(stem, protocol.full_id, origins)]
    write_json_atomic(config.out / "timings.json", clock.seconds)
    return {"protocol": protocol.full_id, "metrics": metric_names, "unavailable": unavailable, "tables": written,
            "origins": origins, "timings": clock.seconds, "not_fully_scored": not_fully_scored}  # fmt: skip


def write_provenance(stem: Path, protocol: str, origins: dict[str, dict[str, Any]]) -> Path:
    """``STEM.provenance.json``: where the tables were computed; the Markdown table names the machine in its footer."""
    import platform

    import torch

    from bench.checkpoints import machine
    from bench.environment import git_commit, package_versions

    record = {
        "protocol": protocol, "machine": machine(), "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(), "packages": package_versions(), "git_commit": git_commit(), "models": origins,
        "tolerance": "byte-identical tables on the same machine; elsewhere PSNR, SSIM and FDBM within 0.5% relative "
                     "(tests/harness/test_demo_tables.py), while the face and sync columns of generated rows move more "
                     "(measured on another CPU: CPBD 2.6%, mouth-sync 1.5%, LMD 0.5%, ACD 0.0013, blink rate and "
                     "mouth offset by a step), since CPU kernels of another instruction set change a few pixels",
    }  # fmt: skip
    path = Path(f"{stem}.provenance.json")
    write_json_atomic(path, record)
    markdown = Path(f"{stem}.md")
    if markdown.is_file():
        note = f"Computed on {record['machine']} with {record['torch_threads']} torch threads; see {path.name}.\n"
        write_text_atomic(markdown, markdown.read_text() + note)
    return path


def _write_references(records: Sequence[Any], protocol: Any, directory: Path, progress: bool) -> dict[str, Path]:
    from bench.data import prepare_clip

    paths = {}
    for record in tqdm(records, desc="reference clips", disable=not progress):
        path = directory / f"{record.utterance_id}.mkv"
        if not path.exists():
            write_clip(path, prepare_clip(record, protocol))
        paths[record.utterance_id] = path
    return paths


def training_clips(train: Sequence[Any], protocol: Any, row: str, progress: bool) -> list[Clip]:
    """The protocol's training clips, preprocessed (from the cache when there)."""
    from bench.data import prepare_clip

    return [prepare_clip(r, protocol) for r in tqdm(train, desc=f"{row}: training clips", disable=not progress)]


def _fit_or_load(
    method: MethodSpec, config: BenchmarkConfig, protocol: Any, train: Sequence[Any], progress: bool
) -> tuple[Baseline, dict[str, Any]]:
    """The method's model and where it came from (a shipped checkpoint, a fit, or no training at all)."""
    model_dir = config.out / method.row / "model"
    shipped = None if config.retrain else shipped_checkpoint(method.row, protocol.name, config.checkpoints)
    if shipped is not None and (differences := method.checkpoint_differences(shipped[1], config.seed)):
        print(f"{method.row}: not the shipped checkpoint ({'; '.join(differences)}): fitting as the config says")
        shipped = None
    if shipped is not None:
        folder, entry = shipped
        origin: dict[str, Any] = {"source": "shipped checkpoint", "sha256": entry["sha256"], "steps": entry["steps"]}
        _claim_origin(model_dir, origin)
        print(f"{method.row}: shipped checkpoint {entry['sha256'][:12]} ({entry['steps']} steps)")
        try:
            return baselines.load(method.name, str(folder), device=config.device), origin
        except ValueError as exc:  # the method's code changed since the checkpoint was trained
            raise CheckpointError(f"{folder}: does not load ({exc}); retrain it with `{entry['command']}`") from None
    if _read_origin(model_dir).get("source") == "shipped checkpoint":
        raise ValueError(f"{model_dir.parent}: made from a shipped checkpoint; use another --out to fit from scratch")
    if (model_dir / "config.json").exists() and (model_dir / "model.safetensors").exists():
        return baselines.load(method.name, str(model_dir), device=config.device), _read_origin(model_dir)
    model = baselines.create(method.name, preset=method.preset, device=config.device, seed=config.seed, **method.options)
    origin = {"source": "no training"}
    if model.trainable:
        report = model.fit(training_clips(train, protocol, method.row, progress), Budget(method.fit_steps, method.fit_seconds))
        time_bound = method.fit_steps is None or report.steps < method.fit_steps
        origin = {"source": "fit", "steps": report.steps, "time_bound": time_bound}
        note = " (the time cap bound: not reproducible)" if time_bound else ""
        print(f"{method.row}: fitted {report.steps} steps in {report.seconds:.1f} s{note}")
    _claim_origin(model_dir, origin)
    model.save(model_dir)
    return model, origin


def _read_origin(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "origin.json"
    return read_json(path) if path.is_file() else {}


def _claim_origin(model_dir: Path, origin: dict[str, Any]) -> None:
    """Record where the run folder's model came from.

    A shipped checkpoint that changed since the folder was made (another SHA-256) makes its videos and evaluation
    stale: they are removed, with a note, and made again. A folder made by another kind of model is refused.
    """
    import shutil

    previous = _read_origin(model_dir)
    if previous and previous.get("source") != origin["source"]:
        raise ValueError(f"{model_dir.parent}: its videos come from {previous}, not {origin}; use another --out")
    if previous and previous.get("sha256") != origin.get("sha256"):
        print(f"{model_dir.parent.name}: the shipped checkpoint changed since {model_dir.parent} was made; "
              "its videos and evaluation are made again")  # fmt: skip
        for stale in ("videos", "eval"):
            shutil.rmtree(model_dir.parent / stale, ignore_errors=True)
    write_json_atomic(model_dir / "origin.json", origin)


def _generate_all(
    model: Baseline, method: MethodSpec, protocol: Any, test: Sequence[Any], adapt: Sequence[Any],
    references: dict[str, Path], videos: Path, progress: bool, clock: StageClock,
) -> None:  # fmt: skip
    from bench.data import prepare_clip

    adapted: dict[str, Baseline] = {}
    for record in tqdm(test, desc=f"{method.row}: generate", disable=not progress):
        path = videos / f"{record.utterance_id}.mkv"
        if path.exists():
            continue
        speaker_model = model
        if protocol.few_shot and model.adapts:
            if record.speaker not in adapted:
                with clock.stage(f"{method.row}: adapt"):
                    clips = [prepare_clip(r, protocol) for r in adapt if r.speaker == record.speaker]
                    adapted[record.speaker] = copy.deepcopy(model)
                    adapted[record.speaker].adapt(clips, Budget(method.adapt_steps, method.adapt_seconds))
            speaker_model = adapted[record.speaker]
        with clock.stage(f"{method.row}: generate"):
            reference: Clip = read_clip(references[record.utterance_id], fps=protocol.fps, sample_rate=protocol.sample_rate)
            if reference.audio is None:
                raise ValueError(f"{references[record.utterance_id]}: reference clip has no audio to drive generation")
            identity = reference.frames[0]  # the protocol's identity image: the test clip's first frame
            clip = speaker_model.generate(identity, reference.audio, reference.sample_rate, protocol.fps, reference=reference)
            write_clip(path, clip)
