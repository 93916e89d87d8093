"""The temporal GAN's hyper-parameters and the ``paper`` / ``tiny`` presets.

Sources: the paper (Vougioukas, Petridis, Pantic, BMVC 2018, ``seeds/002``; "2.1.1" etc. name its sections) and
SPECS C (the authors' inference library ``sda``: encoder rules, image size, noise). Values marked CHOICE are set
by this project where neither settles them; the README lists them under "Deviations and choices".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class TemporalGANConfig:
    """Temporal GAN options; defaults are the ``paper`` preset.

    Attributes:
        temporal: the paper's model (True); False is its static baseline (3.3): no content or noise GRU (the
            conv audio code and i.i.d. noise drive each frame alone) and no sequence discriminator.
        image_height: generated face height (128, SPECS C: released models are 128x96).
        image_width: generated face width (96, SPECS C).
        face_size: face-centred square inputs are resized to this side, then cut to their centre ``image_width``
            columns (CHOICE: the aligned 128x128 crops of the protocols hold the whole face in the centre 96).
        channels: first identity-encoder layer, doubling per layer (64, SPECS C ``encoder_image``).
        audio_rate: rate the content encoder works at (CHOICE 16 kHz, the protocols' rate; sda's GRID example is
            50 kHz, which the same rules also build).
        audio_window_s: raw-audio window per video frame (0.2 s, SPECS C; 0.16 s of it overlaps the neighbours).
        audio_first_kernel_s: first conv kernel of the content encoder (0.005 s, SPECS C "large first kernel", 2.1.2).
        audio_first_stride_s: its stride (0.001 s, SPECS C).
        audio_channels: channels of the first audio conv, doubling after (16, SPECS C ``encoder_audio``).
        audio_code: per-window code of the audio conv stack (CHOICE 256, as the GRU's output).
        content_code: the content GRU's output z_c (256, 2.1.2; 2-layer GRU).
        identity_code: z_id (50, 2.1.1).
        noise_dim: z_n (10, 2.1.3; a 1-layer GRU on Gaussian noise).
        noise_std: standard deviation of that noise (0.33, SPECS C).
        seq_code: per-frame image and audio codes of the sequence discriminator (CHOICE 256).
        seq_hidden: its 2-layer GRU and classifier width (CHOICE 256; 2.2.2 gives the 2 + 2 layers).
        disc_channels: first conv of the frame discriminator and the sequence discriminator's frame encoder
            (CHOICE 64, the identity encoder's widths; 2.2.1 gives the 6 layers).
        l1_weight: lambda of the lower-half L1 loss (400, 2.3 eq. 3).
        l1_from_row: the L1 covers the rows from this fraction of the height down (0.5: the lower half, eq. 2;
            the ``tiny`` preset uses 0, the whole face, see there).
        lr_generator: Adam learning rate of the generator (2e-4, 2.3).
        lr_frame_disc: of the frame discriminator (1e-3, 2.3).
        lr_seq_disc: of the sequence discriminator, fixed (5e-5, 2.3).
        decay_start_epoch: generator and frame-discriminator rates decay after this epoch (20, 2.3) ...
        decay_rate: ... by this fraction per epoch (10%, 2.3; read as 0.9 ** (epoch - 20) from epoch 21).
        betas: Adam betas of every network (CHOICE (0.5, 0.999), the usual GAN setting; 2.3 says only "Adam").
        batch_size: sequences per step (CHOICE 16).
        seq_frames: frames per training sequence (CHOICE 75: a whole 3 s GRID utterance at 25 fps).
        frame_samples: frames per sequence that S(x) samples uniformly for the frame discriminator (CHOICE 1).
        patience_epochs: stop when the validation lower-half L1 has not improved for this many epochs (10, 2.3);
            None trains for the whole budget.
        eval_fraction: share of the training clips held out for that validation (CHOICE 0.1).
        mirror: flip training sequences horizontally with probability 0.5 (3.1: the set is doubled by mirroring).
        generate_batch: frames per decoder call at inference.
        noise_seed: seed of the generation noise; None uses the model's seed (same seed, same video).
    """

    temporal: bool = True
    image_height: int = 128
    image_width: int = 96
    face_size: int = 128
    channels: int = 64
    audio_rate: int = 16000
    audio_window_s: float = 0.2
    audio_first_kernel_s: float = 0.005
    audio_first_stride_s: float = 0.001
    audio_channels: int = 16
    audio_code: int = 256
    content_code: int = 256
    identity_code: int = 50
    noise_dim: int = 10
    noise_std: float = 0.33
    seq_code: int = 256
    seq_hidden: int = 256
    disc_channels: int = 64
    l1_weight: float = 400.0
    l1_from_row: float = 0.5
    lr_generator: float = 2e-4
    lr_frame_disc: float = 1e-3
    lr_seq_disc: float = 5e-5
    decay_start_epoch: int = 20
    decay_rate: float = 0.1
    betas: tuple[float, float] = (0.5, 0.999)
    batch_size: int = 16
    seq_frames: int = 75
    frame_samples: int = 1
    patience_epochs: int | None = 10
    eval_fraction: float = 0.1
    mirror: bool = True
    generate_batch: int = 64
    noise_seed: int | None = None

    def __post_init__(self) -> None:
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        positive = ("image_height", "image_width", "face_size", "channels", "audio_rate", "audio_channels", "audio_code",
                    "content_code", "identity_code", "noise_dim", "seq_code", "seq_hidden", "disc_channels",
                    "batch_size", "seq_frames", "frame_samples", "generate_batch")  # fmt: skip
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"temporal_gan: {name} must be >= 1, got {getattr(self, name)}")
        height, width = self.image_height, self.image_width
        if height < 16 or height & (height - 1) or (4 * width) % height:
            raise ValueError(f"temporal_gan: image_height must be a power of two >= 16 and 4 * image_width a multiple of "
                             f"it (128x96, 64x48), got {height}x{width}")  # fmt: skip
        if not width <= height <= self.face_size or width % 2:
            raise ValueError(f"temporal_gan: need an even image_width <= image_height <= face_size, got "
                             f"{height}x{width} from {self.face_size}")  # fmt: skip
        if self.frame_samples > self.seq_frames:
            raise ValueError(f"temporal_gan: frame_samples ({self.frame_samples}) exceeds seq_frames ({self.seq_frames})")
        if not 0.0 <= self.l1_from_row < 1.0:
            raise ValueError(f"temporal_gan: l1_from_row must be in [0, 1), got {self.l1_from_row}")
        if not 0.0 <= self.decay_rate < 1.0 or not 0.0 <= self.eval_fraction < 1.0:
            raise ValueError("temporal_gan: decay_rate and eval_fraction must be in [0, 1)")
        if self.patience_epochs is not None and self.patience_epochs < 1:
            raise ValueError(f"temporal_gan: patience_epochs must be >= 1 or None, got {self.patience_epochs}")

    @property
    def content_size(self) -> int:
        """Size of the content part of the latent: the GRU's z_c, or the conv code in the static baseline."""
        return self.content_code if self.temporal else self.audio_code

    def lr_factor(self, epoch: int) -> float:
        """The decay of the generator's and frame discriminator's rates in (0-based) ``epoch``.

        Example:
            >>> config = TemporalGANConfig()
            >>> config.lr_factor(20), round(config.lr_factor(22), 4)
            (1.0, 0.81)
        """
        return (1.0 - self.decay_rate) ** max(0, epoch - self.decay_start_epoch)


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # Same code at 64x48 and 1/8 width (codes and GRUs scaled alike), short sequences, a 10x generator rate and no
    # early stopping, so that a CPU run of a few dozen steps visibly learns. L1 on the whole face: with the lower
    # half only, the upper face is left to the adversarial terms, and a few hundred CPU steps leave it a coloured
    # checkerboard that dlib does not take for a face (measured at 120 and 400 steps on synthgrid).
    "tiny": {"image_height": 64, "image_width": 48, "face_size": 64, "channels": 8, "audio_channels": 4, "audio_code": 32,
             "content_code": 32, "identity_code": 16, "noise_dim": 4, "seq_code": 16, "seq_hidden": 16,
             "disc_channels": 8, "batch_size": 4, "seq_frames": 12, "frame_samples": 2, "lr_generator": 2e-3,
             "patience_epochs": None, "l1_from_row": 0.0},  # fmt: skip
}
