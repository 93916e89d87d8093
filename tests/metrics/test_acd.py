"""ACD-I / ACD-C: distances vs SciPy, GRID identities, OpenFace nn4.small2 with weights made in the test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from _grid_faces import load_grid_clips
from scipy.spatial.distance import cdist, pdist

import metrics
from bench.media import Clip
from metrics.acd import ACDC, ACDI, acd_consistency, acd_identity, embedding_distances
from metrics.base import Item
from metrics.networks.openface import INPUT_SIZE, OpenFaceNN4Small2, build_openface

STRIDE = 25  # 3 frames per GRID clip: dlib's descriptor costs ~0.1-0.25 s per face on these machines


@pytest.fixture(scope="module")
def grid_clips(grid_paths: list[Path]) -> dict[str, Clip]:
    return load_grid_clips(grid_paths)


class TestDistances:
    rtol, atol = 1e-12, 1e-12  # float64 on both sides

    @pytest.mark.parametrize(("ours", "scipy_name"), [("euclidean", "euclidean"), ("cosine", "cosine")])
    def test_against_scipy(self, ours: str, scipy_name: str) -> None:
        rng = np.random.default_rng(0)
        a, b = rng.normal(size=(5, 128)), rng.normal(size=(7, 128))
        np.testing.assert_allclose(embedding_distances(a, b, ours), cdist(a, b, scipy_name), self.rtol, self.atol)
        assert acd_consistency(a, ours) == pytest.approx(pdist(a, scipy_name).mean(), rel=self.rtol)
        assert acd_identity(b[0], a, ours) == pytest.approx(cdist(b[:1], a, scipy_name).mean(), rel=self.rtol)

    def test_hand_computed(self) -> None:
        frames = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
        assert acd_consistency(frames) == pytest.approx(10 / 3)  # pairs: 5, 0, 5
        assert acd_identity(np.array([3.0, 4.0]), frames) == pytest.approx(10 / 3)
        with pytest.raises(ValueError, match="at least 2"):
            acd_consistency(frames[:1])
        with pytest.raises(ValueError, match="unknown embedding distance"):
            embedding_distances(frames, frames, "manhattan")  # type: ignore[arg-type]


def test_grid_identity_distance_is_larger_across_speakers(grid_clips: dict[str, Clip]) -> None:
    metric = metrics.create("acd-i", frame_stride=STRIDE)
    names = list(grid_clips)
    for name, other_name in zip(names, names[1:] + names[:1], strict=True):
        clip, other = grid_clips[name], grid_clips[other_name]
        own = metric(Item(clip, identity=clip.frames[60]))  # a later frame of the same video as identity
        across = metric(Item(clip, identity=other.frames[60]))
        assert own.ok and own.frames == 3 and own.extras["coverage"] == 1.0
        # measured: own 0.14-0.22, across 0.71-0.94
        assert across.value > own.value + 0.3, (name, other_name, own.value, across.value)
    a = grid_clips["bbaf2n"]
    cosine = metrics.create("acd-i-cos", frame_stride=STRIDE)(Item(a, identity=a.frames[60]))
    assert cosine.ok and 0.0 <= cosine.value < 0.05


def test_grid_consistency_is_low_within_a_video_and_high_across(grid_clips: dict[str, Clip]) -> None:
    a, b = grid_clips["bbaf2n"], grid_clips["swwp2s"]
    metric = metrics.create("acd-c", frame_stride=STRIDE)
    within = metric(Item(a))
    spliced = metric(Item(a.with_frames(np.concatenate([a.frames[:50], b.frames[50:]]))))  # identity switch
    assert within.ok and within.value < 0.35 and spliced.value > within.value + 0.2  # measured 0.21, 0.69
    assert metrics.create("acd-c-cos", frame_stride=STRIDE)(Item(a)).value < 0.05


def test_failures_have_reasons(grid_clips: dict[str, Clip]) -> None:
    blank = Clip(np.zeros((10, 288, 360, 3), np.uint8), meta={"utterance_id": "blank"})
    face = grid_clips["bbaf2n"]
    assert "needs identity" in metrics.create("acd-i")(Item(face)).reason
    score = metrics.create("acd-i", frame_stride=STRIDE)(Item(blank, identity=face.frames[0]))
    assert not score.ok and "no face in any generated frame" in score.reason
    score = metrics.create("acd-i", frame_stride=STRIDE)(Item(face, identity=np.zeros((64, 64, 3), np.uint8)))
    assert not score.ok and "identity image" in score.reason and "no face" in score.reason
    score = metrics.create("acd-c")(Item(blank))
    assert not score.ok and "at least 2 frames" in score.reason
    assert ACDC.needs == frozenset() and ACDI.higher_is_better is False
    with pytest.raises(ValueError, match="frame_stride"):
        ACDC(frame_stride=0)


class TestOpenFace:
    def test_architecture(self) -> None:
        net = OpenFaceNN4Small2()
        # the parameter count that openface's nn4.small2.def.lua states for embSize=128
        assert sum(p.numel() for p in net.parameters()) == 3_733_968
        torch.manual_seed(0)
        out = net.eval()(torch.rand(3, 3, INPUT_SIZE, INPUT_SIZE))
        assert out.shape == (3, 128)
        torch.testing.assert_close(out.norm(dim=1), torch.ones(3), rtol=0, atol=1e-5)
        with pytest.raises(ValueError, match="96, 96"):
            net(torch.rand(1, 3, 128, 128))

    def test_loads_a_state_dict_without_batch_counters(self) -> None:
        state = {k: v for k, v in OpenFaceNN4Small2().state_dict().items() if not k.endswith("num_batches_tracked")}
        assert "layer14.seq_list.2.2_conv.weight" in state and "layer25.weight" in state  # thnkim's names
        assert not build_openface(state).training
        del state["layer25.weight"]
        with pytest.raises(ValueError, match="layer25.weight"):
            build_openface(state)

    def test_missing_weights_fail_the_item_with_the_fetch_command(
        self,
        grid_clips: dict[str, Clip],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("TALKBENCH_WEIGHTS", str(tmp_path))
        score = metrics.create("acd-c-openface")(Item(grid_clips["bbaf2n"]))
        assert not score.ok and "openface.pth" in score.reason
        assert "talkbench weights fetch openface-nn4.small2" in score.reason
        assert metrics.create("acd-i-openface").weights == ("openface-nn4.small2",) and metrics.create("acd-i").weights == ()

    def test_metric_runs_with_random_weights(
        self,
        grid_clips: dict[str, Clip],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        torch.manual_seed(0)
        torch.save(OpenFaceNN4Small2().state_dict(), tmp_path / "openface.pth")
        monkeypatch.setenv("TALKBENCH_WEIGHTS", str(tmp_path))
        clip = grid_clips["swwp2s"]
        consistency = metrics.create("acd-c-openface", frame_stride=5)(Item(clip))
        identity = metrics.create("acd-i-openface-cos", frame_stride=5)(Item(clip, identity=clip.frames[0]))
        assert consistency.ok and consistency.frames == 15 and 0.0 < consistency.value < 2.0  # unit vectors
        assert identity.ok and 0.0 <= identity.value <= 2.0


@pytest.mark.gpu
def test_openface_on_cuda_equals_cpu() -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    torch.manual_seed(0)
    net = build_openface(OpenFaceNN4Small2().state_dict())
    x = torch.rand(4, 3, INPUT_SIZE, INPUT_SIZE)
    on_cpu = net(x)
    on_gpu = net.to("cuda")(x.to("cuda")).cpu()
    torch.testing.assert_close(on_gpu, on_cpu, rtol=1e-4, atol=1e-4)  # cuDNN vs CPU convolution order
