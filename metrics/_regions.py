"""Where an image metric looks: the full frame, its lower half, the aligned face, or the mouth.

``face`` and ``mouth`` come from :mod:`bench.faces` (memoised on the clip, so PSNR, SSIM, CPBD, ... on one clip share
one face pass): ``align(clip, size=128)`` and ``mouth_crops(clip, width=128, height=64)``. Frames where no face is
found (in either clip, for a pair) are excluded and counted, never scored as black crops. The crops have a fixed
size, so the face regions of two clips of different resolutions can be compared; the ``full`` and ``lower-half``
regions of such clips cannot, and raise :class:`~metrics.base.MetricError` naming both sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.media import Clip
from metrics._frames import COLOURS, LENGTH_MISMATCH, check_choice, check_same_size, grey, paired_length
from metrics.base import Item, MetricError

REGIONS = ("full", "lower-half", "face", "mouth")
FACE_SIZE = 128
MOUTH_SIZE = (128, 64)  # width, height (LipNet-style crop)


def check_options(region: str, colour: str, length_mismatch: str | None = None) -> None:
    """``ValueError`` unless the region, colour and (for pairs) length policy are known."""
    check_choice("region", region, REGIONS)
    check_choice("colour", colour, COLOURS)
    if length_mismatch is not None:
        check_choice("length_mismatch", length_mismatch, LENGTH_MISMATCH)


def clip_region(clip: Clip, region: str) -> tuple[np.ndarray, np.ndarray]:
    """The region of every frame, uint8 ``[T, h, w, 3]``, and whether it was found, bool ``[T]``.

    ``lower-half`` is rows ``H // 2`` to the end (the middle row is kept for odd heights).

    Example:
        >>> frames, found = clip_region(Clip(np.zeros((2, 5, 4, 3), np.uint8)), "lower-half")
        >>> frames.shape, found.tolist()
        ((2, 3, 4, 3), [True, True])
    """
    check_choice("region", region, REGIONS)
    if region in ("full", "lower-half"):
        return _whole_frames(clip, region, "rgb"), np.ones(clip.num_frames, bool)
    try:
        from bench import faces
    except ImportError as exc:  # pragma: no cover - bench.faces is part of the package
        raise MetricError(f"region {region!r} needs bench.faces, which cannot be imported: {exc}") from exc
    if region == "face":
        aligned = faces.align(clip, size=FACE_SIZE)
        return aligned.crops, np.asarray(aligned.found, bool)
    crops, found = faces.mouth_crops(clip, width=MOUTH_SIZE[0], height=MOUTH_SIZE[1])
    return crops, np.asarray(found, bool)


@dataclass(frozen=True)
class RegionFrames:
    """The frames a metric scores, and how many were left out.

    Attributes:
        generated: uint8 ``[N, h, w, 3]`` (RGB) or ``[N, h, w]`` (grey).
        reference: the same for the reference, or None for no-reference metrics.
        region: the region name.
        no_face: frames excluded because no face was found (face and mouth regions only).
        truncated: frames dropped because the clips differ in length (``length_mismatch="truncate"``).
    """

    generated: np.ndarray
    reference: np.ndarray | None
    region: str
    no_face: int = 0
    truncated: int = 0

    @property
    def frames(self) -> int:
        """Number of frames (or frame pairs) scored."""
        return int(self.generated.shape[0])

    def extras(self) -> dict[str, float]:
        """Counts recorded beside the score."""
        extras = {"frames_truncated": float(self.truncated)} if self.reference is not None else {}
        if self.region in ("face", "mouth"):
            extras["frames_no_face"] = float(self.no_face)
        return extras


def _whole_frames(clip: Clip, region: str, colour: str) -> np.ndarray:
    """The ``full`` or ``lower-half`` region in ``colour``.

    Grey comes from the clip's memoised luma: one conversion for CPBD, FDBM, grey PSNR and SSIM and the face tracker.
    """
    frames = clip.grey() if colour == "grey" else clip.frames
    return frames if region == "full" else frames[:, clip.size[0] // 2 :]


def _colour(frames: np.ndarray, colour: str) -> np.ndarray:
    check_choice("colour", colour, COLOURS)
    return grey(frames) if colour == "grey" else frames


def _no_frames(what: str, region: str, total: int) -> MetricError:
    return MetricError(f"{what}: no face found in any of {total} frames (region {region!r})")


def single_region(clip: Clip, region: str, colour: str = "grey") -> RegionFrames:
    """The region of one clip's frames where it was found, for no-reference metrics (options as :func:`paired_regions`)."""
    if region in ("full", "lower-half"):  # every frame counts
        return RegionFrames(_whole_frames(clip, region, colour), None, region)
    frames, found = clip_region(clip, region)
    if not found.any():
        raise _no_frames(clip.name, region, clip.num_frames)
    return RegionFrames(_colour(_kept(frames, found), colour), None, region, no_face=int((~found).sum()))


def _kept(frames: np.ndarray, found: np.ndarray) -> np.ndarray:
    """The frames where ``found``; the frames themselves (no copy of the clip) when every frame is kept."""
    return frames if found.all() else frames[found]


def paired_regions(item: Item, region: str, colour: str = "rgb", length_mismatch: str = "truncate") -> RegionFrames:
    """The region of generated and reference frames, paired frame by frame, for full-reference metrics.

    ``region``, ``colour`` and ``length_mismatch`` are a metric's options, checked once when it was built
    (:func:`check_options`), not on every clip.

    Raises:
        MetricError: no reference, different frame sizes (``full``/``lower-half``), different lengths with
            ``length_mismatch="error"``, or no frame where both clips show a face.
    """
    what = item.video_id
    if item.reference is None:
        raise MetricError(f"{what}: no reference clip")
    generated, reference = item.generated, item.reference
    if region in ("full", "lower-half"):
        check_same_size(generated.size, reference.size, what)
    n = paired_length(generated.num_frames, reference.num_frames, length_mismatch, what)
    truncated = max(generated.num_frames, reference.num_frames) - n
    if region in ("full", "lower-half"):  # every frame counts: no face masks (a per-call cost on short clips)
        gen, ref = _whole_frames(generated, region, colour), _whole_frames(reference, region, colour)
        return RegionFrames(gen[:n] if truncated else gen, ref[:n] if truncated else ref, region, truncated=truncated)
    gen_frames, gen_found = clip_region(generated, region)
    ref_frames, ref_found = clip_region(reference, region)
    found = gen_found[:n] & ref_found[:n]
    if not found.any():
        raise _no_frames(what, region, n)
    return RegionFrames(
        _colour(_kept(gen_frames[:n], found), colour),
        _colour(_kept(ref_frames[:n], found), colour),
        region,
        no_face=int((~found).sum()),
        truncated=truncated,
    )
