"""The ``talkbench`` command line.

Each module of this package adds its commands: ``register(subparsers)`` for top-level commands and
``register_data(subparsers)`` for ``talkbench data ...``. A command's handler is set with
``parser.set_defaults(handler=fn)`` and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import bench


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every command module's commands."""
    parser = argparse.ArgumentParser(
        prog="talkbench",
        description="Evaluation and benchmarks for audio-driven talking-face generation.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    version = sub.add_parser("version", help="print talkbench and library versions")
    version.set_defaults(handler=_version)
    data = sub.add_parser("data", help="datasets: synthesize the demo corpus, prepare and check datasets")
    data_sub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    data.set_defaults(handler=lambda args: _missing(data))
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
        if hasattr(module, "register_data"):
            module.register_data(data_sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``talkbench`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return int(handler(args) or 0)
    except (OSError, ValueError, KeyError) as exc:  # a missing or unwritable file, a full disk, a bad value: one line
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"talkbench: error: {message}", file=sys.stderr)
        return 2


def _version(args: argparse.Namespace) -> int:
    import numpy
    import torch

    print(f"talkbench {bench.__version__} (torch {torch.__version__}, numpy {numpy.__version__})")
    return 0


def _missing(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
