"""Evaluation protocols: versioned, checksummed TOML files validated into frozen dataclasses.

A protocol pins everything that moves numbers: the dataset and the speakers or utterances of each split, frame rate,
audio rate, face crop and alignment, length policy, metric list with options, and aggregation. Every result names
it by :attr:`Protocol.full_id` (``name-vN``).

Files live beside this module as ``<name>-v<N>.toml``. Each records ``checksum``: the sha256 of its canonical
content (the parsed TOML without the ``checksum`` key, as sorted compact JSON; comments and layout do not count).
Loading recomputes it, so a protocol edited without a version bump is refused: copy it to ``<name>-v<N+1>.toml``,
change it there and record the new checksum (``talkbench data protocols --hash FILE`` prints it).

A variant names a base with ``include = "<name>-vN"``: the base's tables are merged under the variant's keys
(tables merge key by key, except that a variant's ``[splits.<name>]`` table replaces that split whole;
everything else is replaced). Split semantics are in :mod:`bench.data.splits`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.data import datasets
from bench.data.records import FrozenMap
from bench.io import read_toml

PROTOCOL_DIR = Path(__file__).resolve().parent
CROP_MODES = ("aligned-face", "full-frame", "none")
LENGTH_POLICIES = ("video", "min", "none")
AGGREGATIONS = ("mean-over-videos", "mean-over-speakers")
SPLIT_NAMES = ("train", "val", "test")
_FILE_NAME = re.compile(r"^(?P<name>[a-z0-9]+(?:-[a-z0-9]+)*)-v(?P<version>[1-9][0-9]*)$")
_TOP_KEYS = {"name", "version", "dataset", "description", "fps", "sample_rate", "length_policy", "aggregation",
             "metrics", "few_shot", "checksum", "include", "crop", "metric_options", "splits"}  # fmt: skip
_SPLIT_KEYS = {"speakers", "utterances", "hash_range", "list_file", "pairs_file", "expected_count"}


class ProtocolError(ValueError):
    """A protocol file is missing, malformed, or was edited without a version bump; the message names the file."""


@dataclass(frozen=True)
class Crop:
    """Face crop of a protocol.

    Attributes:
        mode: ``aligned-face`` (similarity-aligned to the canonical face, :func:`bench.faces.align`),
            ``full-frame`` (the whole frame resized, as Wav2Lip's LRS scoring) or ``none`` (frames as read).
        size: output height and width in pixels (``none``: the size the frames must already have, or None).
        min_coverage: ``aligned-face`` only: the least fraction of frames with a detected face; a clip below it is
            refused; frames without a face borrow the transform of the nearest frame with one.
    """

    mode: str
    size: int | None
    min_coverage: float = 0.9


@dataclass(frozen=True)
class SplitSpec:
    """How one split selects utterances (see :mod:`bench.data.splits`); unset fields do not constrain."""

    speakers: tuple[str, ...] | None = None
    utterances: tuple[str, ...] | None = None
    hash_range: tuple[float, float] | None = None
    list_file: str | None = None
    pairs_file: str | None = None
    expected_count: int | None = None

    @property
    def empty(self) -> bool:
        """True when the split selects nothing (an explicitly empty speaker and utterance list)."""
        return self.speakers == () or self.utterances == ()


@dataclass(frozen=True)
class Protocol:
    """A validated protocol (see the module docstring); results record :attr:`full_id` and :attr:`checksum`."""

    name: str
    version: int
    dataset: str
    description: str
    fps: float
    sample_rate: int
    crop: Crop
    length_policy: str
    metrics: tuple[str, ...]
    metric_options: Mapping[str, Mapping[str, Any]]
    aggregation: str
    few_shot: int | None
    splits: Mapping[str, SplitSpec]
    seed: int
    checksum: str
    include: str | None
    path: Path

    @property
    def full_id(self) -> str:
        """``name-vN``: the id every result records."""
        return f"{self.name}-v{self.version}"

    @property
    def id(self) -> str:
        """Alias of :attr:`full_id`."""
        return self.full_id

    def preprocessing(self) -> dict[str, Any]:
        """The settings that decide a prepared clip (part of its cache key)."""
        return {"protocol": self.full_id, "fps": self.fps, "sample_rate": self.sample_rate,
                "crop": [self.crop.mode, self.crop.size, self.crop.min_coverage], "length": self.length_policy}  # fmt: skip


def canonical_checksum(data: Mapping[str, Any]) -> str:
    """sha256 of the parsed content without ``checksum``, as sorted compact JSON."""
    content = {k: v for k, v in data.items() if k != "checksum"}
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def file_checksum(path: str | Path) -> str:
    """The checksum a protocol file should record (for authors of new protocol versions)."""
    return canonical_checksum(_read_toml(Path(path)))


def available(directory: Path | None = None) -> list[str]:
    """Full ids (``name-vN``) of every protocol file, sorted."""
    return sorted(p.stem for p in (directory or PROTOCOL_DIR).glob("*.toml") if _FILE_NAME.match(p.stem))


def load_protocol(protocol_id: str | Path, directory: Path | None = None) -> Protocol:
    """Load ``name-vN``, ``name`` (its latest version) or a path to a ``.toml`` protocol file, checking everything.

    A protocol file outside the package resolves its ``include`` among the files beside it (or in ``directory``).

    Raises:
        KeyError: no such protocol (the message lists close names).
        ProtocolError: malformed, or edited without a version bump (checksum mismatch).
    """
    protocol_id = str(protocol_id)  # a pathlib.Path of a protocol file, too
    if protocol_id.endswith(".toml") and Path(protocol_id).is_file():  # a user's own protocol file
        path = Path(protocol_id).resolve()
        return _build(_load_merged(path, directory or path.parent, ()), path)
    directory = directory or PROTOCOL_DIR
    path = _resolve(protocol_id, directory)
    data = _load_merged(path, directory, ())
    return _build(data, path)


def _resolve(protocol_id: str, directory: Path) -> Path:
    ids = available(directory)
    if protocol_id in ids:
        return directory / f"{protocol_id}.toml"
    versions = sorted((int(m["version"]), i) for i in ids if (m := _FILE_NAME.match(i)) and m["name"] == protocol_id)
    if versions:
        return directory / f"{versions[-1][1]}.toml"
    import difflib

    names = sorted({_FILE_NAME.match(i)["name"] for i in ids} | set(ids))  # type: ignore[index]
    close = difflib.get_close_matches(protocol_id, names, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; available: {', '.join(ids)}"
    raise KeyError(f"unknown protocol {protocol_id!r}{hint}")


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ProtocolError(f"{path}: no such protocol file")
    try:
        return read_toml(path)
    except ValueError as exc:
        raise ProtocolError(str(exc)) from exc


def _load_merged(path: Path, directory: Path, chain: tuple[str, ...]) -> dict[str, Any]:
    """The file's content, verified against its checksum, with its ``include`` merged in."""
    data = _read_toml(path)
    recorded = data.get("checksum")
    actual = canonical_checksum(data)
    if recorded != actual:
        raise ProtocolError(
            f"{path}: content does not match its recorded checksum ({recorded!r} recorded, {actual} now): a "
            "protocol must not change under the same version; bump 'version' in a new file and record its checksum"
        )
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ProtocolError(f"{path}: unknown keys {sorted(unknown)} (allowed: {sorted(_TOP_KEYS)})")
    include = data.get("include")
    if include is None:
        return data
    if not isinstance(include, str):
        raise ProtocolError(f"{path}: include must be a protocol id string like 'name-v1', got {include!r}")
    if include in chain or include == path.stem:
        raise ProtocolError(f"{path}: include cycle {' -> '.join((*chain, path.stem, include))}")
    if not _FILE_NAME.match(include):
        raise ProtocolError(f"{path}: include must name an exact version ('name-vN'), got {include!r}")
    candidates = [d / f"{include}.toml" for d in dict.fromkeys((directory, PROTOCOL_DIR))]
    base_path = next((c for c in candidates if c.is_file()), None)
    if base_path is None:
        raise ProtocolError(f"{path}: includes {include!r}, which does not exist")
    base = _load_merged(base_path, directory, (*chain, path.stem))
    base = {k: v for k, v in base.items() if k not in ("checksum", "include", "name", "version", "description")}
    return {**_merge(base, data), "checksum": recorded, "include": include}


def _merge(base: dict[str, Any], override: Mapping[str, Any], parent: str = "") -> dict[str, Any]:
    """Tables merge key by key, except that a variant's ``[splits.<name>]`` replaces that split whole."""
    out = dict(base)
    for key, value in override.items():
        if parent == "splits" and key in SPLIT_NAMES:
            out[key] = value
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value, key)
        else:
            out[key] = value
    return out


def _need(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], path: Path, where: str = "") -> Any:
    if key not in data:
        raise ProtocolError(f"{path}: missing required key {where}{key!r}")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ProtocolError(f"{path}: {where}{key} must be {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def _choice(value: str, options: tuple[str, ...], what: str, path: Path) -> str:
    if value not in options:
        raise ProtocolError(f"{path}: {what} must be one of {', '.join(options)}, got {value!r}")
    return value


def _build(data: dict[str, Any], path: Path) -> Protocol:
    name, version = _need(data, "name", str, path), _need(data, "version", int, path)
    if path.stem != f"{name}-v{version}":
        raise ProtocolError(f"{path}: file name must be '{name}-v{version}.toml' (from its name and version)")
    fps = float(_need(data, "fps", (int, float), path))
    sample_rate = _need(data, "sample_rate", int, path)
    if fps <= 0 or sample_rate <= 0:
        raise ProtocolError(f"{path}: fps and sample_rate must be positive, got {fps} and {sample_rate}")
    metrics = tuple(_need(data, "metrics", list, path))
    if not metrics or not all(isinstance(m, str) for m in metrics) or len(set(metrics)) != len(metrics):
        raise ProtocolError(f"{path}: metrics must be a non-empty list of distinct names, got {list(metrics)}")
    options = data.get("metric_options", {})
    stray = set(options) - set(metrics)
    if stray:
        raise ProtocolError(f"{path}: metric_options for metrics not listed in metrics: {sorted(stray)}")
    few_shot = data.get("few_shot")
    if few_shot is not None and (not isinstance(few_shot, int) or isinstance(few_shot, bool) or few_shot < 1):
        raise ProtocolError(f"{path}: few_shot must be a positive integer (adaptation clips per test speaker)")
    splits_data = _need(data, "splits", dict, path)
    return Protocol(
        name=name, version=version, path=path, checksum=data["checksum"], include=data.get("include"),
        dataset=_choice(_need(data, "dataset", str, path), datasets.names(), "dataset", path),
        description=_need(data, "description", str, path).strip(),
        fps=fps, sample_rate=sample_rate, crop=_crop(_need(data, "crop", dict, path), path),
        length_policy=_choice(_need(data, "length_policy", str, path), LENGTH_POLICIES, "length_policy", path),
        metrics=metrics, metric_options=FrozenMap(options),
        aggregation=_choice(_need(data, "aggregation", str, path), AGGREGATIONS, "aggregation", path),
        few_shot=few_shot, seed=int(splits_data.get("seed", 0)), splits=_splits(splits_data, path),
    )  # fmt: skip


def _crop(data: Mapping[str, Any], path: Path) -> Crop:
    mode = _choice(_need(data, "mode", str, path, "crop."), CROP_MODES, "crop.mode", path)
    size = data.get("size")
    if size is not None and (not isinstance(size, int) or size < 8):
        raise ProtocolError(f"{path}: crop.size must be an integer of at least 8 pixels, got {size!r}")
    if size is None and mode != "none":
        raise ProtocolError(f"{path}: crop.size is required for crop mode {mode!r}")
    coverage = float(data.get("min_coverage", 0.9))
    if not 0.0 <= coverage <= 1.0:
        raise ProtocolError(f"{path}: crop.min_coverage must lie in [0, 1], got {coverage}")
    return Crop(mode, size, coverage)


def _splits(data: Mapping[str, Any], path: Path) -> FrozenMap:
    stray = set(data) - {*SPLIT_NAMES, "seed"}
    if stray:
        raise ProtocolError(f"{path}: unknown splits {sorted(stray)} (allowed: {', '.join(SPLIT_NAMES)}, seed)")
    if "test" not in data:
        raise ProtocolError(f"{path}: splits.test is required")
    specs = {name: _split(data.get(name, {"speakers": []}), path, name) for name in SPLIT_NAMES}
    _check_disjoint(specs, path)
    return FrozenMap(specs)


def _split(data: Mapping[str, Any], path: Path, name: str) -> SplitSpec:
    unknown = set(data) - _SPLIT_KEYS
    if unknown:
        raise ProtocolError(f"{path}: splits.{name} has unknown keys {sorted(unknown)}")
    lists = {}
    for key in ("speakers", "utterances"):
        if key in data:
            values = data[key]
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise ProtocolError(f"{path}: splits.{name}.{key} must be a list of strings")
            if len(set(values)) != len(values):
                raise ProtocolError(f"{path}: splits.{name}.{key} lists an entry twice")
            lists[key] = tuple(values)
    hash_range = data.get("hash_range")
    if hash_range is not None:
        if not (isinstance(hash_range, list) and len(hash_range) == 2 and 0 <= hash_range[0] < hash_range[1] <= 1):
            raise ProtocolError(f"{path}: splits.{name}.hash_range must be [low, high) with 0 <= low < high <= 1")
        hash_range = (float(hash_range[0]), float(hash_range[1]))
    count = data.get("expected_count")
    if count is not None and (not isinstance(count, int) or count < 0):
        raise ProtocolError(f"{path}: splits.{name}.expected_count must be a non-negative integer")
    spec = SplitSpec(lists.get("speakers"), lists.get("utterances"), hash_range, data.get("list_file"),
                     data.get("pairs_file"), count)  # fmt: skip
    if spec.list_file is not None and spec.pairs_file is not None:
        raise ProtocolError(f"{path}: splits.{name} gives both list_file and pairs_file; use one")
    if spec.speakers is None and spec.utterances is None and spec.list_file is None and spec.pairs_file is None:
        raise ProtocolError(f"{path}: splits.{name} must give speakers, utterances, list_file or pairs_file")
    return spec


def _check_disjoint(specs: Mapping[str, SplitSpec], path: Path) -> None:
    """Splits may share speakers only when their hash ranges do not overlap; utterance lists never overlap."""
    names = list(specs)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            sa, sb = specs[a], specs[b]
            shared = set(sa.speakers or ()) & set(sb.speakers or ())
            if shared:
                ra, rb = sa.hash_range, sb.hash_range
                if ra is None or rb is None or (ra[0] < rb[1] and rb[0] < ra[1]):
                    raise ProtocolError(
                        f"{path}: splits {a} and {b} share speakers {sorted(shared)[:5]} without disjoint hash_range"
                    )
            both = set(sa.utterances or ()) & set(sb.utterances or ())
            if both:
                raise ProtocolError(f"{path}: splits {a} and {b} share utterances {sorted(both)[:5]}")
