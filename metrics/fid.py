"""FID: Fréchet distance between Gaussians fitted to Inception pool3 features of generated and reference frames.

FID = ||mu_g - mu_r||^2 + Tr(S_g) + Tr(S_r) - 2 Tr sqrtm(S_g S_r), as pytorch-fid 0.3.0 ``calculate_frechet_distance``
(https://github.com/mseitzer/pytorch-fid, ``src/pytorch_fid/fid_score.py``): ``scipy.linalg.sqrtm``; if the root is
not finite, 1e-6 is added to both diagonals; an imaginary part above 1e-3 on the diagonal is an error, a smaller one
is dropped. Features: pytorch-fid's Inception (:mod:`metrics._inception`), over all frames of all videos pooled
(``fid``: whole frames, as Wav2Lip's evaluation; ``fid-face``: aligned face crops).

Deviation: statistics are streamed as float64 sums of features and of their outer products (never all features in
memory; exact under distributed reduction); the covariance is ``(sum xx^T - n mu mu^T) / (n - 1)``, equal to
pytorch-fid's ``np.cov`` of the same float32 features to ~1e-10 relative.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from scipy import linalg

from bench.cache import cache_dir, cache_key
from bench.io import atomic_path
from metrics import variants
from metrics._inception import WEIGHTS, InceptionFeatures, Region
from metrics.base import Item, MetricError, Need, Score, SetMetric
from metrics.networks.inception import FEATURE_DIM


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), computed as pytorch-fid does.

    Raises:
        ValueError: shapes differ, or ``sqrtm`` leaves an imaginary diagonal component above 1e-3.
    """
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(f"mismatched statistics: mu {mu1.shape} vs {mu2.shape}, sigma {sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        warnings.warn(f"FID: singular covariance product; adding {eps} to the diagonals", RuntimeWarning, stacklevel=2)
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"FID: imaginary component {np.max(np.abs(covmean.imag))} in sqrtm(sigma1 sigma2)")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


class Moments:
    """Streaming float64 count, feature sum and outer-product sum: mean and covariance without the features."""

    def __init__(self, dim: int = FEATURE_DIM) -> None:
        self.n = 0
        self.total = torch.zeros(dim, dtype=torch.float64)
        self.outer = torch.zeros(dim, dim, dtype=torch.float64)

    def add(self, features: torch.Tensor) -> None:
        """Accumulate features ``[N, dim]``."""
        x = features.to(torch.float64)
        self.n += x.shape[0]
        self.total += x.sum(0)
        self.outer += x.T @ x

    def merge(self, n: Any, total: Any, outer: Any) -> None:
        """Add another accumulator's sums."""
        self.n += int(n)
        self.total += torch.as_tensor(total, dtype=torch.float64)
        self.outer += torch.as_tensor(outer, dtype=torch.float64)

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and unbiased covariance (as ``np.cov(rowvar=False)``); needs at least two samples."""
        mu = self.total / self.n
        cov = (self.outer - self.n * torch.outer(mu, mu)) / (self.n - 1)
        return mu.numpy(), cov.numpy()


def load_stats(path: str | Path, dims: int = FEATURE_DIM) -> tuple[np.ndarray, np.ndarray, int]:
    """``(mu, sigma, n)`` from an ``.npz`` with ``mu`` and ``sigma`` (pytorch-fid ``--save-stats`` format)."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"{file}: FID reference statistics not found")
    with np.load(file) as data:
        if "mu" not in data or "sigma" not in data:
            raise ValueError(f"{file}: FID statistics need arrays 'mu' and 'sigma', found {sorted(data.files)}")
        mu, sigma = data["mu"].astype(np.float64), data["sigma"].astype(np.float64)
        n = int(data["n"]) if "n" in data else 0
    if mu.shape != (dims,) or sigma.shape != (dims, dims):
        raise ValueError(f"{file}: expected mu [{dims}] and sigma [{dims}, {dims}], got "
                         f"{mu.shape} and {sigma.shape}")  # fmt: skip
    return mu, sigma, n


VARIANTS: dict[str, dict[str, Any]] = {"fid": {"region": "frame"}, "fid-face": {"region": "face"}}


@variants(VARIANTS)
class FID(SetMetric):
    """FID of the generated frames against the reference frames (or fixed reference statistics).

    Input: every item's ``generated.frames`` (uint8 ``[T, H, W, 3]``); the reference side is each item's
    ``reference`` clip, or fixed statistics: ``reference_stats`` (an ``.npz`` with ``mu``, ``sigma``) or the ones
    cached for ``protocol`` (written by the first complete run under that protocol, keyed by region, network and
    weights hash, and used only when the run's reference videos are the same). Lower is better. Needs the
    pretrained file ``pt-inception-fid``; fewer frames than feature dimensions (``dims``, 2048) on either side
    gives a warning (FID is then biased and unstable). ``dims`` below 2048 (pytorch-fid's ``--dims``) give numbers
    that are not comparable with published FID.

    Example:
        >>> metric = FID(region="frame")
        >>> metric.higher_is_better, metric.kind.value
        (False, 'set')
    """

    name: ClassVar[str] = "fid"
    higher_is_better: ClassVar[bool] = False
    needs: ClassVar[frozenset[Need]] = frozenset({Need.REFERENCE})
    score_range: ClassVar[tuple[float | None, float | None]] = (0.0, None)
    weights: tuple[str, ...] = (WEIGHTS,)

    def __init__(
        self,
        region: Region = "frame",
        face_size: int = 224,
        reference_stats: str | None = None,
        protocol: str | None = None,
        dims: int = FEATURE_DIM,
        batch_size: int = 50,
        device: str = "cpu",
    ) -> None:
        super().__init__(device)
        self.region, self.face_size, self.dims, self.batch_size = region, face_size, dims, batch_size
        self.reference_stats, self.protocol = reference_stats, protocol
        self._features = InceptionFeatures(region, face_size, batch_size, device, dims)
        self._fixed: tuple[np.ndarray, np.ndarray, int] | None = None
        self._fixed_ids: np.ndarray | None = None  # reference video ids (hashed) behind cached statistics
        self._looked_up = False
        if reference_stats is not None:
            self._fixed = load_stats(reference_stats, dims)
        self.reset()

    def reset(self) -> None:
        """Forget the accumulated features."""
        self._gen, self._ref = Moments(self.dims), Moments(self.dims)
        self._ref_ids: list[int] = []

    def update(self, item: Item) -> int:
        """Add the generated (and, without fixed statistics, the reference) frames of ``item``."""
        fixed = self._fixed_reference()
        if fixed is None and item.reference is None:
            raise MetricError(f"{item.video_id}: FID needs the reference clip (or reference_stats / a protocol cache)")
        generated = self._features(item.generated)
        if fixed is None:
            self._ref.add(self._features(item.reference))  # type: ignore[arg-type]
        self._gen.add(generated)
        self._ref_ids.append(_id_hash(item.video_id))
        return int(generated.shape[0])

    def compute(self) -> Score:
        """FID of everything accumulated; a failed score when a side has fewer than two frames."""
        fixed = self._fixed_reference()
        if fixed is not None and self._fixed_ids is not None and not np.array_equal(self._fixed_ids, self._ids()):
            return Score.failed(
                f"cached FID reference statistics for protocol {self.protocol!r} ({self._cache_file()}) were made "
                "from other reference videos than this run's; delete that file to recompute them"
            )
        if fixed is None and self._ref.n > 1:
            fixed = (*self._ref.mean_cov(), self._ref.n)
        if self._gen.n < 2 or fixed is None:
            return Score.failed(f"FID needs at least 2 frames on each side, got {self._gen.n} generated, "
                                f"{self._ref.n} reference")  # fmt: skip
        mu_r, sigma_r, n_ref = fixed
        if min(self._gen.n, n_ref or self._gen.n) < self.dims:
            warnings.warn(
                f"FID from {self._gen.n} generated and {n_ref or 'unknown'} reference frames, fewer than the "
                f"{self.dims} feature dimensions: the covariance is rank-deficient and FID is biased upwards",
                UserWarning, stacklevel=2,
            )  # fmt: skip
        mu_g, sigma_g = self._gen.mean_cov()
        if self._fixed is None and self.protocol is not None:
            self._save_cache(mu_r, sigma_r, n_ref)
        value = frechet_distance(mu_g, sigma_g, mu_r, sigma_r)
        return Score(value, self._gen.n, extras={"fid_frames_reference": float(n_ref)})

    def state(self) -> dict[str, Any]:
        """Float64 sums of both sides and the hashed video ids (for distributed reduction and resume)."""
        return {
            "gen_n": torch.tensor(self._gen.n), "gen_sum": self._gen.total, "gen_outer": self._gen.outer,
            "ref_n": torch.tensor(self._ref.n), "ref_sum": self._ref.total, "ref_outer": self._ref.outer,
            "ids": torch.tensor(self._ref_ids, dtype=torch.int64),
        }  # fmt: skip

    def merge_state(self, other: Mapping[str, Any]) -> None:
        """Add another process's :meth:`state`."""
        self._gen.merge(other["gen_n"], other["gen_sum"], other["gen_outer"])
        self._ref.merge(other["ref_n"], other["ref_sum"], other["ref_outer"])
        self._ref_ids.extend(int(i) for i in np.asarray(other["ids"]).ravel())

    def _ids(self) -> np.ndarray:
        return np.unique(np.asarray(self._ref_ids, dtype=np.int64))

    def _cache_file(self) -> Path:
        key = cache_key(protocol=self.protocol, kind="fid-reference-stats", **self._features.key())
        return cache_dir("fid-stats") / f"{key}.npz"

    def _fixed_reference(self) -> tuple[np.ndarray, np.ndarray, int] | None:
        """Fixed reference statistics: from ``reference_stats``, or (once looked up) the protocol's cache."""
        if self._fixed is None and self.protocol is not None and not self._looked_up:
            self._looked_up = True
            file = self._cache_file()
            if file.is_file():
                self._fixed = load_stats(file, self.dims)
                with np.load(file) as data:
                    self._fixed_ids = data["ids"]
        return self._fixed

    def _save_cache(self, mu: np.ndarray, sigma: np.ndarray, n: int) -> None:
        with atomic_path(self._cache_file()) as tmp, open(tmp, "wb") as f:
            np.savez(f, mu=mu, sigma=sigma, n=n, ids=self._ids())


def _id_hash(video_id: str) -> int:
    """A 63-bit hash of a video id: ids travel in tensor state, which holds no strings."""
    return int.from_bytes(hashlib.sha256(video_id.encode()).digest()[:8], "big") >> 1
