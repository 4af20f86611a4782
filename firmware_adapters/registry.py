"""Explicit registry of adapters: name → (module, config class, source class).

Modules are imported only when an adapter is used, so an edge agent that
reads one serial board never imports the OPC UA stack.

Every source class follows one small protocol:

- ``Source(config)`` with ``config`` an instance of the config class;
- ``async for sample in source.samples()`` yields :class:`Sample` blocks and
  keeps going across link failures (reconnecting, resynchronising);
- ``source.stats()`` returns counters as a dict of ints: at least
  ``samples`` and ``rejected``, plus adapter-specific ones such as
  ``reconnects``, ``gaps`` or ``rejected_<reason>``.

Each adapter also ships a commented sample config in
``firmware_adapters/samples/<name>.toml`` and a page in ``docs/adapters/``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AdapterSpec:
    """Where an adapter lives and what it is for."""

    name: str
    module: str
    config_class: str
    source_class: str
    summary: str

    @property
    def sample_config(self) -> Path:
        """Path of the commented sample config (TOML)."""
        return Path(__file__).parent / "samples" / f"{self.name}.toml"

    def load(self) -> tuple[type, type]:
        """Import the module; return (config class, source class)."""
        mod = importlib.import_module(self.module)
        return getattr(mod, self.config_class), getattr(mod, self.source_class)


ADAPTERS: dict[str, AdapterSpec] = {
    spec.name: spec
    for spec in (
        AdapterSpec("opcua", "firmware_adapters.opcua", "OpcUaConfig", "OpcUaSource",
                    "OPC UA client: subscriptions to waveform and scalar nodes, reconnect and resubscribe"),
        AdapterSpec("serial_line", "firmware_adapters.serial_line", "SerialLineConfig", "SerialLineSource",
                    "text lines (CSV or JSON) from a serial board"),
        AdapterSpec("serial_frame", "firmware_adapters.serial_frame", "SerialFrameConfig", "SerialFrameSource",
                    "binary frames with sequence number, int16 samples and CRC-16 from a serial board"),
        AdapterSpec("replay", "firmware_adapters.replay", "ReplayConfig", "ReplaySource",
                    "recorded data (.mat, .csv, .npz, .wav) as a live source"),
        AdapterSpec("mqtt_sensor", "firmware_adapters.mqtt_sensor", "MqttSensorConfig", "MqttSensorSource",
                    "a smart sensor publishing over MQTT"),
    )
}


def get_adapter(name: str) -> AdapterSpec:
    """The spec of adapter ``name``; ``ValueError`` lists the known names."""
    try:
        return ADAPTERS[name]
    except KeyError:
        raise ValueError(f"unknown adapter {name!r}; known adapters: {sorted(ADAPTERS)}") from None


def build_source(name: str, config: dict):
    """Validate ``config`` for adapter ``name`` and return a ready source."""
    config_cls, source_cls = get_adapter(name).load()
    return source_cls(config_cls(**config))
