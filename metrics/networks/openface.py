"""OpenFace nn4.small2: the face-embedding network behind ACD in MoCoGAN and Vougioukas et al. (SPECS M5).

Architecture of cmusatyalab/openface ``models/openface/nn4.small2.def.lua`` (FaceNet NN4 without 4b-4d, smaller
5a/5b), rebuilt here from that definition. Input: aligned RGB faces ``[N, 3, 96, 96]`` in [0, 1]; output: 128-d
embeddings with unit L2 norm.

Details that matter for loading the published weights:

* Torch's ``nn.Inception`` concatenates branches of different spatial sizes by zero-padding the smaller ones
  centred (``nn.DepthConcat``; left/top pad ``floor(diff / 2)``); the pool branches here use no padding
  (max pool 3x3 stride 2, LP pool p=2 3x3 stride 3) and are padded back.
* ``SpatialCrossMapLRN(5, 1e-4, 0.75)`` with k = 1 equals ``nn.LocalResponseNorm(5, 1e-4, 0.75, 1.0)``.
* Parameter names follow the PyTorch port thnkim/OpenFacePytorch (``layer1``, ``layer14.seq_list.0.1_conv``, ...),
  whose ``openface.pth`` the weights manager fetches as ``openface-nn4.small2``, so that state dict loads unchanged
  (its BatchNorm layers predate ``num_batches_tracked``, which is filled in).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

INPUT_SIZE = 96
EMBEDDING = 128


def _conv_bn_relu(prefix: str, cin: int, cout: int, kernel: int, stride: int, padding: int) -> OrderedDict:
    """``{prefix}_conv``, ``_bn``, ``_relu`` entries with thnkim's numbered names (prefix is the first number)."""
    first = int(prefix)
    return OrderedDict(
        [
            (f"{first}_conv", nn.Conv2d(cin, cout, kernel, stride, padding)),
            (f"{first + 1}_bn", nn.BatchNorm2d(cout)),
            (f"{first + 2}_relu", nn.ReLU()),
        ]
    )


class Inception(nn.Module):
    """A Torch ``nn.Inception`` block: (1x1 reduce -> kxk conv) branches, a pool branch, an optional 1x1 branch.

    Args:
        cin: input channels.
        kernels: kernel size of each conv branch.
        strides: stride of each conv branch.
        outputs: output channels of each conv branch.
        reduce: reduce channels of each conv branch, then of the pool branch's 1x1 conv (None: pooled input passes
            through), then of the lone 1x1 branch (None or absent: no such branch).
        pool: the pool module of the pool branch.
    """

    def __init__(
        self,
        cin: int,
        kernels: Sequence[int],
        strides: Sequence[int],
        outputs: Sequence[int],
        reduce: Sequence[int | None],
        pool: nn.Module,
    ) -> None:
        super().__init__()
        n = len(kernels)
        branch_reduce = [r for r in reduce[:n] if r is not None]
        if len(branch_reduce) != n or len(strides) != n or len(outputs) != n:
            raise ValueError(f"Inception needs a stride, an output and a reduce size per kernel, got {reduce}")
        branches = []
        for k, s, cout, r in zip(kernels, strides, outputs, branch_reduce, strict=True):
            layers = _conv_bn_relu("1", cin, r, 1, 1, 0)
            layers.update(_conv_bn_relu("4", r, cout, k, s, k // 2))
            branches.append(nn.Sequential(layers))
        pool_reduce = reduce[n] if n < len(reduce) else None
        single = reduce[n + 1] if n + 1 < len(reduce) else None
        pooled = OrderedDict([("1_pool", pool)])
        if pool_reduce is not None:
            pooled.update(_conv_bn_relu("2", cin, pool_reduce, 1, 1, 0))
        branches.append(nn.Sequential(pooled))
        if single is not None:
            branches.append(nn.Sequential(_conv_bn_relu("1", cin, single, 1, 1, 0)))
        self.seq_list = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run every branch and concatenate along channels, zero-padding smaller maps centred."""
        ys = [branch(x) for branch in self.seq_list]
        height = max(y.shape[2] for y in ys)
        width = max(y.shape[3] for y in ys)
        padded = []
        for y in ys:
            top, left = (height - y.shape[2]) // 2, (width - y.shape[3]) // 2
            padded.append(F.pad(y, (left, width - y.shape[3] - left, top, height - y.shape[2] - top)))
        return torch.cat(padded, dim=1)


def _maxpool() -> nn.Module:
    return nn.MaxPool2d(3, stride=2)


def _lppool() -> nn.Module:
    return nn.LPPool2d(2, 3, stride=3)


class OpenFaceNN4Small2(nn.Module):
    """OpenFace nn4.small2: ``[N, 3, 96, 96]`` RGB in [0, 1] -> ``[N, 128]`` L2-normalised embeddings.

    Example:
        >>> net = OpenFaceNN4Small2().eval()
        >>> out = net(torch.rand(2, 3, 96, 96))
        >>> tuple(out.shape), bool(torch.allclose(out.norm(dim=1), torch.ones(2), atol=1e-4))
        ((2, 128), True)
    """

    def __init__(self) -> None:
        super().__init__()
        self.layer1 = nn.Conv2d(3, 64, 7, 2, 3)
        self.layer2 = nn.BatchNorm2d(64)
        self.layer4 = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer5 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.layer6 = nn.Conv2d(64, 64, 1)
        self.layer7 = nn.BatchNorm2d(64)
        self.layer9 = nn.Conv2d(64, 192, 3, 1, 1)
        self.layer10 = nn.BatchNorm2d(192)
        self.layer12 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.layer13 = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer14 = Inception(192, (3, 5), (1, 1), (128, 32), (96, 16, 32, 64), _maxpool())  # 3a
        self.layer15 = Inception(256, (3, 5), (1, 1), (128, 64), (96, 32, 64, 64), _lppool())  # 3b
        self.layer16 = Inception(320, (3, 5), (2, 2), (256, 64), (128, 32, None, None), _maxpool())  # 3c
        self.layer17 = Inception(640, (3, 5), (1, 1), (192, 64), (96, 32, 128, 256), _lppool())  # 4a
        self.layer18 = Inception(640, (3, 5), (2, 2), (256, 128), (160, 64, None, None), _maxpool())  # 4e
        self.layer19 = Inception(1024, (3,), (1,), (384,), (96, 96, 256), _lppool())  # 5a
        self.layer21 = Inception(736, (3,), (1,), (384,), (96, 96, 256), _maxpool())  # 5b
        self.layer22 = nn.AvgPool2d(3, stride=1)
        self.layer25 = nn.Linear(736, EMBEDDING)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a batch of aligned 96x96 faces."""
        if x.ndim != 4 or x.shape[1:] != (3, INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"OpenFace nn4.small2 needs [N, 3, 96, 96] input, got {tuple(x.shape)}")
        x = self.layer5(self.layer4(F.relu(self.layer2(self.layer1(x)))))
        x = F.relu(self.layer7(self.layer6(x)))
        x = self.layer13(self.layer12(F.relu(self.layer10(self.layer9(x)))))
        for block in (self.layer14, self.layer15, self.layer16, self.layer17, self.layer18, self.layer19, self.layer21):
            x = block(x)
        x = self.layer25(self.layer22(x).flatten(1))
        return F.normalize(x, p=2, dim=1, eps=1e-10)


def build_openface(state_dict: Mapping[str, torch.Tensor] | None = None) -> OpenFaceNN4Small2:
    """The network in eval mode, with ``state_dict`` loaded strictly when given (thnkim/OpenFacePytorch names).

    Raises:
        ValueError: the state dict does not match the architecture (names missing, unexpected or misshapen).
    """
    net = OpenFaceNN4Small2()
    if state_dict is not None:
        state = dict(state_dict)
        for key, value in net.state_dict().items():  # files saved before PyTorch 0.4.1 lack these counters
            if key.endswith("num_batches_tracked") and key not in state:
                state[key] = value
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ValueError(f"state dict does not fit OpenFace nn4.small2: {exc}") from exc
    return net.eval()
