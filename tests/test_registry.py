import pytest

from bench.registry import Registry


class _Thing:
    name = ""

    def __init__(self, size: int = 1, mode: str = "a") -> None:
        self.size, self.mode = size, mode


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
