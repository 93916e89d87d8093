"""Everything under tests/perf is a benchmark: marked ``perf``, excluded from the default run (tox -e perf)."""

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/perf" in str(item.fspath):
            item.add_marker(pytest.mark.perf)
