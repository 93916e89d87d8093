"""The one check of a random seed, shared by evaluation, benchmarks, the synthetic corpus and the baselines.

Ground floor: imports nothing of talkbench.
"""

from __future__ import annotations

from typing import Any


def check_seed(seed: Any) -> int:
    """``seed`` if it is an integer >= 0 (what numpy's generators take), else a ValueError saying so.

    Example:
        >>> check_seed(3)
        3
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return seed
