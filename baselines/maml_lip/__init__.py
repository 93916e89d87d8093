"""Few-shot lip animation by MAML (Agarwal, Das, Bhowmick; seeds/000): ``maml_lip``.

``baselines.create("maml_lip", preset="tiny")``. ``fit`` trains the perceptual auto-encoder on the training lip videos
(``ae_fraction`` of the budget), then meta-trains the lip generator with MAML over subjects (or, with
``meta_learning=False``, trains it by plain transfer learning); ``adapt`` fine-tunes it on K samples of an unseen
subject; ``generate`` cuts the identity's lips around dlib's mouth landmarks, generates 16-frame lip windows over the
whole audio and pastes them back into the identity image, so that face metrics apply to whole frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from baselines import register
from baselines._deepspeech import (
    DS_RATE,
    WEIGHTS_NAME,
    DeepSpeechFeatures,
    deepspeech_or_substitute,
    load_deepspeech,
    weights_source,
)
from baselines.base import Baseline, Budget, BudgetClock, FitReport
from baselines.maml_lip.config import PRESETS, MamlLipConfig
from baselines.maml_lip.data import (
    crop_lips,
    feature_windows,
    from_video,
    generation_starts,
    lip_box,
    lms_features,
    paste_lips,
    to_video,
)
from baselines.maml_lip.model import LipAutoEncoder, LipGenerator
from baselines.maml_lip.training import (
    build_tasks,
    fine_tune,
    make_batch,
    meta_train,
    split_indices,
    train_autoencoder,
    transfer_train,
)
from bench.faces import MOUTH, track
from bench.media import Clip

__all__ = ["MamlLip", "MamlLipConfig"]


@register("maml_lip")
class MamlLip(Baseline):
    """MAML lip animation: audio + identity lip encoders, a 3-D residual lip generator, eq. 3's loss.

    Example:
        >>> import baselines
        >>> model = baselines.create("maml_lip", preset="tiny")
        >>> model.config.audio_features, model.config.lip_size, model.adapts
        ('lms', 32, True)
    """

    name = "maml_lip"
    adapts = True
    weights = (WEIGHTS_NAME,)
    Config = MamlLipConfig
    PRESETS = PRESETS

    def __init__(self, preset: str = "tiny", device: str = "cpu", seed: int = 0, **overrides: Any) -> None:
        super().__init__(preset, device, seed, **overrides)
        cfg = self.config
        cfg.audio_features = deepspeech_or_substitute(self.name, cfg.audio_features, "deepspeech", "lms")
        self.deepspeech: DeepSpeechFeatures | None = load_deepspeech(self.device) if cfg.audio_features == "deepspeech" else None
        self.net = LipGenerator(cfg.lip_size, cfg.window, cfg.ngf, cfg.width, cfg.res_blocks, cfg.out_kernel).to(self.device)
        self.autoencoder = LipAutoEncoder(cfg.ae_channels).to(self.device)
        self.modules["generator"], self.modules["autoencoder"] = self.net, self.autoencoder
        self.rng = np.random.default_rng(seed)
        self.meta_steps = 0
        self.adapt_steps = 0

    @property
    def feature_rate(self) -> float:
        """Audio feature steps per second (LMS: 16000 / hop; DeepSpeech: 50)."""
        return DS_RATE if self.deepspeech is not None else 16000 / self.config.hop

    def features(self, audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
        """The audio feature sequence ``[steps, dims]`` the encoder reads, and its steps per second."""
        if self.deepspeech is not None:
            return self.deepspeech(audio, sample_rate), DS_RATE
        cfg = self.config
        return lms_features(audio, sample_rate, cfg.n_mels, cfg.n_fft, cfg.hop), self.feature_rate

    def fit(self, clips: Sequence[Clip], budget: Budget) -> FitReport:
        """Train the auto-encoder (``ae_fraction`` of the budget), then meta-train (or transfer-train) the generator.

        Preparing the data (face tracking, lip crops, audio features) counts against a time budget.
        """
        clock = BudgetClock(budget)
        tasks = build_tasks(clips, self.config, self.features)
        report = train_autoencoder(self.autoencoder, tasks, budget.share(self.config.ae_fraction).remaining(0, clock.elapsed),
                                   self.config, self.rng, self.device)  # fmt: skip
        self.autoencoder.requires_grad_(False)
        rest = budget.remaining(report.steps, clock.elapsed)
        train = meta_train if self.config.meta_learning else transfer_train
        stage = train(self.net, self.autoencoder, tasks, rest, self.config, self.rng, self.device)
        self.autoencoder.requires_grad_(True)
        self.meta_steps += stage.steps
        report.merge(stage)
        report.seconds = clock.elapsed
        return report

    def adapt(self, clips: Sequence[Clip], budget: Budget) -> FitReport:
        """Fine-tune on K = ``shots`` samples of one unseen subject's clips; each budget step is one epoch over them."""
        tasks = build_tasks(clips, self.config, self.features)
        task = tasks[0] if len(tasks) == 1 else _merge(tasks)
        index = split_indices(task, (min(self.config.shots, task.num_samples),), self.rng)[0]
        support = make_batch(task, index, self.rng, self.device)
        self.autoencoder.requires_grad_(False)
        report = fine_tune(self.net, self.autoencoder, support, budget, self.config)
        self.autoencoder.requires_grad_(True)
        self.adapt_steps += report.steps
        return report

    @torch.no_grad()
    def _synthesize(self, image: np.ndarray, samples: np.ndarray, sample_rate: int, fps: float, frames: int,
                    reference: Clip | None) -> np.ndarray:  # fmt: skip
        """Lip windows of 16 frames over the whole audio, pasted back into the identity image."""
        cfg = self.config
        face_track = track(Clip(image[None], fps))
        box = lip_box(face_track.landmarks[:, MOUTH], face_track.found, cfg.lip_scale)
        if box is None:
            raise ValueError(f"{self.name}: dlib finds no face in the identity image; lips are generated around its mouth")
        identity = to_video(crop_lips(image[None], box, cfg.lip_size)[:, None])[:, :, 0].to(self.device)
        seq, rate = self.features(samples, sample_rate)
        starts = generation_starts(frames, cfg.window)
        windows = torch.from_numpy(feature_windows(seq, rate, starts, fps, cfg.window)).unsqueeze(1)
        lips = np.zeros((max(frames, cfg.window), cfg.lip_size, cfg.lip_size, 3), np.uint8)
        self.net.eval()
        for first in range(0, len(starts), cfg.generate_batch):
            chunk = windows[first : first + cfg.generate_batch].to(self.device)
            videos = self.net(chunk, identity.expand(chunk.size(0), -1, -1, -1))
            for start, video in zip(starts[first : first + cfg.generate_batch], videos, strict=True):
                lips[start : start + cfg.window] = from_video(video)
        return paste_lips(image, lips[:frames], box)

    def state(self) -> dict[str, Any]:
        """Steps run, and the audio features and their source (named in every saved model and result)."""
        source = weights_source() if self.deepspeech is not None else "lms"
        return {"meta_steps": self.meta_steps, "adapt_steps": self.adapt_steps, "audio_features": source}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore the step counts."""
        self.meta_steps = int(state.get("meta_steps", 0))
        self.adapt_steps = int(state.get("adapt_steps", 0))

    def output_clip(self, frames: np.ndarray, audio: np.ndarray, sample_rate: int, fps: float) -> Clip:
        """The generated clip, its metadata naming the audio features used."""
        clip = super().output_clip(frames, audio, sample_rate, fps)
        clip.meta["audio_features"] = self.config.audio_features
        return clip


def _merge(tasks: Sequence[Any]) -> Any:
    """All given subjects' samples as one task (adaptation clips without a speaker label)."""
    from baselines.maml_lip.training import TaskData

    return TaskData(*(torch.cat([getattr(t, f) for t in tasks]) for f in ("videos", "audio", "frames")))
