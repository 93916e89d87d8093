"""Meta Talk training data and loops: target faces, pseudo video, the A2E (equation 1) and the renderer (eqs. 2-4).

Per target clip (section 2, Fig. 1): 68 landmarks by :func:`bench.faces.track`, the fixed crop box (crop adaption),
the crops, the face code, ATnet MFCC windows of its audio, and the renderer pairs: the synthetic face of every frame
(the clip's first frame re-rendered with that frame's code: the texture a still identity image gives at inference)
and the real crop, both under AudioDVP's lower-face mask. Pseudo clips: a target's first frame driven through
talkbench's Wav2Lip by another clip's audio, reconstructed the same way, give extra (audio, expression) pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from baselines._gan import discriminator_loss, generator_loss
from baselines._training import adam, resize_frames, to_tensor
from baselines.base import Budget, BudgetClock, FitReport
from baselines.meta_talk.compose import CropBox, choose_size, crop_box, crop_frames, face_side
from baselines.meta_talk.config import MetaTalkConfig
from baselines.meta_talk.face_model import FaceCode, FaceModel
from baselines.meta_talk.model import AudioToExpression, NeuralRenderer
from bench.audio import atnet_mfcc_windows
from bench.faces import track
from bench.media import Clip


@dataclass
class AudioPairs:
    """A clip's (audio, expression) pairs: MFCC windows ``[T, 28, 12]`` and expression ``[T, E]`` (NaN = no face)."""

    mfcc: np.ndarray
    expression: np.ndarray


@dataclass
class TargetData:
    """One target clip prepared for training."""

    box: CropBox
    crops: np.ndarray  # uint8 [T, S, S, 3]
    code: FaceCode
    pairs: AudioPairs
    renders: np.ndarray | None = None  # uint8 [T, S, S, 3], synthetic faces
    masks: np.ndarray | None = None  # uint8 [T, S, S], lower-face masks


def clip_landmarks(clip: Clip) -> np.ndarray:
    """68 landmarks ``[T, 68, 2]`` of a clip; frames without a face take the nearest found frame's.

    Raises:
        ValueError: no face on any frame (named).
    """
    face_track = track(clip)
    found = np.flatnonzero(face_track.found)
    if found.size == 0:
        raise ValueError(f"meta_talk: no face found in {clip.name}: {face_track.describe_missing()}")
    nearest = found[np.abs(np.arange(clip.num_frames)[:, None] - found[None]).argmin(1)]
    return face_track.landmarks[nearest].astype(np.float64)


def window_indices(t: int, num_frames: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``t - w//2 .. t + w//2`` clamped to the clip, and which of them are inside it.

    Example:
        >>> window_indices(1, 10, 7)
        (array([0, 0, 0, 1, 2, 3, 4]), array([False, False,  True,  True,  True,  True,  True]))
    """
    frames = np.arange(t - window // 2, t + window // 2 + 1)
    return np.clip(frames, 0, num_frames - 1), (frames >= 0) & (frames < num_frames)


def crop_size(landmarks: Sequence[np.ndarray], config: MetaTalkConfig) -> int:
    """Crop adaption for a set of videos: the size that holds their median face side."""
    side = float(np.median([face_side(lm, config.crop_margin)[1] for lm in landmarks]))
    return choose_size(side, config.crop_sizes, config.render_size)


def prepare_targets(clips: Sequence[Clip], landmarks: Sequence[np.ndarray], size: int, config: MetaTalkConfig,
                    face: FaceModel) -> list[TargetData]:  # fmt: skip
    """Crops, codes, audio pairs, renders and masks of the target clips (the face model is already fitted)."""
    out = []
    for clip, points in zip(clips, landmarks, strict=False):
        box = crop_box(points, config.crop_margin, size)
        crops = crop_frames(clip.frames, box)
        local = box.to_crop(points)
        code = face.encode(local, crops)
        audio = np.asarray(clip.audio)  # usable_clips checked that every clip has audio
        pairs = AudioPairs(atnet_mfcc_windows(audio, clip.sample_rate, clip.num_frames, clip.fps), code.expression)
        first = FaceCode(code.identity, code.detail, code.expression[:1], code.pose[:1], code.extra)
        renders = face.render(code, crops[0], first)
        masks = face.mask(code, (size, size), config.mask_dilate)  # type: ignore[attr-defined]
        out.append(TargetData(box, crops, code, pairs, renders, masks))
    return out


def pseudo_pairs(wav2lip: object, clips: Sequence[Clip], count: int, config: MetaTalkConfig, face: FaceModel,
                 rng: np.random.Generator) -> list[AudioPairs]:  # fmt: skip
    """``count`` pseudo clips: a target's first face (at ``pseudo_size``) lip-synced by Wav2Lip to another clip's audio.

    The identity and the audio come from different clips (different speakers when the clips carry a ``speaker``).
    Frames where no face is found in the pseudo video are left out (NaN expression).
    """
    out = []
    for k in range(count):
        target = clips[k % len(clips)]
        others = [c for c in clips if c is not target and c.meta.get("speaker") != target.meta.get("speaker")]
        others = others or [c for c in clips if c is not target] or [target]
        source = others[int(rng.integers(len(others)))]
        still = resize_frames(target.frames[0], config.pseudo_size)
        pseudo = wav2lip.generate(still, source.audio, source.sample_rate, source.fps)  # type: ignore[attr-defined]
        frames = pseudo.frames
        face_track = track(Clip(frames, pseudo.fps, pseudo.audio, pseudo.sample_rate, {"name": f"pseudo-{k}"}))
        if face_track.found.sum() < 2:
            continue
        points = np.where(face_track.found[:, None, None], face_track.landmarks, np.nan).astype(np.float64)
        valid = face_track.found
        code = face.encode(points[valid], frames[valid])
        expression = np.full((len(frames), code.expression.shape[1]), np.nan)
        expression[valid] = code.expression
        mfcc = atnet_mfcc_windows(pseudo.audio, pseudo.sample_rate, len(frames), pseudo.fps)
        out.append(AudioPairs(mfcc, expression))
    return out


def a2e_batch(data: Sequence[AudioPairs], size: int, window: int, rng: np.random.Generator
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """MFCC windows ``[B, Nw, 28, 12]``, validity ``[B, Nw]`` and target expressions ``[B, E]``."""
    mfccs: list[np.ndarray] = []
    valids: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    while len(targets) < size:
        item = data[int(rng.integers(len(data)))]
        t = int(rng.integers(len(item.expression)))
        if not np.isfinite(item.expression[t]).all():
            continue
        index, valid = window_indices(t, len(item.expression), window)
        mfccs.append(item.mfcc[index])
        valids.append(valid)
        targets.append(item.expression[t])
    return (torch.from_numpy(np.stack(mfccs)).float(), torch.from_numpy(np.stack(valids)),
            torch.from_numpy(np.stack(targets)).float())  # fmt: skip


def _update(optimiser: torch.optim.Optimizer, loss: torch.Tensor) -> float:
    """One optimiser step on ``loss`` (gradients cleared first); returns its value."""
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    return loss.item()


def train_a2e(net: AudioToExpression, data: Sequence[AudioPairs], budget: Budget, config: MetaTalkConfig,
              rng: np.random.Generator, device: torch.device) -> FitReport:  # fmt: skip
    """Equation 1: MSE between the A2E's expression and the reconstructed one (Adam, AudioDVP's settings)."""
    params = net.a2e.parameters() if config.atnet_pretrained else net.parameters()
    optimiser = adam(params, config.a2e_lr, config.betas)
    report, clock = FitReport(0, 0.0), BudgetClock(budget)
    net.train()
    if config.atnet_pretrained:
        net.encoder.eval()  # frozen pretrained features, as AudioDVP precomputes them
    while not clock.spent():
        mfcc, valid, target = (t.to(device) for t in a2e_batch(data, config.a2e_batch, config.window, rng))
        report.log(a2e=_update(optimiser, F.mse_loss(net(mfcc, valid), target)))
        clock.tick()
    net.eval()
    report.steps, report.seconds = clock.steps, clock.elapsed
    return report


def stacked_input(renders: np.ndarray, masks: np.ndarray, t: int, window: int) -> np.ndarray:
    """The renderer input of frame ``t``: the masked renders of its ``window`` frames, channels stacked ``[H, W, 3Nw]``."""
    index, _ = window_indices(t, len(renders), window)
    return np.concatenate([renders[i] * masks[i][..., None] for i in index], axis=-1)


def to_signed(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 ``[..., H, W, C]`` -> float ``[..., C, H, W]`` in [-1, 1]."""
    return to_tensor(images, device).mul(2.0).sub(1.0)


def renderer_batch(data: Sequence[TargetData], size: int, window: int, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Stacked masked renders ``[B, H, W, 3Nw]`` and masked real crops ``[B, H, W, 3]`` (uint8)."""
    inputs, targets = [], []
    for _ in range(size):
        item = data[int(rng.integers(len(data)))]
        assert item.renders is not None and item.masks is not None
        t = int(rng.integers(len(item.crops)))
        inputs.append(stacked_input(item.renders, item.masks, t, window))
        targets.append(item.crops[t] * item.masks[t][..., None])
    return np.stack(inputs), np.stack(targets)


def train_renderer(generator: NeuralRenderer, disc: torch.nn.Module, data: Sequence[TargetData], budget: Budget,
                   config: MetaTalkConfig, rng: np.random.Generator, device: torch.device) -> FitReport:  # fmt: skip
    """Equations 2-4: ``l1_weight * L1 + GAN`` for G, vanilla (BCE) PatchGAN on (input, output) pairs for D."""
    opt_g = adam(generator.parameters(), config.renderer_lr, config.betas)
    opt_d = adam(disc.parameters(), config.renderer_lr, config.betas)
    report, clock = FitReport(0, 0.0), BudgetClock(budget)
    generator.train()
    disc.train()
    while not clock.spent():
        inputs, targets = renderer_batch(data, config.renderer_batch, config.window, rng)
        x, y = to_signed(inputs, device), to_signed(targets, device)
        fake = generator(x)
        l1 = F.l1_loss(fake, y)
        adv = generator_loss(disc(torch.cat([x, fake], 1))[-1], "bce")
        _update(opt_g, config.l1_weight * l1 + adv)
        real_pred = disc(torch.cat([x, y], 1))[-1]
        fake_pred = disc(torch.cat([x, fake.detach()], 1))[-1]
        d_loss = _update(opt_d, 0.5 * discriminator_loss(real_pred, fake_pred, "bce"))  # pix2pix halves D's loss
        report.log(l1=l1.item(), adversarial=adv.item(), disc=d_loss)
        clock.tick()
    generator.eval()
    disc.eval()
    report.steps, report.seconds = clock.steps, clock.elapsed
    return report
