"""Helpers of the baseline tests (a uniquely named module: every test folder has its own conftest)."""

from __future__ import annotations

import numpy as np
import torch


def state_tensors(model: object) -> dict[str, torch.Tensor]:
    """Every tensor of a baseline's modules, keyed ``module.name``."""
    return {f"{prefix}.{k}": v.detach().clone() for prefix, m in model.modules.items() for k, v in m.state_dict().items()}


def assert_same_state(a: object, b: object) -> None:
    """Bitwise-equal weights and buffers."""
    sa, sb = state_tensors(a), state_tensors(b)
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def loss_drop(values: list[float], k: int) -> float:
    """Relative drop of the mean of the last ``k`` values below the mean of the first ``k``."""
    first, last = float(np.mean(values[:k])), float(np.mean(values[-k:]))
    return (first - last) / first
