"""LipNet (Assael et al. 2016) with the layout of the VIPL LipNet-PyTorch checkpoints.

Source of the facts (read, not copied): VIPL-Audio-Visual-Speech-Understanding/LipNet-PyTorch ``model.py`` and
``dataset.py`` at 40209e09c495. Input ``[B, 3, T, 64, 128]`` (channels BGR as ``cv2.imread`` gives them, values in
[0, 1], T = 75 for GRID). Three 3-D conv blocks (conv -> ReLU -> Dropout3d 0.5 -> MaxPool (1, 2, 2)):
conv1 3->32 k(3,5,5) s(1,2,2) p(1,2,2); conv2 32->64 k(3,5,5) p(1,2,2); conv3 64->96 k(3,3,3) p1; then two
bidirectional GRUs (96*4*8 -> 256, 512 -> 256) with dropout 0.5 and a linear layer 512 -> 28; log-softmax.
State-dict keys: ``conv1.*``, ``conv2.*``, ``conv3.*``, ``gru1.*``, ``gru2.*`` (``weight_ih_l0``, ``..._reverse``),
``FC.*``, as ``torch.save(model.state_dict())`` wrote them.

Alphabet (``MyDataset.letters`` with ``start=1``): class 0 is the CTC blank, 1 is the space, 2..27 are A..Z.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

LETTERS = " ABCDEFGHIJKLMNOPQRSTUVWXYZ"
BLANK = 0
NUM_CLASSES = len(LETTERS) + 1  # 28
FRAMES = 75
HEIGHT, WIDTH = 64, 128


class LipNet(nn.Module):
    """The VIPL LipNet; :meth:`forward` maps ``[B, 3, T, 64, 128]`` to log-probabilities ``[B, T, 28]``."""

    def __init__(self, dropout: float = 0.5) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(3, 32, (3, 5, 5), (1, 2, 2), (1, 2, 2))
        self.conv2 = nn.Conv3d(32, 64, (3, 5, 5), (1, 1, 1), (1, 2, 2))
        self.conv3 = nn.Conv3d(64, 96, (3, 3, 3), (1, 1, 1), (1, 1, 1))
        self.pool = nn.MaxPool3d((1, 2, 2), (1, 2, 2))
        self.gru1 = nn.GRU(96 * 4 * 8, 256, 1, bidirectional=True)
        self.gru2 = nn.GRU(512, 256, 1, bidirectional=True)
        self.FC = nn.Linear(512, NUM_CLASSES)  # noqa: N815 - the checkpoint's key name
        self.dropout3d = nn.Dropout3d(dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Log-probabilities ``[B, T, 28]`` of videos ``[B, 3, T, 64, 128]``."""
        if x.ndim != 5 or x.shape[1] != 3 or tuple(x.shape[3:]) != (HEIGHT, WIDTH):
            raise ValueError(f"LipNet expects [B, 3, T, {HEIGHT}, {WIDTH}] input, got {tuple(x.shape)}")
        for conv in (self.conv1, self.conv2, self.conv3):
            x = self.pool(self.dropout3d(torch.relu(conv(x))))
        batch, channels, time, height, width = x.shape
        x = x.permute(2, 0, 1, 3, 4).reshape(time, batch, channels * height * width)  # [T, B, 96*4*8]
        x = self.dropout(self.gru1(x)[0])
        x = self.dropout(self.gru2(x)[0])
        return self.FC(x).log_softmax(-1).permute(1, 0, 2).contiguous()


def build_lipnet(state_dict: Mapping[str, torch.Tensor], device: str = "cpu") -> LipNet:
    """LipNet holding ``state_dict`` (strict), in eval mode (no dropout) on ``device``.

    Raises:
        ValueError: the state dict is not a VIPL LipNet checkpoint (missing or unexpected keys, wrong shapes).
    """
    net = LipNet()
    state = {k.removeprefix("module."): v for k, v in state_dict.items()}  # a DataParallel save
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"not a VIPL LipNet-PyTorch state dict: {exc}") from exc
    return net.to(device).eval()
