"""maml_lip: paper architecture, data path, learning on synthgrid (meta and transfer), adaptation, generation.

Training tests use a reduced copy of the tiny preset (16x16 lips, 8-frame windows; ``FAST``) so that they fit in the
CPU budget; the preset code is the same.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from baseline_helpers import assert_same_state, loss_drop

import baselines
from baselines._blocks import count_parameters
from baselines.base import Budget
from baselines.maml_lip.data import (
    LipBox,
    crop_lips,
    feature_windows,
    generation_starts,
    lip_box,
    lms_features,
    paste_lips,
    sample_starts,
)  # fmt: skip
from baselines.maml_lip.model import LipAutoEncoder, LipGenerator
from baselines.maml_lip.training import build_tasks, make_batch, split_indices
from bench.data.synthetic import synthesize_corpus

FAST = {"lip_size": 16, "window": 8, "stride": 4, "support": 2, "query": 2}


def test_paper_generator_shapes_and_hand_counted_parameters():
    shapes = {}
    with torch.device("meta"):  # shapes and counts only: the paper-size forward is 40 M parameters
        net = LipGenerator()  # paper: 64x64 lips, 16 frames, ngf 64, 9 residual blocks, 7x7x7 output conv
        for name in ("audio_encoder", "identity_encoder", "compress", "blocks", "up", "out"):
            getattr(net, name).register_forward_hook(lambda m, i, o, name=name: shapes.__setitem__(name, tuple(o.shape)))
        out = net(torch.empty(2, 1, 20, 128), torch.empty(2, 3, 64, 64))  # 20 LMS columns x 128 mels = 0.64 s
    assert shapes == {"audio_encoder": (2, 512, 16, 16), "identity_encoder": (2, 256, 16, 16),
                      "compress": (2, 256, 16, 16, 16), "blocks": (2, 256, 16, 16, 16), "up": (2, 64, 16, 64, 64),
                      "out": (2, 3, 16, 64, 64)}  # fmt: skip
    assert tuple(out.shape) == (2, 3, 16, 64, 64)
    # convs followed by (affine-free) instance norm have no bias; 3x3 kernels = 9, 3x3x3 = 27, 7x7x7 = 343
    audio = 9 * (1 * 32 + 32 * 64 + 64 * 128 + 128 * 256 + 256 * 512)  # 1,567,008
    identity = 49 * 3 * 64 + 9 * (64 * 128 + 128 * 256)  # 378,048
    compress = 27 * (256 + 512) * 256  # 5,308,416
    blocks = 9 * 2 * 27 * 256 * 256  # 31,850,496
    up = 27 * (256 * 128 + 128 * 64)  # 1,105,920
    output = 343 * 64 * 3 + 3  # 65,859
    assert count_parameters(net.audio_encoder) == audio and count_parameters(net.identity_encoder) == identity
    assert count_parameters(net) == audio + identity + compress + blocks + up + output == 40_275_747
    # the auto-encoder: 3x4x4 kernels (48 taps); the first encoder conv and the last deconv have biases
    ae = LipAutoEncoder((64, 128, 256))
    assert count_parameters(ae) == 48 * (3 * 64 + 64 * 128 + 128 * 256) * 2 + 64 + 3 == 3_950_659
    assert tuple(ae.encode(torch.empty(1, 3, 16, 64, 64, device="meta")).shape) == (1, 256, 16, 8, 8)


def test_lip_box_crop_and_paste_back():
    mouth = np.zeros((3, 20, 2), np.float32)
    mouth[:, :, 0] = np.linspace(40, 60, 20)  # 20 px wide
    mouth[:, :, 1] = np.linspace(70, 80, 20)  # 10 px high, centroid (50, 75)
    mouth[1] += 100.0  # a frame without a face is ignored
    box = lip_box(mouth, np.array([True, False, True]), 1.3)
    assert (box.cx, box.cy, box.side) == pytest.approx((50.0, 75.0, 26.0))  # side 1.3 * max(20, 10)
    assert lip_box(mouth, np.zeros(3, bool), 1.3) is None
    image = np.random.default_rng(0).integers(0, 255, (128, 128, 3), np.uint8)
    lips = crop_lips(image[None], LipBox(64.0, 64.0, 32.0), 32)  # scale 1: the crop is the box itself
    np.testing.assert_array_equal(lips[0], image[48:80, 48:80])
    pasted = paste_lips(image, np.zeros((2, 32, 32, 3), np.uint8), LipBox(64.0, 64.0, 32.0))
    assert pasted.shape == (2, 128, 128, 3)
    np.testing.assert_array_equal(pasted[:, :40], np.broadcast_to(image[:40], (2, 40, 128, 3)))  # outside the box
    assert pasted[0, 56:72, 56:72].max() == 0  # inside the feathered border: the lips alone
    assert 0 < pasted[0, 48, 64].mean() < image[48, 64].mean() + 1  # the border blends


def test_windows_and_features():
    assert sample_starts(50, 16, 8).tolist() == [0, 8, 16, 24, 32]  # 16-frame samples every 8 frames (V-B)
    assert sample_starts(10, 16, 8).size == 0
    assert generation_starts(50, 16).tolist() == [0, 16, 32, 34] and generation_starts(7, 16).tolist() == [0]
    lms = lms_features(np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32), 16000)
    assert lms.shape == (1 + 16000 // 512, 128)  # centred STFT, hop 512: 32 columns in 1 s
    seq = np.arange(40, dtype=np.float32)[:, None]
    # 16 frames at 25 fps = 0.64 s = 20 steps at 31.25 per second; frame 8 starts at step round(0.32 * 31.25) = 10
    windows = feature_windows(seq, 31.25, np.array([0, 8, 32]), 25.0, 16)
    # frame 32 starts at step 40, past the last one (39): the last step repeats
    assert windows[:, :, 0].tolist() == [list(range(20)), list(range(10, 30)), [39.0] * 20]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return synthesize_corpus(tmp_path_factory.mktemp("maml"), speakers=3, sentences=2, seed=1, workers=1, progress=False)


@pytest.fixture(scope="module")
def clips(corpus):
    return [corpus.clip(record) for record in corpus]


@pytest.fixture(scope="module")
def train_clips(clips):
    return [c for c in clips if c.meta["speaker"] != "s03"]


@pytest.fixture(scope="module")
def new_speaker(clips):
    return [c for c in clips if c.meta["speaker"] == "s03"]


def test_tasks_are_subjects_with_lip_samples(train_clips):
    model = baselines.create("maml_lip", preset="tiny", **FAST)
    tasks = build_tasks(train_clips, model.config, model.features)
    assert len(tasks) == 2  # s01, s02
    assert all(t.num_samples == 2 * len(sample_starts(50, 8, 4)) for t in tasks)  # 2 clips x 11 samples
    assert tasks[0].videos.shape[1:] == (8, 16, 16, 3) and tasks[0].audio.shape[1:] == (10, 128)  # ceil(8/25*31.25)
    support, query = split_indices(tasks[0], (4, 5), np.random.default_rng(0))
    assert len(set(support) | set(query)) == 9  # disjoint
    audio, identity, target = make_batch(tasks[0], support, np.random.default_rng(0), torch.device("cpu"))
    assert audio.shape == (4, 1, 10, 128) and identity.shape == (4, 3, 16, 16) and target.shape == (4, 3, 8, 16, 16)
    assert -1.0 <= float(target.min()) and float(target.max()) <= 1.0


@pytest.fixture(scope="module")
def meta_model(train_clips):
    model = baselines.create("maml_lip", preset="tiny", seed=3, **FAST)
    return model, model.fit(train_clips, Budget(steps=16))


def test_meta_training_lowers_the_query_loss(meta_model):
    model, report = meta_model
    assert len(report.losses["autoencoder"]) == 3 and len(report.losses["query"]) == 13  # 20% of 16 steps to the AE
    assert loss_drop(report.losses["query"], 4) > 0.15, report.losses["query"]
    assert model.meta_steps == 13


def test_transfer_learning_ablation_lowers_its_loss(train_clips):
    model = baselines.create("maml_lip", preset="tiny-transfer", seed=3, **FAST)
    report = model.fit(train_clips, Budget(steps=16))
    assert not model.config.meta_learning and "support" not in report.losses
    assert loss_drop(report.losses["query"], 4) > 0.2, report.losses["query"]


def _held_out_loss(model, clips):
    from baselines.maml_lip.model import composite_loss

    task = build_tasks(clips, model.config, model.features)[0]
    audio, identity, target = make_batch(task, np.arange(task.num_samples), np.random.default_rng(9), model.device)
    with torch.no_grad():
        return composite_loss(model.net(audio, identity), target, model.autoencoder, model.config.alpha_pixel)[0].item()


def test_adapt_lowers_the_loss_on_held_out_clips_of_a_new_speaker(meta_model, new_speaker):
    import copy

    model = copy.deepcopy(meta_model[0])
    before = _held_out_loss(model, new_speaker[1:])
    report = model.adapt(new_speaker[:1], Budget(steps=6))
    after = _held_out_loss(model, new_speaker[1:])
    assert report.steps == 6 and model.adapt_steps == 6
    assert after < 0.9 * before, (before, after)


def test_output_follows_the_audio(meta_model, new_speaker):
    from baselines.maml_lip.data import clip_lips

    model = meta_model[0]
    image, speech = new_speaker[0].frames[0], new_speaker[0].audio
    _, box = clip_lips(new_speaker[0], 16, 1.3)  # the identity's lip box (about 37 px on synthgrid's faces)
    rows = slice(int(box.cy - box.side / 2), int(box.cy + box.side / 2))
    cols = slice(int(box.cx - box.side / 2), int(box.cx + box.side / 2))
    lips = lambda audio: model.generate(image, audio, 16000).frames[:, rows, cols].astype(float)  # noqa: E731
    first, other = lips(speech), lips(new_speaker[1].audio)
    hush = lips(np.random.default_rng(0).normal(0, 1e-4, speech.size).astype(np.float32))
    # mean absolute grey-level difference inside the lip box: measured 2.96 (other sentence) and 3.03 (near-silence)
    assert np.abs(first - other).mean() > 1.0 and np.abs(first - hush).mean() > 1.0
    outside = model.generate(image, speech, 16000).frames[:, :40]  # above the lip box the identity is untouched
    np.testing.assert_array_equal(outside, np.broadcast_to(image[:40], outside.shape))


def test_generate_any_length_and_bad_inputs(meta_model, new_speaker):
    model = meta_model[0]
    image = new_speaker[0].frames[0]
    rng = np.random.default_rng(1)
    for seconds, frames in ((0.2, 5), (1.0, 25), (60.0, 1500)):
        audio = rng.normal(0, 0.1, int(16000 * seconds)).astype(np.float32)
        clip = model.generate(image, audio, 16000)
        assert clip.frames.shape == (frames, 128, 128, 3) and np.array_equal(clip.audio, audio)
        assert clip.meta["audio_features"] == "lms"
    with pytest.raises(ValueError, match="no face"):
        model.generate(np.zeros((128, 128, 3), np.uint8), audio[:16000], 16000)
    with pytest.raises(ValueError, match="silence"):
        model.generate(image, np.zeros(16000, np.float32), 16000)
    with pytest.raises(ValueError, match="frames of one sample"):
        model.fit([new_speaker[0].with_frames(new_speaker[0].frames[:5])], Budget(steps=1))


def test_save_load_and_seeded_fit_are_exact(meta_model, train_clips, new_speaker, tmp_path):
    model = meta_model[0]
    model.save(tmp_path)
    loaded = baselines.load("maml_lip", tmp_path)
    assert_same_state(model, loaded) and loaded.meta_steps == model.meta_steps
    image, audio = new_speaker[0].frames[0], new_speaker[0].audio[:20000]
    np.testing.assert_array_equal(model.generate(image, audio, 16000).frames, loaded.generate(image, audio, 16000).frames)
    a = baselines.create("maml_lip", preset="tiny", seed=4, **FAST)
    b = baselines.create("maml_lip", preset="tiny", seed=4, **FAST)
    a.fit(train_clips, Budget(steps=3))
    b.fit(train_clips, Budget(steps=3))
    assert_same_state(a, b)


def test_deepspeech_features_through_the_weights_manager(monkeypatch, tmp_path):
    from baselines._deepspeech import WEIGHTS_NAME, DeepSpeechFeatures
    from bench import weights

    monkeypatch.setenv("TALKBENCH_WEIGHTS", str(tmp_path))
    with pytest.raises(weights.WeightsMissingError, match=f"talkbench weights fetch {WEIGHTS_NAME}"):
        baselines.create("maml_lip", preset="tiny", audio_features="deepspeech")
    assert baselines.create("maml_lip", preset="tiny", audio_features="auto").config.audio_features == "lms"
    torch.manual_seed(0)
    state = DeepSpeechFeatures(hidden=12, layers=2).state_dict()  # test-made weights, the release's key names
    state["fc.0.module.1.weight"] = torch.zeros(29, 12)  # the classifier is not loaded
    torch.save({"version": "0.0.1", "hidden_size": 12, "state_dict": state}, tmp_path / "librispeech_pretrained_v2.pth")
    model = baselines.create("maml_lip", preset="tiny", audio_features="auto")
    assert model.config.audio_features == "deepspeech" and model.feature_rate == 50.0
    seq, rate = model.features(np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32), 16000)
    assert seq.shape == (51, 12) and rate == 50.0  # 101 spectrogram frames, time stride 2
    assert model.state()["audio_features"].startswith(f"{WEIGHTS_NAME} sha256:")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu_and_trains(grid_faces):
    real = grid_faces[0]
    cpu = baselines.create("maml_lip", preset="tiny", seed=2)
    gpu = baselines.create("maml_lip", preset="tiny", seed=2, device="cuda")
    a = cpu.generate(real.frames[0], real.audio[:16000], 16000).frames.astype(int)
    b = gpu.generate(real.frames[0], real.audio[:16000], 16000).frames.astype(int)
    assert np.abs(a - b).max() <= 2  # float rounding of cuDNN vs oneDNN, then 8-bit quantisation
    report = gpu.fit(grid_faces[:2], Budget(steps=4))
    assert report.steps == 4 and gpu.adapt(grid_faces[2:3], Budget(steps=2)).steps == 2
    assert all(p.device.type == "cuda" for m in gpu.modules.values() for p in m.parameters())
