"""SyncNet v2: the audio-visual synchronisation network behind LSE-D, LSE-C and the AV offset.

Architecture of joonson/syncnet_python ``SyncNetModel.S`` (SPECS M4), rebuilt here from the specification with the
same module tree, so the parameter names (``netcnnaud.*``, ``netfcaud.*``, ``netcnnlip.*``, ``netfclip.*``) and
shapes are those of the official ``syncnet_v2.model`` state dict, which loads unchanged.

* audio stream: MFCC ``[N, 1, 13, 20]`` (0.2 s) -> 1024-d embedding;
* video stream: 5 frames ``[N, 3, 5, 224, 224]``, BGR, raw 0-255 floats -> 1024-d embedding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

EMBEDDING = 1024
CLIP_FRAMES = 5  # video frames per window (0.2 s at 25 fps)

# (out channels, kernel, stride, padding) per conv; "M" entries are max pools (kernel, stride, padding)
_AUDIO_CNN: Sequence[tuple] = (
    ("C", 64, (3, 3), (1, 1), (1, 1)),
    ("M", (1, 1), (1, 1), (0, 0)),
    ("C", 192, (3, 3), (1, 1), (1, 1)),
    ("M", (3, 3), (1, 2), (0, 0)),
    ("C", 384, (3, 3), (1, 1), (1, 1)),
    ("C", 256, (3, 3), (1, 1), (1, 1)),
    ("C", 256, (3, 3), (1, 1), (1, 1)),
    ("M", (3, 3), (2, 2), (0, 0)),
    ("C", 512, (5, 4), (1, 1), (0, 0)),
)
_VIDEO_CNN: Sequence[tuple] = (
    ("C", 96, (5, 7, 7), (1, 2, 2), (0, 0, 0)),
    ("M", (1, 3, 3), (1, 2, 2), (0, 0, 0)),
    ("C", 256, (1, 5, 5), (1, 2, 2), (0, 1, 1)),
    ("M", (1, 3, 3), (1, 2, 2), (0, 1, 1)),
    ("C", 256, (1, 3, 3), (1, 1, 1), (0, 1, 1)),
    ("C", 256, (1, 3, 3), (1, 1, 1), (0, 1, 1)),
    ("C", 256, (1, 3, 3), (1, 1, 1), (0, 1, 1)),
    ("M", (1, 3, 3), (1, 2, 2), (0, 0, 0)),
    ("C", 512, (1, 6, 6), (1, 1, 1), (0, 0, 0)),
)


def _cnn(spec: Sequence[tuple], in_channels: int, dims: int) -> nn.Sequential:
    """Conv -> BatchNorm -> ReLU per "C" row, a max pool per "M" row (module indices as in syncnet_python)."""
    conv, norm, pool = {2: (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d), 3: (nn.Conv3d, nn.BatchNorm3d, nn.MaxPool3d)}[dims]
    layers: list[nn.Module] = []
    channels = in_channels
    for row in spec:
        if row[0] == "M":
            layers.append(pool(kernel_size=row[1], stride=row[2], padding=row[3]))
            continue
        _, out, kernel, stride, padding = row
        layers += [conv(channels, out, kernel_size=kernel, stride=stride, padding=padding), norm(out), nn.ReLU()]
        channels = out
    return nn.Sequential(*layers)


def _head(embedding: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, embedding))


class SyncNet(nn.Module):
    """SyncNet v2 (syncnet_python ``S``): two streams embedding 0.2 s of audio and of lip video.

    Example:
        >>> net = SyncNet().eval()
        >>> net.embed_audio(torch.zeros(2, 1, 13, 20)).shape
        torch.Size([2, 1024])
    """

    def __init__(self, embedding: int = EMBEDDING) -> None:
        super().__init__()
        self.netcnnaud = _cnn(_AUDIO_CNN, 1, dims=2)
        self.netfcaud = _head(embedding)
        self.netcnnlip = _cnn(_VIDEO_CNN, 3, dims=3)
        self.netfclip = _head(embedding)

    def embed_audio(self, mfcc: torch.Tensor) -> torch.Tensor:
        """Audio embeddings ``[N, 1024]`` of MFCC windows ``[N, 1, 13, 20]``."""
        return self.netfcaud(self.netcnnaud(mfcc).flatten(1))

    def embed_video(self, clips: torch.Tensor) -> torch.Tensor:
        """Lip embeddings ``[N, 1024]`` of 5-frame clips ``[N, 3, 5, 224, 224]`` (BGR, 0-255)."""
        return self.netfclip(self.netcnnlip(clips).flatten(1))

    @torch.no_grad()
    def embed_windows(
        self, frames_bgr: np.ndarray, mfcc_windows: np.ndarray, batch_size: int = 20, device: str = "cpu"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings ``[N, 1024]`` (on CPU) of video windows ``frames v..v+4`` and audio windows ``[N, 13, 20]``.

        ``frames_bgr`` is uint8 ``[>= N + 4, 224, 224, 3]``; windows are cut batch by batch (no copy of all N).
        """
        count = len(mfcc_windows)
        if len(frames_bgr) < count + CLIP_FRAMES - 1:
            raise ValueError(f"{len(frames_bgr)} frames cannot fill {count} windows of {CLIP_FRAMES}")
        net = self.to(device)
        video = torch.from_numpy(np.ascontiguousarray(frames_bgr[: count + CLIP_FRAMES - 1]))
        video = video.permute(3, 0, 1, 2).float()  # [3, T, H, W]
        video_emb, audio_emb = [], []
        for start in range(0, count, batch_size):
            stop = min(count, start + batch_size)
            clips = video[:, start : stop + CLIP_FRAMES - 1].unfold(1, CLIP_FRAMES, 1)  # [3, n, H, W, 5]
            video_emb.append(net.embed_video(clips.permute(1, 0, 4, 2, 3).to(device)).cpu())
            audio_emb.append(net.embed_audio(torch.from_numpy(mfcc_windows[start:stop, None]).to(device)).cpu())
        return torch.cat(video_emb), torch.cat(audio_emb)


def build_syncnet(state_dict: Mapping[str, torch.Tensor]) -> SyncNet:
    """A :class:`SyncNet` in eval mode with ``state_dict`` loaded.

    Every parameter and running statistic must be present with the right shape; only BatchNorm's
    ``num_batches_tracked`` counters may be absent (files saved before PyTorch 0.4.1, such as the official one, lack
    them; they do not affect inference).

    Raises:
        ValueError: missing, unexpected or mis-shaped keys, listed by name.
    """
    net = SyncNet()
    expected = net.state_dict()
    missing = [k for k in expected if k not in state_dict and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [
        f"{k} {tuple(state_dict[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and state_dict[k].shape != v.shape
    ]
    if missing or unexpected or shapes:
        raise ValueError(
            "not a SyncNet v2 state dict: "
            + "; ".join(
                f"{label}: {', '.join(items[:6])}{' ...' if len(items) > 6 else ''}"
                for label, items in (("missing", missing), ("unexpected", unexpected), ("shape", shapes))
                if items
            )
        )
    net.load_state_dict(dict(state_dict), strict=False)
    return net.eval()
