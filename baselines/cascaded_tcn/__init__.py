"""Pose-adaptive lip sync with a cascaded TCN (Zheng, Song, Ji, ICASSP 2021), registered as ``cascaded_tcn``.

Stage 1 maps logfbank audio, the template's head pose and its cheek keypoints to the 29 talking-related landmarks
(G1 -> 13 PCA mouth coefficients, G2 -> 20 mouth + 9 jaw points); stage 2 draws them into the template frame's
landmarks, adds the template's Canny edges, renders the facial map with a pix2pixHD generator with self-attention and
pastes the rendered lower face into the template frame. ``generate`` takes a template clip (the paper's input: a
:class:`~bench.media.Clip` or uint8 frames ``[T, H, W, 3]``, played back and forth when shorter than the audio) or a
single image (a still template with a fixed head pose). Table 1's ablations and RNN baselines are presets
(``config.ABLATIONS``); :func:`baselines.cascaded_tcn.evaluation.landmark_mse` is the landmark regression measure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from baselines import register
from baselines._gan import MultiScaleDiscriminator
from baselines._perceptual import WEIGHTS_NAME as VGG19_WEIGHTS
from baselines._perceptual import perceptual_or_none
from baselines._training import resize_frames, to_uint8, usable_clips
from baselines.base import Baseline, Budget, FitReport, check_driving_audio, check_identity
from baselines.cascaded_tcn.config import ABLATIONS, MOUTH_POINTS, PRESETS, TALKING_POINTS, CascadedTCNConfig
from baselines.cascaded_tcn.evaluation import inference_seconds, landmark_mse
from baselines.cascaded_tcn.features import FaceFrames, face_frames, fill_missing, frame_audio, logfbank_features
from baselines.cascaded_tcn.maps import facial_map, lower_face_mask, map_channels, paste
from baselines.cascaded_tcn.model import CascadedMapping, Renderer, Statistics, build_mapping
from baselines.cascaded_tcn.training import RendererTrainer, fit_statistics, prepare, train_mapping
from bench.faces import track
from bench.media import Clip

__all__ = ["ABLATIONS", "CascadedTCN", "CascadedTCNConfig"]


def template_frames(identity: np.ndarray | Clip, frames: int, who: str) -> np.ndarray:
    """The template for ``frames`` frames: an image repeated, or a clip played forwards and backwards (ping-pong)."""
    video = identity.frames if isinstance(identity, Clip) else np.asarray(identity)
    if video.ndim == 3:
        return np.broadcast_to(check_identity(video, who)[None], (frames, *video.shape))
    if video.ndim != 4 or len(video) < 1:
        raise ValueError(f"{who}: a template must be an image [H, W, 3] or frames [T, H, W, 3], got shape {video.shape}")
    check_identity(video[0], who)
    cycle = np.concatenate([np.arange(len(video)), np.arange(len(video) - 2, 0, -1)]) if len(video) > 2 else np.arange(len(video))
    return video[cycle[np.arange(frames) % len(cycle)]]


@register("cascaded_tcn")
class CascadedTCN(Baseline):
    """Cascaded TCN landmark mapping plus neural renderer.

    ``fit`` fits the audio normalisation and mouth PCA on the training clips, trains the mapping on
    ``stage1_fraction`` of the budget and the renderer on the rest; ``fit_mapping`` and ``fit_renderer`` run one
    stage each. Training clips: one speaker's face-centred footage with audio (the paper: 2 hours of one person).

    Example:
        >>> import baselines
        >>> model = baselines.create("cascaded_tcn", preset="tiny")
        >>> model.config.window, model.config.dilations, type(model.modules["mapping"]).__name__
        (32, (1, 2, 4, 8), 'CascadedMapping')
    """

    name = "cascaded_tcn"
    weights = (VGG19_WEIGHTS,)
    Config = CascadedTCNConfig
    PRESETS = PRESETS

    def __init__(self, preset: str = "tiny", device: str = "cpu", seed: int = 0, **overrides: Any) -> None:
        super().__init__(preset, device, seed, **overrides)
        cfg = self.config
        self.stats = Statistics().to(self.device)
        self.mapping = build_mapping(cfg).to(self.device)
        channels = map_channels(cfg)
        self.renderer = Renderer(channels, cfg).to(self.device)
        self.disc = MultiScaleDiscriminator(channels + 3, cfg.num_d, cfg.ndf, cfg.n_layers_d).to(self.device)
        self.modules.update(stats=self.stats, mapping=self.mapping, renderer=self.renderer, disc=self.disc)
        self.rng = np.random.default_rng(seed)
        self.mapping_steps = self.renderer_steps = 0
        self.stats_fitted = False
        self.perceptual_note = "not trained"

    def fit(self, clips: Sequence[Clip], budget: Budget) -> FitReport:
        """Stage 1 on ``stage1_fraction`` of the budget, then stage 2 on the rest.

        Preparing the clips (landmarks, head pose, features; memoised on the clips) is done first and counts neither
        against the budget nor in the report's seconds, which are the two stages' training time.
        """
        self._data(clips)
        report = FitReport(0, 0.0)
        if self.config.stage1_fraction > 0:
            report.merge(self.fit_mapping(clips, budget.share(self.config.stage1_fraction)), "mapping_")
        report.merge(self.fit_renderer(clips, budget.remaining(report.steps, report.seconds)), "renderer_")
        return report

    def _data(self, clips: Sequence[Clip]) -> list[Any]:
        data = prepare(usable_clips(clips, 1, self.name), self.config, self.name)
        if not self.stats_fitted:
            fit_statistics(self.stats, data)
            self.stats.to(self.device)
            if isinstance(self.mapping, CascadedMapping):  # G2's output starts at the mean training shape (CHOICE)
                self.mapping.start_at(torch.from_numpy(np.concatenate([d.talking for d in data]).mean(0)))
            self.stats_fitted = True
        return data

    def fit_mapping(self, clips: Sequence[Clip], budget: Budget) -> FitReport:
        """Stage 1: the audio-to-landmarks mapping (equations 1-4)."""
        report = train_mapping(self.mapping, self.stats, self._data(clips), budget, self.config, self.rng, self.device)
        self.mapping_steps += report.steps
        return report

    def fit_renderer(self, clips: Sequence[Clip], budget: Budget) -> FitReport:
        """Stage 2: the renderer against the multi-scale discriminators (VGG loss when its weights are here)."""
        data = self._data(clips)
        perceptual, self.perceptual_note = perceptual_or_none(self.config.use_vgg, self.device)
        if self.config.use_vgg and perceptual is None:
            print(f"{self.name}: VGG perceptual loss {self.perceptual_note}")
        trainer = RendererTrainer(self.renderer, self.disc, perceptual, self.config, self.device)
        report = trainer.run(data, budget, self.rng)
        self.renderer_steps += report.steps
        return report

    def template_landmarks(self, template: np.ndarray) -> np.ndarray:
        """Dlib's 68 landmarks ``[T, 68, 2]`` of template frames (a still template: one frame tracked, repeated)."""
        if template.strides[0] == 0:  # a broadcast image
            one = fill_missing(track(Clip(np.ascontiguousarray(template[:1]), 25.0)).landmarks, f"{self.name}: template")
            return np.repeat(one, len(template), axis=0)
        return fill_missing(track(Clip(np.ascontiguousarray(template), 25.0)).landmarks, f"{self.name}: template")

    @torch.no_grad()
    def map_landmarks(self, geometry: FaceFrames, samples: np.ndarray, sample_rate: int, fps: float) -> np.ndarray:
        """Stage 1 on a template's geometry: the predicted talking-related points, normalised.

        Returns ``[T, 58]`` for the 29 talking-related points (``[T, 40]``, mouth only, for the RNN baselines; see
        :attr:`predicted_points`) in nose-centred face-scale units.
        """
        audio = frame_audio(logfbank_features(samples, sample_rate), len(geometry.pose), fps)
        tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a))[None].to(self.device)  # noqa: E731
        self.mapping.eval()
        pca, talking = self.mapping(self.stats.normalise_audio(tensor(audio)), tensor(geometry.pose), tensor(geometry.cheek))
        return (self.stats.decode(pca) if talking is None else talking)[0].cpu().numpy()

    @property
    def predicted_points(self) -> tuple[int, ...]:
        """Which of the 68 points the mapping predicts: the 29 talking-related ones, or the 20 mouth points (RNNs)."""
        return TALKING_POINTS if self.config.mapping == "tcn" else MOUTH_POINTS

    def predict_landmarks(self, template: np.ndarray, samples: np.ndarray, sample_rate: int, fps: float,
                          landmarks: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
        """The template's 68 landmarks ``[T, 68, 2]`` (pixels) with the predicted talking-related points put in.

        ``landmarks`` are the template's own (dlib's on the template frames when not given).
        """
        landmarks = self.template_landmarks(template) if landmarks is None else np.asarray(landmarks, np.float32)
        geometry = face_frames(landmarks, template.shape[1:3])
        out = landmarks.copy()
        out[:, list(self.predicted_points)] = geometry.recover(self.map_landmarks(geometry, samples, sample_rate, fps))
        return out

    def landmark_report(self, clips: Sequence[Clip]) -> dict[str, float]:
        """Table 1's measures on clips with true landmarks (``meta["landmarks"]``): landmark MSE and inference time.

        Keys: ``mouth-mse`` and ``jaw-mse`` (face scales squared, jaw NaN for the RNN baselines; see
        :mod:`baselines.cascaded_tcn.evaluation`) and ``inference-5min-s`` (the mapping's forward pass on 5 minutes).
        """
        errors = landmark_mse(self, clips)
        return {"mouth-mse": errors["mouth"], "jaw-mse": errors["jaw"], "inference-5min-s": inference_seconds(self)}

    def generate(self, identity: np.ndarray | Clip, audio: np.ndarray, sample_rate: int, fps: float = 25.0,
                 reference: Clip | None = None) -> Clip:  # fmt: skip
        """A lip-synced clip from a template clip (frames ``[T, H, W, 3]`` or a Clip) or a single identity image."""
        if isinstance(identity, Clip) or np.ndim(identity) == 4:
            samples, frames = check_driving_audio(audio, sample_rate, fps, self.name)
            video = self._render(template_frames(identity, frames, self.name), samples, int(sample_rate), float(fps))
            return self.output_clip(video, samples, sample_rate, fps)
        return super().generate(identity, audio, sample_rate, fps, reference)

    def _synthesize(self, image: np.ndarray, samples: np.ndarray, sample_rate: int, fps: float, frames: int,
                    reference: Clip | None) -> np.ndarray:  # fmt: skip
        """A still template: the identity image on every frame, head pose fixed."""
        return self._render(template_frames(image, frames, self.name), samples, sample_rate, fps)

    @torch.no_grad()
    def _render(self, template: np.ndarray, samples: np.ndarray, sample_rate: int, fps: float) -> np.ndarray:
        landmarks = self.template_landmarks(template)
        points = self.predict_landmarks(template, samples, sample_rate, fps, landmarks)
        height, width = template.shape[1:3]
        size = self.config.render_size
        to_map = np.array([size / width, size / height], np.float32)
        out = np.empty(template.shape, np.uint8)
        self.renderer.eval()
        for start in range(0, len(template), self.config.generate_batch):
            index = range(start, min(start + self.config.generate_batch, len(template)))
            small = resize_frames(np.ascontiguousarray(template[start : index[-1] + 1]), size)
            maps = [facial_map(small[k - start], landmarks[k] * to_map, points[k] * to_map, self.config)[0] for k in index]
            faces = to_uint8(self.renderer(torch.from_numpy(np.stack(maps)).to(self.device)))
            faces = resize_frames(faces, height, width)
            for k in index:
                mask = lower_face_mask([landmarks[k], points[k]], (height, width))
                out[k] = paste(template[k], faces[k - start], mask)
        return out

    def state(self) -> dict[str, Any]:
        """Stage step counts, whether the statistics are fitted, and what perceptual loss stage 2 used."""
        return {"mapping_steps": self.mapping_steps, "renderer_steps": self.renderer_steps,
                "stats_fitted": self.stats_fitted, "perceptual": self.perceptual_note}  # fmt: skip

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned."""
        self.mapping_steps = int(state.get("mapping_steps", 0))
        self.renderer_steps = int(state.get("renderer_steps", 0))
        self.stats_fitted = bool(state.get("stats_fitted", False))
        self.perceptual_note = str(state.get("perceptual", "not trained"))
