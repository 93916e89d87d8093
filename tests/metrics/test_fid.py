"""FID against pytorch-fid 0.3.0: the Fréchet formula, streamed statistics, and features on real GRID frames."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from _inception_weights import fid_weights_dir, make_fid_weights, test_weights, use_test_weights  # noqa: F401
from _tester import one_torch_thread  # noqa: F401  (autouse: one thread on shared machines)
from PIL import Image
from pytorch_fid import fid_score

import metrics
from bench import weights
from bench.media import Clip, read_clip
from metrics import Item
from metrics._inception import InceptionFeatures, fid_network
from metrics.fid import FID, Moments, frechet_distance

# The bar: FID equal to pytorch-fid's within 1e-6 (same statistics, same scipy.linalg.sqrtm).
FORMULA_ATOL, FORMULA_RTOL = 1e-6, 0.0
# Features: identical network and pixels; pytorch-fid batches through a DataLoader, float32 convolutions may differ
# in the last bits between batch layouts.
FEATURE_ATOL, FEATURE_RTOL = 1e-4, 1e-5
STRIDE = 8  # every 8th frame of a GRID clip: 10 frames, enough for the comparison and quick on CPU


@pytest.fixture(scope="module")
def full_clips(grid_paths: list[Path]) -> list[Clip]:
    return [read_clip(p) for p in grid_paths]


@pytest.fixture(scope="module")
def grid_clips(full_clips: list[Clip]) -> list[Clip]:
    return [c.with_frames(c.frames[::STRIDE]) for c in full_clips]


def write_pngs(clip: Clip, directory: Path) -> list[Path]:
    """Lossless frames, read back by pytorch-fid's own loader."""
    directory.mkdir()
    files = [directory / f"{i:03d}.png" for i in range(clip.num_frames)]
    for file, frame in zip(files, clip.frames, strict=True):
        Image.fromarray(frame).save(file)
    return files


def gaussian_features(rng: np.random.Generator, n: int, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return (mean + rng.standard_normal((n, mean.size)) @ scale).astype(np.float32)


def test_frechet_distance_closed_form_for_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = 1 + 0 + 4 + np.sum(var1 + var2 - 2 * np.sqrt(var1 * var2))  # 5 + (1 + 1 + 4) = 11
    assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(expected, abs=1e-12)
    assert expected == 11.0


@pytest.mark.parametrize("n", [400, 20])  # 20 < 32 dims: singular covariances, pytorch-fid's eps path
def test_frechet_distance_equals_pytorch_fid(n: int):
    rng = np.random.default_rng(n)
    dim = 32
    a = gaussian_features(rng, n, rng.normal(size=dim), rng.normal(size=(dim, dim)) / 4)
    b = gaussian_features(rng, n, rng.normal(size=dim), rng.normal(size=(dim, dim)) / 4)
    stats = [(x.mean(0), np.cov(x, rowvar=False)) for x in (a, b)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = frechet_distance(*stats[0], *stats[1])
        theirs = fid_score.calculate_frechet_distance(*stats[0], *stats[1])
    assert ours > 1.0
    np.testing.assert_allclose(ours, theirs, atol=FORMULA_ATOL, rtol=FORMULA_RTOL)


def test_frechet_distance_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="mismatched"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def test_streamed_moments_equal_numpy_mean_and_cov():
    rng = np.random.default_rng(1)
    x = gaussian_features(rng, 301, rng.normal(size=16) * 10, rng.normal(size=(16, 16)))
    moments = Moments(16)
    for chunk in np.array_split(x, [5, 6, 120, 250]):
        moments.add(torch.from_numpy(chunk))
    mu, cov = moments.mean_cov()
    np.testing.assert_allclose(mu, x.astype(np.float64).mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cov, np.cov(x, rowvar=False), rtol=1e-10, atol=1e-10)


def test_pool3_statistics_on_grid_frames_equal_pytorch_fid(test_weights, grid_clips, tmp_path):
    clip = grid_clips[0]
    moments = Moments()
    moments.add(InceptionFeatures()(clip))
    model = fid_network("cpu")  # pytorch-fid's own InceptionV3 class holding the test weights
    mu, sigma = fid_score.calculate_activation_statistics(write_pngs(clip, tmp_path / "g"), model, 4, 2048, "cpu", 0)
    ours_mu, ours_sigma = moments.mean_cov()
    assert ours_mu.shape == (2048,) and np.abs(mu).max() > 0.1
    np.testing.assert_allclose(ours_mu, mu, atol=FEATURE_ATOL, rtol=FEATURE_RTOL)
    np.testing.assert_allclose(ours_sigma, sigma, atol=FEATURE_ATOL, rtol=FEATURE_RTOL)


def test_fid_on_grid_clips_equals_pytorch_fid(test_weights, full_clips, tmp_path):
    # 64-d features (pytorch-fid --dims 64) keep sqrtm fast; 38 frames per side (rank-deficient covariances).
    generated, reference = (c.with_frames(c.frames[::2]) for c in full_clips[:2])
    metric = FID(dims=64)
    metric.update(Item(generated, reference))
    with pytest.warns(UserWarning, match="fewer than the 64"):
        ours = metric.compute()
    model = fid_network("cpu", 64)
    stats = [
        fid_score.calculate_activation_statistics(write_pngs(clip, tmp_path / side), model, 50, 64, "cpu", 0)
        for side, clip in (("g", generated), ("r", reference))
    ]
    theirs = fid_score.calculate_frechet_distance(*stats[0], *stats[1])
    assert ours.ok and ours.frames == 38 and theirs > 1e-3
    np.testing.assert_allclose(frechet_distance(*stats[0], *stats[1]), theirs, atol=FORMULA_ATOL, rtol=FORMULA_RTOL)
    np.testing.assert_allclose(ours.value, theirs, atol=FORMULA_ATOL, rtol=FORMULA_RTOL)  # measured: 1.7e-8


# The 2048-d case costs one 2048x2048 sqrtm (seconds on a quiet machine, minutes on a loaded one).
@pytest.mark.parametrize("dims", [64, pytest.param(2048, marks=pytest.mark.slow)])
def test_fid_of_identical_sets_is_zero_and_registry_variants(test_weights, grid_clips, dims):
    metric = metrics.create("fid", dims=dims)
    for clip in grid_clips[:2]:
        metric.update(Item(clip, clip))
    with pytest.warns(UserWarning):
        score = metric.compute()
    assert score.ok and score.frames == 20
    assert abs(score.value) < 1e-3
    assert metrics.create("fid-face").region == "face" and metrics.create("fid-face").name == "fid-face"


def flipped(clip: Clip) -> Clip:
    return clip.with_frames(np.ascontiguousarray(clip.frames[:, :, ::-1]))


def test_merged_state_equals_single_pass(test_weights, grid_clips):
    whole, left, right = FID(dims=64), FID(dims=64), FID(dims=64)
    items = [Item(clip, flipped(clip)) for clip in grid_clips]
    for item in items:
        whole.update(item)
    for item in items[:2]:
        left.update(item)
    for item in items[2:]:
        right.update(item)
    left.merge_state({k: v.clone() for k, v in right.state().items()})
    for key, value in whole.state().items():  # the sums agree up to summation order
        np.testing.assert_allclose(left.state()[key].numpy(), value.numpy(), rtol=1e-12, atol=1e-9)
    with pytest.warns(UserWarning):
        a, b = whole.compute(), left.compute()
    assert a.frames == b.frames == 40 and a.value > 1e-3
    assert b.value == pytest.approx(a.value, rel=1e-5)  # 40 frames < 64 dims: sqrtm of a singular product


def test_reference_stats_file_and_protocol_cache(test_weights, grid_clips, tmp_path):
    first = FID(protocol="grid-test-v1", dims=64)
    for clip in grid_clips[:2]:
        first.update(Item(clip, grid_clips[3], video_id=clip.name))
    with pytest.warns(UserWarning):
        value = first.compute().value
    mu, sigma = first._ref.mean_cov()
    np.savez(tmp_path / "ref.npz", mu=mu, sigma=sigma)  # pytorch-fid --save-stats layout

    for metric in (FID(reference_stats=str(tmp_path / "ref.npz"), dims=64), FID(protocol="grid-test-v1", dims=64)):
        for clip in grid_clips[:2]:  # no reference clips: the fixed statistics stand in for them
            metric.update(Item(clip, video_id=clip.name))
        with pytest.warns(UserWarning):
            assert metric.compute().value == pytest.approx(value, rel=1e-9)

    other = FID(protocol="grid-test-v1", dims=64)
    other.update(Item(grid_clips[2], video_id="another-video"))
    score = other.compute()
    assert not score.ok and "other reference videos" in score.reason
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        FID(reference_stats=str(tmp_path / "nowhere.npz"))


def test_bad_input_is_refused(test_weights, grid_clips):
    metric = FID(dims=64)
    with pytest.raises(metrics.MetricError, match="needs the reference"):
        metric.update(Item(grid_clips[0]))
    metric.update(Item(grid_clips[0].with_frames(grid_clips[0].frames[:1]), grid_clips[1]))
    score = metric.compute()
    assert not score.ok and "at least 2 frames" in score.reason
    with pytest.raises(ValueError, match="region"):
        FID(region="mouth")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dims"):
        FID(dims=100)


def test_missing_weights_error_names_file_and_command(tmp_path, monkeypatch, grid_clips):
    monkeypatch.setenv("TALKBENCH_WEIGHTS", str(tmp_path))
    metric = FID()
    with pytest.raises(weights.WeightsMissingError) as err:
        metric.update(Item(grid_clips[0], grid_clips[1]))
    assert "pt_inception-2015-12-05-6726825d.pth" in str(err.value)
    assert "talkbench weights fetch pt-inception-fid" in str(err.value)


def test_face_crops_on_grid_clips(test_weights, grid_clips):
    metric = metrics.create("fid-face", dims=64, face_size=128)
    crops = metric._features.images(grid_clips[0])
    assert crops.shape == (10, 128, 128, 3) and crops.mean() > 20  # dlib finds the face in every GRID frame
    assert metric.update(Item(grid_clips[0], grid_clips[1])) == 10
    with pytest.warns(UserWarning):
        score = metric.compute()
    assert score.ok and np.isfinite(score.value) and score.value > 0
    with pytest.raises(metrics.MetricError, match="no face"):
        metric.update(Item(Clip(np.zeros((3, 64, 64, 3), np.uint8)), grid_clips[1]))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_features_equal_cpu(test_weights, grid_clips):
    clip = grid_clips[0]
    cpu = InceptionFeatures(dims=2048)(clip.with_frames(clip.frames[:4]))
    cuda = InceptionFeatures(dims=2048, device="cuda")(clip.with_frames(clip.frames[:4]))
    # cuDNN picks other convolution algorithms (TF32 where allowed): agreement to float32/TF32 rounding
    np.testing.assert_allclose(cuda.numpy(), cpu.numpy(), rtol=1e-2, atol=1e-2)


def test_state_survives_the_run_checkpoint(tmp_path):
    from bench.run_state import SetCheckpoint

    rng = np.random.default_rng(0)
    metric = FID(dims=64)
    metric._gen.add(torch.from_numpy(rng.normal(size=(70, 64)).astype(np.float32)))
    metric._ref.add(torch.from_numpy(rng.normal(1.0, 1.0, size=(80, 64)).astype(np.float32)))
    SetCheckpoint(tmp_path, {"fid": metric}).save({"v1"})
    restored = FID(dims=64)
    assert SetCheckpoint(tmp_path, {"fid": restored}).restore() == {"v1"}
    assert restored.compute().value == metric.compute().value > 10
