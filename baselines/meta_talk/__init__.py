"""Meta Talk (Zhang et al., ICASSP 2022): 3D face model + audio-to-expression + neural rendering, on AudioDVP.

``baselines.create("meta_talk", preset="tiny")``. ``fit`` on target clips: face crops sized to the face (crop
adaption), a face model (the 3DMM of user-supplied BFM files, or the offline landmark-PCA model), pseudo video from
talkbench's Wav2Lip driven by other clips' audio, the A2E network of Table 1 on ATnet features (equation 1), and a
U-Net renderer with a PatchGAN on AudioDVP's masked lower faces (equations 2-4). ``generate``: the identity image's
face is reconstructed, its expression replaced by the A2E's per frame, re-rendered, translated by the renderer and
composited back into the image under the mask. Which face model and audio encoder were used is recorded in every
generated clip's ``meta`` and in the saved ``config.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from baselines import register
from baselines._gan import PatchDiscriminator
from baselines._training import to_uint8, usable_clips
from baselines.base import Baseline, Budget, BudgetClock, FitReport
from baselines.meta_talk.compose import alpha_mask, crop_box, crop_frames, paste
from baselines.meta_talk.config import A2E_CHANNELS, PRESETS, MetaTalkConfig
from baselines.meta_talk.face_model import FaceModel, LandmarkFaceModel
from baselines.meta_talk.model import A2E, ATnetEncoder, AudioToExpression, NeuralRenderer
from baselines.meta_talk.morphable import BFM_WEIGHTS
from baselines.meta_talk.training import (
    clip_landmarks,
    crop_size,
    prepare_targets,
    pseudo_pairs,
    stacked_input,
    to_signed,
    train_a2e,
    train_renderer,
    window_indices,
)
from bench.audio import atnet_mfcc_windows
from bench.media import Clip

__all__ = ["MetaTalk", "MetaTalkConfig"]

ATNET_WEIGHTS = "atnet-audiodvp"


class ArrayStore(torch.nn.Module):
    """The face model's arrays as float64 buffers, so that they are saved with the networks."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        super().__init__()
        for key, value in arrays.items():
            self.register_buffer(key, torch.from_numpy(np.array(value, np.float64)))

    def arrays(self) -> dict[str, np.ndarray]:
        """The buffers as numpy arrays."""
        return {key: value.cpu().numpy() for key, value in self.named_buffers()}


def make_face_model(config: MetaTalkConfig) -> FaceModel:
    """The configured backend (the 3DMM one reads the user's BFM files only when first used)."""
    if config.backend == "landmark":
        return LandmarkFaceModel(config.expression_dim, config.identity_dim)
    from baselines.meta_talk.morphable import MorphableFaceModel

    return MorphableFaceModel(config.expression_dim, config.fit_bfm_steps)


@register("meta_talk")
class MetaTalk(Baseline):
    """Meta Talk: person-specific audio-driven talking faces through a face model and a neural renderer.

    Example:
        >>> import baselines
        >>> model = baselines.create("meta_talk", preset="tiny")
        >>> model.a2e_shapes()
        [(5, 254), (5, 252), (3, 250), (3, 248), (3, 246), (16,)]
    """

    name = "meta_talk"
    weights = (ATNET_WEIGHTS, BFM_WEIGHTS)
    Config = MetaTalkConfig
    PRESETS = PRESETS

    def __init__(self, preset: str = "tiny", device: str = "cpu", seed: int = 0, **overrides: Any) -> None:
        super().__init__(preset, device, seed, **overrides)
        cfg = self.config
        encoder = ATnetEncoder(cfg.atnet_width, cfg.feature_dim)
        a2e = A2E(cfg.window, cfg.feature_dim, A2E_CHANNELS[cfg.a2e], cfg.expression_dim)
        self.audio_net = AudioToExpression(encoder, a2e).to(self.device)
        self.renderer = NeuralRenderer(cfg.window, cfg.num_downs, cfg.ngf, cfg.refine, cfg.residual).to(self.device)
        self.disc = PatchDiscriminator(3 * cfg.window + 3, cfg.ndf, cfg.disc_layers, norm="batch").to(self.device)
        self.face = make_face_model(cfg)
        self.face_store = ArrayStore(self.face.state())  # type: ignore[attr-defined]
        self.modules.update(audio=self.audio_net, renderer=self.renderer, disc=self.disc, face=self.face_store)
        self.crop_size: int | None = None
        self.rng = np.random.default_rng(seed)
        self.pseudo_source = "none"
        self.pseudo_count = 0

    def a2e_shapes(self, length: int | None = None) -> list[tuple[int, ...]]:
        """Output shape of each A2E layer (without the batch) for a ``window x length`` input (default 256)."""
        x = torch.zeros(1, self.config.window, length or self.config.feature_dim, device=self.device)
        shapes = []
        for conv in self.audio_net.a2e.convs:
            x = conv(x)
            shapes.append(tuple(x.shape[1:]))
        shapes.append((self.audio_net.a2e.fc.out_features,))
        return shapes

    @property
    def audio_features(self) -> str:
        """Which ATnet encoder is used: the pretrained one or the named substitute."""
        return "atnet-pretrained (frozen)" if self.config.atnet_pretrained else "atnet-architecture trained from scratch"

    def fit(self, clips: Sequence[Clip], budget: Budget) -> FitReport:
        """Targets and face model, pseudo video (Wav2Lip), A2E (``a2e_fraction``), renderer (the rest)."""
        cfg, clock = self.config, BudgetClock(budget)
        clips = usable_clips(clips, cfg.window, self.name)
        if cfg.atnet_pretrained:
            self._load_atnet()
        landmarks = [clip_landmarks(c) for c in clips]
        self.crop_size = crop_size(landmarks, cfg)
        if isinstance(self.face, LandmarkFaceModel):
            boxes = [crop_box(lm, cfg.crop_margin, self.crop_size) for lm in landmarks]
            self.face.fit([b.to_crop(lm) for b, lm in zip(boxes, landmarks, strict=False)], cfg.open_scale)
            self.face_store = ArrayStore(self.face.state())
            self.modules["face"] = self.face_store
        targets = prepare_targets(clips, landmarks, self.crop_size, cfg, self.face)
        report = FitReport(0, 0.0)
        pairs = [t.pairs for t in targets] if cfg.a2e_target_pairs or cfg.num_pseudo_clips == 0 else []
        if cfg.num_pseudo_clips > 0:
            wav2lip = self._wav2lip(clips, budget.share(cfg.wav2lip_fraction), report)
            pseudo = pseudo_pairs(wav2lip, clips, cfg.num_pseudo_clips, cfg, self.face, self.rng)
            self.pseudo_count = len(pseudo)
            pairs += pseudo
        if not pairs:
            raise ValueError("meta_talk: no audio-expression pairs (no face found in any pseudo clip)")
        a2e_report = train_a2e(self.audio_net, pairs, budget.share(cfg.a2e_fraction), cfg, self.rng, self.device)
        report.merge(a2e_report, "a2e/")
        rest = budget.remaining(report.steps, clock.elapsed)
        report.merge(train_renderer(self.renderer, self.disc, targets, rest, cfg, self.rng, self.device), "renderer/")
        report.seconds = clock.elapsed
        return report

    def _wav2lip(self, clips: Sequence[Clip], budget: Budget, report: FitReport) -> Baseline:
        """The Wav2Lip that makes the pseudo video: loaded from ``pseudo_wav2lip``, or trained on ``clips`` now."""
        import baselines

        source = self.config.pseudo_wav2lip
        if source != "train":
            self.pseudo_source = f"wav2lip loaded from {source}"
            return baselines.load("wav2lip", source, device=str(self.device))
        wav2lip = baselines.create("wav2lip", preset=self.config.wav2lip_preset, device=str(self.device), seed=self.seed)
        fitted = wav2lip.fit(clips, budget)
        report.merge(fitted, "wav2lip/")
        self.pseudo_source = f"wav2lip {self.config.wav2lip_preset} trained here for {fitted.steps} steps"
        return wav2lip

    def _load_atnet(self) -> None:
        """AudioDVP's pretrained ATnet audio encoder (``talkbench weights fetch --from DIR`` for atnet_lstm_18.pth)."""
        from bench import weights

        state = weights.load_state_dict(ATNET_WEIGHTS)
        encoder = self.audio_net.encoder
        ours = encoder.state_dict()
        theirs = [v for k, v in state.items() if "audio_eocder" in k and "num_batches_tracked" not in k]
        keys = [k for k in ours if "num_batches_tracked" not in k]
        if len(theirs) != len(keys) or any(a.shape != ours[k].shape for a, k in zip(theirs, keys, strict=False)):
            raise ValueError(f"{weights.path(ATNET_WEIGHTS)}: its audio_eocder tensors do not match ATnet's encoder")
        encoder.load_state_dict({**ours, **dict(zip(keys, theirs, strict=False))})
        for p in encoder.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def _synthesize(
        self, image: np.ndarray, samples: np.ndarray, sample_rate: int, fps: float, frames: int, reference: Clip | None
    ) -> np.ndarray:
        """Reconstruct the identity, replace its expression by the A2E's per frame, render, translate, composite."""
        if self.crop_size is None:
            raise ValueError("meta_talk: generate needs a fitted model (fit sets its face model and crop size)")
        cfg = self.config
        still = Clip(image[None], fps, None, sample_rate, {"name": "meta_talk identity image"})
        landmarks = clip_landmarks(still)
        box = crop_box(landmarks, cfg.crop_margin, self.crop_size)
        crop = crop_frames(image[None], box)[0]
        code = self.face.encode(box.to_crop(landmarks), crop[None])
        expression = self.expressions(samples, sample_rate, fps, frames)
        driven = code.with_expression(expression)
        renders = self.face.render(driven, crop, code)
        mask = self.face.mask(code, crop.shape[:2], cfg.mask_dilate)[0]  # type: ignore[attr-defined]
        alpha = alpha_mask(mask, cfg.mask_erode)
        masks = np.repeat(mask[None], frames, 0)
        self.renderer.eval()
        out = np.empty((frames, *image.shape), np.uint8)
        for start in range(0, frames, cfg.generate_batch):
            stop = min(frames, start + cfg.generate_batch)
            batch = np.stack([stacked_input(renders, masks, t, cfg.window) for t in range(start, stop)])
            faces = to_uint8((self.renderer(to_signed(batch, self.device)) + 1.0) / 2.0)
            for k, face in enumerate(faces):
                out[start + k] = paste(face, alpha, image, box)
        return out

    def expressions(self, samples: np.ndarray, sample_rate: int, fps: float, frames: int) -> np.ndarray:
        """The A2E's expression coefficients ``[frames, E]`` for driving audio."""
        mfcc = atnet_mfcc_windows(samples, sample_rate, frames, fps)
        pairs = [window_indices(t, frames, self.config.window) for t in range(frames)]
        windows = torch.from_numpy(np.stack([mfcc[i] for i, _ in pairs])).float().to(self.device)
        valid = torch.from_numpy(np.stack([v for _, v in pairs])).to(self.device)
        self.audio_net.eval()
        with torch.no_grad():
            return np.concatenate([self.audio_net(windows[s : s + 256], valid[s : s + 256]).cpu().numpy()
                                   for s in range(0, frames, 256)]).astype(np.float64)  # fmt: skip

    def output_clip(self, frames: np.ndarray, audio: np.ndarray, sample_rate: int, fps: float) -> Clip:
        """The generated clip, recording the face model and audio encoder used."""
        clip = super().output_clip(frames, audio, sample_rate, fps)
        clip.meta.update(face_model=self.face.name, audio_features=self.audio_features, crop_size=self.crop_size)
        return clip

    def state(self) -> dict[str, Any]:
        """Crop size and the provenance of the pseudo video, face model and audio features."""
        return {"crop_size": self.crop_size, "pseudo_source": self.pseudo_source, "pseudo_clips": self.pseudo_count,
                "face_model": self.face.name, "audio_features": self.audio_features}  # fmt: skip

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore the state and the face model's arrays from their buffers."""
        self.crop_size = state.get("crop_size")
        self.pseudo_source = str(state.get("pseudo_source", "none"))
        self.pseudo_count = int(state.get("pseudo_clips", 0))
        if isinstance(self.face, LandmarkFaceModel):
            self.face.load(self.face_store.arrays())
