"""Motion of a synthetic face: mouth from the speech, eye blinks at known frames, head jitter, and rendering.

Mouth opening per frame = phone-class target (open vowels wide, bilabials shut) x a function of the frame's audio
energy, lightly smoothed; frames mostly inside /p b m/ are closed. Blinks close the upper eyelids onto the lower
ones over 3-5 frames, so the eye aspect ratio (EAR) drops to about a sixth of its open value.
"""

from __future__ import annotations

import cv2
import numpy as np

from bench.data.synth_face import Identity, MeshWarper, polygon_mask
from bench.data.synth_speech import BILABIALS, Speech, phone_shape

_CAVITY = np.array([70.0, 22.0, 28.0])
_TEETH = np.array([228.0, 222.0, 210.0])


def frame_energy(audio: np.ndarray, sample_rate: int, fps: float, num_frames: int) -> np.ndarray:
    """RMS of the audio under each video frame ``[k / fps, (k + 1) / fps)``, float64 ``[T]``."""
    hop = sample_rate / fps
    out = np.zeros(num_frames)
    for k in range(num_frames):
        seg = audio[int(round(k * hop)) : int(round((k + 1) * hop))]
        out[k] = float(np.sqrt(np.mean(np.square(seg, dtype=np.float64)))) if seg.size else 0.0
    return out


def mouth_track(speech: Speech, fps: float, num_frames: int, articulation: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame mouth opening in [0, 1] and lip spreading in [-1, 1] driven by phones and audio energy."""
    target = np.zeros(num_frames)
    width = np.zeros(num_frames)
    bilabial = np.zeros(num_frames)
    for phone, start, end in speech.phones:
        shape_open, spread = phone_shape(phone)
        for k in range(max(int(start * fps), 0), min(int(np.ceil(end * fps)), num_frames)):
            overlap = min(end, (k + 1) / fps) - max(start, k / fps)
            if overlap <= 0:
                continue
            share = overlap * fps
            target[k] += share * shape_open
            width[k] += share * spread
            bilabial[k] += share * (phone in BILABIALS)
    energy = frame_energy(speech.audio, 16000, fps, num_frames)
    loud = np.clip(energy / max(np.percentile(energy, 95), 1e-6), 0, 1)
    opening = target * (0.25 + 0.75 * np.sqrt(loud)) * articulation
    kernel = np.array([0.2, 0.6, 0.2])
    opening = np.convolve(np.pad(opening, 1, mode="edge"), kernel, mode="valid")
    width = np.convolve(np.pad(width, 1, mode="edge"), kernel, mode="valid")
    opening[bilabial >= 0.5] = 0.0
    return np.clip(opening, 0, 1), np.clip(width, -1, 1)


def blink_schedule(rng: np.random.Generator, num_frames: int) -> list[tuple[int, int]]:
    """One or two blinks ``(onset_frame, duration_frames)``, 3-5 frames long, at least 8 frames apart."""
    count = 1 if rng.random() < 0.65 or num_frames < 30 else 2
    blinks: list[tuple[int, int]] = []
    for _ in range(50):
        if len(blinks) == count:
            break
        duration = int(rng.integers(3, 6))
        onset = int(rng.integers(2, max(num_frames - duration - 2, 3)))
        if all(onset + duration + 8 <= b0 or b0 + d0 + 8 <= onset for b0, d0 in blinks):
            blinks.append((onset, duration))
    return sorted(blinks)


def closure_track(blinks: list[tuple[int, int]], num_frames: int) -> np.ndarray:
    """Eyelid closure per frame in [0, 1]: a rounded pulse over each blink, fully shut in its middle."""
    closure = np.zeros(num_frames)
    for onset, duration in blinks:
        k = np.arange(duration)
        pulse = np.minimum(1.0, 1.6 * np.sin(np.pi * (k + 0.5) / duration) ** 0.7)
        end = min(onset + duration, num_frames)
        closure[onset:end] = np.maximum(closure[onset:end], pulse[: end - onset])
    return closure


def head_poses(rng: np.random.Generator, num_frames: int, fps: float, size: int, centre: np.ndarray) -> np.ndarray:
    """Smooth small similarity transforms ``[T, 2, 3]``: rotation about ``centre``, scale and shift."""
    t = np.arange(num_frames) / fps
    params = []
    for amplitude in (1.5, 0.012, 0.012 * size, 0.008 * size):  # degrees, scale, x and y shift in pixels
        freqs, phases = rng.uniform(0.15, 0.7, 2), rng.uniform(0, 2 * np.pi, 2)
        params.append(amplitude * 0.5 * np.sin(2 * np.pi * freqs[:, None] * t + phases[:, None]).sum(0))
    poses = np.zeros((num_frames, 2, 3))
    for k in range(num_frames):
        pose = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), float(params[0][k]), 1 + params[1][k])
        pose[:, 2] += (params[2][k], params[3][k])
        poses[k] = pose
    return poses


def local_landmarks(neutral: np.ndarray, opening: np.ndarray, width: np.ndarray, closure: np.ndarray) -> np.ndarray:
    """Landmarks ``[T, 68, 2]`` before head motion: jaw and lips moved by the mouth, eyelids by blinks."""
    base = neutral.astype(np.float64)
    mouth_w = np.linalg.norm(base[54] - base[48])
    drop = np.zeros(68)
    drop[[65, 66, 67, 55, 56, 57, 58, 59]] = [0.9, 1.0, 0.9, 0.75, 0.95, 1.0, 0.95, 0.75]
    drop[[48, 54, 60, 64]] = 0.3
    drop[[4, 5, 6, 7, 8, 9, 10, 11, 12]] = [0.1, 0.3, 0.55, 0.75, 0.85, 0.75, 0.55, 0.3, 0.1]
    raise_ = np.zeros(68)
    raise_[[61, 62, 63, 50, 51, 52]] = [0.8, 1.0, 0.8, 0.6, 0.7, 0.6]
    spread = np.zeros(68)
    spread[[48, 60]], spread[[54, 64]] = -1.0, 1.0
    spread[[49, 59, 61, 67]], spread[[53, 55, 63, 65]] = -0.5, 0.5
    o = opening[:, None]
    pts = np.repeat(base[None], len(opening), axis=0)
    pts[..., 1] += o * (0.42 * mouth_w * drop - 0.06 * mouth_w * raise_)
    pts[..., 0] += width[:, None] * 0.07 * mouth_w * spread
    c = closure[:, None, None] * 0.9
    for upper, lower in (((37, 38), (41, 40)), ((43, 44), (47, 46))):
        up, lo = base[list(upper)], base[list(lower)]
        pts[:, list(upper)] = up + c * (lo - up)
        pts[:, list(lower)] = lo + c * 0.06 * (up - lo)
    pts[:, 17:27, 1] += closure[:, None] * 0.02 * mouth_w
    return pts


def pose_points(points: np.ndarray, poses: np.ndarray) -> np.ndarray:
    """Apply per-frame 2x3 transforms ``[T, 2, 3]`` to points ``[T, K, 2]``."""
    return np.einsum("tij,tkj->tki", poses[:, :, :2], points) + poses[:, None, :, 2]


def render_frames(identity: Identity, local: np.ndarray, poses: np.ndarray, closure: np.ndarray) -> np.ndarray:
    """Draw the frames uint8 ``[T, H, W, 3]``: mesh warp, the mouth's inside, closed eyelids and the head pose."""
    size = identity.image.shape[0]
    warper = MeshWarper(identity.landmarks, size)
    posed = pose_points(local, poses)
    frames = np.empty((len(local), size, size, 3), np.uint8)
    for k in range(len(local)):
        frame = warper.warp(identity.image, local[k], poses[k]).astype(np.float32)
        if closure[k] > 0:
            _paint_eyelids(frame, posed[k], float(closure[k]))
        frames[k] = _paint_mouth(frame, posed[k])
    return frames


def _paint_eyelids(frame: np.ndarray, points: np.ndarray, closure: float) -> None:
    """Cover what is left of each closing eye with eyelid skin and draw the lash line (in place)."""
    size = frame.shape[0]
    line = max(1, int(round(size / 128)))
    for eye, brow in ((slice(36, 42), [19, 20]), (slice(42, 48), [23, 24])):
        pts = points[eye]
        width = float(np.linalg.norm(pts[3] - pts[0]))
        above = (pts[[1, 2]].mean(0) + points[brow].mean(0)) / 2
        below = pts[[4, 5]].mean(0) + (0.0, 0.3 * width)
        skin = np.mean([_patch_mean(frame, above), _patch_mean(frame, below)], axis=0)
        lid = polygon_mask(pts, size, 0)
        lid = cv2.dilate(lid, np.ones((3, 3), np.uint8))[..., None] * (0.9 * closure)
        frame *= 1 - lid
        frame += skin * lid
        lashes = np.zeros((size, size), np.uint8)
        lower = np.round(pts[[0, 5, 4, 3]] * 16).astype(np.int32)
        cv2.polylines(lashes, [lower], False, 255, line, cv2.LINE_AA, shift=4)
        dark = (lashes.astype(np.float32) / 255)[..., None] * (0.7 * closure)
        frame *= 1 - dark
        frame += skin * 0.3 * dark


def _patch_mean(frame: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Mean colour of the 3x3 pixels around ``centre`` (x, y)."""
    x, y = np.clip(np.round(centre).astype(int), 1, frame.shape[0] - 2)
    return frame[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).mean(0)


def _paint_mouth(frame: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Fill the inner-lip polygon with a dark cavity and a band of upper teeth, as far as the lips are apart."""
    size = frame.shape[0]
    inner = points[60:68]
    gap = float(np.mean(np.linalg.norm(inner[[1, 2, 3]] - inner[[7, 6, 5]], axis=1)))
    if gap >= 0.4:
        x0, y0 = np.maximum(np.floor(inner.min(0)).astype(int) - 2, 0)
        x1, y1 = np.minimum(np.ceil(inner.max(0)).astype(int) + 3, size)
        if x1 > x0 and y1 > y0:
            local = inner - (x0, y0)
            band = min(gap * 0.3, 0.05 * size)
            teeth_pts = np.concatenate([local[0:5], local[3:0:-1] + [0.0, band]])  # upper lip edge, lowered copy
            cavity = polygon_mask(local, (y1 - y0, x1 - x0), 0)[..., None] * min(1.0, (gap - 0.4) / 1.2)
            teeth = polygon_mask(teeth_pts, (y1 - y0, x1 - x0), 0)[..., None] * cavity
            patch = frame[y0:y1, x0:x1]
            patch = patch * (1 - cavity) + _CAVITY * cavity
            frame[y0:y1, x0:x1] = patch * (1 - teeth) + _TEETH * teeth
    return np.clip(np.round(frame), 0, 255).astype(np.uint8)
