"""pytorch-fid's FID Inception-v3 (pool3, 2048-d), built offline from a local state dict.

The network is pytorch-fid's own ``pytorch_fid.inception.InceptionV3`` with ``use_fid_inception=True``: the
TensorFlow FID graph ported to PyTorch (FID-specific Mixed_5b..7c blocks: average pools with
``count_include_pad=False``, a max pool in Mixed_7c), input resized bilinearly to 299x299 (``align_corners=False``)
and scaled from [0, 1] to [-1, 1]. Reference: https://github.com/mseitzer/pytorch-fid (0.3.0, ``inception.py``).

pytorch-fid's ``fid_inception_v3()`` always downloads its weights from GitHub. Here that one download call is
replaced, while the network is built, by a function returning the state dict we were given (read by
:func:`bench.weights.load_state_dict` with ``weights_only=True``), so the layers, the forward pass and the strict
``load_state_dict`` are pytorch-fid's own and no network access happens.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any
from unittest import mock

import torch
from pytorch_fid import inception as pf_inception
from pytorch_fid.inception import InceptionV3

FEATURE_DIM = 2048
NETWORK_ID = "pytorch-fid-0.3.0-inception-v3-fid-pool3"
_BUILD_LOCK = threading.Lock()


def fid_inception_architecture() -> torch.nn.Module:
    """The FID Inception-v3 classifier (1008 classes) with untrained weights: the layout of the official file.

    Mirrors the module surgery of ``pytorch_fid.inception.fid_inception_v3`` with pytorch-fid's own block classes,
    minus the download. Tests use it to make weights with the official key names.
    """
    net = pf_inception._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pf_inception.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pf_inception.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pf_inception.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pf_inception.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pf_inception.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pf_inception.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pf_inception.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pf_inception.FIDInceptionE_1(1280)
    net.Mixed_7c = pf_inception.FIDInceptionE_2(2048)
    return net


def build_fid_inception(
    state_dict: Mapping[str, torch.Tensor], device: str = "cpu", dims: int = FEATURE_DIM
) -> InceptionV3:
    """pytorch-fid's ``InceptionV3([block])`` holding ``state_dict``, in eval mode on ``device``.

    Args:
        state_dict: the FID Inception weights in the layout of ``pt_inception-2015-12-05-6726825d.pth``.
        device: where the network runs.
        dims: feature size, as pytorch-fid's ``--dims``: 2048 (pool3, the FID standard), 768, 192 or 64.

    Raises:
        ValueError: the state dict does not have the FID Inception's keys and shapes.
    """
    if dims not in InceptionV3.BLOCK_INDEX_BY_DIM:
        raise ValueError(f"dims must be one of {sorted(InceptionV3.BLOCK_INDEX_BY_DIM)}, got {dims}")

    def local_weights(*args: Any, **kwargs: Any) -> Mapping[str, torch.Tensor]:
        return state_dict

    with _BUILD_LOCK, mock.patch.object(pf_inception, "load_state_dict_from_url", local_weights):
        try:
            net = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[dims]], use_fid_inception=True)
        except RuntimeError as exc:  # load_state_dict(strict=True): missing/unexpected keys or wrong shapes
            raise ValueError(f"not the FID Inception-v3 state dict: {exc}") from exc
    return net.to(device).eval()


@torch.no_grad()
def pool3_features(net: InceptionV3, frames: torch.Tensor) -> torch.Tensor:
    """Features ``[N, dims]`` of images ``[N, 3, H, W]`` in [0, 1] (float32), as ``get_activations`` computes them.

    The network resizes to 299x299 (bilinear, ``align_corners=False``) and maps to [-1, 1] itself; blocks other
    than pool3 are average-pooled to 1x1 as pytorch-fid does.
    """
    out = net(frames)[0]
    if out.shape[2] != 1 or out.shape[3] != 1:
        out = torch.nn.functional.adaptive_avg_pool2d(out, output_size=(1, 1))
    return out.squeeze(3).squeeze(2)
