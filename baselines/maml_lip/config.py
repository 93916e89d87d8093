"""maml_lip's hyper-parameters and the ``paper`` / ``tiny`` presets and ablations.

Source: the paper (seeds/000, Agarwal, Das, Bhowmick), which gives the data setup, the loss, the optimisers and
the learning rates; its network follows Chen et al. ECCV'18 ("inspired by [2]"), whose research-code generator
(SPECS D, lelechen63/3d_gan ``model_base.py``) gives the layer sizes marked CHEN. Values marked CHOICE are this
project's where neither speaks; the README lists them under "Deviations and choices".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

FPS = 25.0  # V-B: GRID at 25 fps (a window of 16 frames = 0.64 s)
SAMPLE_RATE = 16000  # V-A: "All the audio signals are transformed into 16KHz"


@dataclass
class MamlLipConfig:
    """maml_lip options; defaults are the ``paper`` preset.

    Attributes:
        lip_size: side of the square lip crop (V-B: 64x64).
        window: frames per sample (V-B: 16) and ``stride`` between samples (V-B: 8).
        lip_scale: lip box side as a multiple of the larger side of the landmark 48-67 box (Chen's 2 * 0.65, SPECS D).
        n_mels, n_fft, hop: the LMS features (V-B: 128 mel bands, FFT window 1024, hop 512).
        audio_features: ``"deepspeech"`` (IV-A: DeepSpeech's one-but-last layer), ``"lms"`` (the paper's Fig. 3
            ablation, the offline substitute) or ``"auto"`` (DeepSpeech when its weights are present, else LMS;
            resolved at construction and saved, so every result names the features used).
        ngf: generator base channels (CHEN ``ngf=64``); ``width`` scales every layer (1.0 = paper).
        res_blocks: residual blocks of the lip generator (CHEN ``n_blocks=9``).
        out_kernel: kernel of the last 3-D conv (CHEN 7).
        ae_channels: channels of the perceptual auto-encoder's encoder (CHOICE 64-128-256, three stride-2 3-D convs).
        pixel_loss: ``"l1"`` (Fig. 5 and Table I call the pixel loss "L1") or ``"l2"`` (eq. 1 writes a squared norm).
        alpha_pixel: a1 of eq. 3 (CHOICE 0.5; the paper only says a1 + a2 = 1); a2 = 1 - a1.
        tasks: tasks (subjects) per episode, ``t`` of IV-C (CHOICE 4, dragen1860's task_num).
        support, query: samples per task, ``trn`` and ``qry`` of IV-C (CHOICE 10 = the K of fine-tuning, and 10).
        inner_steps: inner updates per task (CHOICE 1).
        inner_lr: inner ("local") learning rate (V-B: 0.01).
        inner_optimizer: ``"adam"`` (V-B: Adam for both) or ``"sgd"``.
        meta_lr: outer ("global") Adam learning rate (V-B: 0.001).
        second_order: differentiate through the inner updates; the paper's "fast weights copied from the global
            weights" and an Adam inner optimiser imply first-order MAML (dragen1860's convention, SPECS H).
        meta_learning: False trains the same network by plain transfer learning (Figs. 4-5 ablation): Adam at
            ``meta_lr`` on the same samples per step, no inner loop.
        ae_fraction: share of a ``fit`` budget spent on the auto-encoder before (meta-)training (CHOICE 0.2).
        shots: K, the adaptation samples of an unseen subject (V-B: 10).
        adapt_lr: fine-tuning learning rate (IV-C: the same steps as the inner loop, so ``inner_lr``); None = inner_lr.
        generate_batch: windows per forward pass at inference.
    """

    lip_size: int = 64
    window: int = 16
    stride: int = 8
    lip_scale: float = 1.3
    n_mels: int = 128
    n_fft: int = 1024
    hop: int = 512
    audio_features: Literal["auto", "deepspeech", "lms"] = "auto"
    ngf: int = 64
    width: float = 1.0
    res_blocks: int = 9
    out_kernel: int = 7
    ae_channels: tuple[int, int, int] = (64, 128, 256)
    pixel_loss: Literal["l1", "l2"] = "l1"
    alpha_pixel: float = 0.5
    tasks: int = 4
    support: int = 10
    query: int = 10
    inner_steps: int = 1
    inner_lr: float = 0.01
    inner_optimizer: Literal["adam", "sgd"] = "adam"
    meta_lr: float = 0.001
    second_order: bool = False
    meta_learning: bool = True
    ae_fraction: float = 0.2
    shots: int = 10
    adapt_lr: float | None = None
    generate_batch: int = 8

    def __post_init__(self) -> None:
        if self.lip_size % 4 or self.lip_size < 8:
            raise ValueError(f"maml_lip: lip_size must be a multiple of 4 and >= 8, got {self.lip_size}")
        for name in ("window", "stride", "tasks", "support", "query", "shots", "generate_batch", "ngf"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"maml_lip: {name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.alpha_pixel <= 1.0:
            raise ValueError(f"maml_lip: alpha_pixel must be in [0, 1] (a1 + a2 = 1), got {self.alpha_pixel}")
        if not 0.0 <= self.ae_fraction < 1.0:
            raise ValueError(f"maml_lip: ae_fraction must be in [0, 1), got {self.ae_fraction}")
        if self.audio_features not in ("auto", "deepspeech", "lms"):
            raise ValueError(f"maml_lip: audio_features must be auto, deepspeech or lms, got {self.audio_features!r}")
        if self.pixel_loss not in ("l1", "l2") or self.inner_optimizer not in ("adam", "sgd"):
            raise ValueError("maml_lip: pixel_loss must be l1 or l2 and inner_optimizer adam or sgd")
        self.ae_channels = tuple(int(c) for c in self.ae_channels)  # type: ignore[assignment]  # JSON gives a list

    @property
    def resolved_adapt_lr(self) -> float:
        """Learning rate of ``adapt``."""
        return self.inner_lr if self.adapt_lr is None else self.adapt_lr


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # Same code at 1/16 width (8 channels at least), 32x32 lips, one residual block and small episodes, for CPU tests
    # and the demo. LMS features: the tiny model never needs the DeepSpeech weights.
    "tiny": {"lip_size": 32, "width": 0.0625, "res_blocks": 1, "out_kernel": 3, "ae_channels": (8, 16, 32),
             "audio_features": "lms", "tasks": 2, "support": 4, "query": 4, "generate_batch": 16},
    # Ablations (Figs. 3-5): the same network without meta-learning, and the LMS features instead of DeepSpeech.
    "paper-transfer": {"meta_learning": False},
    "paper-lms": {"audio_features": "lms"},
    "tiny-transfer": {"lip_size": 32, "width": 0.0625, "res_blocks": 1, "out_kernel": 3, "ae_channels": (8, 16, 32),
                      "audio_features": "lms", "tasks": 2, "support": 4, "query": 4, "generate_batch": 16,
                      "meta_learning": False},
}
