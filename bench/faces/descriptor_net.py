"""dlib's face-recognition ResNet in torch, read from ``dlib_face_recognition_resnet_model_v1.dat``.

dlib computes its 128-d descriptor on one CPU thread without a fast matrix library (about 75 ms per face here); the
same network in torch, batched, takes a few milliseconds per face, and gives the same descriptor within float32
rounding (tests/faces/test_descriptor_net.py compares it with ``compute_face_descriptor`` on real faces).

The architecture is the one dlib's ``dnn_face_recognition_ex`` declares: a 7x7/2 convolution with 32 filters,
affine (folded batch norm), ReLU and 3x3/2 max pooling, then residual blocks of two 3x3 convolutions (3 of 32
filters; 4 of 64, 3 of 128, 3 of 256 and 1 of 256, each group opened by a block that halves the size: first
convolution stride 2 without padding, shortcut 2x2/2 average pooling), global average pooling and a 128-unit
fully connected layer without bias. Where a shortcut and its block differ in size, dlib adds them as if the smaller
were zero-padded at the end of each dimension. Inputs are RGB chips of 150x150 minus dlib's mean colour, over 256.

The weights are read from dlib's serialisation (layers from input to output; tensors as little-endian float32 after
a header of dlib-encoded integers); nothing of dlib's code is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

MEAN_RGB = (122.782, 117.001, 104.298)  # input_rgb_image_sized's average colour
_TAGS = re.compile(rb"\x01\x05con_4|\x01\x07affine_|\x01\x04fc_2")


@dataclass
class _Conv:
    weight: np.ndarray  # [out, in, kh, kw]
    bias: np.ndarray
    stride: int
    padding: int


class _Reader:
    """Reads dlib's serialisation.

    Integers are a control byte (low nibble: byte count, bit 7: sign) and little-endian bytes; tensors are a version,
    four dimensions and raw float32 values.
    """

    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path = data, path

    def integer(self, pos: int) -> tuple[int, int]:
        control = self.data[pos]
        size = control & 0x0F
        value = int.from_bytes(self.data[pos + 1 : pos + 1 + size], "little")
        return (-value if control & 0x80 else value), pos + 1 + size

    def tensor(self, pos: int) -> tuple[np.ndarray, int]:
        version, pos = self.integer(pos)
        if version != 2:
            raise ValueError(f"{self.path}: unknown dlib tensor version {version} at byte {pos}")
        dims = []
        for _ in range(4):
            value, pos = self.integer(pos)
            dims.append(value)
        count = int(np.prod(dims))
        values = np.frombuffer(self.data, "<f4", count, pos).reshape(dims)
        return values, pos + 4 * count


def read_weights(path: str | Path) -> tuple[list[_Conv], list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Convolutions, affine layers ``(gamma, beta)`` and the final ``[128, 256]`` matrix, from input to output.

    Raises:
        ValueError: the file does not hold the 29 convolutions, 29 affine layers and one fully connected layer of
            dlib's face-recognition ResNet.
    """
    path = Path(path)
    reader = _Reader(path.read_bytes(), path)
    convs, affines, fc = [], [], None
    for match in _TAGS.finditer(reader.data):
        tag, pos = match.group()[2:], match.end()
        if tag == b"con_4":
            params, pos = reader.tensor(pos)
            fields = []
            for _ in range(7):
                value, pos = reader.integer(pos)
                fields.append(value)
            out, kh, kw, stride, _, padding, _ = fields
            flat = params.reshape(-1)
            weight = flat[: flat.size - out].reshape(out, -1, kh, kw)
            convs.append(_Conv(weight, flat[flat.size - out :], stride, padding))
        elif tag == b"affine_":
            params, pos = reader.tensor(pos)
            flat = params.reshape(-1)
            affines.append((flat[: flat.size // 2], flat[flat.size // 2 :]))
        else:
            outputs, pos = reader.integer(pos)
            inputs, pos = reader.integer(pos)
            params, pos = reader.tensor(pos)
            fc = params.reshape(inputs, outputs).T
    if len(convs) != 29 or len(affines) != 29 or fc is None or fc.shape != (128, 256):
        raise ValueError(f"{path}: not dlib's face-recognition ResNet ({len(convs)} convolutions, {len(affines)} "
                         "affine layers; expected 29, 29 and a 256->128 fully connected layer)")  # fmt: skip
    return convs, affines, fc


def _add_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a + b`` with the smaller zero-padded at the end of the channel and spatial dimensions (dlib's add_prev)."""
    if a.shape == b.shape:
        return a + b
    size = [max(x, y) for x, y in zip(a.shape[1:], b.shape[1:], strict=True)]

    def pad(t: torch.Tensor) -> torch.Tensor:
        return F.pad(t, (0, size[2] - t.shape[3], 0, size[1] - t.shape[2], 0, size[0] - t.shape[1]))

    return pad(a) + pad(b)


class _ConvAffine(nn.Module):
    """A convolution followed by dlib's affine layer, folded into one convolution."""

    def __init__(self, conv: _Conv, affine: tuple[np.ndarray, np.ndarray]) -> None:
        super().__init__()
        gamma, beta = (torch.from_numpy(np.array(v, np.float32)) for v in affine)
        weight = torch.from_numpy(np.array(conv.weight, np.float32))
        out, inputs, kh, kw = weight.shape
        self.conv = nn.Conv2d(inputs, out, (kh, kw), conv.stride, conv.padding)
        self.conv.weight = nn.Parameter(weight * gamma[:, None, None, None], requires_grad=False)
        self.conv.bias = nn.Parameter(torch.from_numpy(np.array(conv.bias, np.float32)) * gamma + beta, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class _Block(nn.Module):
    """Two 3x3 convolutions with a shortcut (2x2/2 average pooling when the block halves the size)."""

    def __init__(self, first: _ConvAffine, second: _ConvAffine) -> None:
        super().__init__()
        self.first, self.second = first, second
        self.down = first.conv.stride[0] == 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(_add_padded(self.second(F.relu(self.first(x))), shortcut))


class DescriptorNet(nn.Module):
    """dlib's face-recognition ResNet: uint8 RGB chips ``[N, 150, 150, 3]`` to 128-d descriptors ``[N, 128]``."""

    mean: torch.Tensor

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        convs, affines, fc = read_weights(path)
        layers = [_ConvAffine(c, a) for c, a in zip(convs, affines, strict=True)]
        self.stem = layers[0]
        self.blocks = nn.Sequential(*(_Block(layers[k], layers[k + 1]) for k in range(1, len(layers), 2)))
        self.fc = nn.Linear(256, 128, bias=False)
        self.fc.weight = nn.Parameter(torch.from_numpy(np.array(fc, np.float32)), requires_grad=False)
        self.register_buffer("mean", torch.tensor(MEAN_RGB).view(1, 3, 1, 1))

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        """Descriptors float32 ``[N, 128]`` of uint8 chips ``[N, 150, 150, 3]``."""
        x = (chips.permute(0, 3, 1, 2).float() - self.mean) / 256.0
        x = F.max_pool2d(F.relu(self.stem(x)), 3, 2)
        return self.fc(self.blocks(x).mean(dim=(2, 3)))
