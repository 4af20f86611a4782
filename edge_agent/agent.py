"""The edge agent: sources → per-asset pipelines → MQTT.

Run it with ``teachfab edge run CONFIG.yaml``; the file maps onto
:class:`EdgeSettings`, and ``TEACHFAB_EDGE_*`` environment variables
override it (nested keys with ``__``, e.g. ``TEACHFAB_EDGE_BROKER``).

Example config::

    site: lab1
    edge_id: edge-1
    broker: mqtt://127.0.0.1:1883
    sources:
      - adapter: opcua            # any name in firmware_adapters.registry.ADAPTERS
        url: opc.tcp://127.0.0.1:4840/teachfab/
        namespace: urn:teachfab:simulator
        asset: pump-1
        browse_path: Assets/pump-1  # or list nodes: waveforms / scalars / rate
        units: {vibration_de: g, temperature: degC}
    pipelines:
      pump-1: {rpm: 1797, bearing: "6205", warmup: 30, threshold: 8}
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from edge_agent.pipeline import AlertRecord, AssetPipeline, FeatureRecord, PipelineConfig
from edge_agent.publisher import MqttPublisher
from firmware_adapters.registry import get_adapter

log = logging.getLogger(__name__)
VERSION = "0.1.0"


class SourceSettings(BaseModel):
    """One data source: the adapter's name plus that adapter's own config keys."""

    model_config = ConfigDict(extra="allow")
    adapter: str = "opcua"

    @model_validator(mode="after")
    def _valid_for_adapter(self) -> "SourceSettings":
        config_cls, _ = get_adapter(self.adapter).load()
        config_cls(**self.options)  # raises with the adapter's own message
        if "asset" not in self.options:
            raise ValueError(f"source with adapter {self.adapter!r} needs an 'asset'")
        return self

    @property
    def options(self) -> dict:
        """The adapter-specific keys."""
        return dict(self.model_extra or {})

    @property
    def asset(self) -> str:
        """Asset this source reports."""
        return self.options["asset"]

    def build(self):
        """A ready source object for this config."""
        config_cls, source_cls = get_adapter(self.adapter).load()
        return source_cls(config_cls(**self.options))


class EdgeSettings(BaseSettings):
    """Everything one edge agent needs; file values, then environment overrides."""

    model_config = SettingsConfigDict(env_prefix="TEACHFAB_EDGE_", env_nested_delimiter="__", extra="forbid")

    site: str = "lab"
    edge_id: str = "edge-1"
    broker: str = "mqtt://127.0.0.1:1883"
    mqtt_protocol: Literal["3.1.1", "5"] = "3.1.1"
    batch_s: float = Field(1.0, gt=0, description="how often feature records are flushed as one batch")
    sources: list[SourceSettings] = Field(default_factory=list)
    pipelines: dict[str, PipelineConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _pipeline_per_asset(self) -> "EdgeSettings":
        for src in self.sources:
            self.pipelines.setdefault(src.asset, PipelineConfig())
        return self

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings) -> tuple[PydanticBaseSettingsSource, ...]:
        # environment beats the config file (passed as init values)
        return env_settings, init_settings, file_secret_settings


def load_edge_settings(path: str | Path | None = None, **overrides) -> EdgeSettings:
    """Build :class:`EdgeSettings` from a YAML file plus keyword overrides."""
    data: dict = {}
    if path is not None:
        text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping at top level, got {type(data).__name__}")
    data.update(overrides)
    return EdgeSettings(**data)


class EdgeAgent:
    """Run sources and pipelines and publish their records.

    Parameters
    ----------
    settings : EdgeSettings
        The agent configuration.
    """

    def __init__(self, settings: EdgeSettings) -> None:
        self.settings = settings
        self.pipelines = {a: AssetPipeline(a, cfg) for a, cfg in settings.pipelines.items()}
        self.sources = [src.build() for src in settings.sources]
        self.publisher = MqttPublisher(settings.broker, settings.site, settings.edge_id,
                                       list(self.pipelines), VERSION, settings.mqtt_protocol)
        self._pending: dict[str, list[dict]] = {a: [] for a in self.pipelines}
        self.alerts: list[AlertRecord] = []
        self.windows = 0

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set (or forever)."""
        stop = stop or asyncio.Event()
        _warm_up_kernels()
        self.publisher.start()
        tasks = [asyncio.create_task(self._consume(s), name=f"source-{s.name}-{i}") for i, s in enumerate(self.sources)]
        tasks.append(asyncio.create_task(self._flush_loop(), name="flush"))
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._flush()
            self.publisher.stop()

    async def _consume(self, source) -> None:
        async for sample in source.samples():
            pipeline = self.pipelines.get(sample.asset)
            if pipeline is None:
                continue
            for rec in pipeline.push(sample):
                if isinstance(rec, FeatureRecord):
                    self.windows += 1
                    self._pending[sample.asset].append(rec.as_dict())
                else:
                    self.alerts.append(rec)
                    self.publisher.publish(sample.asset, "alert", rec.as_dict())
                    log.warning("ALERT %s: %s", sample.asset, rec.message)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.batch_s)
            self._flush()

    def _flush(self) -> None:
        for asset, records in self._pending.items():
            if records:
                self.publisher.publish(asset, "features", {"records": records})
                self._pending[asset] = []


def _warm_up_kernels() -> None:
    """Compile (or load cached) kernels before data flows."""
    from edge_agent.features import BearingFrequencies, bearing_features

    bearing_features(np.random.default_rng(0).normal(size=1024), 12000.0, BearingFrequencies(100.0, 150.0, 130.0))
