"""LSE-D / LSE-C / AV offset against syncnet-python's own code, with SyncNet weights made in the test.

Tolerances: embeddings are computed by the same float32 convolutions in both implementations, but batch layout and
reduction order may differ, so values agree to atol 1e-4 (rtol 0), the issue's bound; offsets agree exactly.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from scipy.io import wavfile
from syncnet_python.SyncNetInstance import SyncNetInstance, calc_pdist
from syncnet_python.SyncNetModel import S

import metrics
from bench import weights
from bench.media import Clip, read_clip
from metrics.base import Item
from metrics.lse import lse_from_distances, sync_distances
from metrics.networks.syncnet import SyncNet, build_syncnet

ATOL = 1e-4


def _reference_net() -> S:
    """syncnet-python's network, seeded, with non-trivial BatchNorm statistics."""
    torch.manual_seed(0)
    net = S()
    for module in net.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 2.0)
    return net.eval()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory):
    """The reference net, saved like the official file (legacy format, no num_batches_tracked) into the cache."""
    net = _reference_net()
    root = tmp_path_factory.mktemp("syncnet-weights")
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    file = root / "syncnet_v2.model"
    torch.save(state, file, _use_new_zipfile_serialization=False)
    entry = dataclasses.replace(weights.TABLE["syncnet-v2"], sha256=weights.sha256_file(file), size=file.stat().st_size)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TALKBENCH_WEIGHTS", str(root))
        mp.setitem(weights.TABLE, "syncnet-v2", entry)  # the table row records the test file's real hash
        yield net


def _frames(count: int, seed: int = 1) -> np.ndarray:
    """Smooth random RGB frames 224x224 (stand-ins for face crops)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (count, 14, 14, 3), dtype=np.uint8)
    return np.stack([cv2.resize(f, (224, 224), interpolation=cv2.INTER_CUBIC) for f in small])


def _audio_int16(seconds: float, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    return (8000 * envelope * rng.standard_normal(t.size)).clip(-32768, 32767).astype(np.int16)


def _item(frames_rgb: np.ndarray, audio: np.ndarray, fps: float = 25.0, rate: int = 16000) -> Item:
    return Item(Clip(frames_rgb, fps, audio, rate, {"utterance_id": "test-clip"}))


def test_key_names_and_forward_match_syncnet_python(reference: S) -> None:
    ours = SyncNet().state_dict()
    theirs = reference.state_dict()
    assert ours.keys() == theirs.keys()
    assert all(ours[k].shape == theirs[k].shape for k in ours)
    net = build_syncnet(weights.load_state_dict("syncnet-v2"))  # the legacy file without num_batches_tracked
    audio, video = torch.randn(3, 1, 13, 20), torch.rand(2, 3, 5, 224, 224) * 255
    with torch.no_grad():
        assert torch.equal(net.embed_audio(audio), reference.forward_aud(audio))
        assert torch.equal(net.embed_video(video), reference.forward_lip(video))


def test_build_rejects_foreign_state_dicts() -> None:
    state = SyncNet().state_dict()
    del state["netfclip.3.weight"]
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"missing: netfclip\.3\.weight.*unexpected: extra\.weight"):
        build_syncnet(state)


@pytest.mark.parametrize("vshift", [15, 10, 0])
def test_vectorised_distances_equal_calc_pdist(vshift: int) -> None:
    gen = torch.Generator().manual_seed(3)
    video, audio = torch.randn(40, 1024, generator=gen), torch.randn(40, 1024, generator=gen)
    ours = sync_distances(video, audio, vshift)
    theirs = torch.stack(calc_pdist(video, audio, vshift=vshift))  # syncnet-python's per-frame loop
    assert ours.shape == (40, 2 * vshift + 1)
    assert torch.equal(ours, theirs)  # bit-identical: the same pairwise_distance on the same rows
    naive = torch.stack(
        [
            torch.stack([(video[i] - (audio[i + k] if 0 <= i + k < 40 else 0) + 1e-6).norm() for k in range(-vshift, vshift + 1)])
            for i in range(40)
        ]
    )
    torch.testing.assert_close(ours, naive, rtol=0, atol=1e-5)
    mdist = torch.mean(torch.stack(calc_pdist(video, audio, vshift=vshift), 1), 1)
    minval, minidx = torch.min(mdist, 0)
    lse_d, lse_c, offset = lse_from_distances(ours, vshift)
    assert offset == vshift - int(minidx)
    # the frame means are summed in another order: float32 rounding only
    assert lse_d == pytest.approx(float(minval), rel=1e-6)
    assert lse_c == pytest.approx(float(torch.median(mdist) - minval), rel=1e-6, abs=1e-5)


@pytest.mark.parametrize("shift", [-5, -1, 3, 7])
def test_offset_sign_convention(shift: int) -> None:
    """Audio delayed by k frames (audio[j] carries video[j - k]) gives offset -k, in syncnet-python as here."""
    gen = torch.Generator().manual_seed(4)
    video = torch.randn(60, 64, generator=gen)
    audio = torch.zeros_like(video)
    index = torch.arange(60) - shift
    valid = (index >= 0) & (index < 60)
    audio[valid] = video[index[valid]]
    mdist = torch.mean(torch.stack(calc_pdist(video, audio, vshift=15), 1), 1)
    assert 15 - int(torch.argmin(mdist)) == -shift
    assert lse_from_distances(sync_distances(video, audio, 15), 15)[2] == -shift


def test_matches_syncnet_python_evaluate(reference: S, tmp_path: Path) -> None:
    """Same JPEG frames and int16 audio through syncnet-python's evaluate and through talkbench."""
    for i, frame in enumerate(_frames(16)):
        cv2.imwrite(str(tmp_path / f"{i + 1:06d}.jpg"), frame[:, :, ::-1])
    audio = _audio_int16(0.83)  # 20.75 frames of audio for 16 of video: syncnet-python truncates to 16
    wavfile.write(tmp_path / "audio.wav", 16000, audio)
    opt = types.SimpleNamespace(tmp_dir=str(tmp_path), batch_size=20, vshift=15)
    offset, conf, minval = SyncNetInstance(reference, device="cpu").evaluate(opt)
    decoded = np.stack([cv2.imread(str(p))[:, :, ::-1] for p in sorted(tmp_path.glob("*.jpg"))])
    item = _item(decoded, audio.astype(np.float32) / 32768.0)
    scores = {name: metrics.create(f"{name}-wav2lip-lrs", batch_size=7)(item) for name in ("lse-d", "lse-c", "av-offset")}
    assert all(s.ok for s in scores.values()), scores
    assert scores["lse-d"].value == pytest.approx(minval, abs=ATOL)
    assert scores["lse-c"].value == pytest.approx(conf, abs=ATOL)
    assert scores["av-offset"].value == offset
    extras = scores["lse-d"].extras
    assert extras["windows"] == 11 and extras["used_frames"] == 16 and extras["audio_frames"] == pytest.approx(20.75)
    assert scores["lse-d"].frames == 16


def test_one_syncnet_pass_per_clip(reference: S, monkeypatch: pytest.MonkeyPatch) -> None:
    import metrics.lse as lse

    calls = []
    original = lse.syncnet_scores
    monkeypatch.setattr(lse, "syncnet_scores", lambda *a, **k: calls.append(1) or original(*a, **k))
    item = _item(_frames(12), _audio_int16(0.48).astype(np.float32) / 32768)
    created = [metrics.create(n) for n in ("lse-d-wav2lip-lrs", "lse-c-wav2lip-lrs", "av-offset-wav2lip-lrs")]
    values = [pickle.loads(pickle.dumps(metric))(item) for metric in created]
    assert len(calls) == 1 and all(v.ok for v in values)
    assert values[0].extras == values[1].extras == values[2].extras


def test_length_mismatch_and_rates_are_explicit(reference: S) -> None:
    frames = _frames(20)
    short = _audio_int16(0.6).astype(np.float32) / 32768  # 15 frames of audio for 20 of video
    truncated = metrics.create("lse-d-wav2lip-lrs")(_item(frames, short))
    assert truncated.ok and truncated.extras["used_frames"] == 15 and truncated.extras["video_frames"] == 20
    failed = metrics.create("lse-d-wav2lip-lrs", length_mismatch="error")(_item(frames, short))
    assert not failed.ok and "15.00 frames" in failed.reason and "test-clip" in failed.reason
    for fps, rate, reason in [(30.0, 16000, "25 fps"), (25.0, 44100, "16 kHz")]:
        score = metrics.create("lse-c")(_item(frames, short, fps, rate))
        assert not score.ok and reason in score.reason and math.isnan(score.value)
    tiny = metrics.create("lse-d-wav2lip-lrs")(_item(frames[:5], short))
    assert not tiny.ok and "at least 6" in tiny.reason
    with pytest.raises(ValueError, match="length_mismatch"):
        metrics.create("lse-d", length_mismatch="pad")


def test_no_face_is_a_reason_not_a_number(reference: S) -> None:
    item = _item(_frames(10), _audio_int16(0.4).astype(np.float32) / 32768)  # smooth noise: no face
    scores = [metrics.create(n)(item) for n in ("lse-d", "lse-c", "av-offset")]  # syncnet-track by default
    assert all(not s.ok and "no face found" in s.reason and math.isnan(s.value) for s in scores)


def test_missing_weights_error_names_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.availability import unavailable_metrics

    monkeypatch.setenv("TALKBENCH_WEIGHTS", str(tmp_path))
    item = _item(_frames(8), _audio_int16(0.32).astype(np.float32) / 32768)
    with pytest.raises(weights.WeightsMissingError, match="talkbench weights fetch syncnet-v2"):
        metrics.create("lse-d-wav2lip-lrs")(item)
    assert "talkbench weights fetch syncnet-v2" in unavailable_metrics(["lse-c"])["lse-c"]


@pytest.mark.gpu
def test_cuda_matches_cpu(reference: S) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    frames, audio = _frames(16), _audio_int16(0.64).astype(np.float32) / 32768
    cpu = metrics.create("lse-d-wav2lip-lrs")(_item(frames, audio))
    gpu = metrics.create("lse-d-wav2lip-lrs", device="cuda")(_item(frames, audio))  # a fresh clip: no shared memo
    assert gpu.value == pytest.approx(cpu.value, abs=1e-3) and gpu.extras["av_offset"] == cpu.extras["av_offset"]


@pytest.mark.parametrize("protocol", ["wav2lip-lrs", "syncnet-track"])
def test_real_grid_clips_end_to_end(reference: S, grid_paths: list[Path], protocol: str) -> None:
    """Every GRID clip, its first 20 frames (SyncNet's 3-D CNN is slow on a shared CPU) and 19.5 frames of audio."""
    for path in grid_paths:
        clip = read_clip(path, fps=25, sample_rate=16000)
        clip = Clip(clip.frames[:20], 25.0, clip.audio[:12480], 16000, clip.meta)
        scores = [metrics.create(f"{n}-{protocol}")(Item(clip)) for n in ("lse-d", "lse-c", "av-offset")]
        assert all(s.ok for s in scores), (path, [s.reason for s in scores])
        lse_d, lse_c, offset = (s.value for s in scores)
        assert np.isfinite([lse_d, lse_c]).all() and lse_d > 0 and lse_c >= 0 and -15 <= offset <= 15
        assert scores[0].frames == 19 and scores[0].extras["windows"] == 14  # truncated to the audio
        assert scores[0].extras["face_frames"] == (20 if protocol == "wav2lip-lrs" else pytest.approx(20, abs=2))
