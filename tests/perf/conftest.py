"""Everything under tests/perf is a benchmark: marked ``perf``, excluded from the default run (tox -e perf)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/perf" in str(item.fspath):
            item.add_marker(pytest.mark.perf)


@pytest.fixture(scope="session")
def warm_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder as any earlier talkbench run leaves it for dlib (the saved copy of the face detector, see
    :func:`bench.faces.detect.frontal_detector`) and without face tracks.

    Commands timed on a copy of it start as a user's second run does: start-up and model loading included, the faces
    of every video found anew.
    """
    root = tmp_path_factory.mktemp("models")
    code = "from bench.faces.detect import frontal_detector; frontal_detector()"
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "TALKBENCH_CACHE": str(root)}, check=True)
    assert list(root.glob("dlib/frontal_face_detector-*.svm")) and not (root / "faces").exists()
    return root
