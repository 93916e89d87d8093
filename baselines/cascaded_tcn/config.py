"""Hyper-parameters of the cascaded TCN (Zheng, Song, Ji, ICASSP 2021) and its ``paper`` / ``tiny`` / ablation presets.

Sources: the paper (``shared/seeds/004``), SPECS F (locuslab/TCN conventions) and SPECS E (pix2pixHD). Values the
paper gives carry its section; the others are marked CHOICE and listed under "Deviations and choices" in the README.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Mapping = Literal["tcn", "lstm", "bilstm"]
LandmarkSource = Literal["dlib", "given"]

FBANK_DIM = 26  # 26-D logfbank features (section 3.1)
FBANK_FPS = 100.0  # python_speech_features' 10 ms step: 256 feature frames per 64 video frames (section 2.1)
PCA_DIM = 13  # PCA mouth features m_i in R^{64x13} (section 2.1)
POSE_DIM = 3  # head pose p_i in R^{64x3} (section 2.1)
CHEEK_POINTS = (0, 1, 2, 3, 13, 14, 15, 16)  # 8 cheek keypoints, f_i in R^{64x16} (section 2.1): the outer jaw points
MOUTH_POINTS = tuple(range(48, 68))  # 20 mouth keypoints (section 2.1)
JAW_POINTS = tuple(range(4, 13))  # 9 jaw keypoints (section 2.1): the jaw points between the cheek points
TALKING_POINTS = MOUTH_POINTS + JAW_POINTS  # the 29 talking-related landmarks, t_i in R^{64x58} (section 2.1)


@dataclass
class CascadedTCNConfig:
    """Options of the cascaded TCN; defaults are the ``paper`` preset.

    Attributes:
        mapping: ``"tcn"`` (the cascade G1 -> G2), or the baselines of Table 1, ``"lstm"`` / ``"bilstm"`` (audio to
            the PCA mouth only, no jaw).
        pose_g1: feed the head pose to G1 (Table 1 "G1 pose" / "Ours").
        pose_g2: feed the head pose to G2 (Table 1 "G2 pose" / "Ours").
        cheek: feed the 8 cheek keypoints to G2 (Table 1 "No cheek" turns it off).
        window: video frames per training sequence (64, section 2.1).
        kernel_size: TCN kernel (3, section 2.1).
        dilations: TCN dilations, one level each (1, 2, 4, 8; section 2.1).
        tcn_channels: channels of every TCN level (CHOICE: 128; the paper gives none).
        rnn_hidden: hidden units of the LSTM / BiLSTM baselines (CHOICE: 128).
        dropout: dropout in the TCN blocks (CHOICE: locuslab's default 0.2).
        lambda_pca: weight of L_pca (lambda_1 = 0.05, equation 4).
        lambda_int: weight of L_int (lambda_2 = 0.6, equation 4).
        batch_size: training sequences per step (CHOICE: 32).
        lr: Adam learning rate of the mapping (CHOICE: 1e-3, locuslab's default for Adam).
        landmarks: where training landmarks come from: ``"dlib"`` (bench.faces tracking, as the paper extracts
            them) or ``"given"`` (``clip.meta["landmarks"]``, e.g. synthgrid's true landmarks; an error if absent).
        render_size: side of the square face image the renderer draws (720, section 2.2).
        ngf: renderer base channels (32: pix2pixHD's recipe with a local enhancer, ``--netG local --ngf 32``; the
            global generator then has ``2 * ngf``).
        n_downsampling: down-samplings of the global generator (3, pix2pixHD's ``LocalEnhancer`` default; CHOICE
            over the option default 4, which 720 px does not allow: 720 / 2 / 16 is not whole).
        n_blocks: renderer residual blocks (pix2pixHD global generator: 9).
        local_enhancers: pix2pixHD local enhancers on top of the global generator (1: the global one runs at half
            the resolution, section 2.2's "hierarchical" model).
        attention_blocks: self-attention blocks after the residual blocks (CHOICE: 1; the paper gives no count).
        ndf: discriminator base channels (64, SPECS E).
        num_d: discriminator scales (pix2pixHD's option default 2, SPECS E).
        n_layers_d: layers per discriminator (3, SPECS E).
        lambda_feat: feature-matching and VGG weight (10, SPECS E).
        lambda_l1: weight of an L1 reconstruction term of the renderer (0: pix2pixHD has none; CHOICE: 10 in
            ``tiny``, standing in for the VGG loss that an offline machine lacks, so that a few hundred CPU steps
            draw a face).
        render_lr: Adam learning rate of the renderer and discriminators (2e-4, SPECS E).
        render_betas: their Adam betas ((0.5, 0.999), SPECS E).
        render_batch: renderer training batch (pix2pixHD's 1).
        use_vgg: add the VGG19 perceptual loss (pix2pixHD); its weights come from the weights manager.
        condition_on_template: add the template frame, lower face masked, to the facial map (CHOICE: False in
            ``paper``, whose renderer is person-specific; True in ``tiny`` so that the demo's unseen test speakers
            keep their own appearance).
        canny_low, canny_high: Canny thresholds of the template edges (CHOICE: 100, 200).
        stage1_fraction: share of a ``fit`` budget spent on the landmark mapping before the renderer.
        generate_batch: frames per renderer call at inference.
    """

    mapping: Mapping = "tcn"
    pose_g1: bool = True
    pose_g2: bool = True
    cheek: bool = True
    window: int = 64
    kernel_size: int = 3
    dilations: tuple[int, ...] = (1, 2, 4, 8)
    tcn_channels: int = 128
    rnn_hidden: int = 128
    dropout: float = 0.2
    lambda_pca: float = 0.05
    lambda_int: float = 0.6
    batch_size: int = 32
    lr: float = 1e-3
    landmarks: LandmarkSource = "dlib"
    render_size: int = 720
    ngf: int = 32
    n_downsampling: int = 3
    n_blocks: int = 9
    local_enhancers: int = 1
    attention_blocks: int = 1
    ndf: int = 64
    num_d: int = 2
    n_layers_d: int = 3
    lambda_feat: float = 10.0
    lambda_l1: float = 0.0
    render_lr: float = 2e-4
    render_betas: tuple[float, float] = (0.5, 0.999)
    render_batch: int = 1
    use_vgg: bool = True
    condition_on_template: bool = False
    canny_low: int = 100
    canny_high: int = 200
    stage1_fraction: float = 0.5
    generate_batch: int = 8

    def __post_init__(self) -> None:
        self.dilations = tuple(int(d) for d in self.dilations)
        self.render_betas = (float(self.render_betas[0]), float(self.render_betas[1]))
        if self.mapping not in ("tcn", "lstm", "bilstm"):
            raise ValueError(f"cascaded_tcn: mapping must be 'tcn', 'lstm' or 'bilstm', got {self.mapping!r}")
        if self.landmarks not in ("dlib", "given"):
            raise ValueError(f"cascaded_tcn: landmarks must be 'dlib' or 'given', got {self.landmarks!r}")
        for name in ("window", "tcn_channels", "rnn_hidden", "batch_size", "render_batch", "generate_batch", "ngf", "ndf"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"cascaded_tcn: {name} must be >= 1, got {getattr(self, name)}")
        if self.render_size % 2 ** (self.n_downsampling + self.local_enhancers):
            raise ValueError(
                f"cascaded_tcn: render_size {self.render_size} must be divisible by "
                f"2**(n_downsampling + local_enhancers) = {2 ** (self.n_downsampling + self.local_enhancers)}"
            )
        if not 0.0 <= self.stage1_fraction <= 1.0:
            raise ValueError(f"cascaded_tcn: stage1_fraction must be in [0, 1], got {self.stage1_fraction}")


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # Same code at toy sizes: a 32-frame window (synthgrid clips are 50 frames), 32-channel TCN levels, a 64-px
    # renderer without local enhancer, no dropout, no VGG (its weights are not on an offline machine), and the
    # template frame in the renderer's input (the demo tests on unseen speakers).
    "tiny": {
        "window": 32,
        "tcn_channels": 32,
        "rnn_hidden": 32,
        "dropout": 0.0,
        "batch_size": 8,
        "render_size": 64,
        "ngf": 8,
        "n_downsampling": 2,
        "n_blocks": 2,
        "local_enhancers": 0,
        "ndf": 8,
        "num_d": 2,
        "n_layers_d": 2,
        "use_vgg": False,
        "condition_on_template": True,
        "render_batch": 4,
        "lr": 3e-3,
        "render_lr": 1e-3,
        "lambda_l1": 10.0,
    },
}
# Table 1's ablations and baselines (section 3.2): the same code with one switch changed, at the size of the
# preset they are applied to (``baselines.create("cascaded_tcn", preset="tiny", **ABLATIONS["no_pose"])``).
ABLATIONS: dict[str, dict[str, Any]] = {
    "no_pose": {"pose_g1": False, "pose_g2": False},
    "g1_pose": {"pose_g2": False},
    "g2_pose": {"pose_g1": False},
    "ours": {},
    "no_cheek": {"cheek": False},
    "lstm": {"mapping": "lstm"},
    "bilstm": {"mapping": "bilstm"},
}
for _name, _switch in ABLATIONS.items():
    if _name != "ours":
        PRESETS[f"paper-{_name}"] = {**PRESETS["paper"], **_switch}
        PRESETS[f"tiny-{_name}"] = {**PRESETS["tiny"], **_switch}
