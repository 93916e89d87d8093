import pytest

from bench.registry import Registry


class _Thing:
    name = ""

    def __init__(self, size: int = 1, mode: str = "a", gain: float | None = None, on: bool = True, kind: list | None = None):
        self.size, self.mode, self.gain, self.on = size, mode, gain, on


@pytest.fixture
def registry():
    reg = Registry("thing", "talkbench.nonexistent-group", "tests")
    reg._loaded = True  # no package discovery in this unit test
    reg.variants({"thing": {}, "thing-big": {"size": 10}})(_Thing)
    return reg


def test_variant_presets_and_overrides(registry):
    assert registry.create("thing").size == 1
    big = registry.create("thing-big", mode="b")
    assert (big.size, big.mode, big.name) == (10, "b", "thing-big")


def test_unknown_name_suggests_close_match(registry):
    with pytest.raises(KeyError, match="thing-big"):
        registry.create("thing-bgi")


def test_unknown_option_rejected(registry):
    with pytest.raises(TypeError, match="colour"):
        registry.create("thing", colour="red")


def test_bad_names_rejected(registry):
    with pytest.raises(ValueError):
        registry.add("Thing_x-y", _Thing)


def test_options_of_the_wrong_scalar_type_are_named(registry):
    """A JSON/TOML option of the wrong type failed inside the class ("'<' not supported ..."); the registry names it."""
    import numpy as np

    with pytest.raises(TypeError, match=r"thing 'thing': option size must be an integer, got '3'; gain must be a number "
                                        r"or null, got 'x'"):  # fmt: skip
        registry.create("thing", size="3", gain="x")
    with pytest.raises(TypeError, match="option on must be true or false, got 1"):
        registry.create("thing", on=1)
    with pytest.raises(TypeError, match="option size must be an integer, got 2.5"):
        registry.create("thing", size=2.5)
    with pytest.raises(TypeError, match="option gain must be a number or null, got True"):
        registry.create("thing", gain=True)
    made = registry.create("thing", size=np.int64(4), gain=2, kind=["anything"])  # numpy ints; ints are numbers
    assert (made.size, made.gain) == (4, 2)
