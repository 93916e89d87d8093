"""Speech2Vid's hyper-parameters and the ``paper`` / ``tiny`` presets.

Source: SPECS A. The official code (joonson/yousaidthat) is an inference demo only, so sizes marked 3P come from
the third-party re-implementations the spec cites (Sindhu-Hegde/you_said_that, Keras) and those marked UNVERIFIED
are this project's choices where neither the spec nor the code settles them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

FACE_SIZE = 112  # identity input and generated face, both 112x112 (the demo suggests 109x109 output: UNVERIFIED)
MFCC_SHAPE = (12, 35)  # MFCC coefficients 2..13 x 35 frames (0.35 s), 4 MFCC frames per video frame at 25 fps


@dataclass
class Speech2VidConfig:
    """Speech2Vid options; defaults are the ``paper`` preset.

    Attributes:
        width: channel multiplier of every layer (1.0 = paper widths: audio 64-128-256-256-512, identity
            96-256-512-512-512, embeddings 256, decoder 512-256-96-96-64-3).
        identity_frames: aligned identity faces stacked on channels (5, README of yousaidthat).
        decoder_seed_channels: channels of the 7x7 map the fc layer after the concatenation is reshaped to
            (2, i.e. fc 98, 3P).
        bn_momentum: BatchNorm momentum in PyTorch's convention (Keras momentum 0.8 = 0.2 here, 3P).
        batch_size: training batch (64, 3P).
        lr: Adam learning rate of both networks (Keras default 1e-3, 3P; the paper's optimiser: UNVERIFIED).
        identity_gap: identity frames are drawn more than this many frames away from the target frame (5, 3P).
        deblur_depth: conv layers of the residual deblurring network (10, UNVERIFIED: a VDSR-style CNN).
        deblur_width: its channels (64, UNVERIFIED).
        deblur_fraction: share of a ``fit`` budget spent on the deblurring network, trained after the generator.
        generate_batch: frames per forward pass at inference.
        mfcc_alignment: how a frame's 35-column MFCC window is placed (``bench.audio.speech2vid_start_index``):
            ``"centred"`` on the frame, or ``"demo"`` as ``run_demo.m`` pairs them (0.155 s look-ahead); used the
            same way in training and generation.
        bn_recalibration: batches over which the generator's BatchNorm statistics are re-estimated at the end of
            its stage (0: keep the running averages; see ``baselines._training.recalibrate_batchnorm``).
    """

    width: float = 1.0
    identity_frames: int = 5
    decoder_seed_channels: int = 2
    bn_momentum: float = 0.2
    batch_size: int = 64
    lr: float = 1e-3
    identity_gap: int = 5
    deblur_depth: int = 10
    deblur_width: int = 64
    deblur_fraction: float = 0.25
    generate_batch: int = 64
    mfcc_alignment: Literal["centred", "demo"] = "centred"
    bn_recalibration: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.width <= 4.0:
            raise ValueError(f"speech2vid: width must be in (0, 4], got {self.width}")
        for name in ("identity_frames", "decoder_seed_channels", "batch_size", "deblur_width", "generate_batch"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"speech2vid: {name} must be >= 1, got {getattr(self, name)}")
        if self.deblur_depth < 2:
            raise ValueError(f"speech2vid: deblur_depth must be >= 2 (first and last conv), got {self.deblur_depth}")
        if self.mfcc_alignment not in ("centred", "demo"):
            raise ValueError(f"speech2vid: mfcc_alignment must be 'centred' or 'demo', got {self.mfcc_alignment!r}")
        if not 0.0 <= self.deblur_fraction < 1.0:
            raise ValueError(f"speech2vid: deblur_fraction must be in [0, 1), got {self.deblur_fraction}")

    @property
    def min_frames(self) -> int:
        """Fewest frames a training clip needs: identity frames outside the gap around any target frame."""
        return 2 * self.identity_gap + self.identity_frames + 1


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # Same code at 1/8 width with a shallow deblurring net, for CPU tests and the demo benchmark.
    "tiny": {"width": 0.125, "batch_size": 8, "deblur_depth": 4, "deblur_width": 8, "bn_recalibration": 16},
}
