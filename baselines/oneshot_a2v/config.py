"""OneShotA2V's hyper-parameters, the ``paper`` / ``tiny`` presets and the loss ablations of Tables 4-5.

Sources: the paper (Kumar, Goel, Narang, Hasan, CVPRW 2020, ``seeds/003``; "3.1", "4.1.2" etc. name its sections)
and, where it is silent, the closest public code of its building blocks (SPECS E: NVlabs/SPADE, NVIDIA/pix2pixHD).
Values marked CHOICE are this project's; the README lists them under "Deviations and choices".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

SYNC_FRAMES = 5  # the sync discriminator's 5 frames and 0.2 s of audio (3.2.3); also the training window
SYNC_FACE = 96  # sync discriminator faces: Wav2Lip's SyncNet layout on 96x96 faces, lower half 48x96 (CHOICE)
MFCC_COEFFS = 13  # 13 MFCC coefficients (6.1)
MFCC_COLUMNS = 20  # 0.2 s of audio per frame at a 10 ms hop (3.1, 6.1), centred on the frame (3.1)
Curriculum = Literal["stable", "shares"]
AudioFeatures = Literal["auto", "deepspeech2", "mfcc-conv"]
AUDIO_FEATURES = ("auto", "deepspeech2", "mfcc-conv")


@dataclass
class OneShotA2VConfig:
    """OneShotA2V options; defaults are the ``paper`` preset.

    Attributes:
        image_size: generated face side (CHOICE 256: SPADE's default crop; the paper gives none).
        ngf: SPADE generator base width nf (64, SPADE ``ngf``); channels 16nf at the head down to nf.
        spade_hidden: hidden channels of each SPADE layer (128, SPADE ``nhidden``).
        norm: SPADE's parameter-free norm (batch: SPADE's ``spectralspadesyncbatch3x3``).
        spectral: spectral norm on the generator's convs (SPADE's ``norm_G``; it adds no parameters).
        audio_dim: audio code fed to the generator's first layer (256, SPADE ``z_dim`` of the layer it replaces).
        audio_features: ``"deepspeech2"`` (3.1.1: pre-trained DeepSpeech2 layers, weights ``deepspeech2-librispeech``
            through the weights manager, frozen, then a trainable encoder), ``"mfcc-conv"`` (the named offline
            substitute: 13 MFCCs through a trainable conv encoder) or ``"auto"`` (DeepSpeech2 when its weights are
            present); resolved at construction and saved, and every result records it.
        audio_channels: first conv width of the audio encoder (CHOICE 64, doubling to 8x over MFCC; 4x and 8x
            over DeepSpeech2 features).
        ndf: discriminator base width (64, pix2pixHD ``ndf``).
        num_d: scales of the frame and temporal discriminators (3: D1, D2, D3 of 3.2.1).
        n_layers_d: layers per PatchGAN (3, pix2pixHD ``n_layers_D``).
        gan_mode: adversarial loss; ``bce`` is the log loss of eq. 4.1.1 (generator non-saturating); ``hinge`` and
            ``lsgan`` are SPADE's and pix2pixHD's.
        lambda_feat: feature-matching weight (4.1.3; 10 as SPADE and pix2pixHD).
        lambda_vgg: perceptual weight lambda (4.1.4; 10 as SPADE and pix2pixHD).
        lambda_rec: lower-half L1 weight (4.1.2; CHOICE 10).
        lambda_temporal: temporal adversarial weight (3.2.2; CHOICE 1).
        lambda_sync: contrastive sync weight (4.1.5; CHOICE 1).
        lambda_blink: EAR blink loss weight (4.1.6; CHOICE 10: EAR differences are ~0.1).
        sync_margin: margin of the contrastive loss (4.1.5; CHOICE 1.0 on unit-length embeddings).
        sync_width: channel multiplier of the SyncNet-layout sync discriminator (1.0 = Wav2Lip's).
        perceptual: use the VGG19 perceptual loss when its weights are present (offline: off, recorded).
        use_temporal, use_sync, use_rec, use_blink: the ablation switches of Tables 4-5 (TAL, CL, rec., BL).
        curriculum: ``stable``: a phase ends when its generator loss stabilises (section 4) or at its budget share;
            ``shares``: at its share of the budget.
        phase_shares: budget shares of phases 1, 2, 3 (CHOICE 0.3, 0.4, 0.3).
        stable_window: steps compared by the stability rule (CHOICE 200): the relative change between the means of
            the two halves of the last ``stable_window`` steps.
        stable_tol: that change below which a phase's losses count as stable (CHOICE 0.02).
        sync_fraction: share of a ``fit`` budget for pre-training the sync discriminator first (4.1.5, CHOICE 0.2).
        eye_fraction: share for pre-training the EAR regressor of the blink loss (CHOICE 0.1; 0 without blinks).
        batch_size: 5-frame windows per step (CHOICE 4).
        sync_batch_size: sync discriminator pre-training batch (CHOICE 32).
        lr: Adam learning rate of G and the frame and temporal discriminators (0.002, 6.1).
        aux_lr: Adam rate (default betas) of the sync discriminator and EAR regressor pre-training (CHOICE 1e-4,
            Wav2Lip's expert rate).
        betas: Adam betas (0.0, 0.9; 6.1).
        constant_share: share of training at the constant rate before the linear decay to 0 (50 of 150 epochs, 6.1).
        adapt_epochs: one-shot fine-tuning epochs over the unseen subject's frames (5, section 5).
        adapt_lr: fine-tuning learning rate (CHOICE 2e-4).
        generate_batch: frames per generator call at inference.
    """

    image_size: int = 256
    ngf: int = 64
    spade_hidden: int = 128
    norm: Literal["batch", "instance"] = "batch"
    spectral: bool = True
    audio_dim: int = 256
    audio_features: AudioFeatures = "auto"
    audio_channels: int = 64
    ndf: int = 64
    num_d: int = 3
    n_layers_d: int = 3
    gan_mode: Literal["bce", "hinge", "lsgan"] = "bce"
    lambda_feat: float = 10.0
    lambda_vgg: float = 10.0
    lambda_rec: float = 10.0
    lambda_temporal: float = 1.0
    lambda_sync: float = 1.0
    lambda_blink: float = 10.0
    sync_margin: float = 1.0
    sync_width: float = 1.0
    perceptual: bool = True
    use_temporal: bool = True
    use_sync: bool = True
    use_rec: bool = True
    use_blink: bool = True
    curriculum: Curriculum = "stable"
    phase_shares: tuple[float, float, float] = (0.3, 0.4, 0.3)
    stable_window: int = 200
    stable_tol: float = 0.02
    sync_fraction: float = 0.2
    eye_fraction: float = 0.1
    batch_size: int = 4
    sync_batch_size: int = 32
    lr: float = 2e-3
    aux_lr: float = 1e-4
    betas: tuple[float, float] = (0.0, 0.9)
    constant_share: float = 1.0 / 3.0
    adapt_epochs: int = 5
    adapt_lr: float = 2e-4
    generate_batch: int = 16

    def __post_init__(self) -> None:
        self.phase_shares = tuple(float(s) for s in self.phase_shares)  # type: ignore[assignment]  # JSON gives lists
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        if self.image_size % 32 or self.image_size < 64:
            raise ValueError(f"oneshot_a2v: image_size must be a multiple of 32 and >= 64, got {self.image_size}")
        if len(self.phase_shares) != 3 or any(s < 0 for s in self.phase_shares) or sum(self.phase_shares) <= 0:
            raise ValueError(f"oneshot_a2v: phase_shares must be 3 non-negative shares, got {self.phase_shares}")
        if not 0 <= self.sync_fraction + self.eye_fraction < 1:
            raise ValueError("oneshot_a2v: sync_fraction + eye_fraction must be in [0, 1)")
        if self.audio_features not in AUDIO_FEATURES:
            choices = ", ".join(AUDIO_FEATURES)
            raise ValueError(f"oneshot_a2v: audio_features must be one of {choices}, got {self.audio_features!r}")
        if self.curriculum not in ("stable", "shares"):
            raise ValueError(f"oneshot_a2v: curriculum must be 'stable' or 'shares', got {self.curriculum!r}")
        for name in ("batch_size", "sync_batch_size", "generate_batch", "stable_window", "ngf", "ndf"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"oneshot_a2v: {name} must be >= 1, got {getattr(self, name)}")


_TINY: dict[str, Any] = {
    # Same code at 64x64 and about 1/8 width; the curriculum by budget shares so that short CPU runs reach every phase.
    "image_size": 64, "ngf": 8, "spade_hidden": 16, "audio_dim": 32, "audio_channels": 8, "ndf": 8, "num_d": 2,
    "n_layers_d": 2, "sync_width": 0.125, "curriculum": "shares", "batch_size": 2, "sync_batch_size": 8, "lr": 1e-3,
    "aux_lr": 3e-4, "adapt_lr": 1e-3, "stable_window": 20,
    # aux_lr 3e-4: trained on synthgrid's 72 training clips (batch 16, 1500 steps) the sync discriminator separates
    # in-sync from 5-frame-shifted pairs of the unseen s07/s08 with AUC 0.66; at 1e-3 its face branch collapses to
    # one embedding and the AUC stays 0.50 (tools/oneshot_a2v_sync.py)
    "audio_features": "mfcc-conv",  # the demo needs no download, and its checkpoint's shape must not depend on one
}  # fmt: skip
# Tables 4-5: the base model (adversarial, feature matching, perceptual), + contrastive and temporal adversarial
# (with the phase-2 reconstruction of section 4), + blink loss (= the full model).
_BASE = {"use_temporal": False, "use_sync": False, "use_rec": False, "use_blink": False, "eye_fraction": 0.0,
         "sync_fraction": 0.0}  # fmt: skip
_CL_TAL = {"use_blink": False, "eye_fraction": 0.0}

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "tiny": _TINY,
    "paper-base": _BASE,
    "paper-cl-tal": _CL_TAL,
    "tiny-base": {**_TINY, **_BASE},
    "tiny-cl-tal": {**_TINY, **_CL_TAL},
}
