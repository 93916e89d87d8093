"""Cascaded TCN (Zheng, Song, Ji): TCN receptive field and non-causality, hand-counted architecture, features, PCA,
losses, training on synthgrid, output following the audio, template-video generation, save/load, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from baseline_helpers import assert_same_state, loss_drop

from baselines._tcn import TemporalConvNet, receptive_field
from baselines.base import Budget, frame_count
from baselines.cascaded_tcn import CascadedTCN
from baselines.cascaded_tcn.config import ABLATIONS, JAW_POINTS, MOUTH_POINTS, PRESETS, CascadedTCNConfig
from baselines.cascaded_tcn.evaluation import landmark_mse
from baselines.cascaded_tcn.features import GENERIC_FACE_3D, POSE_POINTS, face_frames, frame_audio, head_pose
from baselines.cascaded_tcn.model import CascadedMapping, RecurrentMapping, Renderer, Statistics
from baselines.cascaded_tcn.training import prepare, stage1_loss
from bench.data.synthetic import SynthConfig, synthesize_clip
from bench.media import Clip

GIVEN = {"landmarks": "given"}  # synthgrid's true landmarks: no dlib tracking in training
MAPPING_STEPS, RENDER_STEPS = 120, 10


@pytest.fixture(scope="module")
def synth() -> tuple[list[Clip], list[Clip]]:
    """Two synthgrid training speakers x 3 sentences, and two clips of a third speaker held out."""
    config = SynthConfig(speakers=3, sentences=3)
    train = [synthesize_clip(config, s, k)[0] for s in range(2) for k in range(3)]
    test = [synthesize_clip(config, 2, k)[0] for k in range(2)]
    return train, test


@pytest.fixture(scope="module")
def trained(synth):
    model = CascadedTCN(preset="tiny", seed=1, **GIVEN)
    report = model.fit_mapping(synth[0], Budget(steps=MAPPING_STEPS))
    report.merge(model.fit_renderer(synth[0], Budget(steps=RENDER_STEPS)), "renderer_")
    return model, report


def test_receptive_field_equals_the_hand_count_and_the_tcn_is_non_causal():
    # two convs per level, kernel 3, dilations 1, 2, 4, 8: 1 + 2 * (3 - 1) * (1 + 2 + 4 + 8) = 61 frames, 30 each side
    assert receptive_field(3, [1, 2, 4, 8]) == 61
    torch.manual_seed(0)
    tcn, causal = (TemporalConvNet(4, [16] * 4, 3, [1, 2, 4, 8], dropout=0.0, causal=c).eval() for c in (False, True))
    assert tcn.receptive_field == 61
    with torch.no_grad():  # positive weights and inputs: every ReLU passes, so every path within reach shows
        for p in [*tcn.parameters(), *causal.parameters()]:
            p.abs_()
    x = torch.rand(1, 4, 128)
    y = x.clone()
    y[0, :, 64] += 5.0  # change one input frame
    with torch.no_grad():
        changed = (tcn(x) - tcn(y)).abs().sum(dim=1)[0] > 0
    assert changed.nonzero().flatten().tolist() == list(range(34, 95))  # frames 64 - 30 .. 64 + 30: past AND future
    with torch.no_grad():
        changed = (causal(x) - causal(y)).abs().sum(dim=1)[0] > 0
    assert changed.nonzero().flatten().tolist() == list(range(64, 125))  # the original's causal TCN: 0 .. +60


def test_full_mapping_output_changes_when_a_later_audio_frame_changes():
    torch.manual_seed(0)
    mapping = CascadedMapping(CascadedTCNConfig(dropout=0.0)).eval()
    audio, pose, cheek = torch.randn(1, 100, 104), torch.randn(1, 100, 3), torch.randn(1, 100, 16)
    later = audio.clone()
    later[0, 80] += 3.0
    with torch.no_grad():
        before, after = mapping(audio, pose, cheek)[1], mapping(later, pose, cheek)[1]
    # an earlier output frame (70) changes with a later input frame (80); G1 then G2 see 30 frames each way each, so
    # frame 19 is out of reach (80 - 60 = 20 is the earliest frame that hears it)
    assert not torch.equal(before[0, 70], after[0, 70]) and torch.equal(before[0, 19], after[0, 19])


def _tcn_params(cin: int, c: int, out: int) -> int:
    """Hand count of a 4-level TCN (weight norm: v, g and bias per conv) plus the per-frame linear head."""
    conv = lambda i, o: o * i * 3 + o + o  # noqa: E731  v + g + bias
    first = conv(cin, c) + conv(c, c) + (c * cin + c)  # two convs and the 1x1 residual conv (bias)
    return first + 3 * (2 * conv(c, c)) + (c * out + out)


def test_paper_mapping_shapes_and_hand_counted_parameters():
    config = CascadedTCNConfig()  # the paper preset
    mapping = CascadedMapping(config).eval()
    # G1 in: 4 x 26 logfbank + 3 pose = 107; G2 in: 13 PCA + 3 pose + 16 cheek = 32; 128 channels per level
    g1 = _tcn_params(107, 128, 13)  # 104,576 + 296,448 + 1,677 = 402,701
    g2 = _tcn_params(32, 128, 58)  # 66,176 + 296,448 + 7,482 = 370,106
    assert (g1, g2) == (402_701, 370_106)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert (count(mapping.g1), count(mapping.g2)) == (g1, g2)
    with torch.no_grad():  # the paper's window: a_i in R^{256x26} (stacked to 64 x 104), p_i in R^{64x3}, f_i in R^{64x16}
        pca, talking = mapping(torch.randn(2, 64, 104), torch.randn(2, 64, 3), torch.randn(2, 64, 16))
    assert pca.shape == (2, 64, 13) and talking.shape == (2, 64, 58)
    rnn = RecurrentMapping(CascadedTCNConfig(mapping="bilstm"))  # 2 directions x 4 x 128 x (104 + 128 + 2) + head
    assert count(rnn) == 2 * 4 * 128 * (104 + 128 + 2) + (256 * 13 + 13)


def test_paper_renderer_hand_counted_parameters_and_shape():
    with torch.device("meta"):  # counted without allocating 46M weights
        renderer = Renderer(2, CascadedTCNConfig())
    narrow = Renderer(2, CascadedTCNConfig(ngf=2)).eval()  # the paper's depth at 1/16 width, at the paper's 720 px
    with torch.no_grad():
        deepest = narrow.global_net[:4](torch.zeros(1, 2, 360, 360))  # the global generator runs at half size
        out = narrow(torch.zeros(1, 2, 720, 720))
    assert deepest.shape == (1, 32, 45, 45) and out.shape == (1, 3, 720, 720)
    conv = lambda i, o, k: i * o * k * k  # noqa: E731  convs followed by instance norm have no bias
    g = 64  # global generator: 2 * ngf; 3 down-samplings to 512 channels at 720 / 2 / 8 = 45 px
    trunk = conv(2, g, 7) + conv(g, 2 * g, 3) + conv(2 * g, 4 * g, 3) + conv(4 * g, 8 * g, 3)
    trunk += 9 * 2 * conv(8 * g, 8 * g, 3)  # 9 residual blocks of 512
    trunk += 2 * (512 * 64 + 64) + (512 * 512 + 512) + 1  # self-attention: query, key (C/8), value, gamma
    trunk += conv(8 * g, 4 * g, 3) + conv(4 * g, 2 * g, 3) + conv(2 * g, g, 3)  # up-samplings
    local = conv(2, 32, 7) + conv(32, 64, 3) + 3 * 2 * conv(64, 64, 3) + conv(64, 32, 3) + (32 * 3 * 49 + 3)
    assert (trunk, local) == (45_898_497, 265_891)  # 46,164,388 in all
    assert sum(p.numel() for p in renderer.parameters()) == trunk + local


def test_presets_follow_the_paper():
    paper = CascadedTCNConfig(**PRESETS["paper"])
    assert (paper.window, paper.kernel_size, paper.dilations, paper.lambda_pca, paper.lambda_int) == (
        64,
        3,
        (1, 2, 4, 8),
        0.05,
        0.6,
    )
    assert (paper.render_size, paper.num_d, paper.n_layers_d, paper.lambda_feat, paper.render_lr) == (720, 2, 3, 10.0, 2e-4)
    tiny = CascadedTCNConfig(**PRESETS["tiny"])
    assert tiny.dilations == paper.dilations and tiny.kernel_size == 3
    # Table 1's columns are presets: input sizes of G1 / G2 change with the switches
    sizes = {}
    for name in ABLATIONS:
        mapping = CascadedTCN(preset=f"tiny-{name}" if name != "ours" else "tiny").mapping
        if isinstance(mapping, CascadedMapping):
            sizes[name] = (mapping.g1[0].network[0].conv1.in_channels, mapping.g2[0].network[0].conv1.in_channels)
        else:
            sizes[name] = (mapping.rnn.input_size, mapping.rnn.bidirectional)
    assert sizes == {
        "no_pose": (104, 29),
        "g1_pose": (107, 29),
        "g2_pose": (104, 32),
        "ours": (107, 32),
        "no_cheek": (107, 16),
        "lstm": (104, False),
        "bilstm": (104, True),
    }


def test_audio_features_stack_four_logfbank_frames_per_video_frame():
    feats = np.arange(256 * 26, dtype=np.float32).reshape(256, 26)  # 256 feature frames: 64 video frames at 25 fps
    stacked = frame_audio(feats, 64, 25.0)
    assert stacked.shape == (64, 104)
    assert np.array_equal(stacked[10], feats[40:44].reshape(-1))  # frame t: rows 4t .. 4t + 3
    assert np.array_equal(frame_audio(feats, 64, 50.0)[10], feats[[20, 20, 21, 21]].reshape(-1))  # 2 rows per frame


def test_head_pose_recovers_a_known_rotation():
    width = 256
    camera = np.array([[width, 0, 128], [0, width, 128], [0, 0, 1]], np.float64)
    import cv2

    for yaw, roll in ((0.0, 0.0), (0.3, 0.0), (0.0, 0.2), (-0.25, 0.1)):
        rotation = cv2.Rodrigues(np.array([0.0, 0.0, roll]))[0] @ cv2.Rodrigues(np.array([0.0, yaw, 0.0]))[0]
        projected, _ = cv2.projectPoints(GENERIC_FACE_3D * 100, cv2.Rodrigues(rotation)[0], np.array([0.0, 0, 400]),
                                         camera, None)  # fmt: skip
        landmarks = np.zeros((1, 68, 2))
        landmarks[0, list(POSE_POINTS)] = projected[:, 0]
        pitch_, yaw_, roll_ = head_pose(landmarks, (256, 256))[0]
        assert (pitch_, yaw_, roll_) == pytest.approx((0.0, yaw, roll), abs=1e-3)


def test_pca_round_trip_of_true_mouths(synth):
    train, test = synth
    data = prepare(train, CascadedTCNConfig(**PRESETS["tiny"], **GIVEN), "test")
    stats = Statistics()
    stats.fit(
        torch.from_numpy(np.concatenate([d.audio for d in data])), torch.from_numpy(np.concatenate([d.mouth for d in data]))
    )
    # held-out speaker: 13 components keep its mouths to within 0.01 face scales RMS (the outer eye corners are 1 apart)
    truth = torch.from_numpy(face_frames(test[0].meta["landmarks"], test[0].size).mouth)
    error = (stats.decode(stats.encode(truth)) - truth).pow(2).mean().sqrt().item()
    assert error < 0.01, error
    spread = (truth - truth.mean(0)).pow(2).mean().sqrt().item()  # the mouths do move: more than the error
    assert spread > 5 * error


def test_stage1_loss_is_equation_4_on_a_hand_case():
    class Fixed(torch.nn.Module):
        def forward(self, audio, pose, cheek):
            return torch.zeros(1, 3, 13), torch.zeros(1, 3, 58)

    stats = Statistics()  # identity PCA axes, zero mean: the PCA coefficients are the first 13 mouth values
    talking = torch.zeros(1, 3, 58)
    talking[0, :, 0] = torch.tensor([1.0, 2.0, 4.0])  # squares 1 + 4 + 16 = 21; differences 1, 2: 1 + 4 = 5
    mouth = torch.zeros(1, 3, 40)
    mouth[0, :, 1] = 3.0  # PCA coefficient 1 is 3 on every frame: 3 x 9 = 27
    batch = {
        "audio": torch.zeros(1, 3, 104),
        "pose": torch.zeros(1, 3, 3),
        "cheek": torch.zeros(1, 3, 16),
        "mouth": mouth,
        "talking": talking,
    }
    losses = stage1_loss(stats, Fixed(), batch, CascadedTCNConfig())
    assert (losses["l2"].item(), losses["pca"].item(), losses["int"].item()) == (21.0, 27.0, 5.0)
    assert losses["total"].item() == pytest.approx(21.0 + 0.05 * 27.0 + 0.6 * 5.0)


def test_tiny_mapping_learns_on_synthgrid(trained):
    _, report = trained
    total = report.losses["total"]
    assert len(total) == MAPPING_STEPS
    assert np.mean(total[-10:]) <= 0.7 * np.mean(total[:10]), (np.mean(total[:10]), np.mean(total[-10:]))
    assert loss_drop(report.losses["l2"], 10) > 0.3  # the landmark term itself, not only the PCA term
    assert len(report.losses["renderer_g_total"]) == RENDER_STEPS


def _opening(points: np.ndarray) -> np.ndarray:
    """Inner-lip gap per frame: mean distance of the upper inner lip 61-63 to the lower 67-65, pixels."""
    return np.linalg.norm(points[:, [61, 62, 63]] - points[:, [67, 66, 65]], axis=-1).mean(axis=1)


def test_output_follows_the_audio(trained, synth):
    model, _ = trained
    _, test = synth
    face = test[0].frames[0]
    landmarks = model.template_landmarks(np.broadcast_to(face[None], (50, *face.shape)))
    template = np.broadcast_to(face[None], (50, *face.shape))
    a = model.predict_landmarks(template, test[0].audio, 16000, 25.0, landmarks)
    b = model.predict_landmarks(template, test[1].audio, 16000, 25.0, landmarks)
    # two sentences move the mouth differently: mean mouth-point distance above 0.5 px (128-px faces)
    gap = np.linalg.norm(a[:, 48:68] - b[:, 48:68], axis=-1).mean()
    assert gap > 0.5, gap
    # 1 s of digital silence before the sentence: "closed" = an inner-lip gap below the lower quartile of the gaps
    # predicted over the sentence; the silent second (but its last 3 frames, which hear the speech) is closed more often
    quiet = np.concatenate([np.zeros(16000, np.float32), test[0].audio])
    points = model.predict_landmarks(np.broadcast_to(face[None], (75, *face.shape)), quiet, 16000, 25.0,
                                     np.concatenate([landmarks, landmarks[:25]]))  # fmt: skip
    gaps = _opening(points)
    closed = gaps < np.percentile(gaps[25:], 25)
    assert closed[:22].mean() > closed[25:].mean() + 0.3, (closed[:22].mean(), closed[25:].mean())
    # and the rendered frames differ in the lower face between the two sentences
    clip_a = model.generate(face, test[0].audio, 16000)
    clip_b = model.generate(face, test[1].audio, 16000)
    lower = np.abs(clip_a.frames[:, 70:110, 40:90].astype(float) - clip_b.frames[:, 70:110, 40:90]).mean()
    assert lower > 1.0, lower


def test_landmark_measure_of_the_trained_mapping(trained, synth):
    model, _ = trained
    result = landmark_mse(model, synth[1])
    assert result["clips"] == 2 and result["frames"] == 100
    assert 0 < result["mouth"] < 0.01 and 0 < result["jaw"] < 0.01, result  # in face scales squared
    untrained = CascadedTCN(preset="tiny", seed=1, **GIVEN)
    untrained.fit_mapping(synth[0], Budget(steps=0))  # statistics only
    assert landmark_mse(untrained, synth[1])["mouth"] > 3 * result["mouth"]
    lstm = CascadedTCN(preset="tiny-lstm", **GIVEN)
    lstm.fit_mapping(synth[0], Budget(steps=1))
    assert np.isnan(landmark_mse(lstm, synth[1])["jaw"])  # mouth only


def test_template_video_any_length_and_head_motion(trained, synth):
    model, _ = trained
    template = synth[1][0]  # a moving head: synthgrid's pose jitter
    audio = np.resize(synth[1][1].audio, 3 * 16000).astype(np.float32)  # longer than the 2-s template
    clip = model.generate(template, audio, 16000)
    assert clip.num_frames == frame_count(audio.size, 16000, 25.0) == 75
    assert clip.size == template.size and np.array_equal(clip.audio, audio)
    # the upper face is the template's own (pasted lower face only), frame by frame, following its head motion
    assert np.array_equal(clip.frames[10, :40], template.frames[10, :40])
    assert np.array_equal(clip.frames[60, :40], template.frames[38, :40])  # 50 frames, then back: 60 -> 98 - 60
    points = model.predict_landmarks(template.frames, synth[1][1].audio, 16000, 25.0, template.meta["landmarks"])
    shift = points[:, MOUTH_POINTS].mean(1) - template.meta["landmarks"][:, 27:36].mean(1)  # mouth below the nose
    assert np.std(points[:, JAW_POINTS, 0].mean(1)) > 0.3  # the jaw moves with the head (std of its x over time)
    assert np.all(shift[:, 1] > 0)
    long = model.predict_landmarks(template.frames[:1].repeat(1500, 0), np.resize(template.audio, 60 * 16000), 16000,
                                   25.0, template.meta["landmarks"][:1].repeat(1500, 0))  # fmt: skip
    assert long.shape == (1500, 68, 2) and np.isfinite(long).all()  # 60 s through the mapping at once


def test_fit_runs_both_stages_and_is_reproducible_and_save_load_exact(synth, tmp_path):
    a = CascadedTCN(preset="tiny", seed=5, **GIVEN)
    b = CascadedTCN(preset="tiny", seed=5, **GIVEN)
    report = a.fit(synth[0][:2], Budget(steps=4))
    b.fit(synth[0][:2], Budget(steps=4))
    assert report.steps == 4 and len(report.losses["mapping_total"]) == 2 and len(report.losses["renderer_g_total"]) == 2
    assert_same_state(a, b)
    assert a.state()["perceptual"] == "off (disabled)" and a.state()["mapping_steps"] == 2
    a.save(tmp_path)
    loaded = CascadedTCN.load(tmp_path)
    assert_same_state(a, loaded) and loaded.state() == a.state()
    face, audio = synth[1][0].frames[0], synth[1][0].audio[:16000]  # 1 s from a still image: 25 frames
    out = a.generate(face, audio, 16000)
    assert out.num_frames == 25 and np.array_equal(out.frames, loaded.generate(face, audio, 16000).frames)


def test_bad_inputs_are_named(synth):
    model = CascadedTCN(preset="tiny", **GIVEN)
    face, audio = synth[1][0].frames[0], synth[1][0].audio
    with pytest.raises(ValueError, match="NaN"):
        model.generate(face, np.full(16000, np.nan, np.float32), 16000)
    with pytest.raises(ValueError, match="shorter than one frame"):
        model.generate(face, np.zeros(0, np.float32), 16000)
    with pytest.raises(ValueError, match=r"shape \[H, W, 3\]"):
        model.generate(face[..., :2], audio, 16000)
    with pytest.raises(ValueError, match="uint8"):
        model.generate(synth[1][0].frames.astype(np.float32), audio, 16000)
    with pytest.raises(ValueError, match="no face found"):
        model.generate(np.zeros((128, 128, 3), np.uint8), audio, 16000)
    dlib_model = CascadedTCN(preset="tiny", landmarks="given")
    with pytest.raises(ValueError, match="has no meta\\['landmarks'\\]"):
        dlib_model.fit([Clip(synth[0][0].frames, 25.0, synth[0][0].audio, 16000)], Budget(steps=1))


@pytest.mark.gpu
def test_generates_on_cuda(synth):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    model = CascadedTCN(preset="tiny", device="cuda", **GIVEN)
    model.fit(synth[0][:2], Budget(steps=2))
    clip = model.generate(synth[1][0].frames[0], synth[1][0].audio, 16000)
    assert clip.num_frames == 50
