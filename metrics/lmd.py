"""LMD: landmark distance between the mouths of the generated and the reference video (lower is better).

* ``lmd`` (Chen et al. ECCV 2018 / ATVGnet, ``evaluation_matrix.py``; SPECS D, M3): dlib 68 landmarks, the 20 mouth
  points 48-67, each set minus its own mouth centroid, per frame the **sum** over points of the Euclidean distance,
  then the mean over frames. Chen compared frames of equal size (64 px crops); talkbench maps both videos' landmarks
  into the same canonical face at 128x128 px (:func:`bench.faces.align`'s per-frame similarity transform) so that
  values do not depend on each method's output resolution, framing or head pose. Values are in pixels of that
  128-px aligned face.
* ``lmd-frame``: the same distance in the generated video's pixel coordinates (reference landmarks scaled by the
  ratio of frame sizes, as Vougioukas' fae scales by the width ratio); depends on the output resolution.
* ``lmd-px`` (the ViCo kit): raw pixel coordinates without alignment or centring, per frame the mean absolute
  coordinate difference over the 20 mouth points (an L1 distance), mean over frames; reference scaled to the
  generated frame size when the sizes differ.

The first ``min(T_generated, T_reference)`` frames are compared; frames without a face on either side are excluded
and counted (``extras``: ``excluded``, ``coverage``); no comparable frame at all gives a failed score with a reason.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np

from bench.faces import MOUTH, FaceTrack, TrackSettings, alignment_transforms, track, track_soon, transform_points
from bench.media import Clip
from metrics import variants
from metrics.base import Item, Metric, MetricError, Need, Score

Space = Literal["aligned", "frame"]
Distance = Literal["l2-sum", "l1-mean"]


def landmark_distance(
    generated: np.ndarray, reference: np.ndarray, *, centre: bool = True, distance: Distance = "l2-sum"
) -> np.ndarray:
    """Per-frame distance float64 ``[T]`` between two point tracks ``[T, N, 2]`` (NaN where either has NaN).

    Args:
        generated: points of the generated video.
        reference: points of the reference video, same shape.
        centre: subtract each frame's centroid from its points first (Chen's mouth-centroid normalisation).
        distance: ``"l2-sum"``: sum over points of the Euclidean distance (Chen); ``"l1-mean"``: mean absolute
            coordinate difference over points and axes (the ViCo kit).
    """
    gen, ref = np.asarray(generated, np.float64), np.asarray(reference, np.float64)
    if gen.shape != ref.shape or gen.ndim != 3 or gen.shape[-1] != 2:
        raise ValueError(f"landmark_distance needs two [T, N, 2] arrays of one shape, got {gen.shape}, {ref.shape}")
    if centre:
        gen = gen - gen.mean(axis=1, keepdims=True)
        ref = ref - ref.mean(axis=1, keepdims=True)
    if distance == "l2-sum":
        return np.linalg.norm(gen - ref, axis=-1).sum(axis=1)
    if distance == "l1-mean":
        return np.abs(gen - ref).mean(axis=(1, 2))
    raise ValueError(f"unknown landmark distance {distance!r}; use 'l2-sum' or 'l1-mean'")


def _mouth_points(clip: Clip, face_track: FaceTrack, space: Space, size: int, scale: np.ndarray) -> np.ndarray:
    """Mouth points ``[T, 20, 2]`` in the requested coordinate space."""
    mouth = face_track.landmarks[:, MOUTH].astype(np.float64)
    if space == "aligned":
        transforms, _ = alignment_transforms(clip, size)
        return transform_points(mouth, transforms)
    return mouth * scale


@variants(
    {
        "lmd": {"space": "aligned", "size": 128, "centre": True, "distance": "l2-sum"},
        "lmd-frame": {"space": "frame", "centre": True, "distance": "l2-sum"},
        "lmd-px": {"space": "frame", "centre": False, "distance": "l1-mean"},
    }
)
class LMD(Metric):
    """Landmark distance of the mouth (20 points, dlib 68) between generated and reference frames.

    Inputs: ``Item.generated`` and ``Item.reference`` frames uint8 ``[T, H, W, 3]``. Lower is better; 0 for a
    video compared with itself.

    Example:
        >>> import numpy as np
        >>> ref = np.zeros((1, 20, 2)); gen = ref.copy(); gen[0, 0] = (3.0, 4.0)
        >>> float(landmark_distance(gen, ref, centre=False)[0])
        5.0
    """

    name: ClassVar[str] = "lmd"
    higher_is_better: ClassVar[bool | None] = False
    needs: ClassVar[frozenset[Need]] = frozenset({Need.REFERENCE})
    score_range: ClassVar[tuple[float | None, float | None]] = (0.0, None)

    def __init__(
        self,
        space: Space = "aligned",
        size: int = 128,
        centre: bool = True,
        distance: Distance = "l2-sum",
        device: str = "cpu",
    ) -> None:
        super().__init__(device)
        if space not in ("aligned", "frame"):
            raise ValueError(f"LMD space must be 'aligned' or 'frame', got {space!r}")
        if distance not in ("l2-sum", "l1-mean"):
            raise ValueError(f"LMD distance must be 'l2-sum' or 'l1-mean', got {distance!r}")
        if size < 8:
            raise ValueError(f"LMD size must be at least 8 px, got {size}")
        self.space = space
        self.size = size
        self.centre = centre
        self.distance = distance

    def prepare(self, item: Item) -> None:
        """Start both videos' face tracks in the helper process (threaded evaluation)."""
        for clip in (item.generated, item.reference):
            if clip is not None:
                track_soon(clip, TrackSettings())

    def score(self, item: Item) -> Score:
        """Track both videos, compare their mouth landmarks frame by frame."""
        gen_clip, ref_clip = item.generated, item.reference
        if ref_clip is None:  # guarded by ``needs``; kept for direct calls
            raise MetricError(f"{item.video_id}: LMD needs a reference video")
        gen_track, ref_track = track(gen_clip, TrackSettings()), track(ref_clip, TrackSettings())
        for clip, face_track, role in ((gen_clip, gen_track, "generated"), (ref_clip, ref_track, "reference")):
            if not face_track.found.any():
                raise MetricError(f"{item.video_id}: no face in the {role} video {clip.name}: "
                                  f"{face_track.describe_missing()}")  # fmt: skip
        (gh, gw), (rh, rw) = gen_clip.size, ref_clip.size
        ref_scale = np.array([gw / rw, gh / rh])
        gen = _mouth_points(gen_clip, gen_track, self.space, self.size, np.ones(2))
        ref = _mouth_points(ref_clip, ref_track, self.space, self.size, ref_scale)
        n = min(len(gen), len(ref))
        per_frame = landmark_distance(gen[:n], ref[:n], centre=self.centre, distance=self.distance)
        valid = np.isfinite(per_frame)
        if not valid.any():
            raise MetricError(f"{item.video_id}: no frame has a face in both the generated and the reference video")
        extras = {
            "excluded": float(n - valid.sum()),
            "coverage": float(valid.mean()),
            "length_difference": float(len(gen) - len(ref)),
        }
        return Score(float(per_frame[valid].mean()), int(valid.sum()), extras=extras)
