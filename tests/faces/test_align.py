"""Alignment to the canonical face: the mean face's derivation, the transforms (vs scikit-image) and the warps."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.transform import SimilarityTransform, estimate_transform, warp

from bench.faces import (
    MEAN_FACE,
    STABLE_POINTS,
    align,
    alignment_transforms,
    canonical_face,
    detect_faces,
    predict_landmarks,
    track,
    transform_points,
)
from bench.faces.align import similarity_fits, smooth_points
from bench.faces.template import normalise_template, procrustes_mean
from bench.media import Clip


def test_mean_face_is_the_procrustes_mean_of_the_grid_landmarks(grid_clips: dict[str, Clip]) -> None:
    shapes = np.concatenate([track(clip).landmarks for clip in grid_clips.values()])
    assert shapes.shape == (300, 68, 2)
    np.testing.assert_allclose(procrustes_mean(shapes), MEAN_FACE, atol=6e-5)  # stored rounded to 4 decimals


def test_procrustes_mean_undoes_similarity_transforms() -> None:
    rng = np.random.default_rng(0)
    shape = MEAN_FACE + rng.normal(0, 0.01, MEAN_FACE.shape)
    copies = []
    for _ in range(6):
        t = SimilarityTransform(scale=rng.uniform(50, 200), rotation=rng.uniform(-0.4, 0.4), translation=rng.uniform(0, 300, 2))
        copies.append(t(shape))
    np.testing.assert_allclose(procrustes_mean(np.stack(copies)), normalise_template(shape), atol=1e-9)
    template = normalise_template(shape)
    assert template[:, 0].min() == 0 and template[:, 0].max() == pytest.approx(1) and template[:, 1].min() == 0
    with pytest.raises(ValueError, match="without NaN"):
        procrustes_mean(np.full((2, 68, 2), np.nan))


def test_smooth_points_hand_computed() -> None:
    points = np.arange(10, dtype=float).reshape(10, 1, 1).repeat(2, axis=2)
    found = np.ones(10, bool)
    found[5] = False
    smoothed = smooth_points(points, found, window=3)
    assert smoothed[0, 0, 0] == pytest.approx(0.5)  # frames 0, 1 (window clipped at the start)
    assert smoothed[4, 0, 0] == pytest.approx(3.5)  # frames 3, 4 (5 has no face)
    assert smoothed[6, 0, 0] == pytest.approx(6.5)  # frames 6, 7
    assert smoothed[8, 0, 0] == pytest.approx(8.0)  # frames 7, 8, 9
    assert np.isnan(smoothed[5]).all()


def test_transforms_are_skimage_similarity_fits_of_smoothed_stable_points(grid_clips: dict[str, Clip]) -> None:
    clip = grid_clips["bbaf2n"]
    transforms, found = alignment_transforms(clip, 128)
    assert found.all() and transforms.shape == (75, 3, 3)
    stable = track(clip).landmarks[:, STABLE_POINTS].astype(np.float64)
    target = canonical_face(128)[list(STABLE_POINTS)]
    for t in (0, 1, 40, 74):
        window = stable[max(0, t - 3) : t + 4].mean(axis=0)  # 7 frames, clipped at the ends
        expected = estimate_transform("similarity", window, target).params
        np.testing.assert_allclose(transforms[t], expected, atol=1e-9)
    # the stable points land on the canonical ones (error from the 7-frame smoothing and the fit only)
    mapped = transform_points(track(clip).landmarks, transforms)[:, STABLE_POINTS]
    assert np.abs(mapped - target).max() < 4.0 and np.linalg.norm(mapped - target, axis=-1).mean() < 1.5


def test_similarity_fits_equal_skimage_estimate_transform() -> None:
    """The batched closed-form fit equals scikit-image's Umeyama fit per set (mirrored sets too: both keep a proper
    rotation), either side a single set or one per frame; coinciding points have no fit."""
    rng = np.random.default_rng(7)
    sources = rng.normal(size=(300, 5, 2)) * rng.uniform(1, 200, (300, 1, 1)) + rng.uniform(-300, 300, (300, 1, 2))
    sources[::3, :, 0] *= -1  # mirrored point sets
    target = canonical_face(128)[list(STABLE_POINTS)]
    fits = similarity_fits(sources, target)
    for source, fit in zip(sources, fits, strict=True):
        expected = estimate_transform("similarity", source, target).params
        np.testing.assert_allclose(fit, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    assert np.isnan(similarity_fits(np.ones((1, 5, 2)), target)).all()
    for fit, frame_points in zip(similarity_fits(target, sources[:20]), sources[:20], strict=True):  # one set, T targets
        expected = estimate_transform("similarity", target, frame_points).params
        np.testing.assert_allclose(fit, expected, rtol=0, atol=1e-12 * np.abs(expected).max())


def test_aligned_crops_equal_skimage_warp(grid_clips: dict[str, Clip]) -> None:
    clip = grid_clips["swwp2s"]
    faces = align(clip, 128)
    assert faces.crops.shape == (75, 128, 128, 3) and faces.crops.dtype == np.uint8 and faces.found.all()
    for t in (0, 37):
        inverse = SimilarityTransform(matrix=faces.transforms[t]).inverse
        expected = warp(clip.frames[t], inverse, output_shape=(128, 128), order=1, preserve_range=True)
        diff = np.abs(faces.crops[t].astype(float) - expected)
        # measured: mean 0.20-0.22, max 0.50 on the four clips (uint8 rounding of the same bilinear warp)
        assert diff.mean() < 0.3 and diff.max() <= 1.0, (diff.mean(), diff.max())


def test_landmarks_of_aligned_faces_sit_on_the_canonical_face(grid_clips: dict[str, Clip]) -> None:
    for clip in (grid_clips["lbax4n"], grid_clips["lrwp9a"]):
        faces = align(clip, 256)
        canonical = canonical_face(256)
        for t in (0, 50):
            boxes, _ = detect_faces(faces.crops[t])
            points = predict_landmarks(faces.crops[t], boxes[0])
            # measured 3.5-4.4 px mean at 256 px: dlib's own jitter plus the mean face vs this speaker's shape
            assert np.linalg.norm(points - canonical, axis=-1).mean() < 6.0


def test_align_without_faces_gives_black_crops_and_nan_transforms() -> None:
    faces = align(Clip(np.zeros((3, 96, 96, 3), np.uint8)), size=64)
    assert faces.crops.shape == (3, 64, 64, 3) and not faces.crops.any()
    assert not faces.found.any() and np.isnan(faces.transforms).all()
    with pytest.raises(ValueError, match="at least 8"):
        alignment_transforms(Clip(np.zeros((1, 16, 16, 3), np.uint8)), size=4)
