"""The baseline API: fit, adapt, generate, save and load, with ``paper`` and ``tiny`` presets.

A baseline stands on the ground floor only (media, audio, faces). It trains on :class:`~bench.media.Clip` objects
with audio (face-centred, at the size its config names), generates a :class:`~bench.media.Clip` from an identity
image and driving audio, and saves itself as ``model.safetensors`` plus ``config.json``.

Length rule shared by every baseline: a generated clip has ``frame_count(len(audio), sample_rate, fps)`` frames,
the whole frames the audio spans (``floor(duration * fps)``), and carries the driving audio.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from bench.audio import check_peak, num_video_frames
from bench.devices import check_device
from bench.io import atomic_path, write_json_atomic
from bench.media import Clip
from bench.seeds import check_seed


def _finite_number(value: Any) -> bool:
    """Whether ``value`` is a finite int or float (not a bool, a string or NaN), as a config file may hold anything."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and bool(np.isfinite(value))


@dataclass(frozen=True)
class Budget:
    """How long ``fit`` or ``adapt`` may run: a step count, a time limit, or both (whichever ends first)."""

    steps: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.steps is None and self.seconds is None:
            raise ValueError("a budget needs steps or seconds")
        if self.steps is not None and not (_finite_number(self.steps) and self.steps >= 0 and int(self.steps) == self.steps):
            raise ValueError(f"budget steps must be a non-negative integer, got {self.steps!r}")
        if self.seconds is not None and not (_finite_number(self.seconds) and self.seconds >= 0):
            raise ValueError(f"budget seconds must be a non-negative number, got {self.seconds!r}")

    def share(self, fraction: float) -> Budget:
        """The part of this budget given to one stage of a multi-stage fit (steps rounded, at least 1 if any)."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"a budget share must be in [0, 1], got {fraction}")
        steps = None if self.steps is None else round(self.steps * fraction)
        if steps == 0 and fraction > 0 and self.steps:
            steps = 1
        seconds = None if self.seconds is None else self.seconds * fraction
        return Budget(steps, seconds)

    def remaining(self, steps: int = 0, seconds: float = 0.0) -> Budget:
        """What is left of this budget after ``steps`` steps and ``seconds`` of wall time (never negative)."""
        left_steps = None if self.steps is None else max(0, self.steps - steps)
        left_seconds = None if self.seconds is None else max(0.0, self.seconds - seconds)
        return Budget(left_steps, left_seconds)


class BudgetClock:
    """Counts steps against a :class:`Budget`."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.start = time.monotonic()
        self.steps = 0

    def tick(self) -> bool:
        """Count one step; False once the budget is spent."""
        self.steps += 1
        return not self.spent()

    def spent(self) -> bool:
        """Whether the budget is used up."""
        if self.budget.steps is not None and self.steps >= self.budget.steps:
            return True
        return self.budget.seconds is not None and self.elapsed >= self.budget.seconds

    @property
    def elapsed(self) -> float:
        """Seconds since the clock started."""
        return time.monotonic() - self.start


@dataclass
class FitReport:
    """What a fit or adapt did: steps run, wall time, and the loss history (one entry per logged step)."""

    steps: int
    seconds: float
    losses: dict[str, list[float]] = field(default_factory=dict)

    def log(self, **values: float) -> None:
        """Append one value to each named loss history."""
        for key, value in values.items():
            self.losses.setdefault(key, []).append(float(value))

    def merge(self, other: FitReport, prefix: str = "") -> None:
        """Add another stage's steps, time and histories (keys prefixed) to this report."""
        self.steps += other.steps
        self.seconds += other.seconds
        for key, values in other.losses.items():
            self.losses.setdefault(prefix + key, []).extend(values)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch generator for this baseline's own sampling."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def frame_count(num_samples: int, sample_rate: int, fps: float) -> int:
    """Frames of a clip driven by ``num_samples`` of audio: the whole frames the audio spans, ``floor(duration * fps)``.

    The same rule as :func:`bench.audio.num_video_frames`, which it calls: a frame is generated only when the audio
    covers all of it.

    Example:
        >>> frame_count(48000, 16000, 25.0), frame_count(16639, 16000, 25.0), frame_count(16640, 16000, 25.0)
        (75, 25, 26)
    """
    return num_video_frames(num_samples, sample_rate, fps)


def check_identity(identity: np.ndarray, who: str) -> np.ndarray:
    """Validate an identity image: uint8 ``[H, W, 3]`` RGB (ValueError naming the baseline otherwise)."""
    image = np.asarray(identity)
    if image.dtype != np.uint8:
        raise ValueError(f"{who}: the identity image must be uint8 RGB [H, W, 3], got dtype {image.dtype}")
    if image.ndim != 3 or image.shape[-1] != 3 or min(image.shape[:2]) < 1:
        raise ValueError(f"{who}: the identity image must have shape [H, W, 3], got {image.shape}")
    return image


def check_driving_audio(audio: np.ndarray, sample_rate: int, fps: float, who: str) -> tuple[np.ndarray, int]:
    """Validate driving audio (mono float, finite, scaled) and return it as float32 with its frame count at ``fps``."""
    samples = np.asarray(audio)
    if samples.ndim != 1 or not np.issubdtype(samples.dtype, np.floating):
        raise ValueError(f"{who}: driving audio must be mono float samples [N], got {samples.dtype} {samples.shape}")
    if isinstance(sample_rate, bool) or int(sample_rate) != sample_rate or sample_rate <= 0:
        raise ValueError(f"{who}: sample_rate must be a positive integer, got {sample_rate!r}")
    if not np.all(np.isfinite(samples)):
        raise ValueError(f"{who}: driving audio contains NaN or inf")
    check_peak(samples, f"{who}: driving audio")
    frames = frame_count(samples.size, int(sample_rate), fps)
    if frames < 1:
        raise ValueError(f"{who}: driving audio of {samples.size} samples is shorter than one frame at {fps} fps")
    if not np.any(samples):
        raise ValueError(f"{who}: driving audio is digital silence (every sample is 0); nothing to lip-sync to")
    return samples.astype(np.float32, copy=False), frames


class Baseline(ABC):
    """Base class of the reference methods and the anchor rows.

    Subclasses define ``Config`` (a dataclass) and ``PRESETS`` (``{"paper": {...}, "tiny": {...}}`` of overrides),
    build their networks in ``__init__`` and keep them in ``self.modules`` (name -> ``nn.Module``) so that save and
    load are shared. Training state that is not a tensor (a loss weight switched on during training, say) goes in
    :meth:`state` / :meth:`load_state` and is saved in ``config.json``.
    """

    name: ClassVar[str] = ""
    adapts: ClassVar[bool] = False  # whether ``adapt`` fine-tunes on a new subject (a protocol's few_shot is K clips)
    trainable: ClassVar[bool] = True  # False for anchors that need no fit
    weights: ClassVar[tuple[str, ...]] = ()  # weights-table names of pretrained files the method uses when present
    Config: ClassVar[type] = object
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, preset: str = "tiny", device: str = "cpu", seed: int = 0, **overrides: Any) -> None:
        self.check_config(preset, overrides)
        self.preset = preset
        self.device = torch.device(check_device(device))
        self.seed = check_seed(seed)
        self.generator = seed_everything(seed)
        options = {**self.PRESETS.get(preset, {}), **overrides}
        self.config: Any = self.Config(**options) if dataclasses.is_dataclass(self.Config) else None
        self.modules: dict[str, torch.nn.Module] = {}

    @classmethod
    def check_config(cls, preset: str, overrides: Mapping[str, Any]) -> None:
        """Refuse a preset or config option the method does not have, before anything is built.

        Raises:
            ValueError: unknown preset.
            TypeError: unknown config option (as for an unexpected keyword argument).
        """
        if cls.PRESETS and preset not in cls.PRESETS:
            raise ValueError(f"{cls.name}: unknown preset {preset!r}; presets: {', '.join(cls.PRESETS)}")
        fields = {f.name for f in dataclasses.fields(cls.Config)} if dataclasses.is_dataclass(cls.Config) else set()
        unknown = sorted(set(overrides) - fields)
        if unknown:
            options = f"; options: {', '.join(sorted(fields))}" if fields else " (it takes none)"
            raise TypeError(f"{cls.name}: unknown config option(s) {', '.join(unknown)}{options}")

    @abstractmethod
    def fit(self, clips: Sequence[Clip], budget: Budget) -> FitReport:
        """Train (or meta-train) on training clips within ``budget``."""

    def adapt(self, clips: Sequence[Clip], budget: Budget) -> FitReport:
        """Few-shot fine-tune on a new subject's clips; methods without adaptation refuse."""
        raise ValueError(f"{self.name} does not adapt to new subjects (adapts = False)")

    def generate(
        self,
        identity: np.ndarray,
        audio: np.ndarray,
        sample_rate: int,
        fps: float = 25.0,
        reference: Clip | None = None,
    ) -> Clip:
        """A talking-face clip of the audio's length at ``fps`` for the identity image (uint8 ``[H, W, 3]``).

        The clip has :func:`frame_count` frames and carries the driving audio. ``reference`` (the real video of the
        test item) is given only to anchor rows such as ``ground_truth``; methods must not look at it. The inputs
        are checked here once for every baseline (ValueError naming the problem); the method's own work is
        :meth:`_synthesize`.
        """
        image = check_identity(identity, self.name)
        samples, frames = check_driving_audio(audio, sample_rate, fps, self.name)
        out = self._synthesize(image, samples, int(sample_rate), float(fps), frames, reference)
        if isinstance(out, Clip):
            return out
        video = np.asarray(out)
        expected = (frames, *image.shape)
        if video.shape != expected:
            raise RuntimeError(f"{self.name}: generated frames have shape {video.shape}, expected {expected}")
        return self.output_clip(video, samples, sample_rate, fps)

    @abstractmethod
    def _synthesize(
        self, image: np.ndarray, samples: np.ndarray, sample_rate: int, fps: float, frames: int, reference: Clip | None
    ) -> np.ndarray | Clip:
        """The method's generation on checked inputs: uint8 frames ``[frames, H, W, 3]`` of the image's size.

        ``samples`` are the float32 driving audio, ``frames`` the number of frames to make. An anchor row may return
        a whole :class:`Clip` instead (the reference, say), which is passed through unchanged.
        """

    def state(self) -> dict[str, Any]:
        """Non-tensor training state to save beside the weights (JSON-serialisable)."""
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned."""
        del state  # baselines without such state have nothing to restore

    def output_clip(self, frames: np.ndarray, audio: np.ndarray, sample_rate: int, fps: float) -> Clip:
        """The generated clip: frames, the driving audio, and which baseline made it."""
        meta = {"baseline": self.name, "preset": self.preset, "seed": self.seed}
        return Clip(np.ascontiguousarray(frames, dtype=np.uint8), float(fps), audio, int(sample_rate), meta)

    def save(self, directory: str | Path) -> Path:
        """Write ``model.safetensors`` and ``config.json`` atomically into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {
            f"{prefix}.{key}": value.detach().cpu().contiguous()
            for prefix, module in self.modules.items()
            for key, value in module.state_dict().items()
        }
        with atomic_path(directory / "model.safetensors") as tmp:
            save_file(tensors, str(tmp))
        config = dataclasses.asdict(self.config) if self.config is not None else {}
        record = {"baseline": self.name, "preset": self.preset, "seed": self.seed, "config": config}
        write_json_atomic(directory / "config.json", {**record, "state": self.state()})
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu", name: str | None = None) -> Baseline:
        """Rebuild a saved baseline from ``directory`` (safetensors only; nothing is unpickled).

        ``name`` is the registry name it was created under, when that is a variant of ``cls``.
        """
        directory = Path(directory)
        config_path, weights_path = directory / "config.json", directory / "model.safetensors"
        for path in (config_path, weights_path):
            if not path.is_file():
                raise FileNotFoundError(f"{path}: missing; a saved baseline has config.json and model.safetensors")
        saved = json.loads(config_path.read_text())
        if saved.get("baseline") not in {cls.name, name}:
            raise ValueError(f"{config_path}: holds baseline {saved.get('baseline')!r}, not {name or cls.name!r}")
        model = cls(preset=saved["preset"], device=device, seed=saved["seed"], **saved["config"])
        model.name = saved["baseline"]  # type: ignore[misc]  # the variant name it was created under
        tensors = load_file(str(weights_path))
        strays = sorted(k for k in tensors if k.split(".", 1)[0] not in model.modules)
        if strays:
            raise ValueError(f"{weights_path}: tensors for no module of {cls.name}: {', '.join(strays[:5])}")
        for prefix, module in model.modules.items():
            state = {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
            try:
                module.load_state_dict(state)
            except RuntimeError as exc:
                raise ValueError(f"{weights_path}: weights of {prefix!r} do not fit the saved config: {exc}") from None
            module.to(model.device)
        model.load_state(saved.get("state", {}))
        return model

    def eval(self) -> None:
        """Put every module in inference mode."""
        for module in self.modules.values():
            module.eval()

    def train(self) -> None:
        """Put every module in training mode."""
        for module in self.modules.values():
            module.train()
