"""Repository-level pytest settings: docstring examples of the packages run with the tests (--doctest-modules)."""

collect_ignore = ["bench/__main__.py", "tools", "build", "runs", "leaderboards"]
