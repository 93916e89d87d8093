"""Everything under tests/perf is a benchmark: marked ``perf``, excluded from the default run (tox -e perf)."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/perf" in str(item.fspath):
            item.add_marker(pytest.mark.perf)


@pytest.fixture(scope="session", autouse=True)
def compiled_bytecode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Child processes find talkbench's modules compiled, as a user's second run does.

    tox sets ``PYTHONDONTWRITEBYTECODE`` to keep the tree clean; a timed command inheriting it would compile every
    talkbench module it imports on each start (~0.05 s of a 4 s ``evaluate``), which no user's machine repeats. For
    the session the children read their bytecode from a temporary ``PYTHONPYCACHEPREFIX``, compiled first.
    """
    prefix = tmp_path_factory.mktemp("pycache")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
        patch.setenv("PYTHONPYCACHEPREFIX", str(prefix))
        subprocess.run([sys.executable, "-m", "compileall", "-q", "bench", "metrics", "baselines"], cwd=REPO, check=True)
        assert list(prefix.rglob("cli/__init__*.pyc")), f"no bytecode written under {prefix}"
        yield prefix


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
