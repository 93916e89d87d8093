"""Contract tests over every registered metric (STYLE rule 20): metadata, options, missing inputs, pickling.

Exemptions are declared on the metrics themselves (``needs``, ``weights``, ``kind``), never as name lists here.
"""

from __future__ import annotations

import inspect
import math
import pickle

import numpy as np
import pytest

import metrics
from bench import weights
from bench.media import Clip
from metrics import Item, Kind, Metric, Need, SetMetric

NAMES = metrics.available()


def metric_class(name: str) -> type[Metric]:
    return metrics.REGISTRY.entry(name).resolve()


def create_or_skip(name: str) -> Metric:
    """An instance; a metric that declares pretrained weights may refuse to start without them, saying how to get them."""
    try:
        return metrics.create(name)
    except FileNotFoundError as exc:
        declared = metric_class(name).weights
        assert declared, f"{name} needs a file but declares no weights: {exc}"
        assert "talkbench weights fetch" in str(exc), f"{name}: the error must say how to get the file: {exc}"
        pytest.skip(f"{name}: pretrained weights not installed")


def full_item(without: Need | None = None) -> Item:
    """A small item carrying every input except ``without``."""
    rng = np.random.default_rng(0)
    audio = None if without is Need.AUDIO else np.zeros(16000, np.float32)
    generated = Clip(rng.integers(0, 256, (25, 64, 64, 3), dtype=np.uint8), 25.0, audio, meta={"utterance_id": "gen"})
    reference = None if without is Need.REFERENCE else Clip(generated.frames.copy(), 25.0, audio)
    identity = None if without is Need.IDENTITY else generated.frames[0]
    transcript = None if without is Need.TRANSCRIPT else "bin blue at f two now"
    return Item(generated, reference, identity=identity, transcript=transcript)


def test_registry_is_not_empty_and_has_the_image_metrics():
    assert {"psnr", "ssim", "ssim-skimage", "cpbd", "cpbd-matlab", "fdbm", "lpips"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_declares_typed_metadata(name):
    cls = metric_class(name)
    assert issubclass(cls, Metric) and cls.name, name
    assert cls.higher_is_better in (True, False, None)
    assert isinstance(cls.needs, frozenset) and all(isinstance(n, Need) for n in cls.needs)
    assert isinstance(cls.kind, Kind) and (cls.kind is Kind.SET) == issubclass(cls, SetMetric)
    assert isinstance(cls.differentiable, bool)
    low, high = cls.score_range
    assert low is None or high is None or low < high
    assert all(w in weights.TABLE for w in cls.weights), f"{name}: weights not in the weights table: {cls.weights}"


@pytest.mark.parametrize("name", NAMES)
def test_class_docstring_has_an_example(name):
    """STYLE rule 15; a variant subclass may rely on the Example of the metric class it specialises."""
    own = [k for k in metric_class(name).__mro__ if issubclass(k, Metric) and k not in (Metric, SetMetric)]
    assert any("Example:" in (inspect.getdoc(k) or "") for k in own), f"{name}: no Example in {[k.__name__ for k in own]}"


@pytest.mark.parametrize("name", NAMES)
def test_created_under_its_variant_name_and_picklable(name):
    metric = create_or_skip(name)
    assert metric.name == name
    clone = pickle.loads(pickle.dumps(metric))
    assert clone.name == name and clone.config() == metric.config()


@pytest.mark.parametrize("name", NAMES)
def test_unknown_option_is_rejected(name):
    with pytest.raises(TypeError, match="no_such_option"):
        metrics.create(name, no_such_option=1)


CASES = [(name, need) for name in NAMES for need in sorted(metric_class(name).needs, key=lambda n: n.value)]


@pytest.mark.parametrize(("name", "need"), CASES, ids=[f"{n}-without-{d.value}" for n, d in CASES])
def test_missing_need_gives_a_reason_not_a_number(name, need):
    metric = create_or_skip(name)
    result = metric(full_item(without=need))
    assert not result.ok and result.status == "failed"
    assert math.isnan(result.value) and result.frames == 0
    assert need.value in result.reason, result.reason


ITEM_NAMES = [name for name in NAMES if metric_class(name).kind is Kind.ITEM]


@pytest.mark.parametrize("name", ITEM_NAMES)
def test_a_clip_without_frames_gives_a_reason_not_a_number(name):
    metric = create_or_skip(name)
    item = full_item()
    empty = item.generated.with_frames(item.generated.frames[:0])
    result = metric(Item(empty, item.reference, identity=item.identity, transcript=item.transcript))
    assert not result.ok and math.isnan(result.value)
    assert result.reason == "the generated video has no frames"
    if Need.REFERENCE in metric.needs:
        result = metric(Item(item.generated, empty, identity=item.identity, transcript=item.transcript))
        assert result.reason == "the reference video has no frames"


class _NaNMetric(Metric):
    """A metric whose computation breaks down without raising (as an average over nothing does)."""

    name = "test-nan"

    def score(self, item: Item) -> metrics.Score:
        return metrics.Score(float(np.mean(np.zeros(0))), item.generated.num_frames)


def test_a_nan_from_a_metric_is_recorded_as_a_failure():
    with pytest.warns(RuntimeWarning):
        result = _NaNMetric()(full_item())
    assert not result.ok and result.reason == "test-nan computed no number (NaN) from 25 frames"


def test_an_item_of_arrays_is_refused_with_what_to_pass():
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    with pytest.raises(TypeError, match=r"Item.generated must be a bench.media.Clip, got ndarray: wrap uint8"):
        Item(frames)
    with pytest.raises(TypeError, match=r"Item.reference must be a bench.media.Clip, got ndarray"):
        metrics.score("psnr", Clip(frames), frames)
