"""The user cache directory and the one function that builds cache keys."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def cache_dir(*parts: str) -> Path:
    """``$TALKBENCH_CACHE`` (default ``~/.cache/talkbench``) joined with ``parts``, created on demand."""
    root = Path(os.environ.get("TALKBENCH_CACHE") or Path.home() / ".cache" / "talkbench")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_key(**fields: Any) -> str:
    """A stable short key from named fields (dataset, split, resolution, crop, feature net, protocol version...)."""
    blob = json.dumps(fields, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]
