"""The temporal GAN of Vougioukas, Petridis and Pantic (BMVC 2018): raw audio and one still image to a talking face.

``baselines.create("temporal_gan", preset="tiny")``; ``temporal_gan_static`` is the paper's frame-based baseline
(3.3): the same networks without the content and noise GRUs and without the sequence discriminator, so each frame
depends on its own 0.2 s audio window and i.i.d. noise only. Faces are 128x96 (the released models): a
face-centred (aligned) square input is resized to 128x128 and its centre 96 columns are the model's image; the
generated face is pasted back into those columns of the resized identity, which is then resized to the identity's
size. Generation is frame by frame through the GRUs, so any audio length works; the noise is seeded by
``noise_seed`` (default: the model's seed), so the same model repeats its video exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from baselines import register
from baselines._training import resize_frames, split_eval, to_uint8, usable_clips
from baselines.base import Baseline, Budget, BudgetClock, FitReport
from baselines.temporal_gan.config import PRESETS, TemporalGANConfig
from baselines.temporal_gan.model import FrameDiscriminator, Generator, SequenceDiscriminator
from baselines.temporal_gan.training import Trainer, audio_windows, face_crop, prepare, to_unit, train
from bench.media import Clip

__all__ = ["TemporalGAN", "TemporalGANConfig"]


@register("temporal_gan")
@register("temporal_gan_static", temporal=False)
class TemporalGAN(Baseline):
    """Temporal GAN: identity encoder, content encoder + GRU, noise GRU, U-Net frame decoder; two discriminators.

    Training clips: face-centred frames of any size (resized to ``face_size``), with audio, at least ``seq_frames``
    frames long.

    Example:
        >>> import baselines
        >>> model = baselines.create("temporal_gan", preset="tiny")
        >>> clip = model.generate(np.zeros((80, 80, 3), np.uint8), np.full(16000, 0.1, np.float32), 16000)
        >>> clip.num_frames, clip.size
        (25, (80, 80))
    """

    name = "temporal_gan"
    Config = TemporalGANConfig
    PRESETS = PRESETS

    def __init__(self, preset: str = "tiny", device: str = "cpu", seed: int = 0, **overrides: Any) -> None:
        super().__init__(preset, device, seed, **overrides)
        cfg = self.config
        self.generator_net = Generator(cfg).to(self.device)
        self.frame_disc = FrameDiscriminator(cfg).to(self.device)
        self.seq_disc = SequenceDiscriminator(cfg).to(self.device) if cfg.temporal else None
        self.modules["generator"], self.modules["frame_disc"] = self.generator_net, self.frame_disc
        if self.seq_disc is not None:
            self.modules["seq_disc"] = self.seq_disc
        self.trainer = Trainer(self.generator_net, self.frame_disc, self.seq_disc, cfg, self.device)
        self.steps = 0
        self.rng = np.random.default_rng(seed)
        self.eval()

    def fit(self, clips: Sequence[Clip], budget: Budget) -> FitReport:
        """Train within ``budget`` (and, with ``patience_epochs``, until validation L1 stops improving).

        The last ``eval_fraction`` of the usable clips is held out for that validation; preparing the clips counts
        against a time budget.
        """
        clock = BudgetClock(budget)
        usable = usable_clips(clips, self.config.seq_frames - 1, self.name)
        if self.config.patience_epochs is not None:
            usable, held_out = split_eval(usable, self.config.eval_fraction)
        else:
            held_out = []
        data, val = prepare(usable, self.config), prepare(held_out, self.config)
        report = train(self.trainer, data, val, budget.remaining(0, clock.elapsed), self.rng, self.generator, self.steps)
        self.steps += report.steps
        report.seconds = clock.elapsed
        return report

    @torch.no_grad()
    def _synthesize(
        self, image: np.ndarray, samples: np.ndarray, sample_rate: int, fps: float, frames: int, reference: Clip | None
    ) -> np.ndarray:
        """All frames through the GRUs in one sequence; the decoder in chunks of ``generate_batch`` frames."""
        cfg = self.config
        self.eval()
        square = resize_frames(image, cfg.face_size)
        still = to_unit(torch.from_numpy(face_crop(square, cfg)))[None].to(self.device)
        windows = torch.from_numpy(audio_windows(samples, sample_rate, frames, fps, cfg))[None].to(self.device)
        seed = self.seed if cfg.noise_seed is None else cfg.noise_seed
        noise = torch.randn(1, frames, cfg.noise_dim, generator=torch.Generator().manual_seed(seed)) * cfg.noise_std
        net = self.generator_net
        identity, skips = net.identity_encoder(still)
        latent = torch.cat([net.content(windows, cfg.generate_batch), identity[:, None].expand(-1, frames, -1),
                            net.noise(noise.to(self.device))], dim=2)[0]  # fmt: skip
        out = []
        for start in range(0, frames, cfg.generate_batch):
            chunk = latent[start : start + cfg.generate_batch]
            tiled = [s.expand(chunk.size(0), -1, -1, -1) for s in skips]
            out.append(to_uint8(net.decoder(chunk, tiled).add(1.0).div(2.0)))
        video = np.repeat(square[None], frames, axis=0)
        left, top = (cfg.face_size - cfg.image_width) // 2, (cfg.face_size - cfg.image_height) // 2
        video[:, top : top + cfg.image_height, left : left + cfg.image_width] = np.concatenate(out)
        return resize_frames(video, image.shape[0], image.shape[1])

    def state(self) -> dict[str, Any]:
        """Steps trained so far (the epoch count of the learning-rate decay continues from it)."""
        return {"steps": self.steps}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore the step count."""
        self.steps = int(state.get("steps", 0))
