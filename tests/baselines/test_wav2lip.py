"""Wav2Lip: layer shapes of the paper networks, the training schedule, training, determinism, save/load, inference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from baseline_helpers import assert_same_state, loss_drop, state_tensors

import baselines
from baselines.base import Budget, frame_count
from baselines.wav2lip.model import Generator, QualityDiscriminator, SyncNet, expert_faces
from baselines.wav2lip.training import (
    SyncWeightSchedule,
    expert_batch,
    expert_step,
    generator_batch,
    prepare,
)
from bench.audio import wav2lip_mel
from bench.media import Clip

TINY = {"batch_size": 2, "expert_batch_size": 4}  # smallest batches, to keep CPU tests short


def _trace(stages, x):
    sizes = []
    for stage in stages:
        x = stage(x)
        sizes.append(tuple(x.shape[1:]))
    return x, sizes


@pytest.fixture(scope="module")
def paper_nets():
    torch.manual_seed(0)
    return Generator(1.0).eval(), SyncNet(1.0).eval(), QualityDiscriminator(1.0).eval()


@torch.no_grad()
def test_paper_generator_shapes(paper_nets):
    net = paper_nets[0]
    _, faces = _trace(net.face_encoder, torch.rand(1, 6, 96, 96))
    assert faces == [(16, 96, 96), (32, 48, 48), (64, 24, 24), (128, 12, 12), (256, 6, 6), (512, 3, 3), (512, 1, 1)]
    _, audio = _trace(net.audio_encoder, torch.randn(1, 1, 80, 16))
    assert audio == [(32, 80, 16), (64, 27, 16), (128, 9, 6), (256, 3, 3), (512, 1, 1)]
    # decoder inputs after each concatenation with the matching encoder feature, and the output block's input
    assert net.decoder_inputs == [512, 1024, 1024, 768, 512, 320, 160] and net.output_inputs == 80
    mels, faces = torch.randn(1, 5, 1, 80, 16), torch.rand(1, 6, 5, 96, 96)
    out = net(mels, faces)
    assert out.shape == (1, 3, 5, 96, 96) and 0.0 <= out.min() and out.max() <= 1.0
    # a 5-frame window is 5 independent frames: frame 3 alone gives the same face
    torch.testing.assert_close(net(mels[:, 3], faces[:, :, 3]), out[:, :, 3], rtol=1e-5, atol=1e-6)


@torch.no_grad()
def test_paper_expert_and_quality_discriminator_shapes(paper_nets):
    _, expert, disc = paper_nets
    _, faces = _trace(expert.face_encoder, torch.rand(1, 15, 48, 96))
    assert [s[1:] for s in faces] == [(48, 96), (46, 47), (23, 24), (12, 12), (6, 6), (3, 3), (1, 1), (1, 1)]
    assert faces[-1][0] == 512
    _, audio = _trace(expert.audio_encoder, torch.randn(1, 1, 80, 16))
    assert audio[-1] == (512, 1, 1) and len(expert.audio_encoder[3]) == 3  # 256-ch stage: conv + 2 residuals
    a, v = expert(torch.randn(2, 1, 80, 16), torch.rand(2, 15, 48, 96))
    assert a.shape == v.shape == (2, 512)
    torch.testing.assert_close(a.norm(dim=1), torch.ones(2)), torch.testing.assert_close(v.norm(dim=1), torch.ones(2))
    x = torch.rand(1, 3, 2, 96, 96)
    _, stages = _trace(disc.face_encoder, torch.rand(1, 3, 48, 96))
    assert [s[1:] for s in stages] == [(48, 96), (48, 48), (24, 24), (12, 12), (6, 6), (3, 3), (1, 1)]
    pred = disc(x)
    assert pred.shape == (2, 1) and ((0 <= pred) & (pred <= 1)).all()
    # the discriminator sees only the lower half: changing the upper half changes nothing
    y = x.clone()
    y[..., :48, :] = 0.0
    torch.testing.assert_close(disc(y), pred, rtol=0, atol=0)


def test_paper_parameter_counts(paper_nets):
    # The official checkpoints hold weights plus two Adam moments (3 floats of 4 bytes per parameter):
    # wav2lip.pth ~436 MB -> ~36.3M, lipsync_expert.pth ~197 MB -> ~16.4M, visual_quality_disc.pth ~170 MB -> ~14.1M.
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    generator, expert, disc = paper_nets
    assert count(generator) == pytest.approx(36.3e6, rel=0.01)
    assert count(expert) == pytest.approx(16.4e6, rel=0.01)
    assert count(disc) == pytest.approx(14.1e6, rel=0.01)


def test_expert_input_is_lower_halves_stacked_frame_by_frame():
    frames = torch.arange(5.0).view(1, 1, 5, 1, 1).expand(1, 3, 5, 96, 96)
    stacked = expert_faces(frames)
    assert stacked.shape == (1, 15, 48, 96)
    assert stacked[0, :, 0, 0].tolist() == [t for t in range(5) for _ in range(3)]


def test_sync_weight_switches_once_below_threshold():
    schedule = SyncWeightSchedule(target=0.03)
    assert schedule.observe(0.9, 3000) == 0.0
    assert schedule.observe(0.75, 6000) == 0.0  # strictly below 0.75 is needed
    assert schedule.observe(0.7499, 9000) == 0.03 and schedule.switched_at == 9000
    assert schedule.observe(2.0, 12000) == 0.03 and schedule.switched_at == 9000  # never switched back


def test_presets_follow_the_paper():
    gan = baselines.create("wav2lip", preset="paper", width=0.05).config
    assert (gan.resolved_disc_wt, gan.resolved_sync_wt_target, gan.sync_threshold) == (0.07, 0.03, 0.75)
    assert (gan.lr, gan.disc_lr, gan.resolved_betas, gan.batch_size, gan.expert_batch_size) == (
        1e-4, 1e-4, (0.5, 0.999), 16, 64)
    assert (gan.eval_interval, gan.resolved_eval_steps) == (3000, 300)
    plain = baselines.create("wav2lip-nogan", preset="paper", width=0.05).config
    assert (plain.resolved_disc_wt, plain.resolved_sync_wt_target, plain.resolved_eval_steps) == (0.0, 0.01, 700)
    assert plain.resolved_betas == (0.9, 0.999)
    assert (gan.paste, gan.bn_recalibration) == ("face", 0)  # inference.py pastes the whole face; no recalibration
    tiny = baselines.create("wav2lip", preset="tiny").config
    assert (tiny.paste, tiny.bn_recalibration) == ("lower", 16)


def test_generator_batch_masks_target_and_pairs_windows(grid_faces):
    data = prepare(grid_faces[:1])
    faces, mels, sync, truth = generator_batch(data, 3, np.random.default_rng(0))
    assert faces.shape == (3, 6, 5, 96, 96) and mels.shape == (3, 5, 1, 80, 16) and sync.shape == (3, 1, 80, 16)
    assert torch.all(faces[:, :3, :, 48:] == 0) and torch.equal(faces[:, :3, :, :48], truth[:, :, :, :48])
    assert not torch.equal(faces[:, 3:], truth)  # the reference is another window
    # generator windows lag one frame behind the sync window (get_segmented_mels vs crop_audio_window)
    item = data[0]
    starts = [int(np.nonzero([torch.equal(sync[b, 0], item.sync_mels[t]) for t in range(75)])[0][0]) for b in range(3)]
    for b, start in enumerate(starts):
        assert torch.equal(mels[b, 0, 0], item.sync_mels[start - 1])
    mel, lower, labels = expert_batch(data, 6, np.random.default_rng(1))
    assert mel.shape == (6, 1, 80, 16) and lower.shape == (6, 15, 48, 96) and set(labels.tolist()) <= {0.0, 1.0}


def test_expert_step_lowers_its_loss_on_a_fixed_batch(grid_faces):
    torch.manual_seed(0)
    expert = SyncNet(0.125)
    batch = expert_batch(prepare(grid_faces[:2]), 8, np.random.default_rng(0))
    optimiser = torch.optim.Adam(expert.parameters(), lr=1e-3)
    losses = [expert_step(expert, optimiser, batch) for _ in range(12)]
    assert loss_drop(losses, 3) > 0.2, losses


def test_loss_weights_and_switch_inside_training(grid_faces):
    # a threshold no eval loss can miss: the weight switches at the first evaluation (step 2) and the sync term joins
    model = baselines.create("wav2lip", preset="tiny", sync_threshold=100.0, eval_interval=2, eval_steps=1, **TINY)
    report = model.fit_generator(grid_faces, Budget(steps=3))
    assert report.losses["sync_wt"] == [0.0, 0.0, 0.03] and len(report.losses["eval_sync"]) == 1
    assert len(report.losses["sync"]) == 1 and model.state()["sync_switched_at"] == 2
    l1, sync, perceptual, total = (report.losses[k][-1] for k in ("l1", "sync", "perceptual", "total"))
    assert total == pytest.approx(0.03 * sync + 0.07 * perceptual + 0.90 * l1, rel=1e-5)
    assert len(report.losses["disc_real"]) == len(report.losses["disc_fake"]) == 3  # D stepped after every G step
    plain = baselines.create("wav2lip-nogan", preset="tiny", **TINY)
    report = plain.fit_generator(grid_faces, Budget(steps=1))
    assert "perceptual" not in report.losses and "disc_real" not in report.losses
    assert report.losses["total"] == pytest.approx(report.losses["l1"], rel=1e-6)


def test_expert_is_frozen_during_generator_training(grid_faces):
    model = baselines.create("wav2lip", preset="tiny", sync_threshold=100.0, eval_interval=1, eval_steps=1, **TINY)
    before = state_tensors(model)
    model.fit_generator(grid_faces, Budget(steps=2))
    after = state_tensors(model)
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("expert."))
    assert not torch.equal(before["disc.binary_pred.0.weight"], after["disc.binary_pred.0.weight"])


@pytest.fixture(scope="module")
def trained(grid_faces):
    model = baselines.create("wav2lip", preset="tiny", seed=3, expert_fraction=0.2, **TINY)
    report = model.fit(grid_faces, Budget(steps=20))
    return model, report


def test_tiny_training_lowers_the_l1_loss(trained):
    model, report = trained
    assert report.steps == 20 and len(report.losses["expert"]) == 4 and len(report.losses["l1"]) == 16
    assert loss_drop(report.losses["l1"], 4) > 0.1, report.losses["l1"]
    assert model.state()["generator_steps"] == 16 and model.state()["expert_steps"] == 4


def test_generate_on_real_grid(trained, grid_faces, grid_clips):
    model, _ = trained
    real = grid_faces[2]
    out = model.generate(real.frames[0], real.audio, real.sample_rate)
    assert out.num_frames == frame_count(real.audio.size, 16000, 25.0) == 74 and out.fps == 25.0
    assert out.size == real.size and np.array_equal(out.audio, real.audio)
    assert out.frames.std(axis=0).mean() > 0.0  # the mouth moves with the audio
    full = grid_clips[2]  # a full 360x288 frame as identity also works (resized to 96x96 and back)
    assert model.generate(full.frames[0], full.audio[:8000], 16000).frames.shape == (12, 288, 360, 3)


@torch.no_grad()
def test_inference_follows_the_original(trained, grid_faces):
    model, _ = trained
    real = grid_faces[0]
    face = np.ascontiguousarray(real.frames[5, ::2, ::2])  # 96x96: no resizing on either side
    out = model.generate(face, real.audio, 16000)
    mel = wav2lip_mel(real.audio, 16000)
    ref = torch.from_numpy(face).permute(2, 0, 1).float().div(255)
    masked = ref.clone()
    masked[:, 48:] = 0
    for t in (0, 10, 73):
        start = min(int(t * 80 / 25), mel.shape[1] - 16)  # inference.py: int(i * 80 / fps); past the end: last 16
        window = torch.from_numpy(mel[:, start : start + 16])[None, None]
        expected = model.modules["generator"](window, torch.cat([masked, ref])[None])[0]
        pixels = expected.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()
        # tiny pastes the lower half: rows < 48 are the identity's, rows >= 48 + 96 // 16 the generator's
        assert np.array_equal(out.frames[t, :48], face[:48]) and np.array_equal(out.frames[t, 54:], pixels[54:])
    plain = baselines.create("wav2lip", preset="tiny", paste="face")  # the original's whole-face paste-back
    plain.modules["generator"].load_state_dict(model.modules["generator"].state_dict())
    window = torch.from_numpy(mel[:, :16])[None, None]
    expected = model.modules["generator"](window, torch.cat([masked, ref])[None])[0]
    pixels = expected.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()
    assert np.array_equal(plain.generate(face, real.audio, 16000).frames[0], pixels)


def test_seeded_fit_is_deterministic(grid_faces):
    clips = grid_faces[:2]
    a = baselines.create("wav2lip", preset="tiny", seed=7, **TINY)
    b = baselines.create("wav2lip", preset="tiny", seed=7, **TINY)
    assert_same_state(a, b)
    a.fit(clips, Budget(steps=4))
    b.fit(clips, Budget(steps=4))
    assert_same_state(a, b)
    audio = clips[0].audio[:16000]
    assert np.array_equal(a.generate(clips[0].frames[0], audio, 16000).frames,
                          b.generate(clips[0].frames[0], audio, 16000).frames)
    c = baselines.create("wav2lip", preset="tiny", seed=8, **TINY)
    assert not torch.equal(state_tensors(a)["generator.output_block.1.weight"],
                           state_tensors(c)["generator.output_block.1.weight"])


def test_save_load_reproduces_outputs(trained, grid_faces, tmp_path):
    model, _ = trained
    model.save(tmp_path)
    loaded = baselines.load("wav2lip", tmp_path)
    assert_same_state(model, loaded)
    assert loaded.state() == model.state() and loaded.config == model.config
    real = grid_faces[3]
    assert np.array_equal(model.generate(real.frames[0], real.audio, 16000).frames,
                          loaded.generate(real.frames[0], real.audio, 16000).frames)


def test_bad_training_data_is_named(grid_faces):
    model = baselines.create("wav2lip", preset="tiny", **TINY)
    silent = Clip(grid_faces[0].frames, 25.0, meta={"utterance_id": "mute01"})
    with pytest.raises(ValueError, match="mute01 has no audio"):
        model.fit([silent], Budget(steps=1))
    short = grid_faces[0].with_frames(grid_faces[0].frames[:15])
    with pytest.raises(ValueError, match="more than 15 frames"):
        model.fit([short], Budget(steps=1))
    with pytest.raises(ValueError, match="uint8"):
        model.generate(np.zeros((96, 96, 3)), grid_faces[0].audio, 16000)
