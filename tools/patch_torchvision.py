"""Make ``import torchvision`` work on a CPU-only torch build.

The PyPI torchvision 0.28.0 wheel is a CUDA build; on the CPU torch 2.13.0 wheel its compiled ops do not load, and
two ``register_fake`` decorators in ``torchvision/_meta_registrations.py`` then fail at import. This guards them by
``torchvision.extension._has_ops()``, which is true on a working CUDA install, so the patch changes nothing there.
The edit is idempotent.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

GUARD = "(lambda f: f) if not torchvision.extension._has_ops() else "


def main() -> int:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        print("torchvision is not installed; nothing to patch")
        return 0
    path = Path(spec.origin).parent / "_meta_registrations.py"
    text = path.read_text()
    patched = re.sub(
        r"^@torch\.library\.register_fake\(", "@" + GUARD + "torch.library.register_fake(", text, flags=re.M
    )
    if patched == text:
        print(f"{path}: already guarded")
        return 0
    path.write_text(patched)
    print(f"{path}: guarded register_fake decorators")
    return 0


if __name__ == "__main__":
    sys.exit(main())
