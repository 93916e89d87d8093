"""Every ``Example:`` in the packages' docstrings runs (STYLE rule 15), one test per module."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

PACKAGES = ("bench", "metrics", "baselines")
SKIP = {"bench.__main__"}  # runs the CLI when imported
NUMPY_DEFAULTS = {"precision": 8, "threshold": 1000, "edgeitems": 3, "linewidth": 75, "suppress": False,
                  "floatmode": "maxprec", "sign": "-"}  # fmt: skip


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        names.append(package)
        names += [m.name for m in pkgutil.walk_packages(root.__path__, prefix=f"{package}.") if m.name not in SKIP]
    return sorted(names)


@pytest.mark.parametrize("module_name", _modules())
def test_docstring_examples(module_name: str) -> None:
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    with np.printoptions(**NUMPY_DEFAULTS):  # some imported library changes numpy's print options globally
        for test in finder.find(module, module_name):
            runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {module_name}:\n" + "".join(report)
