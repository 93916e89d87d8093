"""Wav2Lip's hyper-parameters and the ``paper`` / ``tiny`` presets.

Source: SPECS B (``hparams.py``, ``hq_wav2lip_train.py``, ``wav2lip_train.py``, ``color_syncnet_train.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

FACE_SIZE = 96  # the architecture is built for 96x96 faces (encoder 96 -> 1)
SYNCNET_T = 5  # consecutive frames per training window and per expert input


@dataclass
class Wav2LipConfig:
    """Wav2Lip options; defaults are the paper's (the hq, i.e. GAN, training script).

    Attributes:
        width: channel multiplier of all three networks (1.0 = paper).
        gan: train with the visual quality discriminator (hq script); False is the non-GAN variant.
        batch_size: generator batch (windows of 5 frames); 16 in the paper.
        expert_batch_size: expert SyncNet batch; 64 in the paper.
        lr: generator Adam learning rate (1e-4).
        disc_lr: quality discriminator learning rate (1e-4).
        expert_lr: expert SyncNet learning rate (``syncnet_lr`` 1e-4, default Adam betas).
        betas: generator / discriminator Adam betas; None = (0.5, 0.999) with GAN, Adam's (0.9, 0.999) without.
        disc_wt: weight of the adversarial ("perceptual") term with GAN (0.07).
        sync_wt_target: expert sync-loss weight once switched on; None = 0.03 with GAN, 0.01 without.
        sync_threshold: the weight switches on once the average eval sync loss is below this (0.75).
        eval_interval: generator steps between evaluations (3000).
        eval_steps: batches per evaluation; None = 300 with GAN, 700 without.
        expert_fraction: share of a ``fit`` budget spent training the expert before the generator (the paper
            trains the expert to convergence first; ``fit_expert`` / ``fit_generator`` run one stage each).
        eval_fraction: share of the training clips held out for evaluation (the original evaluates on the
            validation split).
        generate_batch: frames per generator call at inference (``wav2lip_batch_size`` 128).
        bn_recalibration: batches over which the BatchNorm statistics of the expert and of the generator are
            re-estimated at the end of their stage (0: keep the running averages, as the original does; see
            ``baselines._training.recalibrate_batchnorm``).
        paste: what of the generated 96x96 face goes back into the frame: ``"face"`` the whole face, as
            ``inference.py`` does, or ``"lower"`` only the masked lower half (rows >= 48), the rest of the
            identity frame kept as it is (the generator is given the upper half; it predicts the lower half).
    """

    width: float = 1.0
    gan: bool = True
    batch_size: int = 16
    expert_batch_size: int = 64
    lr: float = 1e-4
    disc_lr: float = 1e-4
    expert_lr: float = 1e-4
    betas: tuple[float, float] | None = None
    disc_wt: float = 0.07
    sync_wt_target: float | None = None
    sync_threshold: float = 0.75
    eval_interval: int = 3000
    eval_steps: int | None = None
    expert_fraction: float = 0.5
    eval_fraction: float = 0.1
    generate_batch: int = 128
    bn_recalibration: int = 0
    paste: Literal["face", "lower"] = "face"

    def __post_init__(self) -> None:
        if not 0.0 < self.width <= 4.0:
            raise ValueError(f"wav2lip: width must be in (0, 4], got {self.width}")
        for name in ("batch_size", "expert_batch_size", "eval_interval", "generate_batch"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"wav2lip: {name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.expert_fraction <= 1.0 or not 0.0 <= self.eval_fraction < 1.0:
            raise ValueError("wav2lip: expert_fraction must be in [0, 1] and eval_fraction in [0, 1)")
        if self.paste not in ("face", "lower") or self.bn_recalibration < 0:
            raise ValueError(f"wav2lip: paste must be 'face' or 'lower' (got {self.paste!r}), bn_recalibration >= 0")
        if self.resolved_disc_wt + self.resolved_sync_wt_target >= 1.0:
            raise ValueError("wav2lip: disc_wt + sync_wt_target must leave a positive L1 weight")

    @property
    def resolved_betas(self) -> tuple[float, float]:
        """Adam betas of the generator and the quality discriminator."""
        if self.betas is not None:
            return float(self.betas[0]), float(self.betas[1])
        return (0.5, 0.999) if self.gan else (0.9, 0.999)

    @property
    def resolved_disc_wt(self) -> float:
        """The adversarial weight in use (0 without GAN)."""
        return self.disc_wt if self.gan else 0.0

    @property
    def resolved_sync_wt_target(self) -> float:
        """The sync weight after the switch."""
        if self.sync_wt_target is not None:
            return self.sync_wt_target
        return 0.03 if self.gan else 0.01

    @property
    def resolved_eval_steps(self) -> int:
        """Batches averaged per evaluation."""
        if self.eval_steps is not None:
            return self.eval_steps
        return 300 if self.gan else 700


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # Same code and schedule logic at 1/8 width (at least 8 channels per layer); a higher learning rate and
    # frequent evaluations so that a CPU run of a few dozen steps visibly learns and exercises the switch logic.
    # The quality discriminator keeps the paper's 1e-4 (hq script): at 1e-3 it saturated within 50 steps
    # (D(real) = 1.0000, D(fake) = 0.0000, adversarial BCE 30) and its gradient was noise for the generator.
    # BatchNorm statistics re-estimated after each stage; only the generated lower half is pasted back.
    "tiny": {"width": 0.125, "batch_size": 4, "expert_batch_size": 8, "lr": 1e-3, "expert_lr": 1e-3,
             "eval_interval": 10, "eval_steps": 2, "bn_recalibration": 16, "paste": "lower"},
}
