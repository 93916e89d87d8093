"""Anchor rows: trivial "methods" every leaderboard needs beside the real ones, for metric sanity.

``ground_truth`` is the real video (the upper bound), ``static_frame`` the identity image held still (no lip
motion at all), ``shifted_audio`` the real video with its audio moved by a known number of frames (perfect
lips, broken sync). None of them trains: ``fit`` returns at once.
"""

from __future__ import annotations

from baselines.anchors.rows import GroundTruth, ShiftedAudio, StaticFrame

__all__ = ["GroundTruth", "ShiftedAudio", "StaticFrame"]
