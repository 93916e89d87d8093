"""pytest plugin for model CI: fail a test when a run regresses against a stored baseline run.

Enable with ``-p bench.pytest_plugin`` (or ``pytest_plugins = ["bench.pytest_plugin"]`` in a conftest), then::

    pytest --talkbench-baseline runs/baseline --talkbench-tolerance psnr=0.3

    def test_quality(talkbench_regression):
        run_dir = evaluate_my_model()          # writes a talkbench run directory
        talkbench_regression(run_dir)         # fails, listing the metrics that regressed
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--talkbench-baseline`` and ``--talkbench-tolerance``."""
    group = parser.getgroup("talkbench")
    group.addoption("--talkbench-baseline", default=None, help="baseline talkbench run directory to compare against")
    group.addoption("--talkbench-tolerance", default=None, help="per-metric tolerances, e.g. psnr=0.5,ssim=0.01")


@pytest.fixture
def talkbench_regression(request: pytest.FixtureRequest) -> Callable[[str | Path], None]:
    """A checker: call it with a run directory; it fails the test if any metric regressed against the baseline."""
    from bench.compare import compare_runs, format_comparisons, parse_tolerances

    baseline = request.config.getoption("--talkbench-baseline")
    if baseline is None:
        pytest.skip("no --talkbench-baseline given")
    tolerances = parse_tolerances(request.config.getoption("--talkbench-tolerance"))

    def check(run_dir: str | Path) -> None:
        results = compare_runs(baseline, run_dir, tolerances)
        regressed = [r.metric for r in results if r.regressed]
        if regressed:
            pytest.fail(f"talkbench regression in {', '.join(regressed)}:\n{format_comparisons(results)}", pytrace=False)

    return check
