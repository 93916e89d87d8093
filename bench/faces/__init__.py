"""Face analysis shared by every face metric: detection, 68 landmarks, tracking, alignment, crops, embeddings.

Each analysis is computed once per clip (memoised on the :class:`~bench.media.Clip`) and the expensive ones
(tracks, embeddings) are cached on disk keyed by the clip's content hash and the settings. A frame without a face is
recorded (``found`` False, NaN values, a reason), never dropped.
"""

from __future__ import annotations

from bench.faces.align import AlignedFaces, align, alignment_transforms, canonical_face, similarity_fits, transform_points
from bench.faces.crops import face_track_crops, mouth_crops
from bench.faces.detect import detect_faces, models_dir
from bench.faces.embedding import EMBED_DIM, FaceNotFoundError, embed, embed_image
from bench.faces.landmarks import LEFT_EYE, MOUTH, RIGHT_EYE, STABLE_POINTS, eye_aspect_ratio, mouth_opening, predict_landmarks
from bench.faces.template import MEAN_FACE
from bench.faces.tracking import NO_FACE, FaceTrack, TrackSettings, track, track_soon

__all__ = [
    "EMBED_DIM",
    "LEFT_EYE",
    "MEAN_FACE",
    "MOUTH",
    "NO_FACE",
    "RIGHT_EYE",
    "STABLE_POINTS",
    "AlignedFaces",
    "FaceNotFoundError",
    "FaceTrack",
    "TrackSettings",
    "align",
    "alignment_transforms",
    "canonical_face",
    "detect_faces",
    "embed",
    "embed_image",
    "eye_aspect_ratio",
    "face_track_crops",
    "models_dir",
    "mouth_crops",
    "mouth_opening",
    "predict_landmarks",
    "similarity_fits",
    "track",
    "track_soon",
    "transform_points",
]
