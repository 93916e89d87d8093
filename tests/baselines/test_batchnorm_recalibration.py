"""BatchNorm recalibration: the cause of the tiny GAN Wav2Lip's grey-blue ghost, and its fix.

BatchNorm trains on batch statistics but generates with running averages (momentum 0.1). With the tiny presets'
small batches and high learning rates (and the adversarial term's large, noisy steps) the averages trail the
weights, so the eval-mode generator is another network: after 50 GAN steps on synthgrid its output had mean RGB
(0.36, 0.65, 0.81) where the training-mode output and the truth were near (0.43, 0.42, 0.49) and (0.52, 0.42, 0.32)
(L1 to the truth 0.33 in eval mode against 0.18 in training mode; 0.18 again after recalibration).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines._training import recalibrate_batchnorm
from baselines.wav2lip import paste_lower_half
from baselines.wav2lip.model import Generator


def test_running_statistics_become_the_average_over_the_batches():
    norm = torch.nn.BatchNorm2d(1)
    norm.running_mean.fill_(-7.0)  # stale values that must not survive
    norm.running_var.fill_(50.0)
    batches = iter([torch.tensor([0.0, 2.0, 0.0, 2.0]).view(2, 1, 1, 2), torch.full((2, 1, 1, 2), 4.0)])
    weight = norm.weight.detach().clone()
    norm.eval()
    assert recalibrate_batchnorm(norm, lambda: norm(next(batches)), passes=2) == 1
    # batch means 1 and 4 -> 2.5; unbiased variances (1+1+1+1)/3 = 4/3 and 0 -> 2/3
    assert norm.running_mean.item() == pytest.approx(2.5, abs=1e-6)
    assert norm.running_var.item() == pytest.approx(2.0 / 3.0, abs=1e-6)
    assert int(norm.num_batches_tracked) == 2 and norm.momentum == 0.1  # momentum restored
    assert not norm.training and torch.equal(norm.weight, weight)  # mode restored, no weight changed
    assert recalibrate_batchnorm(torch.nn.Linear(2, 2), lambda: None, passes=3) == 0  # nothing to do without BN


@torch.no_grad()
def test_stale_statistics_make_another_generator_and_recalibration_restores_it():
    torch.manual_seed(0)
    generator = Generator(0.125)
    mels, faces = torch.randn(10, 1, 80, 16), torch.rand(10, 6, 96, 96)
    generator.train()
    trained = generator(mels, faces)  # what the losses saw: batch statistics
    for module in generator.modules():
        if isinstance(module, torch.nn.BatchNorm2d):  # running averages that trail the weights
            module.running_var.mul_(4.0)
            module.running_mean.add_(0.5)
    generator.eval()
    stale = generator(mels, faces)
    assert (stale - trained).abs().mean() > 0.05
    recalibrate_batchnorm(generator, lambda: generator(mels, faces), passes=1)
    assert not generator.training
    # eval mode now matches training mode up to the unbiased (n / (n - 1)) variance of the 1x1 layers (n = 10 frames):
    # 0.014 measured, against 0.05 and more with the stale statistics
    assert (generator(mels, faces) - trained).abs().mean() < 0.02


def test_paste_keeps_the_identity_upper_half():
    image = np.zeros((16, 4, 3), np.uint8)
    video = np.full((2, 16, 4, 3), 200, np.uint8)
    out = paste_lower_half(video, image)
    assert out.shape == (2, 16, 4, 3) and out.dtype == np.uint8
    assert (out[:, :8] == 0).all()  # rows above H // 2 = 8: the identity's own
    assert (out[:, 8] == 100).all()  # ramp of H // 16 = 1 row: weight 1 / 2 -> 200 / 2
    assert (out[:, 9:] == 200).all()  # generated below the ramp
