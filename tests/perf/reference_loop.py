"""The frame-by-frame reference for ``talkbench evaluate``: each metric computed with the reference libraries.

This is what a researcher writes without talkbench, one frame at a time:

* PSNR: ``skimage.metrics.peak_signal_noise_ratio`` per RGB frame (data range 255), mean over frames (``psnr``).
* SSIM: ``skimage.metrics.structural_similarity`` per RGB frame with Wang et al.'s settings (Gaussian sigma 1.5,
  population covariance, data range 255, ``channel_axis=-1``), mean over frames (``ssim``).
* CPBD: the PyPI ``cpbd`` package's ``compute`` per OpenCV-grey frame of the generated clip, mean (``cpbd``).
* FDBM: De and Masilamani's definition in plain numpy per grey frame (``np.fft.fft2``, count of ``|F| > max / 1000``
  over ``M N``; SPECS M2), mean (``fdbm``).
* LMD: dlib's frontal HOG detector and 68-point predictor run on EVERY grey frame of both clips (no tracking, no
  crop upscaling), then the definition of the ``lmd`` variant (:mod:`metrics.lmd`): per frame a similarity transform
  (``skimage.transform.estimate_transform``) from the stable points, averaged over the 7-frame window of
  :func:`bench.faces.align.smooth_points`, onto the canonical 128-px face; the 20 mouth points mapped through it,
  each set minus its centroid, sum of Euclidean distances, mean over frames with a face on both sides.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import scipy.ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.transform import estimate_transform

from bench.faces import MOUTH, STABLE_POINTS, canonical_face
from bench.faces.align import smooth_points
from bench.media import read_clip

WANG = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False, "data_range": 255}
LMD_SIZE = 128
UPSAMPLE = 0  # what TrackSettings' automatic choice gives for GRID's 360x288 frames (short side >= 256 px)


def _cpbd_package() -> Any:
    """The PyPI ``cpbd`` package's ``compute`` module (it imports ``scipy.ndimage.imread``, gone from SciPy)."""
    if not hasattr(scipy.ndimage, "imread"):
        scipy.ndimage.imread = None  # type: ignore[attr-defined]
    return importlib.import_module("cpbd.compute")


class DlibPerFrame:
    """dlib's HOG face detector and 68-point predictor, loaded once (model files of ``face-recognition-models``)."""

    def __init__(self) -> None:
        import dlib

        spec = importlib.util.find_spec("face_recognition_models")
        if spec is None or spec.origin is None:
            raise FileNotFoundError("face-recognition-models is not installed (dlib's 68-point predictor)")
        predictor = Path(spec.origin).parent / "models" / "shape_predictor_68_face_landmarks.dat"
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(predictor))

    def landmarks(self, grey: np.ndarray) -> np.ndarray:
        """68 points ``[68, 2]`` of the most confident face, NaN when the detector finds none."""
        rects, scores, _ = self.detector.run(grey, UPSAMPLE, 0.0)
        if not rects:
            return np.full((68, 2), np.nan)
        best = rects[int(np.argmax(scores))]
        return np.array([(p.x, p.y) for p in self.predictor(grey, best).parts()], np.float64)


def fdbm_frame(grey: np.ndarray) -> float:
    """FDBM of one grey image: the fraction of FFT magnitudes above a thousandth of the largest."""
    magnitude = np.abs(np.fft.fft2(grey.astype(np.float64)))
    return float((magnitude > magnitude.max() / 1000.0).sum() / grey.size)


def aligned_mouth(points: np.ndarray) -> np.ndarray:
    """Mouth points ``[T, 20, 2]`` in the canonical 128-px face (the ``lmd`` variant's space); NaN without a face."""
    found = np.isfinite(points).all(axis=(1, 2))
    stable = smooth_points(points[:, list(STABLE_POINTS)], found)
    target = canonical_face(LMD_SIZE)[list(STABLE_POINTS)]
    out = np.full((len(points), 20, 2), np.nan)
    for t in np.flatnonzero(found):
        out[t] = estimate_transform("similarity", stable[t], target)(points[t, MOUTH])
    return out


def lmd_reference(generated: np.ndarray, reference: np.ndarray) -> float:
    """Chen's mouth landmark distance between two ``[T, 20, 2]`` tracks, mean over frames with both faces."""
    n = min(len(generated), len(reference))
    gen = generated[:n] - generated[:n].mean(axis=1, keepdims=True)
    ref = reference[:n] - reference[:n].mean(axis=1, keepdims=True)
    per_frame = np.linalg.norm(gen - ref, axis=-1).sum(axis=1)
    return float(np.nanmean(per_frame))


def score_pair(generated: Path, reference: Path, dlib_models: DlibPerFrame) -> dict[str, float]:
    """psnr, ssim, cpbd, fdbm and lmd of one video pair, frame by frame with the reference libraries."""
    port = _cpbd_package()
    gen_frames, ref_frames = read_clip(generated).frames, read_clip(reference).frames
    n = min(len(gen_frames), len(ref_frames))
    values: dict[str, list[float]] = {"psnr": [], "ssim": [], "cpbd": [], "fdbm": []}
    gen_points, ref_points = [], []
    for t in range(n):
        g, r = gen_frames[t], ref_frames[t]
        values["psnr"].append(peak_signal_noise_ratio(r, g, data_range=255))
        values["ssim"].append(structural_similarity(g, r, channel_axis=-1, **WANG))
        grey_g, grey_r = cv2.cvtColor(g, cv2.COLOR_RGB2GRAY), cv2.cvtColor(r, cv2.COLOR_RGB2GRAY)
        values["cpbd"].append(port.compute(grey_g))
        values["fdbm"].append(fdbm_frame(grey_g))
        gen_points.append(dlib_models.landmarks(grey_g))
        ref_points.append(dlib_models.landmarks(grey_r))
    result = {name: float(np.mean(v)) for name, v in values.items()}
    result["lmd"] = lmd_reference(aligned_mouth(np.array(gen_points)), aligned_mouth(np.array(ref_points)))
    return result


def reference_loop(pairs: list[tuple[Path, Path]], models: DlibPerFrame | None = None) -> dict[str, dict[str, float]]:
    """Per-video values ``{stem: {metric: value}}`` of ``(generated, reference)`` pairs, frame by frame."""
    models = models or DlibPerFrame()
    return {gen.stem: score_pair(gen, ref, models) for gen, ref in pairs}
