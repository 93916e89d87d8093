"""CPU timings behind the perf suite's ratios: the best of several calls, the two sides measured in turns."""

from __future__ import annotations

import time
from collections.abc import Callable


def cpu_seconds(function: Callable[[], object], rounds: int) -> float:
    """Best CPU time of ``rounds`` calls."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        function()
        best = min(best, time.process_time() - start)
    return best


def best_in_turns(
    ours: Callable[[], object], theirs: Callable[[], object], rounds: tuple[int, int], turns: int = 5
) -> tuple[float, float]:
    """Best CPU seconds of each side over ``turns`` alternations of ``rounds`` calls each (ours, theirs).

    A busy spell on a shared machine then slows calls of both sides rather than all the calls of one, so that the
    ratio of the two bests moves less from run to run.
    """
    mine, other = float("inf"), float("inf")
    for _ in range(turns):
        mine = min(mine, cpu_seconds(ours, rounds[0]))
        other = min(other, cpu_seconds(theirs, rounds[1]))
    return mine, other
