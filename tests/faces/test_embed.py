"""dlib's 128-d face descriptor per frame: equal to dlib's own pipeline, and it separates GRID speakers."""

from __future__ import annotations

import cv2
import dlib
import numpy as np
import pytest

import bench.faces.tracking as track_module
from bench.faces import FaceNotFoundError, TrackSettings, embed, embed_image, models_dir, track
from bench.media import Clip

PLAIN = TrackSettings(detect_every=1, landmark_min_size=0)  # plain dlib: detect and predict on every frame


def test_embeddings_equal_dlib_face_recognition_model(grid_clips: dict[str, Clip]) -> None:
    clip = Clip(grid_clips["swwp2s"].frames[::25].copy())
    ours, found = embed(clip, PLAIN, cache=False)
    assert ours.shape == (3, 128) and ours.dtype == np.float32 and found.all()
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(models_dir() / "shape_predictor_68_face_landmarks.dat"))
    model = dlib.face_recognition_model_v1(str(models_dir() / "dlib_face_recognition_resnet_model_v1.dat"))
    for t, frame in enumerate(clip.frames):
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        shape = predictor(gray, detector(gray, 0)[0])
        expected = np.array(model.compute_face_descriptor(frame, shape, 0, 0.25))
        np.testing.assert_allclose(ours[t], expected, atol=1e-6)


def test_same_speaker_is_close_other_speakers_far(grid_clips: dict[str, Clip]) -> None:
    emb = {name: embed(clip, stride=25)[0] for name, clip in grid_clips.items()}
    assert all(e.shape == (3, 128) for e in emb.values())
    for name, e in emb.items():
        within = np.linalg.norm(e[:, None] - e[None], axis=-1)[np.triu_indices(3, 1)]
        assert within.max() < 0.45, name  # dlib's same-person threshold is 0.6; measured 0.12-0.25 (between speakers >= 0.68)
        for other, f in emb.items():
            if other != name:
                assert np.linalg.norm(e[:, None] - f[None], axis=-1).min() > 0.6, (name, other)


def test_embed_image_matches_the_frame_embedding(grid_clips: dict[str, Clip]) -> None:
    clip = grid_clips["bbaf2n"]
    frame_emb, _ = embed(clip, stride=25)
    np.testing.assert_allclose(embed_image(clip.frames[0]), frame_emb[0], atol=1e-6)  # frame 0 is a detection


def test_embed_cache_hit_skips_all_face_work(grid_clips: dict[str, Clip], monkeypatch: pytest.MonkeyPatch) -> None:
    clip = grid_clips["lbax4n"]
    first, _ = embed(clip, stride=25)

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("recomputed")

    monkeypatch.setattr(track_module, "detect_faces", fail)
    monkeypatch.setattr("bench.faces.embedding.descriptors", fail)
    again, found = embed(Clip(clip.frames.copy()), stride=25)
    np.testing.assert_array_equal(again, first)
    assert found.all()


def test_embedding_refusals() -> None:
    with pytest.raises(ValueError, match="uint8"):
        embed_image(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(FaceNotFoundError, match="no face"):
        embed_image(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="stride"):
        embed(Clip(np.zeros((2, 8, 8, 3), np.uint8)), stride=0)
    emb, found = embed(Clip(np.zeros((3, 64, 64, 3), np.uint8)), cache=False)
    assert emb.shape == (3, 128) and np.isnan(emb).all() and not found.any()
    assert track(Clip(np.zeros((3, 64, 64, 3), np.uint8))).coverage == 0.0
