"""The shared GAN pieces (baselines/_gan.py, baselines/_blocks.py) against hand-computed values."""

from __future__ import annotations

import pytest
import torch

from baselines._blocks import ResidualBlock, conv_block, count_parameters, deconv_block
from baselines._gan import (
    MultiScaleDiscriminator,
    PatchDiscriminator,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
    multiscale_loss,
)


def test_losses_equal_hand_computed_values():
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([0.0, -2.0])
    # hinge D: mean(relu(1 - real)) + mean(relu(1 + fake)) = (0 + 1) / 2 + (1 + 0) / 2
    assert discriminator_loss(real, fake, "hinge").item() == pytest.approx(1.0)
    # LSGAN D: mean((real - 1)^2) + mean(fake^2) = (1 + 1) / 2 + (0 + 4) / 2
    assert discriminator_loss(real, fake, "lsgan").item() == pytest.approx(3.0)
    # BCE with logits: softplus(-real) + softplus(fake), averaged
    expected = (torch.nn.functional.softplus(-real).mean() + torch.nn.functional.softplus(fake).mean()).item()
    assert discriminator_loss(real, fake, "bce").item() == pytest.approx(expected)
    assert generator_loss(fake, "hinge").item() == pytest.approx(1.0)  # -mean(fake)
    assert generator_loss(fake, "lsgan").item() == pytest.approx(5.0)  # ((0-1)^2 + (-2-1)^2) / 2
    with pytest.raises(ValueError, match="unknown GAN loss mode"):
        generator_loss(fake, "wgan")  # type: ignore[arg-type]


def test_multiscale_loss_is_the_mean_over_scales_and_matches_the_single_scale_losses():
    scales = [torch.tensor([2.0, 0.0]), torch.tensor([0.5])]
    for mode in ("hinge", "lsgan", "bce"):
        both = multiscale_loss(scales, mode, real=True) + multiscale_loss([-s for s in scales], mode, real=False)
        # a real-side and fake-side pair of the same magnitudes equals the D loss with fake = -real per scale
        singles = [discriminator_loss(s, -s, mode) for s in scales]
        assert both.item() == pytest.approx(sum(x.item() for x in singles) / 2)
        gen = multiscale_loss(scales, mode)
        assert gen.item() == pytest.approx((generator_loss(scales[0], mode) + generator_loss(scales[1], mode)).item() / 2)


def test_feature_matching_leaves_out_the_prediction_and_averages_scales():
    fake = [[torch.zeros(2), torch.zeros(1)], [torch.zeros(3), torch.full((1,), 5.0)]]
    real = [[torch.tensor([1.0, 3.0]), torch.ones(1)], [torch.ones(3), torch.zeros(1)]]
    # scale 1: mean(1, 3) = 2; scale 2: mean(1, 1, 1) = 1; predictions ignored; (2 + 1) / 2 scales = 1.5, x 2.0
    assert feature_matching_loss(fake, real, layer_weight=2.0).item() == pytest.approx(3.0)
    with pytest.raises(ValueError, match="same number of scales"):
        feature_matching_loss(fake, real[:1])


def test_patch_discriminator_shapes_and_hand_counted_parameters():
    disc = PatchDiscriminator(3, base=4, n_layers=2)
    # conv 3->4 k4: 3*4*16+4 = 196; 4->8: 4*8*16+8 = 520; 8->16 (stride 1): 8*16*16+16 = 2064; 16->1: 16*16+1 = 257
    assert count_parameters(disc) == 196 + 520 + 2064 + 257
    outs = disc(torch.zeros(2, 3, 32, 32))
    # k4 p2: s2 gives floor(H/2)+1 (32 -> 17 -> 9), s1 gives H+1 (9 -> 10 -> 11)
    assert [tuple(o.shape) for o in outs] == [(2, 4, 17, 17), (2, 8, 9, 9), (2, 16, 10, 10), (2, 1, 11, 11)]


def test_multiscale_discriminator_pools_between_scales():
    disc = MultiScaleDiscriminator(3, num_scales=2, base=4, n_layers=2)
    outs = disc(torch.zeros(1, 3, 32, 32))
    preds = MultiScaleDiscriminator.predictions(outs)
    # the second scale sees avg_pool2d(3, 2, 1): 32 -> 16, then 16 -> 9 -> 5 -> 6 -> 7
    assert [tuple(p.shape) for p in preds] == [(1, 1, 11, 11), (1, 1, 7, 7)]
    with pytest.raises(ValueError, match="at least one scale"):
        MultiScaleDiscriminator(3, num_scales=0)


def test_blocks_shapes_and_parameters():
    block = conv_block(3, 8, 3, 2, 1, norm="batch")  # conv without bias (BN follows): 3*8*9 = 216, BN 2*8 = 16
    assert count_parameters(block) == 216 + 16
    assert tuple(block(torch.zeros(2, 3, 16, 16)).shape) == (2, 8, 8, 8)
    up = deconv_block(8, 4, 4, 2, 1, norm="none", act="tanh")  # 8*4*16 + 4 bias = 516
    assert count_parameters(up) == 516 and tuple(up(torch.zeros(1, 8, 8, 8)).shape) == (1, 4, 16, 16)
    res = ResidualBlock(4, norm="instance", dims=3)  # two 3x3x3 convs 4->4 without bias: 2 * 4*4*27
    assert count_parameters(res) == 2 * 4 * 4 * 27
    x = torch.randn(1, 4, 3, 5, 5)
    assert torch.allclose(res(x) - res.body(x), x, atol=1e-6)
