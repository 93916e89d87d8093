"""One registry class for metrics and baselines: decorator registration, variants as data, entry points.

Entries come from the package's own modules, from the entry-point group (``talkbench.metrics``,
``talkbench.baselines``), and from the modules named in ``TALKBENCH_PLUGINS`` (comma-separated), which lets a
research script add a metric without packaging it.

An unknown name raises ``KeyError`` with close matches; unknown options are rejected rather than ignored.

Looking up one name imports only the module that registers it when ``homes`` names that module (so a run of
``psnr`` never imports what LSE or FID need); listing, or a name no home covers, imports every module.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import numbers
import os
import pkgutil
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    """A registered name: the class (or a lazy ``"module:attr"`` target) and its preset options."""

    name: str
    target: type | str
    preset: dict[str, Any] = field(default_factory=dict)

    def resolve(self) -> type:
        """The class behind this entry, importing it if the target is lazy."""
        if isinstance(self.target, str):
            module, _, attr = self.target.partition(":")
            return getattr(importlib.import_module(module), attr)
        return self.target


class Registry(Generic[T]):
    """Names to classes with preset options.

    Args:
        kind: what is registered, for messages ("metric", "baseline").
        group: the entry-point group through which other packages add entries.
        package: the package whose public submodules register the built-in entries on first use.
        homes: first dash-separated part of a name -> the submodule of ``package`` that registers it.
    """

    def __init__(self, kind: str, group: str, package: str, homes: Mapping[str, str] | None = None) -> None:
        self.kind = kind
        self.group = group
        self.package = package
        self.homes = dict(homes or {})
        self._entries: dict[str, Entry] = {}
        self._loaded = False

    def register(self, name: str, **preset: Any) -> Callable[[type], type]:
        """Class decorator registering ``name`` with preset options; stack it to declare variants."""
        self._check_name(name)

        def decorate(cls: type) -> type:
            self.add(name, cls, **preset)
            return cls

        return decorate

    def add(self, name: str, target: type | str, **preset: Any) -> None:
        """Register ``name`` for a class or a lazy ``"module:attr"`` target."""
        self._check_name(name)
        existing = self._entries.get(name)
        if existing is not None and existing.target is not target and existing.target != target:
            raise ValueError(f"{self.kind} {name!r} is registered twice ({existing.target} and {target})")
        self._entries[name] = Entry(name, target, dict(preset))

    def variants(self, table: dict[str, dict[str, Any]]) -> Callable[[type], type]:
        """Class decorator registering every ``name: preset`` row of a ``VARIANTS`` table."""

        def decorate(cls: type) -> type:
            for name, preset in table.items():
                self.add(name, cls, **preset)
            return cls

        return decorate

    def entry(self, name: str) -> Entry:
        """The entry for ``name``; ``KeyError`` with close matches when there is none."""
        if name not in self._entries and not self._loaded:
            home = self.homes.get(name.split("-", 1)[0])
            if home is not None:
                importlib.import_module(f"{self.package}.{home}")
            if name not in self._entries:
                self._load()
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise KeyError(f"unknown {self.kind} {name!r}{hint} (available: {', '.join(self.available())})") from None

    def create(self, name: str, **overrides: Any) -> T:
        """Instantiate ``name`` with its preset merged with ``overrides``; unknown option keys are rejected."""
        entry = self.entry(name)
        cls = entry.resolve()
        options = {**entry.preset, **overrides}
        accepted = _accepted_keywords_cached(cls)
        if accepted is not None:
            unknown = sorted(set(options) - accepted)
            if unknown:
                raise TypeError(
                    f"{self.kind} {name!r} has no option(s) {', '.join(unknown)}; options: {', '.join(sorted(accepted))}"
                )
        hints = _scalar_hints_cached(cls)
        wrong = [f"{key} must be {' or '.join(hints[key])}, got {value!r}"
                 for key, value in options.items() if key in hints and not _is_scalar_of(value, hints[key])]  # fmt: skip
        if wrong:  # a JSON or TOML option of the wrong type failed deep in the class ("'<' not supported ...")
            raise TypeError(f"{self.kind} {name!r}: option {'; '.join(wrong)}")
        instance = cls(**options)
        if getattr(instance, "name", None) != name:
            try:
                instance.name = name  # the variant name, so results and tables use it
            except AttributeError:
                pass
        return instance

    def available(self) -> list[str]:
        """All registered names, sorted."""
        self._load()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        package = importlib.import_module(self.package)
        for info in pkgutil.iter_modules(package.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{self.package}.{info.name}")
        for module_name in filter(None, os.environ.get("TALKBENCH_PLUGINS", "").split(",")):
            importlib.import_module(module_name.strip())  # plugin modules register on import
        for ep in _entry_points(self.group):
            value = ep.value
            if ":" in value:
                self.add(ep.name, value)
            else:  # a module that registers its entries when imported
                importlib.import_module(value)

    def _check_name(self, name: str) -> None:
        if not name or name != name.lower() or "_" in name and "-" in name or " " in name:
            raise ValueError(f"bad {self.kind} name {name!r}: lower case, variants separated by '-'")


def _entry_points(group: str) -> Iterable[Any]:
    return entry_points(group=group)


_SCALARS = {int: "an integer", float: "a number", bool: "true or false", str: "a string", type(None): "null"}


@functools.lru_cache(maxsize=256)
def _scalar_hints_cached(cls: type) -> dict[str, tuple[str, ...]]:
    """Option -> the scalar kinds its annotation allows, for options annotated with scalars only (int, float | None, ...).

    Options of other types (Literal choices, paths, mappings) are left to the class, which names its choices itself.
    """
    try:
        hints = typing.get_type_hints(getattr(cls, "__init__"))  # noqa: B009 (mypy refuses cls.__init__ on a type)
    except (NameError, TypeError):  # an annotation that names a type only imported for type checking
        return {}
    allowed: dict[str, tuple[str, ...]] = {}
    for key, hint in hints.items():
        members = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
        if key != "return" and all(m in _SCALARS for m in members):
            allowed[key] = tuple(_SCALARS[m] for m in members)
    return allowed


def _is_scalar_of(value: Any, kinds: tuple[str, ...]) -> bool:
    """Whether ``value`` is one of ``kinds`` (names from ``_SCALARS``); an integer is a number, a bool is neither."""
    if isinstance(value, bool):
        return _SCALARS[bool] in kinds
    checks = {int: isinstance(value, numbers.Integral), float: isinstance(value, numbers.Real), str: isinstance(value, str),
              type(None): value is None}  # fmt: skip (numpy's scalars are Integral / Real too)
    return any(ok and _SCALARS[t] in kinds for t, ok in checks.items())


@functools.lru_cache(maxsize=256)
def _accepted_keywords_cached(cls: type) -> frozenset[str] | None:
    """:func:`_accepted_keywords`, computed once per class (``inspect.signature`` is slow per call)."""
    accepted = _accepted_keywords(cls)
    return None if accepted is None else frozenset(accepted)


def _accepted_keywords(cls: type) -> set[str] | None:
    """Keyword options ``cls`` accepts, or None when it takes ``**kwargs``."""
    params = inspect.signature(cls).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
