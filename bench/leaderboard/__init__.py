"""Leaderboards built from stored runs (never typed by hand), with published numbers beside them as reported rows."""

from __future__ import annotations

from bench.leaderboard.model import Cell, Column, Leaderboard, Row, build_leaderboard
from bench.leaderboard.render import render, write_all

__all__ = ["Cell", "Column", "Leaderboard", "Row", "build_leaderboard", "render", "write_all"]
