"""The one reading of a comma-separated option value (``--metrics a,b``, ``--methods``, ``--formats``)."""

from __future__ import annotations


def split_names(text: str) -> list[str]:
    """The non-empty, stripped names in ``text``: ``" psnr, ,ssim"`` -> ``["psnr", "ssim"]``."""
    return [name.strip() for name in text.split(",") if name.strip()]
