"""``talkbench data synth``: write the built-in synthetic demo corpus "synthgrid"."""

from __future__ import annotations

import argparse


def register_data(subparsers: argparse._SubParsersAction) -> None:
    """Add ``talkbench data synth``."""
    parser = subparsers.add_parser(
        "synth",
        help="generate the synthetic demo corpus (clips, ground truth, manifest.csv)",
        description="Generate synthgrid: GRID-grammar sentences spoken by espeak-ng on landmark-warped faces, "
        "with known word timings, blinks and landmarks. Deterministic for a given seed.",
    )
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--speakers", type=int, default=8, help="number of speakers (default 8)")
    parser.add_argument("--sentences", type=int, default=12, help="GRID sentences per speaker (default 12)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--size", type=int, default=128, help="frame height and width in pixels (default 128)")
    parser.add_argument("--duration", type=float, default=2.0, help="clip length in seconds (default 2.0)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: CPU count)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=_synth)


def _synth(args: argparse.Namespace) -> int:
    from bench.data.synthetic import synthesize_corpus

    corpus = synthesize_corpus(
        args.out, args.speakers, args.sentences, args.seed, args.size, args.duration, args.workers,
        progress=not args.no_progress,
    )  # fmt: skip
    print(f"wrote {len(corpus)} clips of {len(corpus.speakers())} speakers and {corpus.root / 'manifest.csv'}")
    return 0
