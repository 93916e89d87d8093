"""Speech2Vid: layer shapes of the paper networks, sampling, training, determinism, save/load, inference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from baseline_helpers import assert_same_state, loss_drop, state_tensors

import baselines
from baselines.base import Budget, frame_count
from baselines.speech2vid.config import Speech2VidConfig
from baselines.speech2vid.model import DeblurNet, SameConvTranspose, Speech2VidNet
from baselines.speech2vid.training import identity_stack, prepare, sample_batch
from bench.audio import speech2vid_mfcc, speech2vid_windows
from bench.media import Clip


@pytest.fixture(scope="module")
def paper_net():
    torch.manual_seed(0)
    return Speech2VidNet(5, 1.0).eval()


@torch.no_grad()
def test_paper_audio_encoder_shapes(paper_net):
    encoder = paper_net.audio_encoder
    x, sizes = torch.randn(2, 1, 12, 35), []
    for layer in encoder.features:
        x = layer(x)
        sizes.append(tuple(x.shape[1:]))
    # conv64, conv128, pool (1,2), conv256, conv256, conv512, pool 2
    assert sizes == [(64, 12, 35), (128, 12, 35), (128, 12, 18), (256, 12, 18), (256, 12, 18), (512, 12, 18),
                     (512, 6, 9)]
    assert [m.out_features for m in encoder.fc if isinstance(m, torch.nn.Linear)] == [512, 256]
    assert encoder.fc[1].in_features == 512 * 6 * 9
    assert encoder(torch.randn(2, 1, 12, 35)).shape == (2, 256)


@torch.no_grad()
def test_paper_identity_encoder_and_decoder_shapes(paper_net):
    faces = torch.rand(2, 15, 112, 112)  # 5 stacked aligned faces
    identity, (pool1, conv2, pool2) = paper_net.identity_encoder(faces)
    assert identity.shape == (2, 256)
    assert pool1.shape[1:] == (96, 28, 28) and conv2.shape[1:] == (256, 14, 14) and pool2.shape[1:] == (256, 7, 7)
    assert paper_net.identity_encoder.fc[1].in_features == 512 * 7 * 7
    decoder = paper_net.decoder
    seed = decoder.fc(torch.randn(2, 512)).view(2, 2, 7, 7)
    assert decoder.up1(seed).shape[1:] == (256, 7, 7)
    out = paper_net(torch.randn(2, 1, 12, 35), faces)
    assert out.shape == (2, 3, 112, 112) and 0.0 <= out.min() and out.max() <= 1.0


def test_paper_parameter_counts(paper_net):
    # dominated by the two fc6 layers: 27648 x 512 (audio) and 25088 x 512 (identity)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(paper_net.audio_encoder.fc) == 27648 * 512 + 512 + 512 * 256 + 256
    assert count(paper_net.identity_encoder.fc) == 25088 * 512 + 512 + 512 * 256 + 256
    assert 40e6 < count(paper_net) < 43e6
    deblur = DeblurNet(10, 64)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in deblur.modules()) == 10
    assert count(deblur) == (3 * 64 * 9 + 64) + 8 * (64 * 64 * 9 + 64) + (64 * 3 * 9 + 3)


@pytest.mark.parametrize(("kernel", "stride", "size"), [(6, 1, 7), (5, 1, 7), (5, 2, 7), (5, 2, 28)])
def test_same_transposed_conv_matches_keras_sizes(kernel, stride, size):
    layer = SameConvTranspose(2, 3, kernel, stride)
    assert layer(torch.rand(1, 2, size, size)).shape == (1, 3, size * stride, size * stride)


def test_deblur_is_residual():
    net = DeblurNet(4, 8)
    images = torch.rand(2, 3, 16, 16)
    assert torch.equal(net(images), images)  # zero-initialised last layer: identity before training
    torch.nn.init.constant_(net.residual[-1].bias, 0.25)
    torch.testing.assert_close(net(images), images + 0.25)


def test_samples_keep_identity_frames_away_from_the_target():
    # each frame painted with its own index, so the sampled identity frames and the target can be read back
    frames = np.repeat(np.arange(40, dtype=np.uint8)[:, None, None, None], 112, axis=1).repeat(112, 2).repeat(3, 3)
    clip = Clip(frames, 25.0, np.random.default_rng(0).uniform(-0.5, 0.5, 16000 * 2).astype(np.float32))
    config = Speech2VidConfig(batch_size=16)
    mfcc, identity, target = sample_batch(prepare([clip]), config, np.random.default_rng(0))
    assert mfcc.shape == (16, 1, 12, 35) and identity.shape == (16, 15, 112, 112) and target.shape == (16, 3, 112, 112)
    windows = speech2vid_windows(speech2vid_mfcc(clip.audio, 16000), 40, 25.0)
    for b in range(16):
        t = round(float(target[b, 0, 0, 0]) * 255)
        chosen = [round(float(identity[b, 3 * k, 0, 0]) * 255) for k in range(5)]
        assert len(set(chosen)) == 5 and all(abs(c - t) > 5 for c in chosen)
        assert np.array_equal(mfcc[b, 0].numpy(), windows[t])  # the MFCC window centred on the target frame


def test_identity_stack_order():
    faces = np.stack([np.full((4, 4, 3), k, np.uint8) for k in range(5)])
    assert identity_stack(faces)[:, 0, 0].mul(255).round().tolist() == [k for k in range(5) for _ in range(3)]


def _fixed_batch_l1(model, clips):
    """L1 of the generator alone and of generator + deblurring on one fixed batch of 16 samples."""
    config = Speech2VidConfig(batch_size=16)
    mfcc, identity, target = sample_batch(prepare(clips), config, np.random.default_rng(123))
    model.eval()
    with torch.no_grad():
        blurred = model.modules["generator"](mfcc, identity)
        return (blurred - target).abs().mean().item(), (model.modules["deblur"](blurred) - target).abs().mean().item()


@pytest.fixture(scope="module")
def trained(grid_faces):
    model = baselines.create("speech2vid", preset="tiny", seed=1, deblur_fraction=0.4)
    report = model.fit_generator(grid_faces, Budget(steps=18))
    before = _fixed_batch_l1(model, grid_faces)
    report.merge(model.fit_deblur(grid_faces, Budget(steps=12)))
    return model, report, before, _fixed_batch_l1(model, grid_faces)


def test_tiny_training_lowers_both_losses(trained):
    _, report, before, after = trained
    assert report.steps == 30 and len(report.losses["l1"]) == 18 and len(report.losses["deblur_l1"]) == 12
    assert loss_drop(report.losses["l1"], 4) > 0.15, report.losses["l1"]
    # the deblurring stage improves the refined output on a fixed batch, and leaves the generator alone
    assert after[0] == before[0] == before[1]  # the residual starts at zero
    assert after[1] < 0.995 * before[1], (before, after)  # measured: 0.1376 -> 0.1350


def test_generator_is_frozen_while_deblurring(grid_faces):
    model = baselines.create("speech2vid", preset="tiny", batch_size=2)
    before = state_tensors(model)
    model.fit_deblur(grid_faces[:1], Budget(steps=2))
    after = state_tensors(model)
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("generator."))
    assert not torch.equal(before["deblur.residual.0.weight"], after["deblur.residual.0.weight"])


def test_generate_on_real_grid(trained, grid_faces, grid_clips):
    model = trained[0]
    real = grid_faces[1]
    out = model.generate(real.frames[0], real.audio, real.sample_rate)
    assert out.num_frames == frame_count(real.audio.size, 16000, 25.0) and out.fps == 25.0
    assert out.size == real.size and np.array_equal(out.audio, real.audio)
    assert out.frames.std(axis=0).mean() > 0.0  # frames differ with the audio
    full = grid_clips[1]
    assert model.generate(full.frames[0], full.audio[:8000], 16000).frames.shape == (12, 288, 360, 3)


def test_seeded_fit_is_deterministic(grid_faces):
    clips = grid_faces[:2]
    a = baselines.create("speech2vid", preset="tiny", seed=5, batch_size=4)
    b = baselines.create("speech2vid", preset="tiny", seed=5, batch_size=4)
    a.fit(clips, Budget(steps=4))
    b.fit(clips, Budget(steps=4))
    assert_same_state(a, b)
    audio = clips[0].audio[:12000]
    assert np.array_equal(a.generate(clips[0].frames[0], audio, 16000).frames,
                          b.generate(clips[0].frames[0], audio, 16000).frames)
    c = baselines.create("speech2vid", preset="tiny", seed=6, batch_size=4)
    key = "generator.decoder.fc.0.weight"
    assert not torch.equal(state_tensors(a)[key], state_tensors(c)[key])


def test_save_load_reproduces_outputs(trained, grid_faces, tmp_path):
    model = trained[0]
    model.save(tmp_path)
    loaded = baselines.load("speech2vid", tmp_path)
    assert_same_state(model, loaded)
    real = grid_faces[3]
    assert np.array_equal(model.generate(real.frames[0], real.audio, 16000).frames,
                          loaded.generate(real.frames[0], real.audio, 16000).frames)


def test_bad_training_data_is_named(grid_faces):
    model = baselines.create("speech2vid", preset="tiny")
    with pytest.raises(ValueError, match="no training clip has more than 15 frames"):
        model.fit([grid_faces[0].with_frames(grid_faces[0].frames[:15])], Budget(steps=1))
    with pytest.raises(ValueError, match="Clip objects"):
        model.fit([grid_faces[0].frames], Budget(steps=1))
