"""``talkbench evaluate``: score a folder of generated videos against references under a protocol."""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

from bench.cli._names import split_names


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` command."""
    p = sub.add_parser("evaluate", help="score generated videos (and references) with metrics; writes a run directory")
    p.add_argument("--generated", required=True, type=Path, help="folder of generated videos, named <utterance id>.*")
    p.add_argument("--reference", type=Path, help="folder of ground-truth videos with the same names")
    p.add_argument("--identity", type=Path, help="folder of the identity images (or videos: first frame) the videos "
                   "were generated from, named alike, for acd-i (default: each reference's first frame)")
    p.add_argument("--dataset", help="the corpus the videos come from (grid, lrs2, ...), for metrics bound to one "
                   "(wer, cer: GRID only); a --protocol names its own")
    p.add_argument("--protocol", help="protocol id (e.g. grid-speaker-independent-v1): fps, rates, crop, length policy, "
                   "metrics, aggregation; overrides that move numbers stamp results <id>+custom")
    p.add_argument("--metrics", help="comma-separated metric names (default: the protocol's list)")
    p.add_argument("--transcripts", type=Path,
                   help="TSV (CSV if named .csv) of utterance_id and transcript, for lip-reading metrics")
    p.add_argument("--metric-options", help='JSON of per-metric options, e.g. {"ssim": {"region": "face"}}')
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--seed", type=int, default=0, help="seed of bootstraps and sampled statistics")
    p.add_argument("--out", required=True, type=Path, help="run directory to write")
    p.add_argument("--label", help="the method's name in leaderboards (default: the --out folder's name)")
    p.add_argument("--workers", type=int, default=1, help="score videos in N processes (per-item metrics; default 1)")
    p.add_argument("--threads", type=int, help="in one process, decode and run the metrics in N threads "
                   "(default: the usable cores, at most 4; 1 with --workers or torchrun; with 1, FFmpeg, OpenCV and "
                   "OpenMP compute on one thread too; with more, face tracks are computed in a helper process); the "
                   "values do not change")
    p.add_argument("--resume", action="store_true", help="continue a killed run in --out without recomputing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run_evaluate)


def one_thread_blas() -> bool:
    """Give OpenBLAS (numpy's, SciPy's) one thread, unless the user chose a count or numpy is already imported.

    With ``--workers N`` the processes are the parallelism. Without its idle BLAS threads the command is still a
    single thread when it starts the workers, so it can fork them (:func:`bench.parallel.start_method`) and spare each
    the imports, about a second. The workers inherit the setting, which they would make anyway. With ``--threads 1``
    one thread is asked for. True when set here.
    """
    return _before_numpy("OPENBLAS_NUM_THREADS", "1")


def sleeping_blas_threads() -> bool:
    """Let OpenBLAS's idle threads sleep at once instead of spinning, unless the user chose or numpy is imported.

    OpenBLAS (numpy's and SciPy's, a pool each) keeps its threads spinning for 2^28 cycles, about 0.1 s, after they
    start and after each call. With ``--threads N`` the command's own threads keep the cores busy and the spinning
    takes CPU from them: importing numpy and SciPy alone costs 0.49 s of CPU instead of 0.27 s on 2 cores. Its
    shortest timeout, ``OPENBLAS_THREAD_TIMEOUT=4`` (2^4 cycles), keeps the threads for large products (FID's matrix
    square root) and lets them sleep when idle. True when set here.
    """
    return _before_numpy("OPENBLAS_THREAD_TIMEOUT", "4")


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (glibc's malloc.h)
KEPT_BYTES = 1 << 30  # blocks below this come from the heap; freed memory above this at its top goes back


def keep_freed_memory() -> bool:
    """Let the command reuse the memory it frees instead of giving it back and faulting fresh pages in again.

    glibc maps a large block (a decoded clip, its grey frames, a filter's buffers) afresh from the kernel and unmaps it
    when it is freed, and its threads' heaps return freed memory at once, so the next clip writes to new pages: one
    page fault each, about 3 us on a virtual machine (more where the host reclaims freed memory; ~0.2 us on bare
    metal). With blocks up to 1 GiB taken from the heap and kept there when freed, ``talkbench evaluate`` on the four
    GRID pairs faulted 67 thousand pages instead of 117 thousand (0.3-0.6 s of CPU less, same peak resident set).
    Set before the helper and the workers fork, which inherit it; not where the user tuned glibc's malloc
    (``MALLOC_*_`` or ``GLIBC_TUNABLES``), nor off glibc. True when set here.
    """
    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):  # a name only glibc knows (not macOS, not musl)
        glibc = None
    if not glibc or any(name in os.environ for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")):
        return False
    import ctypes

    mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    return bool(mallopt(_M_MMAP_THRESHOLD, KEPT_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, KEPT_BYTES))


def _before_numpy(name: str, value: str) -> bool:
    """Set the environment variable ``name`` for OpenBLAS, which reads it when numpy loads it; the user's value wins."""
    if "numpy" in sys.modules or name in os.environ:
        return False
    os.environ[name] = value
    return True


def run_evaluate(args: argparse.Namespace) -> int:
    """Handler of ``talkbench evaluate``."""
    from bench.threaded import check_threads, default_threads, one_thread_libraries, start_warm_up

    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    threads = args.threads if args.threads is not None else default_threads(args.workers)
    check_threads(threads, args.workers)
    keep_freed_memory()
    if threads == 1:  # one thread per process (so with --workers too): BLAS is given one before numpy starts
        one_thread_blas()
    else:  # the command's threads use the cores: BLAS's idle threads sleep rather than spin beside them
        sleeping_blas_threads()
    if args.workers == 1 and threads == 1:  # and the libraries' pools (the workers hold theirs themselves)
        restore = one_thread_libraries()
        try:
            return _evaluate(args, threads)
        finally:
            restore()
    from bench import helper_process

    if threads == 1 or helper_process.start_method() != "fork":  # spawned, if a metric needs it, by the evaluation
        return _evaluate(args, threads)
    helper = helper_process.start()  # forked now, while the command is one thread without numpy (bench.helper_process)
    if args.metrics:  # its models load while this process imports (a protocol's metrics: once the evaluation starts)
        start_warm_up(helper, split_names(args.metrics))
    try:
        return _evaluate(args, threads)
    finally:
        helper_process.stop()


def _evaluate(args: argparse.Namespace, threads: int) -> int:
    """Score the videos and print the summary."""
    from bench.devices import check_device
    from bench.distributed import init_from_env
    from bench.evaluate import EvalConfig, evaluate, pair_directories

    check_device(args.device)  # before torchrun's process group, which would pick NCCL for it

    metric_list = split_names(args.metrics) if args.metrics is not None else None
    if metric_list == []:
        raise ValueError("--metrics names no metric")
    options = parse_metric_options(args.metric_options) if args.metric_options else None
    if args.protocol:
        overrides = {k: v for k, v in (("metrics", metric_list), ("metric_options", options)) if v}
        config = EvalConfig.from_protocol(args.protocol, overrides, device=args.device, seed=args.seed, label=args.label)
        if config.overrides:
            print(f"protocol {args.protocol} with overrides {json.dumps(config.overrides)}: results are {config.protocol}")
    else:
        config = EvalConfig(metrics=metric_list or [], device=args.device, seed=args.seed, metric_options=options or {},
                            label=args.label)
    if not config.metrics:
        raise ValueError("no metrics: pass --metrics a,b or a --protocol that lists them")
    unused = [name for name in options or {} if name not in config.metrics]
    if unused:  # options for a metric not evaluated were dropped without a word
        raise ValueError(f"--metric-options names {', '.join(unused)}, not among the metrics of this run "
                         f"({', '.join(config.metrics)})")  # fmt: skip
    _check_available(config.metrics)
    transcripts = read_transcripts(args.transcripts) if args.transcripts else None
    dataset = _dataset(args)
    specs = pair_directories(args.generated, args.reference, transcripts, args.identity, dataset)
    config.inputs = {"generated": str(args.generated), "reference": str(args.reference or "")}
    config.inputs.update({k: str(v) for k, v in (("identity", args.identity), ("dataset", args.dataset)) if v is not None})
    world = init_from_env(args.device)
    try:
        summary = evaluate(specs, config, args.out, resume=args.resume, progress=not args.no_progress, world=world,
                           workers=args.workers, threads=threads)
    except KeyboardInterrupt:
        return _interrupted(args.out, len(specs))
    if not world.is_main:
        return 0
    counts = summary["counts"]
    print(f"{counts['videos']} videos: {counts['ok']} ok, {counts['partial']} partial, {counts['failed']} failed")
    for name, agg in summary["metrics"].items():
        interval = f"[{_fmt(agg['ci_low'])}, {_fmt(agg['ci_high'])}]"
        print(f"  {name}: {_fmt(agg['mean'])} {interval} ({agg['videos']} of {counts['videos']} videos)")
    for name, res in summary["set_metrics"].items():
        print(f"  {name}: {_fmt(res['value'])} ({res['status']}{': ' + res['reason'] if res['reason'] else ''})")
    table = args.out / "per_video.csv"
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    _print_conversions(rows, config.fps)
    _print_problems(rows, table)
    print(f"wrote {args.out}/per_video.csv and summary.json")
    return _nothing_scored(summary)


def _nothing_scored(summary: dict) -> int:
    """1, saying which, when a metric has no value at all (every video failed it), so that scripts stop; else 0."""
    empty = [name for name, agg in summary["metrics"].items() if agg["videos"] == 0]
    empty += [name for name, res in summary["set_metrics"].items() if res["status"] != "ok"]
    if empty:
        print(f"talkbench: error: no value for {', '.join(empty)}: no video could be scored with it", file=sys.stderr)
    return 1 if empty else 0


SHOWN_PROBLEMS = 5  # videos whose failure or partial score is printed with its reason; the rest are counted


def _print_conversions(rows: list[dict[str, str]], fps: float) -> None:
    """Print how many generated and reference videos were read at ``fps`` from another frame rate."""
    for side in ("generated", "reference"):
        converted = [float(row[f"source_fps_{side}"]) for row in rows if row.get(f"source_fps_{side}")]
        if converted:
            rates = ", ".join(f"{rate:g}" for rate in sorted(set(converted)))
            print(f"{side} videos read at {fps:g} fps from {rates} fps (converted by timestamps): {len(converted)}; "
                  f"per video: column source_fps_{side}")  # fmt: skip


def _print_problems(rows: list[dict[str, str]], table: Path) -> None:
    """Print why the first failed or partly scored videos of the run's table were not fully scored."""
    problems = [row for row in rows if row["status"] != "ok"]
    if problems:
        print("not fully scored:")
    for row in problems[:SHOWN_PROBLEMS]:
        print(f"  {row['video']} {row['status']}: {row['reason']}")
    if len(problems) > SHOWN_PROBLEMS:
        print(f"  ... and {len(problems) - SHOWN_PROBLEMS} more (status and reason of every video: {table})")


def parse_metric_options(text: str) -> dict[str, dict]:
    """``--metric-options``: a JSON object of metric name -> object of options.

    Raises:
        ValueError: the text is not JSON of that shape (the message names the option and what is wrong).
    """
    try:
        options = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--metric-options is not JSON ({exc}): {text!r}") from None
    if not isinstance(options, dict) or not all(isinstance(v, dict) for v in options.values()):
        raise ValueError(f'--metric-options must map metric names to objects of options, e.g. {{"ssim": {{"region": "face"}}}}; '
                         f"got {text!r}")  # fmt: skip
    return options


def _interrupted(out: Path, total: int) -> int:
    """Say what an interrupted run kept and how to finish it; the shell's exit status for Ctrl-C (130)."""
    from bench.results import journaled_count

    journaled = journaled_count(out)
    print(f"talkbench: interrupted: {journaled} of {total} videos are journaled in {out}; the same command with "
          "--resume scores the rest", file=sys.stderr)  # fmt: skip
    return 130


def _check_available(names: list[str]) -> None:
    from bench.availability import unavailable_metrics

    missing = unavailable_metrics(names)
    if missing:
        lines = "\n".join(f"  {name}: {reason}" for name, reason in missing.items())
        raise ValueError(f"metrics cannot run here:\n{lines}")


def _dataset(args: argparse.Namespace) -> str:
    """The corpus of the videos: the protocol's, or ``--dataset`` (which must then agree with it)."""
    from bench.data import datasets

    if args.dataset is not None and args.dataset not in datasets.names():
        raise ValueError(f"--dataset {args.dataset!r} is not a dataset talkbench knows: {', '.join(datasets.names())}")
    if not args.protocol:
        return args.dataset or ""
    from bench.protocols import load_protocol

    declared = load_protocol(args.protocol).dataset
    if args.dataset not in (None, declared):
        raise ValueError(f"--dataset {args.dataset} contradicts --protocol {args.protocol}, which is on {declared}")
    return declared


def read_transcripts(path: Path) -> dict[str, str]:
    """Utterance id -> transcript from a TSV (or ``.csv``) with columns ``utterance_id`` and ``transcript``."""
    from bench.data.folder import read_transcripts as read_table

    return {uid: row["transcript"] for uid, row in read_table(path).items()}


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
