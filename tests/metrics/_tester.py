"""Shared tester of the image metrics (STYLE rule 17), on real GRID frames.

A test class derives from :class:`MetricTester`, names the registry ``metric``, sets ``atol``/``rtol`` with a
one-line ``reason``, and implements :meth:`MetricTester.function` (our pure function, per frame) and
:meth:`MetricTester.reference` (the reference package on one frame pair, or one frame for no-reference metrics).
The tester then checks, on consecutive frames of a GRID clip (generated = frames 1..N, reference = frames 0..N-1):

* the function against the reference, frame by frame;
* a batch against frame-by-frame calls (batching changes nothing);
* the plugin (``metrics.create(metric)`` on :class:`~bench.media.Clip` s) against the mean of the function;
* determinism, pickling of the plugin, CPU against CUDA (skipped without a GPU), and gradients for metrics that
  declare ``differentiable``.
"""

from __future__ import annotations

import functools
import pickle
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch

import metrics
from bench.media import Clip, read_clip
from metrics import Item

GRID = Path(__file__).resolve().parents[3] / "shared" / "data" / "grid"


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Values do not depend on threads; on shared 2-core machines OpenMP threads only contend (2-3x slower).

    Autouse in every test module that imports it (``from _tester import one_torch_thread  # noqa: F401``).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@functools.lru_cache(maxsize=4)
def grid_frames(utterance: str = "bbaf2n") -> np.ndarray:
    """All frames of a real GRID clip, uint8 ``[75, 288, 360, 3]`` (read-only, shared by the tests)."""
    path = GRID / f"{utterance}.mpg"
    if not path.is_file():
        pytest.skip(f"real GRID clip not found at {path}")
    frames = read_clip(path).frames
    frames.setflags(write=False)
    return frames


def consecutive_pair(count: int, utterance: str = "bbaf2n", start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Generated = frames ``start+1 .. start+count``, reference = frames ``start .. start+count-1``."""
    frames = grid_frames(utterance)
    return frames[start + 1 : start + 1 + count], frames[start : start + count]


def named_clip(frames: np.ndarray, name: str) -> Clip:
    """A clip of ``frames`` named ``name`` (the name appears in error messages)."""
    return Clip(np.ascontiguousarray(frames), fps=25.0, meta={"utterance_id": name})


class MetricTester:
    """Base class of the per-metric test classes; see the module docstring."""

    metric: ClassVar[str]
    atol: ClassVar[float]
    rtol: ClassVar[float]
    reason: ClassVar[str]  # why the tolerances are what they are
    frames: ClassVar[int] = 4  # frame pairs compared with the reference (a reference may be slow)
    full_reference: ClassVar[bool] = True
    batch_atol: ClassVar[float] = 1e-10  # batch vs one by one, plugin vs function: float64 sums in another order

    def function(self, generated: np.ndarray, reference: np.ndarray | None) -> np.ndarray | torch.Tensor:
        """Our pure function: one value per frame (pair), ``[T]`` (given tensors, a tensor for gradients)."""
        raise NotImplementedError

    def reference(self, generated: np.ndarray, reference: np.ndarray | None) -> float:
        """The reference implementation on one frame (pair)."""
        raise NotImplementedError

    def prepare(self, frames: np.ndarray) -> np.ndarray:
        """What the function receives from RGB frames (identity; grey for grey metrics)."""
        return frames

    def inputs(self) -> tuple[np.ndarray, np.ndarray | None]:
        generated, reference = consecutive_pair(self.frames)
        return generated, reference if self.full_reference else None

    def _function(self, generated: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
        prepared = None if reference is None else self.prepare(reference)
        return np.asarray(self.function(self.prepare(generated), prepared), np.float64)

    def item(self, generated: np.ndarray, reference: np.ndarray | None) -> Item:
        ref = None if reference is None else named_clip(reference, "grid-reference")
        return Item(named_clip(generated, "grid-generated"), ref)

    def test_function_matches_reference(self) -> None:
        generated, reference = self.inputs()
        ours = self._function(generated, reference)
        prepared_gen = self.prepare(generated)
        prepared_ref = None if reference is None else self.prepare(reference)
        expected = [
            self.reference(prepared_gen[t], None if prepared_ref is None else prepared_ref[t]) for t in range(len(generated))
        ]
        np.testing.assert_allclose(ours, expected, atol=self.atol, rtol=self.rtol, err_msg=self.reason)
        assert np.ptp(expected) > 0 or len(expected) == 1, "frames too alike to tell frames apart"

    def test_batch_equals_items(self) -> None:
        generated, reference = self.inputs()
        batch = self._function(generated, reference)
        single = [
            self._function(generated[t : t + 1], None if reference is None else reference[t : t + 1])[0]
            for t in range(len(generated))
        ]
        np.testing.assert_allclose(batch, single, atol=self.batch_atol, rtol=0)

    def test_plugin_matches_function(self) -> None:
        generated, reference = self.inputs()
        result = metrics.create(self.metric)(self.item(generated, reference))
        assert result.ok, result.reason
        assert result.frames == len(generated)
        assert result.value == pytest.approx(float(self._function(generated, reference).mean()), abs=self.batch_atol)

    def test_deterministic_and_picklable(self) -> None:
        generated, reference = self.inputs()
        metric = metrics.create(self.metric)
        first = metric(self.item(generated, reference)).value
        clone = pickle.loads(pickle.dumps(metric))
        assert clone.name == self.metric and clone.config() == metric.config()
        assert clone(self.item(generated, reference)).value == first == metric(self.item(generated, reference)).value

    @pytest.mark.gpu
    def test_cpu_equals_cuda(self) -> None:
        if not torch.cuda.is_available():
            pytest.skip("no CUDA device")
        generated, reference = self.inputs()
        item = self.item(generated, reference)
        cpu = metrics.create(self.metric, device="cpu")(item).value
        cuda = metrics.create(self.metric, device="cuda")(item).value
        assert cuda == pytest.approx(cpu, abs=max(self.atol, 1e-6), rel=max(self.rtol, 1e-6))

    def test_gradient_when_differentiable(self) -> None:
        metric = metrics.create(self.metric)
        if not metric.differentiable:
            pytest.skip(f"{self.metric} declares differentiable = False")
        generated, reference = self.inputs()
        x = torch.tensor(self.prepare(generated[:2]), dtype=torch.float64, requires_grad=True)
        y = None if reference is None else torch.tensor(self.prepare(reference[:2]), dtype=torch.float64)
        torch.as_tensor(self.function(x, y)).sum().backward()
        assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
