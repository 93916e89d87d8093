"""The baseline API: fit, adapt, generate, save and load, with ``paper`` and ``tiny`` presets.

A baseline stands on the ground floor only (media, audio, faces). It trains on :class:`~bench.media.Clip` objects
with audio (face-centred, at the size its config names), generates a :class:`~bench.media.Clip` from an identity
image and driving audio, and saves itself as ``model.safetensors`` plus ``config.json``.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from bench.io import atomic_path, write_json_atomic
from bench.media import Clip


@dataclass(frozen=True)
class Budget:
    """How long ``fit`` or ``adapt`` may run: a step count, a time limit, or both (whichever ends first)."""

    steps: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.steps is None and self.seconds is None:
            raise ValueError("a budget needs steps or seconds")


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
        return self.budget.seconds is not None and time.monotonic() - self.start >= self.budget.seconds


@dataclass
class FitReport:
    """What a fit or adapt did: steps run, wall time, and the loss history (one entry per logged step)."""

    steps: int
    seconds: float
    losses: dict[str, list[float]] = field(default_factory=dict)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch generator for this baseline's own sampling."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


class Baseline(ABC):
    """Base class of the reference methods and the anchor rows.

    Subclasses define ``Config`` (a dataclass) and ``PRESETS`` (``{"paper": {...}, "tiny": {...}}`` of overrides),
    build their networks in ``__init__`` and keep them in ``self.modules`` (name -> ``nn.Module``) so that save and
    load are shared.
    """

    name: ClassVar[str] = ""
    few_shot: ClassVar[bool] = False  # whether ``adapt`` fine-tunes on a new subject
    trainable: ClassVar[bool] = True  # False for anchors that need no fit
    Config: ClassVar[type] = object
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, preset: str = "tiny", device: str = "cpu", seed: int = 0, **overrides: Any) -> None:
        if self.PRESETS and preset not in self.PRESETS:
            raise ValueError(f"{self.name}: unknown preset {preset!r}; presets: {', '.join(self.PRESETS)}")
        self.preset = preset
        self.device = torch.device(device)
        self.seed = seed
        self.generator = seed_everything(seed)
        fields = {f.name for f in dataclasses.fields(self.Config)} if dataclasses.is_dataclass(self.Config) else set()
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise TypeError(f"{self.name}: unknown config option(s) {', '.join(unknown)}")
        options = {**self.PRESETS.get(preset, {}), **overrides}
        self.config = self.Config(**options) if dataclasses.is_dataclass(self.Config) else None
        self.modules: dict[str, torch.nn.Module] = {}

    @abstractmethod
    def fit(self, clips: Sequence[Clip], budget: Budget) -> FitReport:
        """Train (or meta-train) on training clips within ``budget``."""

    def adapt(self, clips: Sequence[Clip], budget: Budget) -> FitReport:
        """Few-shot fine-tune on a new subject's clips; methods without adaptation refuse."""
        raise ValueError(f"{self.name} does not adapt to new subjects (few_shot = False)")

    @abstractmethod
    def generate(
        self,
        identity: np.ndarray,
        audio: np.ndarray,
        sample_rate: int,
        fps: float = 25.0,
        reference: Clip | None = None,
    ) -> Clip:
        """A talking-face clip of the audio's length at ``fps`` for the identity image (uint8 ``[H, W, 3]``).

        ``reference`` (the real video of the test item) is given only to anchor rows such as ``ground_truth``;
        methods must not look at it.
        """

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
        write_json_atomic(
            directory / "config.json", {"baseline": self.name, "preset": self.preset, "seed": self.seed, "config": config}
        )
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> Baseline:
        """Rebuild a saved baseline from ``directory`` (safetensors only; nothing is unpickled)."""
        directory = Path(directory)
        config_path, weights_path = directory / "config.json", directory / "model.safetensors"
        for path in (config_path, weights_path):
            if not path.is_file():
                raise FileNotFoundError(f"{path}: missing; a saved baseline has config.json and model.safetensors")
        saved = json.loads(config_path.read_text())
        if saved.get("baseline") != cls.name:
            raise ValueError(f"{config_path}: holds baseline {saved.get('baseline')!r}, not {cls.name!r}")
        model = cls(preset=saved["preset"], device=device, seed=saved["seed"], **saved["config"])
        tensors = load_file(str(weights_path))
        for prefix, module in model.modules.items():
            state = {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
            module.load_state_dict(state)
            module.to(model.device)
        return model

    def eval(self) -> None:
        """Put every module in inference mode."""
        for module in self.modules.values():
            module.eval()
