"""Every registered adapter ships a working sample config and a docs page."""

import tomllib
from pathlib import Path

import pytest

from firmware_adapters.registry import ADAPTERS, build_source, get_adapter

DOCS = Path(__file__).parents[2] / "docs" / "adapters"


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_sample_config_builds_a_source(name):
    spec = get_adapter(name)
    config = tomllib.loads(spec.sample_config.read_text(encoding="utf-8"))
    source = build_source(name, config)
    assert source.name == name
    stats = source.stats()
    assert {"samples", "rejected"} <= set(stats) and all(isinstance(v, int) for v in stats.values())
    assert hasattr(source, "samples")


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_docs_page_exists(name):
    page = DOCS / f"{name}.md"
    assert page.is_file(), f"docs/adapters/{name}.md is missing"
    assert f"samples/{name}.toml" in page.read_text(encoding="utf-8")


def test_unknown_adapter_lists_known_ones():
    with pytest.raises(ValueError, match="unknown adapter 'modbus'; known adapters: \\['mqtt_sensor', 'opcua'"):
        get_adapter("modbus")
