"""DESIGN.md's layering, enforced from the imports of every module (function-level imports included).

Ground floor: bench.media, bench.faces, bench.audio and the utilities they and the plugins share (bench.io,
bench.cache, bench.weights, bench.registry, bench.helper_process, bench.devices, bench.seeds); they import nothing of
ours above them. metrics and baselines stand on the ground floor only, never on each other and never on the harness. The harness
(everything else in bench) may import anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GROUND = (
    "bench.media", "bench.faces", "bench.audio", "bench.io", "bench.cache", "bench.weights", "bench.registry",
    "bench.helper_process", "bench.devices", "bench.seeds",
)  # fmt: skip


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def imported_modules(source: str, module: str) -> list[tuple[int, str]]:
    """``(line, module)`` for every import of the source, ``from bench import weights`` read as ``bench.weights``."""
    found = []
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found += [(node.lineno, f"{base}.{alias.name}" if base in ("bench", "metrics", "baselines") else base)
                      for alias in node.names]  # fmt: skip
    return found


def allowed(module: str, target: str) -> bool:
    """Whether ``module`` may import ``target`` under DESIGN.md's layering."""
    if not _within(target, ("bench", "metrics", "baselines")):
        return True  # the standard library and third-party packages
    if _within(module, GROUND):
        return _within(target, GROUND)
    if _within(module, ("metrics",)):
        return _within(target, (*GROUND, "metrics"))
    if _within(module, ("baselines",)):
        return _within(target, (*GROUND, "baselines"))
    return True  # the harness


def violations(module: str, source: str) -> list[str]:
    """The imports of ``module`` that break the layering, as ``module:line -> target``."""
    return [f"{module}:{line} -> {target}" for line, target in imported_modules(source, module)
            if not allowed(module, target)]  # fmt: skip


def _modules() -> list[tuple[str, Path]]:
    out = []
    for top in ("bench", "metrics", "baselines"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out.append((".".join(parts[:-1] if parts[-1] == "__init__" else parts), path))
    return out


def test_the_house_keeps_its_layers():
    found = [v for module, path in _modules() for v in violations(module, path.read_text())]
    assert not found, "imports across DESIGN.md's layers:\n" + "\n".join(found)


def test_the_check_catches_wrong_imports():
    assert violations("baselines.fake", "import metrics\n") == ["baselines.fake:1 -> metrics"]
    assert violations("metrics.fake", "def f():\n    from bench.run import run_benchmark\n") == [
        "metrics.fake:2 -> bench.run"
    ]
    assert violations("bench.faces.fake", "from bench import evaluate\n") == ["bench.faces.fake:1 -> bench.evaluate"]
    assert violations("metrics.fake", "from baselines.wav2lip import Wav2Lip\n") == [
        "metrics.fake:1 -> baselines.wav2lip"
    ]
    assert violations("bench.faces.tracking", "from . import landmarks\nfrom ..media import Clip\n") == []
    assert violations("bench.run", "import metrics\nimport baselines\n") == []
