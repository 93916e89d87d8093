"""talkbench: evaluation and benchmarks for audio-driven talking-face generation.

Ground floor (imports nothing of ours above it): :mod:`bench.media`, :mod:`bench.audio`, :mod:`bench.faces` and the
small utilities :mod:`bench.registry` and :mod:`bench.cache`. The metric plugins (``metrics``) and the baselines
(``baselines``) stand on the ground floor only; the harness (``bench.data``, ``bench.run``, ``bench.leaderboard``,
``bench.cli``) stands on everything.
"""

from __future__ import annotations

__version__ = "0.1.0"
