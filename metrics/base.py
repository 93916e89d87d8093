"""The metric plugin API: what a metric declares, what it receives, and what it returns.

A metric declares its ``name``, direction (``higher_is_better``), the inputs it ``needs`` and its ``kind``. Per-item
metrics score one :class:`Item` and return a :class:`Score`; set-level metrics (FID, KID) accumulate features with
``update`` and compute once with ``compute``. A clip that cannot be scored raises :class:`MetricError` inside the
metric; :meth:`Metric.__call__` turns exactly that error into a failed :class:`Score` with a reason, never a number.
"""

from __future__ import annotations

import enum
import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from bench.devices import check_device
from bench.media import Clip


class Need(str, enum.Enum):
    """Inputs beyond the generated clip that a metric may need."""

    REFERENCE = "reference"
    AUDIO = "audio"
    IDENTITY = "identity"
    TRANSCRIPT = "transcript"


class Kind(str, enum.Enum):
    """Per-item metrics give one value per video; set-level metrics one value per set."""

    ITEM = "item"
    SET = "set"


class MetricError(ValueError):
    """This item cannot be scored by this metric; the message is the reason recorded for the video."""


@dataclass
class Item:
    """One evaluation item: the generated clip and what the metrics may compare it with.

    Attributes:
        generated: the generated video (its own audio, if any, is what was muxed in).
        reference: the ground-truth video, for full-reference metrics.
        identity: the identity image, uint8 ``[H, W, 3]`` RGB.
        audio: the driving audio, mono float32; defaults to the generated clip's audio.
        sample_rate: sample rate of ``audio``.
        transcript: what is said, for lip-reading metrics.
        video_id, speaker, dataset: ids carried into result rows.
    """

    generated: Clip
    reference: Clip | None = None
    identity: np.ndarray | None = None
    audio: np.ndarray | None = None
    sample_rate: int | None = None
    transcript: str | None = None
    video_id: str = ""
    speaker: str = ""
    dataset: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.generated, Clip) or not isinstance(self.reference, (Clip, type(None))):
            side, clip = ("generated", self.generated) if not isinstance(self.generated, Clip) else ("reference", self.reference)
            raise TypeError(
                f"Item.{side} must be a bench.media.Clip, got {type(clip).__name__}: "
                "wrap uint8 [T, H, W, 3] frames as Clip(frames, fps=...)"
            )
        if self.audio is None and self.generated.audio is not None:
            self.audio = self.generated.audio
            self.sample_rate = self.generated.sample_rate
        if self.audio is not None and self.sample_rate is None:
            self.sample_rate = self.generated.sample_rate
        if not self.video_id:
            self.video_id = self.generated.name

    def has(self, need: Need | str) -> bool:
        """Whether this item carries what ``need`` (a :class:`Need` or its name) asks for."""
        return getattr(self, Need(need).value) is not None  # each need is named after the field that carries it

    def audio_clip(self) -> Clip:
        """The generated frames with the driving audio: what sync metrics look at."""
        if self.audio is None:
            raise MetricError(f"{self.video_id}: no driving audio")
        if self.generated.audio is self.audio:
            return self.generated
        return self.generated.with_audio(self.audio, self.sample_rate)


@dataclass(frozen=True)
class Score:
    """What a metric says about one item.

    Attributes:
        value: the metric's value; NaN exactly when ``status`` is ``"failed"``.
        frames: how many frames the value was computed from.
        status: ``"ok"`` or ``"failed"``.
        reason: why the item was not scored (empty when ok).
        extras: secondary named values (e.g. the AV offset found with LSE), never used for ranking.
    """

    value: float
    frames: int
    status: Literal["ok", "failed"] = "ok"
    reason: str = ""
    extras: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def failed(cls, reason: str) -> Score:
        """A failed score: no number, a reason."""
        return cls(math.nan, 0, "failed", reason)

    @property
    def ok(self) -> bool:
        """Whether a value was computed."""
        return self.status == "ok"

    def nan_as_failure(self, metric: str) -> Score:
        """This score, or a failed one when it is ok with a NaN value (NaN only on a failed score, never a number)."""
        if self.ok and math.isnan(self.value):
            return Score.failed(f"{metric} computed no number (NaN) from {self.frames} frames")
        return self


def _empty_sides(item: Item, with_reference: bool) -> str:
    """Which clips of ``item`` hold no frames, as the subject of a sentence (``""`` when none)."""
    generated = item.generated.num_frames == 0
    reference = with_reference and item.reference is not None and item.reference.num_frames == 0
    if generated and reference:
        return "generated and reference videos have"
    return "generated video has" if generated else "reference video has" if reference else ""


class Metric(ABC):
    """Base class of every metric plugin.

    Subclasses set the class attributes and implement :meth:`score` (per-item) or, for set-level metrics, derive
    from :class:`SetMetric`. The constructor receives the options of the registry preset merged with user overrides.
    """

    name: ClassVar[str] = ""
    higher_is_better: ClassVar[bool | None] = None  # None: no direction (e.g. blink rate, compared with real)
    needs: ClassVar[frozenset[Need]] = frozenset()
    kind: ClassVar[Kind] = Kind.ITEM
    differentiable: ClassVar[bool] = False
    score_range: ClassVar[tuple[float | None, float | None]] = (None, None)
    weights: tuple[str, ...] = ()  # pretrained files (weights-table names) this instance needs; may depend on options

    def __init__(self, device: str = "cpu") -> None:
        self.device = check_device(device)

    @abstractmethod
    def score(self, item: Item) -> Score:
        """Score one item; raise :class:`MetricError` when it cannot be scored."""

    def prepare(self, item: Item) -> None:
        """Start, in the background, work that :meth:`score` of ``item`` will need; by default nothing.

        The threaded evaluation (``--threads``) calls it on its loader thread as soon as ``item`` is read, before the
        item waits for a compute slot. The face metrics start their face tracks in the helper process
        (:func:`bench.faces.track_soon`), where dlib does not hold this process's interpreter lock. It must not
        change what :meth:`score` returns, nor fail: a problem is reported by :meth:`score`.
        """
        return None

    def __call__(self, item: Item) -> Score:
        """Score ``item``, recording a missing input or a :class:`MetricError` as a failed score."""
        missing = [need for need in _in_order(self.needs) if not item.has(need)]
        if missing:
            return Score.failed(f"{self.name} needs {', '.join(missing)}; none was given for this video")
        empty = _empty_sides(item, Need.REFERENCE in self.needs)
        if empty:
            return Score.failed(f"the {empty} no frames")
        try:
            return self.score(item).nan_as_failure(self.name)
        except MetricError as exc:
            return Score.failed(str(exc))

    def config(self) -> dict[str, Any]:
        """The options this instance was built with, recorded in results."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and _is_plain(v)}


@functools.cache
def _in_order(needs: frozenset[Need]) -> tuple[str, ...]:
    """The names of ``needs`` (those of the :class:`Item` fields that carry them), sorted once per set."""
    return tuple(sorted(need.value for need in needs))


class SetMetric(Metric):
    """A set-level metric: ``update`` with items, ``compute`` once, ``reset`` to start over.

    State lives in tensors returned by :meth:`state` so that distributed runs reduce it exactly with
    :meth:`merge_state` (sums of float64 moments, concatenated features).
    """

    kind: ClassVar[Kind] = Kind.SET

    @abstractmethod
    def update(self, item: Item) -> int:
        """Accumulate one item; return the number of frames it contributed."""

    @abstractmethod
    def compute(self) -> Score:
        """The set-level value from the accumulated state."""

    @abstractmethod
    def reset(self) -> None:
        """Forget all accumulated state."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """The accumulated state (tensors or arrays), for distributed reduction."""

    @abstractmethod
    def merge_state(self, other: dict[str, Any]) -> None:
        """Add another process's :meth:`state` into this one."""

    def score(self, item: Item) -> Score:
        """A set-level metric of one item alone: reset, update, compute."""
        self.reset()
        self.update(item)
        return self.compute()


def _is_plain(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, type(None), tuple, list))
