"""The shared SPADE layers (baselines/_spade.py) and the VGG19 perceptual loss (baselines/_perceptual.py)."""

from __future__ import annotations

import math

import pytest
import torch

from baselines._perceptual import WEIGHTS_NAME, PerceptualLoss, VGG19Features, load_vgg19, perceptual_or_none
from baselines._spade import SPADE, SPADEResBlock
from bench import weights


@torch.no_grad()
def test_spade_is_norm_times_one_plus_gamma_plus_beta_on_a_hand_made_case():
    # 1x1 convs, one hidden channel: actv = relu(c), gamma = 2 relu(c), beta = 0.5 - relu(c)
    layer = SPADE(1, 1, hidden=1, kernel=1, norm="instance")
    for conv, w, b in ((layer.mlp_shared[0], 1.0, 0.0), (layer.mlp_gamma, 2.0, 0.0), (layer.mlp_beta, -1.0, 0.5)):
        conv.weight.fill_(w), conv.bias.fill_(b)
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)
    condition = torch.zeros(1, 1, 4, 4)  # nearest 4x4 -> 2x2 keeps pixels (0,0), (0,2), (2,0), (2,2)
    condition[0, 0, 0, 2], condition[0, 0, 2, 0], condition[0, 0, 2, 2] = 1.0, 2.0, -1.0
    condition[0, 0, 1, 1] = 100.0  # dropped by the nearest resize
    # instance norm: mean 2.5, biased variance 1.25, eps 1e-5
    n = [[(v - 2.5) / math.sqrt(1.25 + 1e-5) for v in row] for row in ([1, 2], [3, 4])]
    gamma = [[0.0, 2.0], [4.0, 0.0]]
    beta = [[0.5, -0.5], [-1.5, 0.5]]
    expected = [[n[i][j] * (1 + gamma[i][j]) + beta[i][j] for j in range(2)] for i in range(2)]
    assert expected[0][1] == pytest.approx(-0.4472 * 3 - 0.5, abs=1e-4)
    torch.testing.assert_close(layer(x, condition)[0, 0], torch.tensor(expected), rtol=0, atol=1e-6)


def test_spade_res_block_parameters_counted_by_hand():
    block = SPADEResBlock(4, 2, 3, hidden=5)
    # convs: conv_0 4*2*9 + 2 = 74, conv_1 2*2*9 + 2 = 38, shortcut 4*2 (no bias) = 8
    # SPADE(C): shared 3*5*9 + 5 = 140, gamma and beta 2 * (5*C*9 + C) = 92 C -> C=4: 508, C=2: 324
    # norm_0 (4) + norm_1 (2) + norm_s (4) = 508 + 324 + 508 = 1340; total 74 + 38 + 8 + 1340 = 1460
    assert sum(p.numel() for p in block.parameters()) == 1460
    same = SPADEResBlock(4, 4, 3, hidden=5)
    # no shortcut: conv_0 = conv_1 = 4*4*9 + 4 = 148; two SPADE(4) = 1016; total 1312
    assert not same.learned_shortcut and sum(p.numel() for p in same.parameters()) == 1312
    out = block(torch.randn(2, 4, 8, 8), torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 2, 8, 8)
    with pytest.raises(ValueError, match="unknown parameter-free norm"):
        SPADE(4, 3, norm="layer")  # type: ignore[arg-type]


def test_spade_res_block_identity_shortcut_adds_the_input():
    torch.manual_seed(0)
    block = SPADEResBlock(3, 3, 3, hidden=4, norm="instance", spectral=False)
    with torch.no_grad():
        block.conv_1.weight.zero_(), block.conv_1.bias.zero_()  # residual branch zeroed: out = x
    x = torch.randn(1, 3, 4, 4)
    torch.testing.assert_close(block(x, torch.rand(1, 3, 4, 4)), x)


@pytest.fixture(scope="module")
def vgg():
    torch.manual_seed(0)
    return VGG19Features().eval()


@torch.no_grad()
def test_vgg19_slices_and_torchvision_key_names(vgg):
    from torchvision.models.vgg import cfgs, make_layers

    reference = {f"features.{k}": v.shape for k, v in make_layers(cfgs["E"]).state_dict().items() if int(k.split(".")[0]) < 30}
    assert {k: v.shape for k, v in vgg.state_dict().items()} == reference and len(reference) == 26  # 13 convs
    shapes = [tuple(f.shape[1:]) for f in vgg(torch.rand(1, 3, 32, 32))]
    assert shapes == [(64, 32, 32), (128, 16, 16), (256, 8, 8), (512, 4, 4), (512, 2, 2)]


@torch.no_grad()
def test_perceptual_loss_weights_the_five_layers(vgg):
    x, y = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    fx, fy = vgg(x), vgg(y)
    per_layer = [float((a - b).abs().mean()) for a, b in zip(fx, fy, strict=True)]
    assert float(PerceptualLoss(vgg)(x, y)) == pytest.approx(
        per_layer[0] / 32 + per_layer[1] / 16 + per_layer[2] / 8 + per_layer[3] / 4 + per_layer[4], rel=1e-5)
    only_last = PerceptualLoss(vgg, (0, 0, 0, 0, 1))
    assert float(only_last(x, y)) == pytest.approx(per_layer[4], rel=1e-6)
    assert float(only_last(x, x)) == 0.0


def test_perceptual_loss_through_the_weights_manager(vgg, tmp_path, monkeypatch):
    monkeypatch.setenv(weights.ENV_VAR, str(tmp_path))
    loss, note = perceptual_or_none(True)
    assert loss is None and note == "off (vgg19 weights missing: talkbench weights fetch vgg19)"
    assert perceptual_or_none(False) == (None, "off (disabled)")
    with pytest.raises(weights.WeightsMissingError, match="talkbench weights fetch vgg19"):
        load_vgg19()
    # a torchvision-style file (features.* plus a classifier tensor that is ignored), read with weights_only=True
    state = {**vgg.state_dict(), "classifier.6.bias": torch.zeros(1000)}
    torch.save(state, tmp_path / weights.get(WEIGHTS_NAME).filename)
    loaded = load_vgg19()
    assert all(torch.equal(v, vgg.state_dict()[k]) for k, v in loaded.state_dict().items())
    assert not any(p.requires_grad for p in loaded.parameters())
    loss, note = perceptual_or_none(True)
    assert loss is not None and note == f"vgg19 sha256:{weights.file_hash(WEIGHTS_NAME)}"
    bad = {k: v for k, v in state.items() if k != "features.28.weight"}
    torch.save(bad, tmp_path / weights.get(WEIGHTS_NAME).filename)
    with pytest.raises(ValueError, match=r"lack features\.28\.weight"):
        load_vgg19()
