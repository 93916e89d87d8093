"""Meta Talk's hyper-parameters and presets: ``paper``, ``tiny`` and the Table 3 ablation rows.

Sources: the paper (Zhang et al., ICASSP 2022; ``../shared/seeds/001_5ca81ec447ffae6a.txt``) where it speaks, and
AudioDVP (SPECS G, ``xinwen-cs/AudioDVP``), on which Meta Talk builds, where it is silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Backend = Literal["landmark", "bfm"]
A2EKind = Literal["metatalk", "audiodvp"]

A2E_CHANNELS = {
    "metatalk": (5, 5, 3, 3, 3),  # Table 1: outputs 5x254, 5x252, 3x250, 3x248, 3x246 (kernel 3, stride 1)
    "audiodvp": (5, 3, 1),  # SPECS G AudioExpressionModule: Conv1d 7->5->3->1 (the Table 3 "Baseline" A2E)
}


@dataclass
class MetaTalkConfig:
    """Meta Talk options; defaults are the paper's.

    Attributes:
        backend: face model: ``"bfm"`` (3DMM from user-supplied BFM 2009 basis files, section 2.2) or
            ``"landmark"`` (the offline landmark-PCA model with piecewise-affine rendering).
        crop_sizes: crop sizes chosen from by the face's resolution (section 2.1: 512, 768 or 1024).
        render_size: None = crop adaption (reconstruct and render at the adapted crop size); an integer = a
            fixed render size, AudioDVP's 256 (the Table 3 rows without "high definition").
        crop_margin: crop side as a multiple of the face's landmark box (choice: the whole face and chin).
        pseudo_size: face size given to Wav2Lip for the pseudo video (section 2.1: 256).
        num_pseudo_clips: pseudo clips made from the target faces and other speakers' audio (section 2; 0 = none,
            the AudioDVP baseline).
        pseudo_wav2lip: ``"train"`` (train talkbench's Wav2Lip on the training clips first) or a folder holding a
            saved ``wav2lip`` model (the paper uses Wav2Lip pre-trained on LRS2).
        wav2lip_preset: preset of that Wav2Lip.
        wav2lip_fraction: share of the fit budget for training Wav2Lip when ``pseudo_wav2lip == "train"``.
        a2e_target_pairs: also train the A2E on the target clips' own pairs (the paper trains it on the pseudo
            video's pairs only, section 2; without pseudo clips the target pairs are used, as AudioDVP does).
        a2e: ``"metatalk"`` (Table 1) or ``"audiodvp"`` (AudioDVP's 3-layer A2E).
        window: ATnet features per A2E input, centred on the frame (AudioDVP Nw = 7: the 7 of "7x256").
        feature_dim: ATnet feature size (section 2.3: 256-D).
        expression_dim: expression coefficients (section 2.2: alpha in R^64; Table 1 FC to 64).
        identity_dim: identity (geometry) coefficients (section 2.2: beta in R^80).
        atnet_pretrained: use AudioDVP's pretrained ATnet encoder (weights ``atnet-audiodvp``, frozen); False = the
            named substitute: the same encoder trained from scratch jointly with the A2E.
        atnet_width: channel multiplier of the ATnet encoder (1.0 = SPECS D).
        a2e_lr: A2E Adam learning rate (AudioDVP demo: 1e-3).
        a2e_batch: A2E batch (AudioDVP: 5).
        ngf: U-Net base channels (AudioDVP unet_256: 64).
        num_downs: U-Net down-samplings (unet_256: 8).
        refine: AudioDVP's RefineModule before each up-convolution (``--use_refine``).
        residual: the U-Net predicts a correction to the centre frame's render instead of the face (not in
            AudioDVP; the tiny preset's choice, so that short trainings keep the mouth the A2E drives).
        ndf: PatchGAN base channels (64); disc_layers: its n_layers (3).
        renderer_lr: renderer Adam learning rate (pix2pix: 2e-4); betas: Adam betas (0.5, 0.999) for all nets.
        renderer_batch: renderer batch (AudioDVP demo: 16).
        l1_weight: weight of L_rec against the GAN term (AudioDVP lambda_L1 = 100; equation 4's lambda = 1/100).
        mask_dilate: 3x3 dilations of the lower-face mask (AudioDVP: 4 at 256 px).
        mask_erode: 3x3 erosions before compositing (AudioDVP comp.py: 9 at 256 px).
        open_scale: how far past the widest training mouth the "open" expression of the mask goes (AudioDVP
            renders delta[0] = -8).
        a2e_fraction: share of the (remaining) fit budget for the A2E; the renderer gets the rest.
        fit_bfm_steps: optimisation steps per batch of frames when fitting 3DMM coefficients.
        generate_batch: frames per renderer call at inference.
    """

    backend: Backend = "bfm"
    crop_sizes: tuple[int, ...] = (512, 768, 1024)
    render_size: int | None = None
    crop_margin: float = 1.6
    pseudo_size: int = 256
    num_pseudo_clips: int = 200
    pseudo_wav2lip: str = "train"
    wav2lip_preset: str = "paper"
    wav2lip_fraction: float = 0.3
    a2e_target_pairs: bool = False
    a2e: A2EKind = "metatalk"
    window: int = 7
    feature_dim: int = 256
    expression_dim: int = 64
    identity_dim: int = 80
    atnet_pretrained: bool = True
    atnet_width: float = 1.0
    a2e_lr: float = 1e-3
    a2e_batch: int = 5
    ngf: int = 64
    num_downs: int = 8
    refine: bool = True
    residual: bool = False
    ndf: int = 64
    disc_layers: int = 3
    renderer_lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    renderer_batch: int = 16
    l1_weight: float = 100.0
    mask_dilate: int = 4
    mask_erode: int = 9
    open_scale: float = 1.5
    a2e_fraction: float = 0.3
    fit_bfm_steps: int = 100
    generate_batch: int = 16

    def __post_init__(self) -> None:
        if self.backend not in ("landmark", "bfm"):
            raise ValueError(f"meta_talk: backend must be 'landmark' or 'bfm', got {self.backend!r}")
        if self.a2e not in A2E_CHANNELS:
            raise ValueError(f"meta_talk: a2e must be one of {', '.join(A2E_CHANNELS)}, got {self.a2e!r}")
        self.crop_sizes = tuple(int(s) for s in self.crop_sizes)
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        sizes = [*self.crop_sizes, *([self.render_size] if self.render_size else [])]
        if not sizes or min(sizes) < 2**self.num_downs:
            raise ValueError(f"meta_talk: crop and render sizes must be at least 2**num_downs = {2**self.num_downs}")
        if self.window % 2 != 1 or self.feature_dim <= 2 * len(A2E_CHANNELS[self.a2e]):
            raise ValueError("meta_talk: window must be odd and feature_dim longer than the A2E's convolutions")
        for name in ("a2e_fraction", "wav2lip_fraction"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"meta_talk: {name} must be in [0, 1), got {getattr(self, name)}")
        if self.num_pseudo_clips < 0 or self.expression_dim < 1 or self.identity_dim < 0:
            raise ValueError("meta_talk: num_pseudo_clips and identity_dim must be >= 0, expression_dim >= 1")


_TINY: dict[str, Any] = {
    # Same code at demo scale: landmark backend (no user files), 128-px crops (the demo's face size), small nets.
    "backend": "landmark", "crop_sizes": (128,), "pseudo_size": 96, "num_pseudo_clips": 8, "wav2lip_preset": "tiny",
    "a2e_target_pairs": True,  # the tiny Wav2Lip's pseudo video is too weak to be the only source
    "a2e_fraction": 0.75,  # an A2E step costs a fraction of a renderer step, and the A2E needs more of them
    "expression_dim": 16, "identity_dim": 4, "atnet_pretrained": False, "atnet_width": 0.125, "a2e_batch": 8, "residual": True,
    "ngf": 8, "num_downs": 5, "ndf": 8, "renderer_batch": 4, "renderer_lr": 1e-3, "mask_dilate": 2, "mask_erode": 4,
}  # fmt: skip

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "tiny": _TINY,
    # Table 3 at demo scale. "Baseline" is AudioDVP: its 3-layer A2E on the target video only, rendered at a fixed
    # low resolution (paper 256 for 512-1024 crops; here 64 for 128 crops).
    "tiny-baseline": {**_TINY, "a2e": "audiodvp", "num_pseudo_clips": 0, "render_size": 64},
    "tiny-our-a2e": {**_TINY, "render_size": 64},  # Table 1 A2E on pseudo video, low-resolution rendering
    "tiny-high-definition": {**_TINY, "a2e": "audiodvp", "num_pseudo_clips": 0},  # crop adaption only
    # "Ours" is the tiny preset itself.
}
