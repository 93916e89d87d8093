"""Temporal GAN: the paper architecture, SPECS C's encoder rules, noise, training, variants, save/load, generation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from baseline_helpers import assert_same_state, loss_drop, state_tensors

import baselines
from baselines._blocks import count_parameters
from baselines.base import Budget, frame_count
from baselines.temporal_gan.config import PRESETS, TemporalGANConfig
from baselines.temporal_gan.model import FrameDiscriminator, Generator, SequenceDiscriminator, audio_encoder_layers
from baselines.temporal_gan.training import Trainer, audio_windows, face_crop, lower_half_l1, prepare, sample_batch
from bench.data.synthetic import SynthConfig, synthesize_clip
from bench.media import Clip

TINY = TemporalGANConfig(**PRESETS["tiny"])


def _layers(rate: int) -> list[tuple[int, int, int, int, int]]:
    return [(s.cin, s.cout, s.kernel, s.stride, s.length) for s in audio_encoder_layers(rate // 5, rate, 0.005, 0.001, 16, 256)]


def test_content_encoder_layers_match_specs_c_worked_example():
    # SPECS C, 0.2 s @ 16 kHz (3200 samples): 1->16 k80 s16 (->200), 16->32 k4 s2 (100), 32->64 k4 s2 (50),
    # 64->128 k4 s2 (25), 128->256 k10 s5 (5), 256->code k5 (1).
    rest = [(16, 32, 4, 2, 100), (32, 64, 4, 2, 50), (64, 128, 4, 2, 25), (128, 256, 10, 5, 5), (256, 256, 5, 1, 1)]
    assert _layers(16000) == [(1, 16, 80, 16, 200), *rest]
    # at 50 kHz (10000 samples) only the first layer changes: k250 s50, still 200 steps
    assert _layers(50000) == [(1, 16, 250, 50, 200), *rest]
    # "same" paddings ceil(((ceil(L/s) - 1) s + k - L) / 2): (199*16 + 80 - 3200)/2 = 32, 1, 1, 1, ceil(5/2) = 3
    assert [s.padding for s in audio_encoder_layers(3200, 16000, 0.005, 0.001, 16, 256)] == [32, 1, 1, 1, 3, 0]
    with pytest.raises(ValueError, match="too short"):
        audio_encoder_layers(16, 16000, 0.001, 0.001, 16, 256)  # k16 s16 leaves one step


@pytest.fixture(scope="module")
def paper_generator():
    torch.manual_seed(0)
    return Generator(TemporalGANConfig()).eval()


@torch.no_grad()
def test_paper_layer_shapes(paper_generator):
    net = paper_generator
    code, skips = net.identity_encoder(torch.randn(2, 3, 128, 96))
    assert code.shape == (2, 50)  # z_id, 2.1.1
    assert [tuple(s.shape[1:]) for s in skips] == [(64, 64, 48), (128, 32, 24), (256, 16, 12), (512, 8, 6), (1024, 4, 3)]
    assert len(net.identity_encoder.convs) + 1 == 6  # "a 6 layer CNN"
    windows = torch.randn(2, 3, 3200)
    assert net.content(windows).shape == (2, 3, 256)  # z_c from the 2-layer GRU
    assert net.noise(torch.randn(2, 3, 10)).shape == (2, 3, 10)
    x, sizes = net.decoder.start(torch.randn(2, 316, 1, 1)), []  # 256 + 50 + 10
    for block, skip in zip(net.decoder.blocks, reversed(skips[1:]), strict=True):
        x = block(x, skip)
        sizes.append(tuple(x.shape[1:]))
    assert sizes == [(512, 8, 6), (256, 16, 12), (128, 32, 24), (64, 64, 48)]
    video = net(torch.randn(2, 3, 128, 96), windows, torch.randn(2, 3, 10))
    assert video.shape == (2, 3, 3, 128, 96) and video.abs().max() <= 1.0


def test_paper_parameter_counts(paper_generator):
    net = paper_generator
    # content convs (no conv bias before BatchNorm; BN 2 per channel; last conv has a bias):
    # 16*80 + 32, 32*16*4 + 64, 64*32*4 + 128, 128*64*4 + 256, 256*128*10 + 512, 256*256*5 + 256
    audio = (1280 + 32) + (2048 + 64) + (8192 + 128) + (32768 + 256) + (327680 + 512) + (327680 + 256)
    assert count_parameters(net.audio_encoder) == audio == 700896
    # 2-layer GRU 256 -> 256: 2 * 3 * (256*256 + 256*256 + 2*256); noise GRU 10 -> 10: 3 * (100 + 100 + 20)
    assert count_parameters(net.content_rnn) == 2 * 3 * (2 * 256 * 256 + 512) == 789504
    assert count_parameters(net.noise_rnn) == 660
    # identity convs k4 (no bias) + BN: 3*64*16, 64*128*16, 128*256*16, 256*512*16, 512*1024*16; then 1024*50*4*3
    identity = 3072 + 131072 + 524288 + 2097152 + 8388608 + 2 * (64 + 128 + 256 + 512 + 1024) + 1024 * 50 * 12
    assert count_parameters(net.identity_encoder) == identity == 11762560
    # decoder: 316*1024*4*3 + BN; U-Net blocks (cin+skip)*cin*9 + cin*cout*16 + BN; last convT 64*3*16
    blocks = sum((2 * c) * c * 9 + c * (c // 2) * 16 + 2 * c + c for c in (1024, 512, 256, 128))
    decoder = 316 * 1024 * 12 + 2048 + blocks + 64 * 3 * 16
    assert count_parameters(net.decoder) == decoder == 40102528
    assert count_parameters(net) == audio + 789504 + 660 + identity + decoder == 53356148


def test_paper_discriminators():
    config = TemporalGANConfig()
    frame = FrameDiscriminator(config)
    # 6 -> 64 -> ... -> 1024 convs k4 (no bias) + BN, then a 4x3 conv to one logit: 6 layers (2.2.1)
    convs = 6 * 64 * 16 + 64 * 128 * 16 + 128 * 256 * 16 + 256 * 512 * 16 + 512 * 1024 * 16 + 2 * 1984
    assert count_parameters(frame) == convs + 1024 * 12
    with torch.no_grad():
        assert frame.eval()(torch.randn(3, 3, 128, 96), torch.randn(3, 3, 128, 96)).shape == (3,)
        seq = SequenceDiscriminator(config).eval()
        assert seq(torch.randn(2, 4, 3, 128, 96), torch.randn(2, 4, 3200)).shape == (2,)
    assert seq.rnn.num_layers == 2 and seq.rnn.input_size == 512
    assert [m.out_features for m in seq.classifier if isinstance(m, torch.nn.Linear)] == [256, 1]


def test_face_crop_is_the_centre_columns_of_the_square_face():
    square = np.zeros((128, 128, 3), np.uint8)
    square[:, 16:112] = 200  # the centre 96 columns
    crop = face_crop(square, TemporalGANConfig())
    assert crop.shape == (128, 96, 3) and (crop == 200).all()
    assert face_crop(np.zeros((5, 256, 256, 3), np.uint8), TINY).shape == (5, 64, 48, 3)


def test_batches_pair_frames_with_their_audio_and_the_first_frame():
    # frame t painted with value t, audio sample n = n / 16000 s, so the windows can be read back
    frames = np.repeat(np.arange(30, dtype=np.uint8)[:, None, None, None], 64, 1).repeat(64, 2).repeat(3, 3)
    audio = (np.arange(19200) / 19200).astype(np.float32)
    config = TemporalGANConfig(**{**PRESETS["tiny"], "batch_size": 6})
    still, windows, video = sample_batch(prepare([Clip(frames, 25.0, audio)], config), config, np.random.default_rng(0))
    assert still.shape == (6, 3, 64, 48) and windows.shape == (6, 12, 3200) and video.shape == (6, 12, 3, 64, 48)
    assert torch.allclose(still, torch.full_like(still, -1.0))  # frame 0 -> -1 after [-1, 1] scaling
    for b in range(6):
        first = round(float((video[b, 0, 0, 0, 0] + 1) / 2 * 255))
        assert [round(float((v + 1) / 2 * 255)) for v in video[b, :, 0, 0, 0]] == list(range(first, first + 12))
        # window of frame t: 3200 samples centred on [640 t, 640 (t + 1)), i.e. starting at 640 t - 1280
        start = 640 * first - 1280
        expected = np.arange(start, start + 3200) / 19200 * (np.arange(start, start + 3200) >= 0)
        np.testing.assert_allclose(windows[b, 0].numpy(), expected, atol=1e-6)


def test_lower_half_l1_ignores_the_upper_half():
    real, fake = torch.zeros(1, 3, 4, 2), torch.zeros(1, 3, 4, 2)
    fake[..., :2, :] = 5.0  # upper rows: not counted
    fake[..., 3, 0] = 1.0  # 3 of the 12 lower-half values differ by 1
    assert lower_half_l1(fake, real).item() == pytest.approx(0.25)


def test_learning_rates_and_decay():
    paper = TemporalGANConfig(**PRESETS["paper"])
    assert (paper.lr_generator, paper.lr_frame_disc, paper.lr_seq_disc) == (2e-4, 1e-3, 5e-5)
    # the optimisers, on tiny networks (the paper's would take seconds to build) with the paper's rates
    model = baselines.create("temporal_gan", preset="tiny", lr_generator=2e-4)
    trainer = model.trainer
    assert [g["lr"] for g in trainer.opt_g.param_groups] == [2e-4] and trainer.opt_frame.param_groups[0]["lr"] == 1e-3
    assert trainer.opt_seq is not None and trainer.opt_seq.param_groups[0]["lr"] == 5e-5
    trainer.set_epoch(22)  # two epochs past 20: 0.9 ** 2
    assert trainer.opt_g.param_groups[0]["lr"] == pytest.approx(2e-4 * 0.81)
    assert trainer.opt_frame.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.81)
    assert trainer.opt_seq.param_groups[0]["lr"] == 5e-5  # fixed
    assert (paper.l1_weight, paper.l1_from_row, paper.patience_epochs, paper.decay_start_epoch) == (400, 0.5, 10, 20)


def test_static_variant_has_no_temporal_parts():
    static = baselines.create("temporal_gan_static", preset="tiny")
    assert static.name == "temporal_gan_static" and not static.config.temporal
    assert set(static.modules) == {"generator", "frame_disc"}
    assert static.generator_net.content_rnn is None and static.generator_net.noise_rnn is None
    temporal = baselines.create("temporal_gan", preset="tiny")
    assert set(temporal.modules) == {"generator", "frame_disc", "seq_disc"}


@torch.no_grad()
@pytest.mark.parametrize(("name", "past_matters"), [("temporal_gan", True), ("temporal_gan_static", False)])
def test_only_the_temporal_model_remembers_earlier_audio(name, past_matters):
    # change the audio of the first 8 frames only (5120 samples): the static model's content code of frame 12
    # (window 11.5-12.5 frames +- 0.1 s) stays the same, the temporal model's depends on it through the GRU
    net = baselines.create(name, preset="tiny", seed=3).generator_net
    audio = torch.rand(1, 16000) - 0.5
    changed = audio.clone()
    changed[0, :5120] = torch.rand(5120) - 0.5
    a, b = (net.content(torch.from_numpy(audio_windows(x[0].numpy(), 16000, 25, 25.0, TINY))[None]) for x in (audio, changed))
    assert not torch.equal(a[0, 0], b[0, 0])
    assert torch.equal(a[0, 12:], b[0, 12:]) != past_matters


def test_noise_seed_repeats_exactly_and_different_seeds_differ():
    model = baselines.create("temporal_gan", preset="tiny", seed=4)
    image = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    audio = np.random.default_rng(2).uniform(-0.3, 0.3, 16000).astype(np.float32)
    first, again = (model.generate(image, audio, 16000).frames for _ in range(2))
    assert np.array_equal(first, again)
    model.config.noise_seed = 5
    other = model.generate(image, audio, 16000).frames
    assert not np.array_equal(first, other) and np.abs(first.astype(int) - other).max() > 0
    model.config.noise_seed = 4  # the model's own seed is the default noise seed
    assert np.array_equal(first, model.generate(image, audio, 16000).frames)


@pytest.fixture(scope="module")
def trained(grid_faces):
    model = baselines.create("temporal_gan", preset="tiny", seed=1, seq_frames=8)
    report = model.fit(grid_faces, Budget(steps=30))
    return model, report


def test_tiny_training_lowers_the_loss(trained):
    model, report = trained
    assert report.steps == 30 == model.steps
    assert {"d_frame", "d_seq", "g_adv", "l1", "g_total"} <= set(report.losses)
    # L1 (whole face in tiny): mean of the last 10 steps at most 0.7 x the mean of the first 10 (measured 0.395 -> 0.220)
    assert loss_drop(report.losses["l1"], 10) > 0.3, report.losses["l1"]


def test_generate_any_length(trained, grid_faces, grid_clips):
    model = trained[0]
    real = grid_faces[1]
    out = model.generate(real.frames[0], real.audio, real.sample_rate)
    assert out.num_frames == frame_count(real.audio.size, 16000, 25.0) and out.size == real.size
    assert np.array_equal(out.audio, real.audio)
    long = np.tile(real.audio, 21)[: 60 * 16000]  # 60 s
    assert model.generate(real.frames[0], long, 16000).num_frames == 1500
    assert model.generate(grid_clips[1].frames[0], real.audio[:16000], 16000).frames.shape == (25, 288, 360, 3)
    resampled = model.generate(real.frames[0], real.audio[::2].copy(), 8000)  # resampled to 16 kHz inside
    assert resampled.num_frames == frame_count(real.audio[::2].size, 8000, 25.0)


def test_bad_inputs_are_named(trained, grid_faces):
    model = trained[0]
    with pytest.raises(ValueError, match="temporal_gan: driving audio contains NaN"):
        model.generate(grid_faces[0].frames[0], np.full(16000, np.nan, np.float32), 16000)
    with pytest.raises(ValueError, match=r"temporal_gan: the identity image must have shape \[H, W, 3\]"):
        model.generate(grid_faces[0].frames[0, :, :, 0], grid_faces[0].audio, 16000)
    with pytest.raises(ValueError, match="no training clip has more than 11 frames"):
        baselines.create("temporal_gan").fit([grid_faces[0].with_frames(grid_faces[0].frames[:11])], Budget(steps=1))


def test_save_load_reproduces_outputs(trained, grid_faces, tmp_path):
    model = trained[0]
    model.save(tmp_path)
    loaded = baselines.load("temporal_gan", tmp_path)
    assert_same_state(model, loaded)
    assert loaded.steps == 30
    real = grid_faces[3]
    assert np.array_equal(model.generate(real.frames[0], real.audio, 16000).frames,
                          loaded.generate(real.frames[0], real.audio, 16000).frames)  # fmt: skip


def test_seeded_fit_is_deterministic(grid_faces):
    clips = grid_faces[:2]
    options = {"preset": "tiny", "batch_size": 2, "seq_frames": 4}
    a, b = (baselines.create("temporal_gan", seed=7, **options) for _ in range(2))
    a.fit(clips, Budget(steps=2))
    b.fit(clips, Budget(steps=2))
    assert_same_state(a, b)
    c = baselines.create("temporal_gan", seed=8, **options)
    key = "generator.decoder.start.0.weight"
    assert not torch.equal(state_tensors(a)[key], state_tensors(c)[key])


def test_early_stopping_ends_the_fit_before_the_budget(grid_faces):
    # patience 1 with one step per epoch (3 training clips, batch 4): validation after every step, and the fit ends
    # at the first step whose validation L1 is not below the best so far
    model = baselines.create("temporal_gan", preset="tiny", seed=2, patience_epochs=1, eval_fraction=0.25,
                             seq_frames=4, lr_generator=0.5)  # fmt: skip
    report = model.fit(grid_faces, Budget(steps=50))
    val = report.losses["val_l1"]
    assert report.steps == len(val) < 50
    assert val[-1] >= min(val[:-1]) and all(val[i] > val[i + 1] for i in range(len(val) - 2))


def test_trainer_steps_only_the_given_networks():
    config = TemporalGANConfig(**{**PRESETS["tiny"], "temporal": False, "seq_frames": 2, "batch_size": 1})
    gen, frame = Generator(config), FrameDiscriminator(config)
    trainer = Trainer(gen, frame, None, config, torch.device("cpu"))
    batch = (torch.rand(1, 3, 64, 48), torch.rand(1, 2, 3200), torch.rand(1, 2, 3, 64, 48))
    losses = trainer.step(batch, torch.randn(1, 2, 4), torch.tensor([[1]]))
    assert set(losses) == {"d_frame", "g_adv", "l1", "g_total"}
    assert losses["g_total"] == pytest.approx(losses["g_adv"] + 400 * losses["l1"], rel=1e-5)


CHECKPOINTS = Path(baselines.__file__).resolve().parent / "checkpoints"


@pytest.fixture(scope="module")
def unseen_clips() -> list[Clip]:
    """Two sentences of synthgrid's s07, a test speaker the shipped checkpoints never saw (about 10 s to make)."""
    return [synthesize_clip(SynthConfig(), 6, k)[0] for k in range(2)]


def _mouth(frames: np.ndarray, clip: Clip) -> np.ndarray:
    """The mouth box (frame-0 landmarks 48-67 + 3 px) of every frame, float."""
    points = clip.meta["landmarks"][0, 48:68]
    (x0, y0), (x1, y1) = np.floor(points.min(0)).astype(int) - 3, np.ceil(points.max(0)).astype(int) + 3
    return frames[:, y0 : y1 + 1, x0 : x1 + 1].astype(np.float64)


@pytest.mark.parametrize(("name", "closed_margin"), [("temporal_gan", 0.5), ("temporal_gan_static", 0.5)])
def test_shipped_checkpoint_follows_the_audio(name, closed_margin, unseen_clips):
    # the demo checkpoints (baselines/demo-train.toml: 6000 and 4000 tiny steps, 16 channels, synthgrid s01-s06) on an
    # unseen speaker
    model = baselines.load(name, CHECKPOINTS / name)
    face, first = unseen_clips[0].frames[0], unseen_clips[0]
    a, b = (_mouth(model.generate(face, c.audio, 16000).frames, first) for c in unseen_clips)
    model.config.noise_seed = 99
    c = _mouth(model.generate(face, unseen_clips[1].audio, 16000).frames, first)
    # two sentences move the mouth differently: the mean absolute difference of the mouth boxes (0-255) is above 2
    # and 5x what other noise alone changes (measured: temporal 9.0 vs 0.06, static 7.95 vs 0.11)
    assert np.abs(a - b).mean() > max(2.0, 5 * np.abs(b - c).mean()), (np.abs(a - b).mean(), np.abs(b - c).mean())
    # 1 s of near-silence (noise at 1e-4) before a sentence: opening = mean |mouth - identity's mouth|, "closed" = below
    # the lower quartile of the openings after it. The quiet second (but its last 3 frames, which hear the speech)
    # is closed more often; measured: temporal 1.0 vs 0.26, static 1.0 vs 0.26
    model.config.noise_seed = None
    rng = np.random.default_rng(0)
    quiet = np.concatenate([(rng.standard_normal(16000) * 1e-4).astype(np.float32), first.audio])
    mouth = _mouth(model.generate(face, quiet, 16000).frames, first)
    opening = np.abs(mouth - _mouth(face[None], first)).mean(axis=(1, 2, 3))
    closed = opening < np.percentile(opening[25:], 25)
    assert closed[:22].mean() > closed[25:].mean() + closed_margin, (closed[:22].mean(), closed[25:].mean())

@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["temporal_gan", "temporal_gan_static"])
def test_cuda_matches_cpu_and_trains(name, grid_faces):
    real = grid_faces[0]
    cpu, gpu = (baselines.create(name, preset="tiny", seed=2, device=d) for d in ("cpu", "cuda"))
    a, b = (m.generate(real.frames[0], real.audio[:16000], 16000).frames.astype(int) for m in (cpu, gpu))
    assert np.abs(a - b).max() <= 2  # float rounding of cuDNN vs oneDNN, then 8-bit quantisation (same CPU noise)
    assert gpu.fit(grid_faces[:2], Budget(steps=2)).steps == 2
    assert all(p.device.type == "cuda" for m in gpu.modules.values() for p in m.parameters())
