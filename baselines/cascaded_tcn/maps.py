"""Stage 2's input and output pixels: the synthetic facial map and the paste-back into the template (section 2.2).

The facial map of a frame (Fig. 3b) has two channels at the renderer's size: the landmark sketch (the template's 68
landmarks with the 29 talking-related ones replaced by the generated ones, drawn as polylines of the face parts)
and the Canny edges of the template frame, cleared inside the lower face (CHOICE: otherwise the template's own
mouth edges would contradict the generated mouth). With ``condition_on_template`` three more channels hold the
template frame with the lower face blanked. The lower face is the convex hull of jaw points 3-13 and nose point 33
of both the template's and the generated landmarks, dilated by 1/32 of the size. The rendered face replaces the
template inside that region, feathered over 1/32 of the size (CHOICE: the rest of the frame is the template's own).
"""

from __future__ import annotations

import cv2
import numpy as np

from baselines.cascaded_tcn.config import CascadedTCNConfig

# Face parts drawn in the sketch: (first point, last point, closed).
PARTS = ((0, 16, False), (17, 21, False), (22, 26, False), (27, 30, False), (30, 35, True), (36, 41, True),
         (42, 47, True), (48, 59, True), (60, 67, True))  # fmt: skip
LOWER_FACE = (*range(3, 14), 33)


def map_channels(config: CascadedTCNConfig) -> int:
    """Channels of the facial map: sketch and edges, plus the masked template's RGB when conditioned on it."""
    return 2 + 3 * bool(config.condition_on_template)


def lower_face_mask(landmark_sets: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """float32 ``[H, W]`` mask (1 inside) of the lower face of every ``[68, 2]`` set given, dilated by ``H / 32``."""
    mask = np.zeros(shape, np.uint8)
    for points in landmark_sets:
        hull = cv2.convexHull(np.round(points[list(LOWER_FACE)] * 16).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1, cv2.LINE_8, shift=4)
    grow = max(1, shape[0] // 32)
    return cv2.dilate(mask, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)).astype(np.float32)


def sketch(points: np.ndarray, size: int) -> np.ndarray:
    """float32 ``[size, size]`` in {0, 1}: the face parts of ``[68, 2]`` landmarks (pixels at ``size``) as lines."""
    canvas = np.zeros((size, size), np.uint8)
    width = max(1, size // 256)
    for first, last, closed in PARTS:
        line = np.round(points[first : last + 1] * 16).astype(np.int32)
        cv2.polylines(canvas, [line], closed, 1, width, cv2.LINE_8, shift=4)
    return canvas.astype(np.float32)


def facial_map(
    frame: np.ndarray, template_points: np.ndarray, points: np.ndarray, config: CascadedTCNConfig
) -> tuple[np.ndarray, np.ndarray]:
    """The facial map float32 ``[C, S, S]`` of one template frame and the lower-face mask ``[S, S]``.

    Args:
        frame: the template frame uint8 ``[S, S, 3]``, already at the renderer's size.
        template_points: the template's 68 landmarks ``[68, 2]`` at that size.
        points: the 68 landmarks to draw (template with the talking-related points replaced) at that size.
        config: the method's config (Canny thresholds, template conditioning).
    """
    size = config.render_size
    mask = lower_face_mask([template_points, points], (size, size))
    edges = cv2.Canny(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), config.canny_low, config.canny_high)
    channels = [sketch(points, size), edges.astype(np.float32) / 255.0 * (1.0 - mask)]
    if config.condition_on_template:
        channels += list((frame.astype(np.float32) / 255.0 * (1.0 - mask)[..., None]).transpose(2, 0, 1))
    return np.stack(channels), mask


def paste(template: np.ndarray, rendered: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The template frame uint8 ``[H, W, 3]`` with ``rendered`` (same size) inside the feathered ``mask`` ``[H, W]``."""
    size = template.shape[0]
    sigma = max(0.5, size / 64)
    soft = np.clip(cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma) * 1.5, 0.0, 1.0)[..., None]
    out = template.astype(np.float32) * (1.0 - soft) + rendered.astype(np.float32) * soft
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
