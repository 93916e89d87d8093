"""Model-agnostic meta-learning (MAML, Finn et al. 2017) on any ``nn.Module`` through a functional forward.

The module's parameters stay where they are (the *global* weights); a task's *fast* weights are a dict of tensors
computed from them and used through :func:`torch.func.functional_call`, so the same network runs with either set.
Conventions of the two public implementations in SPECS H:

* dragen1860/MAML-Pytorch ``meta.py``: inner gradients by ``torch.autograd.grad`` without ``create_graph``, so the
  meta-gradient flows only through the ``theta`` term of ``theta - lr * grad`` (first-order MAML);
  ``second_order=False`` here.
* facebookresearch/higher ``maml-omniglot.py``: the inner loop is differentiated through (full second-order MAML),
  and each task's query loss is back-propagated inside the loop, accumulating the meta-gradient;
  ``second_order=True`` here, with the same per-task backward.

The outer loss is the **sum** of the tasks' query losses (Agarwal et al. IV-C: ``L = l^1 + ... + l^t``; dragen1860
averages, which only rescales the step of a non-Adam meta-optimiser). The inner optimiser is SGD or Adam, written
out as tensor arithmetic (PyTorch's ``Adam`` update with bias correction) so that it can be differentiated through.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn
from torch.func import functional_call

Params = dict[str, torch.Tensor]
LossFn = Callable[[Params, Any], torch.Tensor]  # the loss of one batch under the given parameters


@dataclass(frozen=True)
class InnerLoop:
    """How a task's fast weights are made from the global weights.

    Attributes:
        steps: gradient steps on the task's support batch.
        lr: inner learning rate (Agarwal et al. V-B: 0.01).
        optimizer: ``"sgd"`` (MAML) or ``"adam"`` (Agarwal et al. V-B: "Adam ... local weight 0.01"); a fresh Adam
            state per task.
        second_order: differentiate through the inner updates (True) or treat the inner gradients as constants.
        betas: Adam's betas.
        eps: Adam's epsilon.
    """

    steps: int = 1
    lr: float = 0.01
    optimizer: Literal["sgd", "adam"] = "sgd"
    second_order: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8

    def __post_init__(self) -> None:
        if self.steps < 0 or self.lr <= 0:
            raise ValueError(f"inner loop needs steps >= 0 and lr > 0, got {self.steps}, {self.lr}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"inner optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")


def global_params(module: nn.Module) -> Params:
    """The module's trainable parameters by name (the global weights, not copied)."""
    return {name: p for name, p in module.named_parameters() if p.requires_grad}


def forward_with(module: nn.Module, params: Params, *args: Any) -> Any:
    """Run ``module(*args)`` with ``params`` in place of its own parameters (buffers stay the module's)."""
    return functional_call(module, params, args)


def _adam_update(grad: torch.Tensor, state: dict[str, torch.Tensor], step: int, inner: InnerLoop) -> torch.Tensor:
    """``lr * m_hat / (sqrt(v_hat) + eps)`` with PyTorch Adam's bias correction; updates ``state`` (m, v)."""
    beta1, beta2 = inner.betas
    state["m"] = beta1 * state["m"] + (1 - beta1) * grad
    state["v"] = beta2 * state["v"] + (1 - beta2) * grad * grad
    m_hat = state["m"] / (1 - beta1**step)
    v_hat = state["v"] / (1 - beta2**step)
    # clamp_min keeps the second-order graph finite where a gradient is exactly 0 (sqrt'(0) is infinite)
    return inner.lr * m_hat / (v_hat.clamp_min(1e-30).sqrt() + inner.eps)


def adapt_params(params: Params, loss_fn: LossFn, support: Any, inner: InnerLoop, track: bool = True,
                 on_step: Callable[[Params], None] | None = None) -> tuple[Params, list[float]]:  # fmt: skip
    """Fast weights after ``inner.steps`` updates on ``support``, and the support loss before each update.

    With ``track`` the fast weights stay functions of ``params`` (through the inner gradients too when
    ``inner.second_order``), so a query loss can be back-propagated to the global weights; without it every step
    starts from detached tensors (plain fine-tuning, no graph kept across steps). ``on_step`` sees the fast
    weights after every update.
    """
    fast = dict(params) if track else {k: v.detach().requires_grad_() for k, v in params.items()}
    states = {k: {"m": torch.zeros_like(v), "v": torch.zeros_like(v)} for k, v in fast.items()}
    losses = []
    for step in range(1, inner.steps + 1):
        loss = loss_fn(fast, support)
        losses.append(float(loss.detach()))
        create = track and inner.second_order
        grads = torch.autograd.grad(loss, list(fast.values()), create_graph=create, allow_unused=True)
        new = {}
        for (name, value), grad in zip(fast.items(), grads, strict=True):
            g = torch.zeros_like(value) if grad is None else grad
            g = g if create else g.detach()
            update = _adam_update(g, states[name], step, inner) if inner.optimizer == "adam" else inner.lr * g
            new[name] = value - update if track else (value - update).detach().requires_grad_()
        fast = new
        if on_step is not None:
            on_step(fast)
    return fast, losses


@dataclass
class MetaStepResult:
    """One meta-update: each task's query loss (after adaptation) and support losses (before each inner step)."""

    query_losses: list[float]
    support_losses: list[list[float]]

    @property
    def meta_loss(self) -> float:
        """The outer loss: the sum of the query losses."""
        return float(sum(self.query_losses))


def meta_step(module: nn.Module, loss_fn: LossFn, tasks: Sequence[tuple[Any, Any]], inner: InnerLoop,
              meta_optimizer: torch.optim.Optimizer) -> MetaStepResult:  # fmt: skip
    """One MAML update of the module's global weights from a batch of ``(support, query)`` tasks.

    Per task (Agarwal et al. Fig. 2, operations 1-3): fast weights from the global weights (1), ``inner.steps``
    updates on the support batch (2), the query loss under the fast weights, back-propagated to the global weights
    at once (3, accumulating over tasks). Then one step of ``meta_optimizer`` on the summed gradient (4).
    """
    params = global_params(module)
    meta_optimizer.zero_grad()
    query_losses, support_losses = [], []
    for support, query in tasks:
        fast, inner_losses = adapt_params(params, loss_fn, support, inner, track=True)
        loss = loss_fn(fast, query)
        loss.backward()
        query_losses.append(float(loss.detach()))
        support_losses.append(inner_losses)
    meta_optimizer.step()
    return MetaStepResult(query_losses, support_losses)


def adaptation_curve(module: nn.Module, loss_fn: LossFn, support: Any, query: Any, inner: InnerLoop) -> list[float]:
    """Query loss before adaptation and after each of ``inner.steps`` fine-tuning steps on ``support``.

    The module is left unchanged (fine-tuning runs on detached copies of its parameters).
    """
    curve: list[float] = []

    def record(params: Params) -> None:
        with torch.no_grad():
            curve.append(float(loss_fn(params, query)))

    params = global_params(module)
    record(params)
    adapt_params(params, loss_fn, support, inner, track=False, on_step=record)
    return curve


def load_params(module: nn.Module, params: Params) -> None:
    """Copy ``params`` (for example adapted fast weights) into the module's own parameters."""
    own = dict(module.named_parameters())
    with torch.no_grad():
        for name, value in params.items():
            own[name].copy_(value)
