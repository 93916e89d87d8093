"""The VGG19 perceptual loss of pix2pixHD and SPADE, with torchvision's ImageNet weights via the weights manager.

Facts from SPECS E (NVIDIA/pix2pixHD ``models/networks.py`` ``VGGLoss`` / ``Vgg19``, the same in NVlabs/SPADE):
the features after relu1_1, relu2_1, relu3_1, relu4_1 and relu5_1 of VGG19 (``features[0:2]``, ``[2:7]``,
``[7:12]``, ``[12:21]``, ``[21:30]``), an L1 distance per layer against the detached reference features, weighted
``[1/32, 1/16, 1/8, 1/4, 1]`` and summed; the methods multiply the sum by their own ``lambda`` (10 in both codes).

Choice: inputs are images in ``[0, 1]`` normalised with the ImageNet mean and standard deviation that torchvision's
weights were trained with (the two originals feed their ``[-1, 1]`` generator outputs unnormalised).

The weights are torchvision's ``vgg19-dcbb9e9d.pth`` (``talkbench weights fetch vgg19``). Offline, a method trains
without the perceptual term and records so: :func:`perceptual_or_none` returns None and a note naming the missing
file, which the method puts in its fit report and saved state; nothing is swapped in silently.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from bench import weights

WEIGHTS_NAME = "vgg19"
LAYER_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)  # pix2pixHD / SPADE VGGLoss.weights
_SLICES = (2, 7, 12, 21, 30)  # end indices of the five slices in ``features``
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGG19Features(nn.Module):
    """VGG19's convolutional layers up to relu5_1, with torchvision's layer indices (``features.N.weight``).

    ``forward(images [N, 3, H, W] in [0, 1]) -> [relu1_1, relu2_1, relu3_1, relu4_1, relu5_1]``.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        self.features = make_layers(cfgs["E"])[: _SLICES[-1]]  # torchvision's vgg19().features, cut after relu5_1
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The five relu feature maps of ImageNet-normalised ``images``."""
        x = (images - self.mean) / self.std
        out, start = [], 0
        for end in _SLICES:
            for layer in self.features[start:end]:
                x = layer(x)
            out.append(x)
            start = end
        return out

    def load_torchvision(self, state: dict[str, torch.Tensor]) -> None:
        """Load the ``features.*`` tensors of a torchvision VGG19 state dict (the rest, classifier included, unused).

        Raises:
            ValueError: a needed tensor is missing or has the wrong shape.
        """
        own = self.state_dict()
        picked = {k: v for k, v in state.items() if k in own}
        missing = sorted(set(own) - set(picked))
        if missing:
            raise ValueError(f"VGG19 weights lack {', '.join(missing[:4])}: not a torchvision vgg19 state dict")
        try:
            self.load_state_dict(picked)
        except RuntimeError as exc:
            raise ValueError(f"VGG19 weights do not fit torchvision's vgg19: {exc}") from None


def load_vgg19(device: torch.device | str = "cpu") -> VGG19Features:
    """The frozen ImageNet VGG19 feature extractor from the weights manager.

    Raises:
        bench.weights.WeightsMissingError: ``vgg19-dcbb9e9d.pth`` is not there (the message says
            ``talkbench weights fetch vgg19``).
    """
    net = VGG19Features()
    net.load_torchvision(weights.load_state_dict(WEIGHTS_NAME))
    return net.to(device).eval().requires_grad_(False)


class PerceptualLoss(nn.Module):
    """``sum_i w_i * L1(F_i(generated), F_i(reference))`` over the five VGG19 slices (pix2pixHD ``VGGLoss``).

    The reference features are detached, as in the original; the network itself is frozen.

    Example:
        >>> loss = PerceptualLoss(VGG19Features())  # random weights: arithmetic only
        >>> float(loss(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 32)))
        0.0
    """

    def __init__(self, features: VGG19Features, layer_weights: Sequence[float] = LAYER_WEIGHTS) -> None:
        super().__init__()
        if len(layer_weights) != len(_SLICES):
            raise ValueError(f"perceptual loss needs {len(_SLICES)} layer weights, got {len(layer_weights)}")
        self.vgg = features.eval().requires_grad_(False)
        self.layer_weights = tuple(float(w) for w in layer_weights)

    def forward(self, generated: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """The weighted L1 feature distance of two image batches ``[N, 3, H, W]`` in [0, 1] (H, W >= 16)."""
        fake, real = self.vgg(generated), self.vgg(reference)
        total = generated.new_zeros(())
        for weight, f, r in zip(self.layer_weights, fake, real, strict=True):
            total = total + weight * F.l1_loss(f, r.detach())
        return total


def perceptual_or_none(wanted: bool, device: torch.device | str = "cpu") -> tuple[PerceptualLoss | None, str]:
    """The perceptual loss if ``wanted`` and its weights are present, else None; and a note for the fit report.

    The note is ``"vgg19 sha256:<hex>"`` when in use, ``"off (disabled)"`` when not wanted, and
    ``"off (vgg19 weights missing: talkbench weights fetch vgg19)"`` offline.
    """
    if not wanted:
        return None, "off (disabled)"
    if not weights.available(WEIGHTS_NAME):
        return None, f"off ({WEIGHTS_NAME} weights missing: talkbench weights fetch {WEIGHTS_NAME})"
    loss = PerceptualLoss(load_vgg19(device)).to(device)
    return loss, f"{WEIGHTS_NAME} sha256:{weights.file_hash(WEIGHTS_NAME)}"
