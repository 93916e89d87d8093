"""Evaluate any method's videos: pair them with references, run the metrics once per clip, store every video.

``evaluate`` is the engine behind ``talkbench evaluate`` and ``talkbench run``; :class:`Evaluator` is the same
without a run directory, for use inside training loops.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import metrics as metric_registry
from bench.data.folder import VIDEO_SUFFIXES, visible_files
from bench.distributed import World, barrier, gather_objects, reduce_set_metrics
from bench.media import Clip, MediaError, read_clip
from bench.results import RunStore, Status, VideoRow, journal_name
from bench.seeds import check_seed
from bench.stats import aggregate
from metrics import Item, Kind, Metric, MetricError, Need, Score, SetMetric

if TYPE_CHECKING:
    from bench.protocols import Protocol


IDENTITY_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", *VIDEO_SUFFIXES)
"""What ``pair_directories`` takes for an identity image: image files, or videos (their first frame)."""


@dataclass
class ItemSpec:
    """Where one evaluation item comes from; loaded lazily so that memory stays flat over many videos.

    Attributes:
        video: utterance id: the pairing key and the row name.
        generated: the generated video (None records the video as missing).
        reference: the ground-truth video.
        identity: an identity image file, or None to use the reference's first frame.
        transcript, speaker, dataset: carried into the item.
    """

    video: str
    generated: Path | None
    reference: Path | None = None
    identity: Path | None = None
    transcript: str | None = None
    speaker: str = ""
    dataset: str = ""

    def load(self, config: EvalConfig) -> Item:
        """Read the clips at the config's fps and audio rate and hold them to its protocol (see :func:`conform`).

        The driving audio is the generated video's own soundtrack, as syncnet_python reads the file it scores (a
        dubbed video named after its identity video keeps the audio its lips follow); the reference's when the
        generated file has none, or only digital silence (a placeholder track no method was driven by).
        """
        if self.generated is None:
            raise MediaError(f"{self.video}: no generated video for this utterance")
        generated = conform(read_clip(self.generated, fps=config.fps, sample_rate=config.sample_rate), config)
        reference = None
        if self.reference:
            reference = conform(read_clip(self.reference, fps=config.fps, sample_rate=config.sample_rate), config)
        identity = _read_identity(self.identity) if self.identity else None
        if identity is None and reference is not None:
            identity = reference.frames[0]
        silent = generated.audio is None or not np.any(generated.audio)
        audio_source = reference if silent and reference is not None and reference.audio is not None else generated
        return Item(
            generated, reference, identity=identity, audio=audio_source.audio, sample_rate=audio_source.sample_rate,
            transcript=self.transcript, video_id=self.video, speaker=self.speaker, dataset=self.dataset,
        )  # fmt: skip


def pair_directories(
    generated: str | Path,
    reference: str | Path | None = None,
    transcripts: Mapping[str, str] | None = None,
    identity: str | Path | None = None,
    dataset: str = "",
) -> list[ItemSpec]:
    """Pair generated and reference videos by relative path without extension; every file of either side gets a spec.

    Videos in subfolders are keyed ``speaker/utterance`` and their first folder is taken as the speaker. ``identity``
    is a folder of the images (or videos: their first frame) each video was generated from, named alike; without it,
    a video's identity image is its reference's first frame. ``dataset`` names the corpus every video comes from
    (``grid``), for metrics bound to one (LipNet's WER).

    Raises:
        FileNotFoundError: a directory is missing.
        ValueError: a directory holds no video, two files share an utterance id, no generated video has a
            reference of its name (the two folders are laid out differently) or a transcript of its id, or a
            generated video has no identity image in ``identity``.
    """
    gen = _files_by_id(Path(generated), VIDEO_SUFFIXES, "video")
    ref = _files_by_id(Path(reference), VIDEO_SUFFIXES, "video") if reference is not None else {}
    if reference is not None and ref and not set(gen) & set(ref):  # e.g. references in speaker folders, generated flat
        hint = f" (a talkbench data export: pass {Path(reference) / 'reference'})" if _is_export(reference) else ""
        raise ValueError(
            f"no generated video has a reference of the same name: {generated} holds {_examples(gen)}, {reference} "
            f"holds {_examples(ref)}; videos pair by their path below each folder, without the extension{hint}"
        )
    if transcripts and not set(transcripts) & set(gen):  # e.g. keyed by utterance, videos in speaker folders
        raise ValueError(
            f"no transcript has the id of a generated video: the transcripts name {_examples(transcripts, 'transcripts')}, "
            f"{generated} holds {_examples(gen)}; a video's id is its path below the folder, without the extension"
        )
    faces = _files_by_id(Path(identity), IDENTITY_SUFFIXES, "identity image") if identity is not None else {}
    lacking = {i: p for i, p in gen.items() if i not in faces} if identity is not None else {}
    if lacking:  # falling back to the reference's frame would mix two kinds of identity
        raise ValueError(
            f"{len(lacking)} of {len(gen)} generated videos have no identity image of the same name in {identity}: "
            f"{_examples(lacking)}; {identity} holds {_examples(faces, 'images')}"
        )
    transcripts = transcripts or {}
    ids = sorted(set(gen) | set(ref))
    return [
        ItemSpec(i, gen.get(i), ref.get(i), faces.get(i), transcripts.get(i), _speaker(i), dataset) for i in ids
    ]


def _is_export(folder: str | Path) -> bool:
    """Whether ``folder`` is the root of a ``talkbench data export`` (its references are one level down)."""
    return (Path(folder) / "export.json").is_file() and (Path(folder) / "reference").is_dir()


def _examples(files: Collection[str], kind: str = "videos") -> str:
    """The first two of ``files`` (ids) for a message: ``'s1/bbaf2n', 's1/bbaf3s', ... (34 videos)``."""
    shown = ", ".join(repr(v) for v in sorted(files)[:2])
    return f"{shown}, ... ({len(files)} {kind})" if len(files) > 2 else shown


def _speaker(video: str) -> str:
    """Videos in per-speaker subfolders (``s1/bbaf2n``) belong to that speaker, for per-speaker breakdowns."""
    return video.split("/", 1)[0] if "/" in video else ""


def _files_by_id(directory: Path, suffixes: Sequence[str], kind: str) -> dict[str, Path]:
    """The files of ``directory`` with one of ``suffixes`` (hidden ones aside), keyed by their path without extension."""
    if directory.is_file():
        raise NotADirectoryError(f"{directory}: a file; give the folder of {kind}s (named <utterance id>.<ext>)")
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such directory")
    found: dict[str, Path] = {}
    for path in visible_files(directory, suffixes):
        key = path.relative_to(directory).with_suffix("").as_posix()
        if key in found:
            raise ValueError(f"{directory}: two {kind}s for utterance {key!r}: {found[key].name} and {path.name}")
        found[key] = path
    if not found:
        raise ValueError(f"{directory}: holds no {kind} ({', '.join(suffixes)})")
    return found


def _read_identity(path: Path) -> np.ndarray:
    """The identity image as uint8 RGB ``[H, W, 3]``: an image file, or a video's first frame.

    Raises:
        MediaError: the file cannot be read as an image, or is not 8-bit grey, RGB or RGBA.
    """
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return read_clip(path).frames[0]
    from skimage import io as skio

    try:
        image = skio.imread(path)
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow reports a damaged PNG as SyntaxError
        raise MediaError(f"{path}: not a readable identity image ({type(exc).__name__}: {exc})") from None
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise MediaError(f"{path}: identity image must be 8-bit grey, RGB or RGBA, got {image.dtype} {image.shape}")
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


class Evaluator:
    """Scores items with a fixed set of metrics; per-item rows now, set-level values at the end.

    Example:
        >>> import numpy as np
        >>> from bench.media import Clip
        >>> ev = Evaluator(["psnr"])
        >>> clip = Clip(np.full((4, 32, 32, 3), 100, np.uint8))
        >>> row = ev.add(Item(clip, clip.with_frames(clip.frames + 1), video_id="u1"))
        >>> round(row.values["psnr"], 2)
        48.13
    """

    def __init__(self, metric_names: Sequence[str], device: str = "cpu", options: Mapping[str, dict] | None = None) -> None:
        options = options or {}
        self.metrics: dict[str, Metric] = {name: _create(name, device, options.get(name, {})) for name in metric_names}
        self.item_metrics = {n: m for n, m in self.metrics.items() if m.kind is Kind.ITEM}
        self.set_metrics: dict[str, SetMetric] = {
            n: m for n, m in self.metrics.items() if isinstance(m, SetMetric)
        }
        self.set_frames: dict[str, int] = {name: 0 for name in self.set_metrics}
        self.set_skipped: dict[str, int] = {}  # videos each set-level metric had to leave out

    def add(self, item: Item) -> VideoRow:
        """Score one item with every per-item metric and feed it to the set-level ones."""
        scores = {name: metric(item) for name, metric in self.item_metrics.items()}
        return self.row(item, scores, self.update_sets(item))

    def row(self, item: Item, scores: Mapping[str, Score], left_out: Sequence[str]) -> VideoRow:
        """The row of an item from its per-item scores (in metric order) and the set-level metrics' reasons."""
        values: dict[str, float] = {}
        frames: dict[str, int] = {}
        extras: dict[str, float] = {}
        reasons: list[str] = []
        for name, score in scores.items():
            values[name], frames[name] = score.value, score.frames
            extras.update(score.extras)
            if not score.ok:
                reasons.append(f"{name}: {score.reason}")
        reasons += left_out
        extras.update(converted_rates(item))
        return make_row(item.video_id, item.speaker, values, frames, extras, reasons, len(self.metrics))

    def update_sets(self, item: Item) -> list[str]:
        """Feed one item to the set-level metrics; returns why a metric left it out (e.g. no face, no reference)."""
        left_out = []
        for name, metric in self.set_metrics.items():
            try:
                self.set_frames[name] += metric.update(item)
            except MetricError as exc:
                self.set_skipped[name] = self.set_skipped.get(name, 0) + 1
                left_out.append(f"{name}: {exc}")
        return left_out

    def set_results(self) -> dict[str, dict[str, Any]]:
        """The set-level metrics' values."""
        results = {}
        for name, metric in self.set_metrics.items():
            score = metric.compute().nan_as_failure(name)
            results[name] = {
                "value": None if math.isnan(score.value) else score.value, "frames": score.frames,
                "status": score.status, "reason": score.reason, "higher_is_better": metric.higher_is_better,
                "videos_left_out": self.set_skipped.get(name, 0),
            }  # fmt: skip
        return results


def _create(name: str, device: str, options: Mapping[str, Any]) -> Metric:
    """The metric ``name`` with the run's options; an option it does not take is the user's error, said as such."""
    try:
        return metric_registry.create(name, device=device, **options)
    except TypeError as exc:  # the registry's "has no option(s) ..."
        raise ValueError(f"metric options of {name!r}: {exc}") from None


def converted_rates(item: Item) -> dict[str, float]:
    """``source_fps_generated`` / ``source_fps_reference``: a video's own frame rate where it was read at another.

    Reading converts by timestamps (the nearest earlier frame), as syncnet_python re-encodes to 25 fps; the row
    records that it happened, so a 30 fps method's table is not read as if its frames were its own.
    """
    clips = (("generated", item.generated), ("reference", item.reference))
    rates = {side: clip.meta.get("source_fps") for side, clip in clips if clip is not None}
    return {f"source_fps_{side}": float(fps) for side, fps in rates.items() if fps and abs(fps - item.generated.fps) > 1e-3}


def make_row(
    video: str, speaker: str, values: dict[str, float], frames: dict[str, int], extras: dict[str, float],
    reasons: list[str], total: int,
) -> VideoRow:  # fmt: skip
    """A row: ``ok`` when no metric failed, ``failed`` when all ``total`` did, else ``partial``; one reason each."""
    status: Status = "ok" if not reasons else ("failed" if len(reasons) >= total else "partial")
    return VideoRow(video, status, "; ".join(reasons), speaker, values, frames, extras)


def failed_row(spec: ItemSpec, metric_names: Iterable[str], reason: str) -> VideoRow:
    """The row of a video that could not even be loaded: every metric NaN, one reason."""
    names = list(metric_names)
    return VideoRow(spec.video, "failed", reason, spec.speaker, {n: math.nan for n in names}, {n: 0 for n in names})


@dataclass
class EvalConfig:
    """Options of one evaluation run (recorded in ``config.json``); build it from a protocol with :meth:`from_protocol`.

    Attributes:
        metrics: the metrics to run.
        protocol: the id results are stamped with: ``name-vN``, or ``name-vN+custom`` when an override changes numbers.
        protocol_version: the protocol's version.
        fps, sample_rate: every clip is read at these rates.
        device, seed: where metrics run; the seed of bootstraps and sampled statistics.
        metric_options: per-metric options (the protocol's, with overrides on top).
        inputs: where the videos came from, and what made them.
        label: the method's name in leaderboards.
        crop: the protocol's frame contract ``{"mode", "size", "min_coverage"}``, or None to take frames as read.
        length_policy: ``video``, ``min`` or ``none``: how a clip's audio is held to its frames.
        aggregation: ``mean-over-videos`` or ``mean-over-speakers``: how the summary averages.
        overrides: what differs from the protocol and moves numbers (empty for the protocol as published).
    """

    metrics: list[str]
    protocol: str | None = None
    protocol_version: int | None = None
    fps: float = 25.0
    sample_rate: int = 16000
    device: str = "cpu"
    seed: int = 0
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    label: str | None = None
    crop: dict[str, Any] | None = None
    length_policy: str = "none"
    aggregation: str = "mean-over-videos"
    overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse a setting that would fail only after every video was scored (the seed feeds the summary)."""
        from bench.protocols import AGGREGATIONS, LENGTH_POLICIES

        check_seed(self.seed)
        if self.length_policy not in LENGTH_POLICIES:
            raise ValueError(f"unknown length policy {self.length_policy!r}; choose {', '.join(LENGTH_POLICIES)}")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation {self.aggregation!r}; choose {', '.join(AGGREGATIONS)}")

    @classmethod
    def from_protocol(
        cls, protocol: Protocol | str, overrides: Mapping[str, Any] | None = None, *, device: str = "cpu", seed: int = 0,
        label: str | None = None, inputs: Mapping[str, str] | None = None,
    ) -> EvalConfig:  # fmt: skip
        """The one way a protocol configures an evaluation (``talkbench evaluate``, ``talkbench run``, the API).

        ``overrides`` may set ``metrics``, ``metric_options`` (merged over the protocol's), ``fps``,
        ``sample_rate``, ``crop``, ``length_policy`` and ``aggregation``. Running a subset of the protocol's metrics
        changes no number; anything else that differs from the protocol is recorded in :attr:`overrides` and the
        results are stamped ``name-vN+custom``, never with the bare id.
        """
        from bench.protocols import load_protocol

        proto = load_protocol(protocol) if isinstance(protocol, str) else protocol
        wanted = dict(overrides or {})
        unknown = set(wanted) - {"metrics", "metric_options", "fps", "sample_rate", "crop", "length_policy", "aggregation"}
        if unknown:
            raise ValueError(f"unknown protocol overrides {sorted(unknown)} for {proto.full_id}")
        base: dict[str, Any] = {
            "fps": proto.fps, "sample_rate": proto.sample_rate, "length_policy": proto.length_policy,
            "aggregation": proto.aggregation,
            "crop": {"mode": proto.crop.mode, "size": proto.crop.size, "min_coverage": proto.crop.min_coverage},
        }  # fmt: skip
        changed = {k: v for k, v in wanted.items() if k in base and v != base[k]}
        metric_list = list(wanted.get("metrics") or proto.metrics)
        extra = [m for m in metric_list if m not in proto.metrics]
        if extra:
            changed["metrics"] = extra
        options = {k: dict(v) for k, v in proto.metric_options.items() if k in metric_list}
        for name, opts in (wanted.get("metric_options") or {}).items():
            merged = {**options.get(name, {}), **opts}
            if merged != options.get(name, {}):
                changed.setdefault("metric_options", {})[name] = opts
            options[name] = merged
        stamp = proto.full_id + ("+custom" if changed else "")
        return cls(metrics=metric_list, protocol=stamp, protocol_version=proto.version, device=device, seed=seed,
                   metric_options=options, inputs=dict(inputs or {}), label=label, overrides=changed,
                   **{**base, **{k: v for k, v in wanted.items() if k in base}})  # fmt: skip


def conform(clip: Clip, config: EvalConfig) -> Clip:
    """Hold a clip to the protocol: its frame size and crop, and its length policy.

    Frames already at the protocol's size are taken as they are (the protocol's own preprocessed space); otherwise
    ``full-frame`` and ``aligned-face`` crops are applied as in preprocessing, and crop mode ``none`` refuses the
    clip with a :class:`~bench.media.MediaError` naming the file and the expected size.
    """
    from bench.data.prepare import apply_crop_spec, apply_length_policy

    crop = config.crop
    if crop is not None and crop.get("size") and clip.size != (crop["size"], crop["size"]):
        try:
            clip, _ = apply_crop_spec(clip, crop["mode"], crop["size"], crop.get("min_coverage", 0.9), config.protocol)
        except ValueError as exc:  # wrong size under crop mode none, or too few faces for an aligned crop
            raise MediaError(str(exc)) from exc
    try:
        return apply_length_policy(clip, config.length_policy)
    except ValueError as exc:
        raise MediaError(str(exc)) from exc


def iter_rows(
    specs: Sequence[ItemSpec], evaluator: Evaluator, config: EvalConfig, done: Mapping[str, VideoRow], workers: int = 1,
    threads: int = 1,
) -> Iterator[tuple[ItemSpec, VideoRow, bool]]:  # fmt: skip
    """Yield ``(spec, row, new)`` for every spec, in order; finished videos are not recomputed.

    With ``workers`` > 1 the videos are scored in that many worker processes (:func:`bench.parallel.parallel_rows`),
    with ``threads`` > 1 in this process with decoding and metrics overlapping (:func:`bench.threaded.threaded_rows`);
    either way the rows, and so the journal, come back in input order, and every value equals the sequential one.
    """
    todo = [spec for spec in specs if spec.video not in done]
    if workers > 1 and len(todo) > 1:
        from bench.parallel import parallel_rows

        rows = parallel_rows(todo, evaluator, config, workers)
    elif threads > 1 and todo:
        from bench.threaded import threaded_rows

        rows = threaded_rows(todo, evaluator, config, threads)
    else:
        rows = (score_spec(spec, evaluator, config) for spec in todo)
    for spec in specs:
        if spec.video in done:
            yield spec, done[spec.video], False
        else:
            yield spec, next(rows), True


def score_spec(spec: ItemSpec, evaluator: Evaluator, config: EvalConfig) -> VideoRow:
    """Load one video and score it; a video that cannot be loaded gives a failed row with the reason."""
    item = load_or_reason(spec, config)
    if isinstance(item, str):
        return failed_row(spec, list(evaluator.item_metrics), item)
    return evaluator.add(item)


def load_or_reason(spec: ItemSpec, config: EvalConfig) -> Item | str:
    """The spec's item, or why it cannot be loaded (the reason its failed row gives)."""
    try:
        return spec.load(config)
    except (MediaError, FileNotFoundError) as exc:
        return str(exc)


def summarize(rows: Sequence[VideoRow], evaluator: Evaluator, config: EvalConfig) -> dict[str, Any]:
    """The ``summary.json`` block: counts, per-metric aggregates, per-speaker means, set-level values.

    Each metric's aggregate has ``n`` and ``total`` in the aggregation's units (videos, or speakers under
    ``mean-over-speakers``) and ``videos``, the number of videos it scored, whatever the aggregation.
    """
    counts = {"videos": len(rows), **{s: sum(r.status == s for r in rows) for s in ("ok", "partial", "failed")}}
    per_metric, per_speaker = {}, {}
    for name, metric in evaluator.item_metrics.items():
        agg = aggregate(_units(rows, name, config.aggregation), seed=config.seed)
        videos = sum(not math.isnan(r.values.get(name, math.nan)) for r in rows)  # n counts speakers under their mean
        per_metric[name] = {**_nan_to_none(agg.as_dict()), "videos": videos, "higher_is_better": metric.higher_is_better}
    for speaker in sorted({r.speaker for r in rows if r.speaker}):
        mine = [r for r in rows if r.speaker == speaker]
        per_speaker[speaker] = {
            name: _nan_to_none(aggregate([r.values.get(name, math.nan) for r in mine], seed=config.seed).as_dict())
            for name in evaluator.item_metrics
        }
    return {
        "protocol": {"id": config.protocol, "version": config.protocol_version, "overrides": config.overrides},
        "aggregation": config.aggregation,
        "counts": counts,
        "metrics": per_metric,
        "set_metrics": evaluator.set_results(),
        "per_speaker": per_speaker,
    }


def _units(rows: Sequence[VideoRow], name: str, aggregation: str) -> list[float]:
    """The values the summary averages: one per video, or one per speaker (the mean of its videos' values).

    Under ``mean-over-speakers`` a row without a speaker counts as a speaker of its own; a speaker whose videos all
    failed the metric gives NaN, which the aggregate counts as missing like a failed video.
    """
    if aggregation == "mean-over-videos":
        return [r.values.get(name, math.nan) for r in rows]
    if aggregation != "mean-over-speakers":
        raise ValueError(f"unknown aggregation {aggregation!r}; choose mean-over-videos or mean-over-speakers")
    groups: dict[str, list[float]] = {}
    for r in rows:
        groups.setdefault(r.speaker or f"video:{r.video}", []).append(r.values.get(name, math.nan))
    means = []
    for values in groups.values():
        finite = [v for v in values if not math.isnan(v)]
        means.append(float(np.mean(finite)) if finite else math.nan)
    return means


def _nan_to_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in data.items()}


def evaluate(
    specs: Sequence[ItemSpec],
    config: EvalConfig,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    world: World | None = None,
    workers: int = 1,
    threads: int = 1,
) -> dict[str, Any]:
    """Score every spec with ``config.metrics`` and store the run in ``out``; returns the summary.

    Every spec appears in ``per_video.csv``: scored, or failed with its reason. With ``resume`` a killed run continues
    from its journal; set-level metrics are re-fed only the finished videos that their checkpoint lacks. Under
    ``torchrun`` (``world`` from :func:`bench.distributed.init_from_env`) each rank scores its shard and rank 0 writes.
    ``workers`` > 1 scores videos in that many processes on this machine (per-item metrics only); the parent
    journals every row as it arrives, in input order, so resume and the atomic outputs behave as in one process.
    ``threads`` > 1 overlaps decoding and the metrics in this process (:mod:`bench.threaded`; the command line's
    default is :func:`bench.threaded.default_threads`), with the same values and the same journal.

    Raises:
        ValueError: ``workers`` or ``threads`` below 1, both above 1, or ``workers`` above 1 together with set-level
            metrics or under ``torchrun``; a metric needs an input that none of the specs has (:func:`check_inputs`);
            two specs share a video id.
    """
    from tqdm import tqdm

    from bench.availability import weight_hashes
    from bench.environment import environment
    from bench.run_state import SetCheckpoint

    world = world or World()
    if threads != 1:
        from bench.threaded import check_threads

        check_threads(threads, workers)
    if workers != 1:
        from bench.parallel import check_workers

        check_workers(workers, world, config)
    suffix = f".rank{world.rank}" if world.size > 1 else ""
    store = RunStore(out, journal_name=journal_name(suffix))
    repeated = sorted(video for video, count in Counter(s.video for s in specs).items() if count > 1)
    if repeated:  # rows, the journal and every pairing are keyed by the id: a second one would pass as done
        raise ValueError(f"video id(s) {', '.join(map(repr, repeated[:5]))} given more than once; each row needs its own id")
    evaluator = Evaluator(config.metrics, config.device, config.metric_options)
    check_inputs(specs, evaluator.metrics)
    if world.is_main:
        env = environment(config.device, weight_hashes(config.metrics), seed=config.seed)
        store.start(_config_dict(config), env, resume)
    barrier(world)
    done = store.finished() if resume else {}
    checkpoint = SetCheckpoint(Path(out), evaluator.set_metrics, suffix=suffix)
    included = checkpoint.restore() if resume else set()
    mine = world.shard(specs)
    rows: list[VideoRow] = []
    # no tqdm monitor thread (the bar moves once per video anyway): a second thread rules out forking the workers
    tqdm.monitor_interval = 0
    bar = tqdm(total=len(mine), desc="evaluate", unit="video", disable=not progress or not world.is_main)
    for spec, row, new in iter_rows(mine, evaluator, config, done, workers, threads):
        if not new and evaluator.set_metrics and spec.video not in included:
            _refeed_sets(evaluator, spec, config)
        if new:
            store.append(row)
        rows.append(row)
        checkpoint.maybe_save({r.video for r in rows})
        bar.update()
    bar.close()
    checkpoint.save({r.video for r in rows})
    order = {spec.video: i for i, spec in enumerate(specs)}
    all_rows = sorted((r for part in gather_objects(world, rows) for r in part), key=lambda r: order[r.video])
    reduce_set_metrics(world, evaluator.set_metrics)
    summary = summarize(all_rows, evaluator, config)
    if world.is_main:
        store.write_outputs(all_rows, list(evaluator.item_metrics), summary)
    barrier(world)
    return summary


# How a run gives each input that can be seen in its specs before any video is read (audio cannot: it is in the files)
_GIVEN_BY = {
    Need.REFERENCE: "reference videos (talkbench evaluate --reference DIR; ItemSpec.reference)",
    Need.IDENTITY: "an identity image or a reference video (its first frame) per video (--reference DIR; ItemSpec.identity)",
    Need.TRANSCRIPT: "transcripts (talkbench evaluate --transcripts FILE; ItemSpec.transcript)",
}


def check_inputs(specs: Sequence[ItemSpec], metrics: Mapping[str, Metric]) -> None:
    """Stop before the first video when a metric needs an input that none of the specs gives.

    Such a run could only fail every video for the same reason; a video that alone lacks the input (a generated clip
    without its reference) is still scored by the other metrics and recorded with the reason.

    Raises:
        ValueError: names the metrics, the input they need and how to give it.
    """
    if not specs:
        return
    given = {
        Need.REFERENCE: any(spec.reference is not None for spec in specs),
        Need.IDENTITY: any(spec.identity is not None or spec.reference is not None for spec in specs),
        Need.TRANSCRIPT: any(spec.transcript is not None for spec in specs),
    }
    lacking: dict[Need, list[str]] = {}
    for name, metric in metrics.items():
        for need in sorted(metric.needs, key=lambda n: n.value):
            if not given.get(need, True):
                lacking.setdefault(need, []).append(name)
    if lacking:
        lines = [f"  {', '.join(names)}: {_GIVEN_BY[need]}" for need, names in lacking.items()]
        raise ValueError(f"none of the {len(specs)} videos has what these metrics need; give it, or leave the metrics "
                         "out (--metrics):\n" + "\n".join(lines))  # fmt: skip


def _refeed_sets(evaluator: Evaluator, spec: ItemSpec, config: EvalConfig) -> None:
    """Give a finished video to set-level metrics whose checkpoint predates it (resume)."""
    try:
        item = spec.load(config)
    except (MediaError, FileNotFoundError):
        return  # unreadable: it was recorded as failed when first seen, and fed to nothing
    evaluator.update_sets(item)


def _config_dict(config: EvalConfig) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(config)


def evaluate_clips(
    items: Iterable[Item], metric_names: Sequence[str], device: str = "cpu"
) -> tuple[list[VideoRow], dict[str, Any]]:
    """In-memory evaluation for training loops: rows and a summary, nothing written."""
    evaluator = Evaluator(metric_names, device)
    rows = [evaluator.add(item) for item in items]
    return rows, summarize(rows, evaluator, EvalConfig(list(metric_names), device=device))


__all__ = ["Clip", "EvalConfig", "Evaluator", "ItemSpec", "evaluate", "evaluate_clips", "pair_directories"]
