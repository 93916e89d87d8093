"""The one list of datasets: each adapter module declares an :class:`Adapter`, found here by name.

A new dataset is one module in ``bench/data`` that defines ``ADAPTER = Adapter(...)``, named in
:data:`ADAPTER_MODULES`: protocols, splits and the ``talkbench data`` commands find it through :func:`get` and
:func:`names`, and nothing else branches on dataset names. Adapter modules stay light (no media or model imports at
module level), since the command line lists the names.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bench.data.records import UtteranceRecord

ADAPTER_MODULES = ("grid", "synthgrid", "tcd_timit", "lrs2", "grid_lombard", "folder")  # import order = listing order


@dataclass(frozen=True)
class Adapter:
    """How talkbench reads one dataset.

    Attributes:
        name: the dataset's name in protocols and commands (``grid``, ``lrs2``, ...).
        scan: every utterance record under a root folder (None only where ``needs_root`` is False).
        needs_root: whether the dataset must be given its folder (synthgrid: None means the cached demo corpus).
        companion: the transcript file every video should have, in words, for ``talkbench data check``; None if
            transcripts are optional.
        list_records: records of an official list file (LRS2's ``test.txt``), for protocols with ``list_file``.
        pair_records: records of a pairs file (``<video> <audio source>`` lines), for protocols with ``pairs_file``.
        check: extra layout checks for ``talkbench data check``: ``check(root) -> (counts, problems, notes)``.
    """

    name: str
    scan: Callable[..., list[UtteranceRecord]]  # scan(root) -> records; root None only without needs_root
    needs_root: bool = True
    companion: str | None = None
    list_records: Callable[[Path, str], list[UtteranceRecord]] | None = None
    pair_records: Callable[[Path, str], list[UtteranceRecord]] | None = None
    check: Callable[[Path], tuple[dict[str, int], list[str], list[str]]] | None = None

    def records(self, root: str | Path | None) -> list[UtteranceRecord]:
        """Every record under ``root``, with a clear error for a missing root folder."""
        if root is None:
            if self.needs_root:
                raise ValueError(f"dataset {self.name!r} needs its root folder (--root, or data_root in a benchmark config)")
            return self.scan(None)
        path = Path(root).resolve()
        if not path.is_dir():
            raise FileNotFoundError(f"{path}: {self.name} root folder not found")
        return self.scan(path)


@cache
def _adapters() -> dict[str, Adapter]:
    found: dict[str, Adapter] = {}
    for module_name in (f"bench.data.{m}" for m in ADAPTER_MODULES):
        adapter: Any = getattr(importlib.import_module(module_name), "ADAPTER", None)
        if isinstance(adapter, Adapter):
            if adapter.name in found:
                raise ValueError(f"{module_name}: dataset {adapter.name!r} is declared twice")
            found[adapter.name] = adapter
    return found


def names() -> tuple[str, ...]:
    """Every known dataset name."""
    return tuple(_adapters())


def get(name: str) -> Adapter:
    """The adapter of dataset ``name`` (ValueError with close names when unknown)."""
    adapters = _adapters()
    if name not in adapters:
        close = difflib.get_close_matches(name, adapters, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown dataset {name!r}{hint} (known: {', '.join(adapters)})")
    return adapters[name]
