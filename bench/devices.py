"""Check a torch device name before any work starts, so that a typo or a missing GPU is one clear error.

``cpu`` is accepted without importing torch (the weight-free command line never needs it).
"""

from __future__ import annotations

HINT = "use cpu, cuda, cuda:N or mps"


def check_device(device: str) -> str:
    """Return ``device`` when torch can compute on it here.

    Raises:
        ValueError: the name is not a torch device, or names a CUDA (or MPS) device this machine does not have.
    """
    if device == "cpu":
        return device
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}: {HINT}") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            why = "a CPU-only build of torch" if torch.version.cuda is None else "torch sees no CUDA device"
            raise ValueError(f"device {device!r}: no CUDA device here ({why}, torch {torch.__version__}); use cpu")
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(f"device {device!r}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}")
    elif parsed.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"device {device!r}: no MPS device here; use cpu")
    elif parsed.type != "cpu":
        raise ValueError(f"device {device!r}: talkbench computes on cpu, cuda or mps; {HINT}")
    return device
