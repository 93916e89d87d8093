"""Inception pool3 features of a clip's frames or aligned face crops: the feature extractor of FID and KID.

Frames (uint8 RGB) become float32 in [0, 1] exactly as pytorch-fid's ``ToTensor`` makes them from image files;
the network then resizes to 299x299 and scales to [-1, 1] (:mod:`metrics.networks.inception`). Features are
memoised on the clip, so FID and KID in one evaluation run the network once per clip.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from bench.media import Clip
from metrics.base import MetricError
from metrics.networks.inception import FEATURE_DIM, NETWORK_ID, build_fid_inception, pool3_features

WEIGHTS = "pt-inception-fid"
Region = Literal["frame", "face"]
REGIONS: tuple[str, ...] = ("frame", "face")
DIMS: tuple[int, ...] = (64, 192, 768, 2048)
_NETWORKS: dict[tuple[str, int, str], torch.nn.Module] = {}


def weights_hash() -> str:
    """SHA-256 of the FID Inception weights file; raises ``WeightsMissingError`` with the fetch command."""
    from bench import weights

    return weights.file_hash(WEIGHTS)


def fid_network(device: str, dims: int = FEATURE_DIM) -> torch.nn.Module:
    """The FID Inception on ``device`` giving ``dims`` features, built once per process, device and weights file."""
    from bench import weights

    key = (device, dims, weights_hash())
    if key not in _NETWORKS:
        _NETWORKS[key] = build_fid_inception(weights.load_state_dict(WEIGHTS), device, dims)
    return _NETWORKS[key]


class InceptionFeatures:
    """Computes (and memoises on each clip) pool3 features of whole frames or aligned face crops.

    Args:
        region: ``"frame"`` (the whole frame, as Wav2Lip's FID) or ``"face"`` (faces aligned by
            :func:`bench.faces.align` to ``face_size`` pixels; frames without a face are left out).
        face_size: side of the aligned face crops, in pixels.
        batch_size: frames per forward pass (pytorch-fid's default is 50).
        device: where the network runs.
        dims: feature size (pytorch-fid's ``--dims``): 2048 is pool3, the standard; 64, 192 and 768 are earlier blocks.
    """

    def __init__(
        self, region: Region = "frame", face_size: int = 224, batch_size: int = 50, device: str = "cpu", dims: int = 2048
    ) -> None:
        if region not in REGIONS:
            raise ValueError(f"region must be one of {REGIONS}, got {region!r}")
        if dims not in DIMS:
            raise ValueError(f"dims must be one of {DIMS}, got {dims}")
        if face_size < 16 or batch_size < 1:
            raise ValueError(f"face_size must be >= 16 and batch_size >= 1, got {face_size} and {batch_size}")
        self.region = region
        self.face_size = face_size
        self.batch_size = batch_size
        self.device = device
        self.dims = dims

    def key(self) -> dict[str, object]:
        """What determines the features: the fields of cache keys."""
        size = self.face_size if self.region == "face" else None
        return {"region": self.region, "face_size": size, "dims": self.dims, "network": NETWORK_ID, "weights": weights_hash()}

    def __call__(self, clip: Clip) -> torch.Tensor:
        """Features ``float32 [T, dims]`` (CPU) of every frame of ``clip``.

        Raises:
            MetricError: the clip has no frames, or no face could be aligned in face mode.
        """
        memo_key = ("fid-inception", self.region, self.face_size if self.region == "face" else 0, self.dims, weights_hash())
        return clip.memo(memo_key, lambda: self._compute(clip))

    def _compute(self, clip: Clip) -> torch.Tensor:
        images = self.images(clip)
        if len(images) == 0:
            raise MetricError(f"{clip.name}: no frames")
        net = fid_network(self.device, self.dims)
        out = []
        with torch.no_grad():
            for start in range(0, len(images), self.batch_size):
                batch = torch.from_numpy(np.ascontiguousarray(images[start : start + self.batch_size]))
                x = batch.to(self.device).permute(0, 3, 1, 2).float().div(255.0)
                out.append(pool3_features(net, x).cpu())
        features = torch.cat(out)
        return features

    def images(self, clip: Clip) -> np.ndarray:
        """The uint8 RGB images ``[T, H, W, 3]`` that the network sees."""
        if self.region == "frame":
            return clip.frames
        from bench import faces

        aligned = faces.align(clip, size=self.face_size)
        if not aligned.found.any():
            raise MetricError(f"{clip.name}: no face found in any frame, so no aligned face crops for FID/KID")
        return aligned.crops[aligned.found]
