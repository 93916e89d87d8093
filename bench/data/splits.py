"""Split selection: which utterance records a protocol's train, val, test and adapt splits hold.

A split spec (``[splits.<name>]`` in a protocol file) selects from the dataset's records by, in order:

* ``list_file`` (LRS2: an official list such as ``test.txt`` under the root) or ``pairs_file`` (Wav2Lip's
  ``<video> <audio source>`` lines) instead of scanning the whole dataset;
* ``speakers``: only these speakers, each of which must be present (a missing one is an error, never a silently
  smaller test set);
* ``utterances``: only these utterance ids, each of which must be present;
* ``hash_range = [low, high)``: only utterances whose hash fraction ``u`` lies in the range, where ``u`` is the first
  52 bits of ``sha256(f"{seed}:{utterance_id}")`` over ``2**52``. The assignment of an utterance depends on its id
  alone, so a copy of the dataset missing some files keeps every other utterance in its split;
* ``expected_count``: the number of records the split must hold.

Few-shot protocols (``few_shot = K``) divide each test speaker's utterances: the K with the smallest hash fraction
form the ``adapt`` split (adaptation clips), the rest stay in ``test``; the two never share an utterance.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.data import datasets
from bench.data.records import UtteranceRecord

if TYPE_CHECKING:
    from bench.protocols import Protocol, SplitSpec

SPLITS = ("train", "val", "test", "adapt")


def hash_fraction(seed: int, utterance_id: str) -> float:
    """The utterance's position in [0, 1) for hash-range splits and few-shot selection."""
    digest = hashlib.sha256(f"{seed}:{utterance_id}".encode()).hexdigest()
    return int(digest[:13], 16) / float(16**13)


def dataset_records(dataset: str, root: str | Path | None) -> list[UtteranceRecord]:
    """Every record of ``dataset`` under ``root`` (synthgrid: None means the cached demo corpus)."""
    return datasets.get(dataset).records(root)


def _pool(protocol: Protocol, spec: SplitSpec, root: str | Path | None) -> list[UtteranceRecord]:
    adapter = datasets.get(protocol.dataset)
    if spec.pairs_file is not None or spec.list_file is not None:
        reader = adapter.pair_records if spec.pairs_file is not None else adapter.list_records
        if reader is None:
            raise ValueError(f"{protocol.path}: dataset {adapter.name} has no official list or pairs files")
        if root is None:
            raise ValueError(f"protocol {protocol.full_id} needs the {adapter.name} root folder (--root or data_root)")
        return reader(Path(root), spec.pairs_file or spec.list_file)  # type: ignore[arg-type]
    return adapter.records(root)


def select(records: list[UtteranceRecord], spec: SplitSpec, seed: int, where: str) -> list[UtteranceRecord]:
    """Apply ``spec``'s speaker, utterance, hash-range and count constraints to ``records``.

    Raises:
        FileNotFoundError: listed speakers or utterances are absent from ``records``.
        ValueError: the selection does not hold ``expected_count`` records.
    """
    out = records
    if spec.speakers is not None:
        present = {r.speaker for r in records}
        missing = [s for s in spec.speakers if s not in present]
        if missing:
            raise FileNotFoundError(f"{where}: speakers {missing[:8]} have no utterances in the dataset")
        wanted = set(spec.speakers)
        out = [r for r in out if r.speaker in wanted]
    if spec.utterances is not None:
        ids = {r.utterance_id for r in out}
        missing = [u for u in spec.utterances if u not in ids]
        if missing:
            raise FileNotFoundError(f"{where}: {len(missing)} listed utterances are absent, e.g. {missing[:5]}")
        wanted = set(spec.utterances)
        out = [r for r in out if r.utterance_id in wanted]
    if spec.hash_range is not None:
        low, high = spec.hash_range
        out = [r for r in out if low <= hash_fraction(seed, r.utterance_id) < high]
    if spec.expected_count is not None and len(out) != spec.expected_count:
        raise ValueError(f"{where}: holds {len(out)} utterances, the protocol pins {spec.expected_count}")
    return out


def few_shot_division(
    records: list[UtteranceRecord], k: int, seed: int, where: str
) -> tuple[list[UtteranceRecord], list[UtteranceRecord]]:
    """Split each speaker's records into K adaptation records (smallest hash fraction) and the rest.

    Raises:
        ValueError: a speaker has no more than K utterances (nothing would be left to test).
    """
    by_speaker: dict[str, list[UtteranceRecord]] = {}
    for rec in records:
        by_speaker.setdefault(rec.speaker, []).append(rec)
    adapt_ids: set[str] = set()
    for speaker, recs in by_speaker.items():
        if len(recs) <= k:
            raise ValueError(f"{where}: speaker {speaker} has {len(recs)} utterances; few-shot needs more than {k}")
        ranked = sorted(recs, key=lambda r: (hash_fraction(seed, r.utterance_id), r.utterance_id))
        adapt_ids.update(r.utterance_id for r in ranked[:k])
    return [r for r in records if r.utterance_id in adapt_ids], [r for r in records if r.utterance_id not in adapt_ids]


def split_records(protocol: Protocol, split: str, root: str | Path | None = None) -> list[UtteranceRecord]:
    """The records of ``split`` (train, val, test or adapt) under ``protocol``.

    Args:
        protocol: a loaded protocol (:func:`bench.protocols.load_protocol`).
        split: ``train``, ``val``, ``test``, or ``adapt`` (few-shot protocols: K clips per test speaker).
        root: the dataset's root folder; None for synthgrid means the cached demo corpus (generated if absent).

    Raises:
        ValueError: unknown split, ``adapt`` without ``few_shot``, or counts that differ from the protocol's.
        FileNotFoundError: the root or listed speakers, utterances or list files are missing.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; one of {', '.join(SPLITS)}")
    if split == "adapt" and not protocol.few_shot:
        raise ValueError(f"protocol {protocol.full_id} has no few-shot adaptation split (few_shot is not set)")
    spec = protocol.splits["test" if split == "adapt" else split]
    if spec.empty:
        return []
    where = f"{protocol.full_id} split {split} ({root or 'demo corpus'})"
    records = select(_pool(protocol, spec, root), spec, protocol.seed, where)
    if split in ("test", "adapt") and protocol.few_shot:
        adapt, test = few_shot_division(records, protocol.few_shot, protocol.seed, where)
        return adapt if split == "adapt" else test
    return records


def all_records(protocol: Protocol, root: str | Path | None = None) -> dict[str, list[UtteranceRecord]]:
    """Every split of ``protocol`` (adapt only for few-shot protocols)."""
    names: list[Any] = [s for s in SPLITS if s != "adapt" or protocol.few_shot]
    return {name: split_records(protocol, name, root) for name in names}
