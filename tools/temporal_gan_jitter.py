"""Static vs temporal jitter on silence (Vougioukas et al. 2018, 3.3), measured on a synthgrid benchmark run.

The paper says its static baseline "produces sequences characterized by jitter, which becomes worse in cases where
the audio is silent". Measure: for every synthgrid test clip, the mouth box (the clip's frame-0 landmarks 48-67,
3 px margin) of the generated video; jitter = mean absolute change of its pixels (0-255, RGB) from one frame to
the next, over the silent start (frames before the first word's onset); averaged over clips. Also printed: the
same change during speech, and the mouth's mean absolute difference from the identity frame in silence and in
speech (a closed mouth in silence stays near the identity frame, whose mouth is closed).

    python tools/temporal_gan_jitter.py runs/temporal_gan-table1 [--methods temporal_gan temporal_gan_static]

reads ``RUN/<method>/videos/<utt>.mkv`` and ``RUN/reference/<utt>.mkv`` as ``talkbench run`` wrote them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bench.data import split_records
from bench.media import read_clip
from bench.protocols import load_protocol


def mouth_box(landmarks: np.ndarray, shape: tuple[int, int], margin: int = 3) -> tuple[slice, slice]:
    """Rows and columns around the 20 mouth points (48-67) of ``[68, 2]`` landmarks, clipped to the frame."""
    mouth = landmarks[48:68]
    (x0, y0), (x1, y1) = np.floor(mouth.min(0)).astype(int) - margin, np.ceil(mouth.max(0)).astype(int) + margin
    return slice(max(0, y0), min(shape[0], y1 + 1)), slice(max(0, x0), min(shape[1], x1 + 1))


def clip_figures(frames: np.ndarray, identity: np.ndarray, box: tuple[slice, slice], silent: int) -> dict[str, float]:
    """Jitter (frame-to-frame change) and opening (difference from the identity image) of the mouth, by segment."""
    mouth = frames[:, box[0], box[1]].astype(np.float64)
    change = np.abs(np.diff(mouth, axis=0)).mean(axis=(1, 2, 3))  # change[t]: frame t -> t + 1
    opening = np.abs(mouth - identity[box[0], box[1]]).mean(axis=(1, 2, 3))
    return {"jitter_silence": float(change[: silent - 1].mean()), "jitter_speech": float(change[silent:].mean()),
            "open_silence": float(opening[1:silent].mean()), "open_speech": float(opening[silent:].mean())}  # fmt: skip


def measure(run: Path, methods: list[str], protocol_name: str = "synthgrid-demo") -> dict[str, dict[str, float]]:
    """Mean figures per method (and ``ground_truth`` from the reference clips) over the protocol's test clips."""
    protocol = load_protocol(protocol_name)
    rows: dict[str, list[dict[str, float]]] = {}
    for record in split_records(protocol, "test", None):
        silent = int(float(record.word_timings[0][1]) * protocol.fps)
        if silent < 3:
            continue  # too short a silent start to measure change in
        landmarks = np.load(record.meta["landmarks_path"])[0]
        identity = read_clip(run / "reference" / f"{record.utterance_id}.mkv").frames[0].astype(np.float64)
        box = mouth_box(landmarks, identity.shape[:2])
        for method in ["ground_truth", *methods]:
            folder = "reference" if method == "ground_truth" else f"{method}/videos"
            frames = read_clip(run / folder / f"{record.utterance_id}.mkv").frames
            rows.setdefault(method, []).append(clip_figures(frames, identity, box, silent))
    return {m: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]} | {"clips": float(len(rs))} for m, rs in rows.items()}


def main() -> None:
    """Print the figures as a Markdown table and JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--methods", nargs="+", default=["temporal_gan", "temporal_gan_static"])
    args = parser.parse_args()
    figures = measure(args.run, args.methods)
    keys = ["jitter_silence", "jitter_speech", "open_silence", "open_speech", "clips"]
    print("| video | " + " | ".join(keys) + " |")
    print("|" + "---|" * (len(keys) + 1))
    for method, values in figures.items():
        print(f"| {method} | " + " | ".join(f"{values[k]:.2f}" for k in keys) + " |")
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
