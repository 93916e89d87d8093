"""Meta Talk: Table 1 shapes and hand-counted sizes, the face models, masks and compositing, training, inference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from baseline_helpers import assert_same_state, loss_drop
from meta_talk_helpers import synthetic_basis, write_basis

import baselines
from baselines._blocks import count_parameters
from baselines.base import Budget, frame_count
from baselines.meta_talk.compose import CropBox, alpha_mask, composite, paste
from baselines.meta_talk.face_model import FaceCode, LandmarkFaceModel, mouth_opening
from baselines.meta_talk.model import A2E, ATnetEncoder, UNet
from baselines.meta_talk.morphable import MorphableFaceModel
from baselines.meta_talk.training import clip_landmarks, pseudo_pairs, window_indices
from bench.media import Clip
from bench.weights import WeightsMissingError

FAST = {"num_pseudo_clips": 0}  # the pseudo video is tested on its own below
EYES = slice(36, 48)


def test_a2e_layer_outputs_are_table_1():
    # Table 1's 5x254 ... 3x246: the 7 ATnet features of a window are the channels and the 256 feature dims the
    # length, so a 7x256 input loses 2 per kernel-3 convolution: 256 - 2 = 254, 252, 250, 248, 246.
    model = baselines.create("meta_talk", preset="paper", ngf=8, atnet_width=0.125)  # A2E at paper size, small rest
    assert model.a2e_shapes() == [(5, 254), (5, 252), (3, 250), (3, 248), (3, 246), (64,)]
    out = model.audio_net(torch.zeros(2, 7, 28, 12), torch.ones(2, 7, dtype=torch.bool))
    assert out.shape == (2, 64)


def test_paper_parameter_counts():
    # A2E (Table 1), weights + biases: 7*5*3+5 = 110, 5*5*3+5 = 80, 5*3*3+3 = 48, 3*3*3+3 = 30, 30, FC 3*246*64+64 =
    # 47296: 47594. AudioDVP's: 7*5*3+5 = 110, 5*3*3+3 = 48, 3*1*3+1 = 10, FC 250*64+64 = 16064: 16232.
    assert count_parameters(A2E(7, 256, (5, 5, 3, 3, 3), 64)) == 47594
    assert count_parameters(A2E(7, 256, (5, 3, 1), 64)) == 16232
    # ATnet encoder (SPECS D), convs without bias + BN (2 per channel): 576+128, 73728+256, 294912+512, 589824+512,
    # 1179648+1024; fc 12288*2048+2048 = 25167872, 2048*256+256 = 524544: 27833536.
    assert count_parameters(ATnetEncoder(1.0)) == 27833536


@torch.no_grad()
def test_paper_renderer_shapes():
    net = UNet(21, 3, 8, 64, refine=True).eval()  # unet_256 on 7 stacked masked renders
    x, sizes = torch.zeros(1, 21, 256, 256), []
    for down in net.downs:
        x = down(x)
        sizes.append(tuple(x.shape[1:]))
    assert sizes == [(64, 128, 128), (128, 64, 64), (256, 32, 32), (512, 16, 16), (512, 8, 8), (512, 4, 4),
                     (512, 2, 2), (512, 1, 1)]  # fmt: skip
    narrow = UNet(21, 3, 8, 8, refine=True).eval()  # the same layout, narrow, at the paper's smallest crop (512)
    assert narrow(torch.zeros(1, 21, 512, 512)).shape == (1, 3, 512, 512)


def test_window_of_seven_frames_is_centred_and_marks_the_padding():
    index, valid = window_indices(0, 5, 7)
    assert index.tolist() == [0, 0, 0, 0, 1, 2, 3] and valid.tolist() == [False] * 3 + [True] * 4


@pytest.fixture(scope="module")
def landmarks(grid_faces):
    return [clip_landmarks(c) for c in grid_faces]


def test_landmark_model_reconstructs_held_out_frames(landmarks):
    # Every 5th frame of each clip is held out of the PCA; its expression is projected with the clip's identity.
    held = [lm[::5] for lm in landmarks]
    model = LandmarkFaceModel(16, 3)
    model.fit([np.delete(lm, np.s_[::5], 0) for lm in landmarks])
    errors, baseline = [], []
    for lm, test in zip(landmarks, held, strict=True):
        code = model.encode(np.delete(lm, np.s_[::5], 0))
        projected = model.project(test, code)
        errors.append(np.linalg.norm(model.decode(projected) - test, axis=-1)[:, 48:68].mean())
        still = FaceCode(code.identity, code.detail, np.zeros_like(projected.expression), projected.pose)
        baseline.append(np.linalg.norm(model.decode(still) - test, axis=-1)[:, 48:68].mean())
    # Mouth points of 192-px GRID crops: measured 0.35-0.40 px with 16 components, 1.4-2.2 px without expression.
    assert max(errors) < 1.0 and np.mean(errors) < 0.5 * np.mean(baseline)


def test_swapping_in_another_speakers_expression_moves_the_mouth_not_the_eyes(landmarks, grid_faces):
    model = LandmarkFaceModel(16, 3)
    model.fit(landmarks)
    own, other = model.encode(landmarks[0]), model.encode(landmarks[1])
    frames = np.arange(20, 40)
    mine = FaceCode(own.identity, own.detail, own.expression[frames], own.pose[frames])
    swapped = FaceCode(own.identity, own.detail, other.expression[frames], own.pose[frames])
    a, b = model.decode(mine), model.decode(swapped)
    np.testing.assert_array_equal(a[:, EYES], b[:, EYES])  # eyes and brows: bit-identical
    assert np.linalg.norm(a[:, 48:68] - b[:, 48:68], axis=-1).mean() > 1.0  # mouth: moved (measured 1.8 px)
    texture, first = grid_faces[0].frames[0], FaceCode(own.identity, own.detail, own.expression[:1], own.pose[:1])
    ra, rb = model.render(mine, texture, first), model.render(swapped, texture, first)
    eye_rows = slice(0, int(landmarks[0][0, EYES, 1].max()) + 2)
    np.testing.assert_array_equal(ra[:, eye_rows], rb[:, eye_rows])
    mouth = (
        slice(int(a[..., 48:68, 1].min()), int(a[..., 48:68, 1].max())),
        slice(int(a[..., 48:68, 0].min()), int(a[..., 48:68, 0].max())),
    )
    assert np.abs(ra[(slice(None), *mouth)].astype(int) - rb[(slice(None), *mouth)]).mean() > 2.0


def test_compositing_leaves_pixels_outside_the_mask_identical():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    crop = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[30:60, 10:54] = 1
    alpha = alpha_mask(mask, 4)
    # erosion 4 then a 5x5 blur: alpha is 1 well inside (rows 36-53) and exactly 0 more than 2 px outside the
    # eroded box (rows 34-55), so everything outside the mask keeps the target's pixels
    assert alpha[36:54, 16:48].min() == 1.0 and alpha[mask == 0].max() == 0.0
    out = composite(crop, np.zeros_like(crop), alpha)
    np.testing.assert_array_equal(out[mask == 0], 0)
    box = CropBox(20.0, 10.0, 64.0, 64)  # crop pixels = frame pixels shifted by (20, 10)
    pasted = paste(crop, alpha, frame, box)
    outside = np.ones(frame.shape[:2], bool)
    outside[10 + 30 : 10 + 60, 20 + 10 : 20 + 54] = False
    np.testing.assert_array_equal(pasted[outside], frame[outside])
    np.testing.assert_array_equal(pasted[10 + 36 : 10 + 54, 20 + 16 : 20 + 48], crop[36:54, 16:48])


class _Lipsync:
    """A stand-in for Wav2Lip: returns the identity image for every frame and records what it was given."""

    def __init__(self):
        self.calls = []

    def generate(self, identity, audio, sample_rate, fps):
        self.calls.append((identity.shape, audio))
        frames = np.repeat(identity[None], frame_count(audio.size, sample_rate, fps), 0)
        return Clip(frames, fps, audio, sample_rate)


def test_pseudo_video_pairs_other_audio_with_the_targets_face(grid_faces, landmarks):
    model = LandmarkFaceModel(8, 2)
    model.fit(landmarks)
    config = baselines.create("meta_talk", preset="tiny", num_pseudo_clips=3).config
    fake = _Lipsync()
    pairs = pseudo_pairs(fake, grid_faces, 3, config, model, np.random.default_rng(0))
    assert len(pairs) == 3 and [c[0] for c in fake.calls] == [(96, 96, 3)] * 3  # pseudo_size faces
    for k, (pair, (_, audio)) in enumerate(zip(pairs, fake.calls, strict=True)):
        assert audio is not grid_faces[k].audio  # another clip's audio
        assert pair.mfcc.shape == (frame_count(audio.size, 16000, 25.0), 28, 12)
        np.testing.assert_allclose(pair.expression, 0.0, atol=1e-6)  # a still face: no expression


@pytest.fixture(scope="module")
def trained(grid_faces):
    model = baselines.create("meta_talk", preset="tiny", seed=0, **FAST)
    report = model.fit(grid_faces, Budget(steps=60))  # 45 A2E steps (a2e_fraction 0.75), 15 renderer steps
    return model, report


def test_tiny_training_lowers_both_losses(trained):
    _, report = trained
    a2e, l1 = report.losses["a2e/a2e"], report.losses["renderer/l1"]
    assert len(a2e) == 45 and len(l1) == 15
    assert loss_drop(a2e, 10) > 0.3 and loss_drop(l1, 5) > 0.3  # last 10 (5) at most 0.7 x the first 10 (5)


def test_output_follows_the_audio(trained, grid_faces):
    model, _ = trained
    identity = grid_faces[0].frames[0]
    one = model.generate(identity, grid_faces[1].audio, 16000, 25.0)
    two = model.generate(identity, grid_faces[2].audio, 16000, 25.0)
    n = min(one.num_frames, two.num_frames)
    lm = clip_landmarks(grid_faces[0])[0]
    rows, cols = slice(int(lm[48:68, 1].min()) - 2, int(lm[48:68, 1].max()) + 4), slice(int(lm[48, 0]), int(lm[54, 0]))
    diff = np.abs(one.frames[:n, rows, cols].astype(int) - two.frames[:n, rows, cols]).mean()
    print("mouth difference", diff)
    assert diff > 1.0, diff
    # silence (-80 dB noise) vs speech: the A2E's mouth opening (inner-lip gap / eye width) on decoded landmarks
    quiet = np.random.default_rng(0).normal(0, 1e-4, 48000).astype(np.float32)
    code = model.face.encode(model_landmarks(model, identity))
    opening = {k: mouth_opening(model.face.decode(code.with_expression(model.expressions(a, 16000, 25.0, 75))))
               for k, a in (("quiet", quiet), ("speech", grid_faces[1].audio[:48000]))}  # fmt: skip
    closed = np.median(opening["speech"])
    print("closed fraction", (opening["quiet"] < closed).mean(), (opening["speech"] < closed).mean())
    assert (opening["quiet"] < closed).mean() > (opening["speech"] < closed).mean()


def model_landmarks(model, image):
    from baselines.meta_talk.compose import crop_box

    lm = clip_landmarks(Clip(image[None]))
    return crop_box(lm, model.config.crop_margin, model.crop_size).to_crop(lm)


def test_generate_any_length_records_its_substitutes(trained, grid_faces):
    model, _ = trained
    identity = grid_faces[3].frames[10]
    for seconds in (1.0, 4.7):
        audio = np.tile(grid_faces[3].audio, 3)[: int(seconds * 16000)]
        clip = model.generate(identity, audio, 16000, 25.0)
        assert clip.num_frames == frame_count(audio.size, 16000, 25.0) and clip.size == identity.shape[:2]
        assert clip.audio is not None and clip.audio.size == audio.size
    assert clip.meta["face_model"] == "landmark-pca" and "from scratch" in clip.meta["audio_features"]
    # only the lower face changes: the top third of the image is the identity's, bit for bit
    np.testing.assert_array_equal(clip.frames[:, :64], np.broadcast_to(identity[:64], clip.frames[:, :64].shape))


def test_save_load_reproduces_outputs(trained, grid_faces, tmp_path):
    model, _ = trained
    model.save(tmp_path)
    loaded = baselines.load("meta_talk", tmp_path)
    assert_same_state(model, loaded)
    assert loaded.crop_size == model.crop_size == 128
    identity, audio = grid_faces[1].frames[5], grid_faces[2].audio[:20000]
    np.testing.assert_array_equal(model.generate(identity, audio, 16000).frames, loaded.generate(identity, audio, 16000).frames)


def test_seeded_fit_is_bit_reproducible(grid_faces):
    runs = []
    for _ in range(2):
        model = baselines.create("meta_talk", preset="tiny", seed=3, **FAST)
        model.fit(grid_faces[:2], Budget(steps=4))
        runs.append(model)
    assert_same_state(*runs)


def test_bad_inputs_are_named(trained, grid_faces):
    model, _ = trained
    with pytest.raises(ValueError, match="NaN"):
        model.generate(grid_faces[0].frames[0], np.full(16000, np.nan, np.float32), 16000)
    with pytest.raises(ValueError, match="no face found"):
        model.generate(np.full((128, 128, 3), 90, np.uint8), grid_faces[0].audio, 16000)
    with pytest.raises(ValueError, match="needs a fitted model"):
        baselines.create("meta_talk", preset="tiny").generate(grid_faces[0].frames[0], grid_faces[0].audio, 16000)
    with pytest.raises(ValueError, match="no training clip"):
        baselines.create("meta_talk", preset="tiny").fit([Clip(grid_faces[0].frames[:3], audio=np.zeros(4800))], Budget(1))


def test_3dmm_backend_fits_a_synthetic_basis_read_through_the_weights_manager(tmp_path, monkeypatch):
    monkeypatch.setenv("TALKBENCH_WEIGHTS", str(tmp_path))
    with pytest.raises(WeightsMissingError, match="bfm-deng-front"):
        _ = MorphableFaceModel(4, 10).basis
    basis = synthetic_basis()
    write_basis(basis, tmp_path / "BFM_model_front.mat")
    model = MorphableFaceModel(4, 150, lr=0.02)
    np.testing.assert_array_equal(model.basis.triangles, basis.triangles)  # 1-based in the file, 0-based here
    rng = np.random.default_rng(1)
    true = FaceCode(rng.normal(0, 1, 3), np.zeros((68, 2)), rng.normal(0, 1, (3, 4)),
                    np.c_[rng.normal(0, 0.05, (3, 5)), np.zeros(3)],
                    {"texture": rng.normal(0, 1, 2), "lighting": np.zeros((3, 27)), "size": np.array([128])})  # fmt: skip
    points = model.decode(true)
    frames = model.render(true, np.full((128, 128, 3), 60, np.uint8), true)
    fitted = model.encode(points, frames)
    error = np.linalg.norm(model.decode(fitted) - points, axis=-1).mean()
    assert error < 0.5, error  # measured 0.26 px after 300 steps at lr 0.01
    # expression is the part of the shape the identity cannot explain: recovered in direction
    assert np.corrcoef(fitted.expression.ravel(), true.expression.ravel())[0, 1] > 0.8
    mask = model.mask(true, (128, 128), 0)
    lower = points[:, 48:68].round().astype(int)
    assert mask[0][lower[0, :, 1], lower[0, :, 0]].all() and not mask[0][: int(points[0, 36:48, 1].min())].any()


@pytest.mark.gpu
def test_cuda(trained, grid_faces, tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    model, _ = trained
    model.save(tmp_path)
    gpu = baselines.load("meta_talk", tmp_path, device="cuda")
    cpu_frames = model.generate(grid_faces[1].frames[0], grid_faces[2].audio[:16000], 16000).frames
    gpu_frames = gpu.generate(grid_faces[1].frames[0], grid_faces[2].audio[:16000], 16000).frames
    assert np.abs(cpu_frames.astype(int) - gpu_frames).max() <= 2
