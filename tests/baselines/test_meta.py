"""The shared MAML machinery (baselines/_meta.py) against a hand-written two-task linear-regression example.

Model ``y = w . x + b`` (w in R^2), loss ``mean((y - t)^2)``. For a batch (X, t) with residuals ``r = Xw + b - t``:
``grad_w = 2/n X^T r``, ``grad_b = 2/n sum r``, and the Hessian in (w, b) is ``H = 2/n [X 1]^T [X 1]`` (constant).
Per task: fast = theta - a * g_support(theta); first-order meta-gradient = g_query(fast); second-order =
(I - a H_support) g_query(fast). The outer loss is the sum over the two tasks.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines._meta import InnerLoop, adapt_params, adaptation_curve, forward_with, global_params, meta_step

ALPHA = 0.05
THETA = np.array([0.3, -0.2, 0.1])  # w1, w2, b
TASKS = [
    ((np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.0]]), np.array([1.0, -0.5, 2.0])),
     (np.array([[1.5, 1.0], [-1.0, 0.5]]), np.array([0.7, -1.2]))),
    ((np.array([[0.0, 1.0], [1.0, 1.0]]), np.array([0.4, 1.1])),
     (np.array([[2.0, -1.0], [0.5, 0.5], [1.0, 3.0]]), np.array([1.3, 0.2, -0.6]))),
]  # fmt: skip


def _design(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((len(x), 1))])


def _grad(theta: np.ndarray, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    a = _design(x)
    return 2.0 / len(x) * a.T @ (a @ theta - t)


def _loss(theta: np.ndarray, x: np.ndarray, t: np.ndarray) -> float:
    return float(np.mean((_design(x) @ theta - t) ** 2))


def _hand(second_order: bool) -> tuple[np.ndarray, list[float]]:
    """Summed meta-gradient and the query losses, by the formulas in the module docstring."""
    total, losses = np.zeros(3), []
    for (xs, ts), (xq, tq) in TASKS:
        fast = THETA - ALPHA * _grad(THETA, xs, ts)
        g = _grad(fast, xq, tq)
        if second_order:
            hessian = 2.0 / len(xs) * _design(xs).T @ _design(xs)
            g = (np.eye(3) - ALPHA * hessian) @ g
        total += g
        losses.append(_loss(fast, xq, tq))
    return total, losses


def _net() -> torch.nn.Linear:
    net = torch.nn.Linear(2, 1).double()
    with torch.no_grad():
        net.weight.copy_(torch.tensor(THETA[None, :2]))
        net.bias.copy_(torch.tensor([THETA[2]]))
    return net


def _loss_fn(net: torch.nn.Module):
    def loss(params, batch):
        x, t = batch
        return ((forward_with(net, params, x)[:, 0] - t) ** 2).mean()

    return loss


def _tasks():
    as_t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    return [((as_t(xs), as_t(ts)), (as_t(xq), as_t(tq))) for (xs, ts), (xq, tq) in TASKS]


def _grads(net: torch.nn.Linear) -> np.ndarray:
    return np.concatenate([net.weight.grad.numpy()[0], net.bias.grad.numpy()])


@pytest.mark.parametrize("second_order", [False, True])
def test_meta_step_equals_the_hand_written_two_task_example(second_order):
    net = _net()
    optimiser = torch.optim.SGD(net.parameters(), lr=0.1)
    result = meta_step(net, _loss_fn(net), _tasks(), InnerLoop(1, ALPHA, "sgd", second_order), optimiser)
    expected_grad, expected_losses = _hand(second_order)
    np.testing.assert_allclose(_grads(net), expected_grad, rtol=0, atol=1e-6)
    np.testing.assert_allclose(result.query_losses, expected_losses, rtol=0, atol=1e-6)
    assert result.meta_loss == pytest.approx(sum(expected_losses), abs=1e-6)  # the outer loss is the sum
    updated = np.concatenate([net.weight.detach().numpy()[0], net.bias.detach().numpy()])
    np.testing.assert_allclose(updated, THETA - 0.1 * expected_grad, rtol=0, atol=1e-6)  # global SGD update
    # support losses before the inner step, at the global weights
    np.testing.assert_allclose(result.support_losses, [[_loss(THETA, *TASKS[0][0])], [_loss(THETA, *TASKS[1][0])]], atol=1e-6)


def test_global_adam_update_of_the_summed_meta_gradient():
    net = _net()
    optimiser = torch.optim.Adam(net.parameters(), lr=0.001)
    meta_step(net, _loss_fn(net), _tasks(), InnerLoop(1, ALPHA, "sgd"), optimiser)
    g, _ = _hand(False)
    # Adam's first step: m_hat = g, v_hat = g^2, so the update is lr * g / (|g| + eps)
    updated = np.concatenate([net.weight.detach().numpy()[0], net.bias.detach().numpy()])
    np.testing.assert_allclose(updated, THETA - 0.001 * g / (np.abs(g) + 1e-8), rtol=0, atol=1e-9)


def test_second_order_differs_from_first_order_by_the_hessian_term():
    grads = {}
    for order in (False, True):
        net = _net()
        meta_step(net, _loss_fn(net), _tasks(), InnerLoop(1, ALPHA, "sgd", order), torch.optim.SGD(net.parameters(), 0.1))
        grads[order] = _grads(net)
    # second - first = -a * sum_tasks H_support g_query(fast): non-zero because the support Hessians are not zero
    term = np.zeros(3)
    for (xs, ts), (xq, tq) in TASKS:
        fast = THETA - ALPHA * _grad(THETA, xs, ts)
        term -= ALPHA * (2.0 / len(xs) * _design(xs).T @ _design(xs)) @ _grad(fast, xq, tq)
    np.testing.assert_allclose(grads[True] - grads[False], term, rtol=0, atol=1e-6)
    assert np.abs(term).max() > 1e-3


def test_inner_adam_matches_pytorch_adam():
    net, reference = _net(), _net()
    (support, _), _ = _tasks()
    inner = InnerLoop(3, 0.01, "adam")
    fast, losses = adapt_params(global_params(net), _loss_fn(net), support, inner, track=False)
    optimiser = torch.optim.Adam(reference.parameters(), lr=0.01)
    expected = []
    for _ in range(3):
        loss = ((reference(support[0])[:, 0] - support[1]) ** 2).mean()
        expected.append(loss.item())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert losses == pytest.approx(expected, abs=1e-12)
    torch.testing.assert_close(fast["weight"], reference.weight.detach(), rtol=0, atol=1e-12)
    torch.testing.assert_close(fast["bias"], reference.bias.detach(), rtol=0, atol=1e-12)


def test_adaptation_curve_leaves_the_module_unchanged():
    net = _net()
    (support, query), _ = _tasks()
    curve = adaptation_curve(net, _loss_fn(net), support, query, InnerLoop(2, ALPHA, "sgd"))
    fast1 = THETA - ALPHA * _grad(THETA, support[0].numpy(), support[1].numpy())
    fast2 = fast1 - ALPHA * _grad(fast1, support[0].numpy(), support[1].numpy())
    xq, tq = query[0].numpy(), query[1].numpy()
    assert curve == pytest.approx([_loss(THETA, xq, tq), _loss(fast1, xq, tq), _loss(fast2, xq, tq)], abs=1e-9)
    assert net.weight.detach().numpy()[0].tolist() == THETA[:2].tolist()
