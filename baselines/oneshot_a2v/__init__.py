"""OneShotA2V (Kumar, Goel, Narang, Hasan, CVPRW 2020): an audio-driven SPADE generator, adapted one-shot.

The generator is trained against frame, temporal and sync discriminators through a curriculum and adapted one-shot
to an unseen face.

``baselines.create("oneshot_a2v", preset="tiny")``; the loss ablations of Tables 4-5 are the presets
``paper-base`` / ``tiny-base`` (adversarial, feature matching, perceptual) and ``paper-cl-tal`` / ``tiny-cl-tal``
(+ contrastive and temporal adversarial terms, with the reconstruction of phase 2); ``paper`` / ``tiny`` add the
blink loss. Every saved model records its audio features (``state()["audio_features"]``: DeepSpeech2 with its
weights' SHA-256, or ``mfcc-conv``, the named offline substitute) and whether the VGG19 perceptual term was on
(``state()["perceptual"]``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import torch

from baselines import register
from baselines._deepspeech import WEIGHTS_NAME as DS_WEIGHTS
from baselines._deepspeech import DeepSpeechFeatures, deepspeech_or_substitute, load_deepspeech, weights_source
from baselines._perceptual import WEIGHTS_NAME as VGG19_WEIGHTS
from baselines._perceptual import perceptual_or_none
from baselines._training import resize_frames, to_tensor, to_uint8, usable_clips
from baselines.base import Baseline, Budget, BudgetClock, FitReport
from baselines.oneshot_a2v.config import PRESETS, SYNC_FRAMES, OneShotA2VConfig
from baselines.oneshot_a2v.losses import Curriculum
from baselines.oneshot_a2v.model import (
    EyeNet,
    Generator,
    deepspeech_windows,
    frame_discriminator,
    mfcc_windows,
    temporal_discriminator,
)
from baselines.oneshot_a2v.training import AudioWindows, GANTrainer, adapt_generator, prepare, train_eye, train_sync
from baselines.wav2lip.model import SyncNet
from bench.media import Clip

__all__ = ["OneShotA2V", "OneShotA2VConfig"]


@register("oneshot_a2v")
class OneShotA2V(Baseline):
    """OneShotA2V: SPADE generator, frame / temporal / sync discriminators, EAR regressor for the blink loss.

    ``fit`` pre-trains the sync discriminator (``sync_fraction`` of the budget) and the EAR regressor
    (``eye_fraction``), then runs the curriculum on the rest; ``adapt`` fine-tunes the generator on a new subject.
    Training clips: face-centred frames (resized to ``image_size``) with audio, more than 10 frames.

    Example:
        >>> import baselines
        >>> model = baselines.create("oneshot_a2v", preset="tiny")
        >>> clip = model.generate(np.zeros((48, 48, 3), np.uint8), np.full(8000, 0.1, np.float32), 16000)
        >>> clip.num_frames, clip.size
        (12, (48, 48))
    """

    name = "oneshot_a2v"
    adapts = True
    weights = (VGG19_WEIGHTS, DS_WEIGHTS)
    Config = OneShotA2VConfig
    PRESETS = PRESETS

    def __init__(self, preset: str = "tiny", device: str = "cpu", seed: int = 0, **overrides: Any) -> None:
        super().__init__(preset, device, seed, **overrides)
        cfg = self.config
        cfg.audio_features = deepspeech_or_substitute(self.name, cfg.audio_features, "deepspeech2", "mfcc-conv")
        self.deepspeech: DeepSpeechFeatures | None = None
        self.audio_windows: AudioWindows = mfcc_windows
        source = "mfcc-conv"
        if cfg.audio_features == "deepspeech2":
            self.deepspeech = load_deepspeech(self.device)
            self.audio_windows = partial(deepspeech_windows, self.deepspeech)
            source = weights_source()
        generator = Generator(cfg, self.deepspeech.dims if self.deepspeech is not None else 0)
        nets: dict[str, torch.nn.Module] = {"generator": generator, "frame_d": frame_discriminator(cfg)}
        if cfg.use_temporal:
            nets["temporal_d"] = temporal_discriminator(cfg)
        if cfg.use_sync:
            nets["sync"] = SyncNet(cfg.sync_width)
        if cfg.use_blink:
            nets["eye"] = EyeNet(cfg.ndf)
        self.modules = {k: v.to(self.device) for k, v in nets.items()}
        self.rng = np.random.default_rng(seed)
        self.history: dict[str, Any] = {"gan_steps": 0, "sync_steps": 0, "eye_steps": 0, "adapt_steps": 0,
                                        "phase": 1, "phase_switches": [], "perceptual": "not trained yet",
                                        "audio_features": source}  # fmt: skip

    def _data(self, clips: Sequence[Clip], with_ear: bool) -> list[Any]:
        usable = usable_clips(clips, 2 * SYNC_FRAMES, self.name)
        return prepare(usable, self.config.image_size, with_ear, self.audio_windows, self.config.audio_features)

    def fit(self, clips: Sequence[Clip], budget: Budget) -> FitReport:
        """Pre-train the sync discriminator and EAR regressor, then train G and the discriminators by curriculum.

        Preparing the clips (resizing, MFCC, dlib EAR labels) counts against a time budget.
        """
        cfg, clock = self.config, BudgetClock(budget)
        data = self._data(clips, cfg.use_blink)
        perceptual, self.history["perceptual"] = perceptual_or_none(cfg.perceptual, self.device)
        report, prepared = FitReport(0, 0.0), clock.elapsed
        stages: list[tuple[str, float, Callable[..., FitReport]]] = [
            ("sync", cfg.sync_fraction if cfg.use_sync else 0.0, train_sync),
            ("eye", cfg.eye_fraction if cfg.use_blink else 0.0, train_eye),
        ]
        for name, share, train in stages:
            if share > 0:
                # preparing the clips counts against the first stage's share of a time budget
                stage_budget = budget.share(share).remaining(0, prepared if not report.steps else 0.0)
                part = train(self.modules[name], data, stage_budget, cfg, self.rng, self.device)
                self.history[f"{name}_steps"] += part.steps
                report.merge(part)
        rest = budget.remaining(report.steps, clock.elapsed)
        enabled = (True, cfg.use_temporal or cfg.use_sync or cfg.use_rec, cfg.use_blink)
        curriculum = Curriculum(rest, cfg.phase_shares, enabled, cfg.curriculum == "stable", cfg.stable_window,
                                cfg.stable_tol)  # fmt: skip
        trainer = GANTrainer(self.modules, cfg, perceptual, self.device)
        part = trainer.run(data, curriculum, self.rng)
        self.history["gan_steps"] += part.steps
        self.history["phase"] = curriculum.phase
        self.history["phase_switches"] = list(curriculum.switched_at)
        report.merge(part)
        report.seconds = clock.elapsed
        return report

    def adapt(self, clips: Sequence[Clip], budget: Budget) -> FitReport:
        """Section 5: a few epochs of reconstruction (+ perceptual) fine-tuning on the new subject's clips."""
        data = self._data(clips, with_ear=False)
        perceptual, note = perceptual_or_none(self.config.perceptual, self.device)
        self.history["adapt_perceptual"] = note
        generator = self.modules["generator"]
        assert isinstance(generator, Generator)
        report = adapt_generator(generator, data, budget, self.config, perceptual, self.rng, self.device)
        self.history["adapt_steps"] += report.steps
        return report

    @torch.no_grad()
    def _synthesize(
        self, image: np.ndarray, samples: np.ndarray, sample_rate: int, fps: float, frames: int, reference: Clip | None
    ) -> np.ndarray:
        """One generator pass per frame: the audio window centred on it and the identity image."""
        size, generator = self.config.image_size, self.modules["generator"]
        windows = self.audio_windows(samples, sample_rate, frames, fps)
        identity = to_tensor(resize_frames(image, size), self.device).unsqueeze(0)
        generator.eval()
        out = []
        for start in range(0, frames, self.config.generate_batch):
            chunk = torch.from_numpy(windows[start : start + self.config.generate_batch]).unsqueeze(1).to(self.device)
            out.append(to_uint8(generator(chunk, identity.expand(chunk.size(0), -1, -1, -1))))
        return resize_frames(np.concatenate(out), image.shape[0], image.shape[1])

    def state(self) -> dict[str, Any]:
        """Step counts, curriculum phase and switches, perceptual-loss note, audio features (and their weights)."""
        return dict(self.history)

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned."""
        self.history.update(state)
