"""The edge agent: a supervisor over sources, per-asset pipelines, the publisher and hub commands.

Run it with ``teachfab edge run CONFIG.yaml``; the file maps onto
:class:`EdgeSettings`, and ``TEACHFAB_EDGE_*`` environment variables
override it (nested keys with ``__``, e.g. ``TEACHFAB_EDGE_BROKER``).

Example config::

    site: lab1
    edge_id: edge-1
    broker: mqtt://127.0.0.1:1883
    state_dir: /var/lib/teachfab/edge-1     # outbox, model snapshots, deployed pipelines
    hub_keys: /etc/teachfab/hub-keys        # <key_id>.pub.pem files trusted to sign deploys
    sources:
      - adapter: opcua            # any name in firmware_adapters.registry.ADAPTERS
        url: opc.tcp://127.0.0.1:4840/teachfab/
        namespace: urn:teachfab:simulator
        asset: pump-1
        browse_path: Assets/pump-1
    pipelines:
      pump-1: {rpm: 1797, bearing: "6205", warmup: 30, threshold: 8}

What it guarantees: a source that fails is restarted with back-off while
the others go on; every record goes through the durable outbox; learnt
model state is snapshotted every ``snapshot_s`` and at exit and restored at
start when the pipeline is unchanged; a deployed pipeline (signed by the
hub) is kept across restarts; health (sources, pipelines, outbox) is
published every ``health_s`` on the retained ``health`` topic.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import resource
import time
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from contract.mqtt import BrokerAuth
from contract.signing import load_public_keys
from edge_agent.commands import CommandRouter, default_state_dir
from edge_agent.features import BearingFrequencies, bearing_features
from edge_agent.outbox import OutboxFull
from edge_agent.pipeline import AlertRecord, AssetPipeline, DriftRecord, FeatureRecord, PipelineConfig
from edge_agent.publisher import MqttPublisher
from firmware_adapters.registry import get_adapter

log = logging.getLogger(__name__)
VERSION = "0.2.0"
EXPLAIN_GRACE_S = 30.0  # how long a stopping agent waits for an alert's diagnosis
_RUNTIME_KEYS = {"batch_s", "health_s", "snapshot_s"}


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
    broker_username: str | None = Field(None, description="this edge's broker user (from its starter kit)")
    broker_password: SecretStr | None = Field(None, description="its broker password")
    broker_ca: Path | None = Field(None, description="CA certificate the mqtts:// broker must chain to")
    hub_url: str | None = Field(None, description="the hub's web address (teachfab edge check compares clocks)")
    batch_s: float = Field(1.0, gt=0, description="how often feature records are flushed as one batch")
    health_s: float = Field(10.0, gt=0, description="how often health is published")
    snapshot_s: float = Field(300.0, gt=0, description="how often learnt model state is saved")
    state_dir: Path | None = Field(None, description="outbox, snapshots, deployed pipelines, replay protection; "
                                   "None: in memory, except replay protection (edge_agent.commands.default_state_dir)")
    hub_keys: Path | None = Field(None, description="directory of <key_id>.pub.pem keys trusted to sign commands")
    command_state_dir: Path | None = Field(None, description="where replay protection of signed commands is kept; "
                                           "default: state_dir, else edge_agent.commands.default_state_dir")
    outbox_max_rows: int = Field(200_000, ge=100)
    max_inflight: int = Field(200, ge=1, le=10_000)
    waveform_buffer_s: float = Field(2.0, gt=0, le=60, description="raw data kept for snapshot requests")
    sources: list[SourceSettings] = Field(default_factory=list)
    pipelines: dict[str, PipelineConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _pipeline_per_asset(self) -> "EdgeSettings":
        for src in self.sources:
            self.pipelines.setdefault(src.asset, PipelineConfig())
        return self

    def broker_auth(self) -> BrokerAuth:
        """The credentials and CA this edge presents to and trusts at the broker."""
        password = None if self.broker_password is None else self.broker_password.get_secret_value()
        return BrokerAuth(self.broker_username, password, self.broker_ca)

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
    """Run sources and pipelines, publish their records, obey signed hub commands.

    Parameters
    ----------
    settings : EdgeSettings
        The agent configuration.
    """

    def __init__(self, settings: EdgeSettings) -> None:
        self.settings = settings
        self.state_dir = settings.state_dir
        if self.state_dir is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        configs = dict(settings.pipelines)
        configs.update(self._load_deployed())
        self.pipelines = {a: self._new_pipeline(a, cfg) for a, cfg in configs.items()}
        self.sources = [src.build() for src in settings.sources]
        self.commands = self._command_router()
        outbox = None if self.state_dir is None else self.state_dir / "outbox.sqlite"
        self.publisher = MqttPublisher(settings.broker, settings.site, settings.edge_id, list(self.pipelines),
                                       VERSION, settings.mqtt_protocol, settings.max_inflight, outbox=outbox,
                                       birth_info=self._birth_info(), commands=self.commands,
                                       auth=settings.broker_auth())
        self._pending: dict[str, list[dict]] = {a: [] for a in self.pipelines}
        self._recent: dict[tuple[str, str], collections.deque] = {}
        self.alerts: list[AlertRecord] = []
        self._explaining: set[asyncio.Task] = set()  # alerts being diagnosed off the event loop
        self.drifts: list[DriftRecord] = []
        self.windows = 0
        self.restarts: collections.Counter[str] = collections.Counter()
        self.not_stored: dict[str, int] = {}  # records refused by a full disk, per kind
        self.started = time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ running
    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set (or forever)."""
        stop = stop or asyncio.Event()
        self._loop = asyncio.get_running_loop()
        _warm_up_kernels()
        self.publisher.start()
        tasks = [asyncio.create_task(self._supervise(s), name=f"source-{s.name}-{i}")
                 for i, s in enumerate(self.sources)]
        tasks += [asyncio.create_task(self._every(self.settings.batch_s, self._flush), name="flush"),
                  asyncio.create_task(self._every(self.settings.health_s, self._publish_health), name="health"),
                  asyncio.create_task(self._every(self.settings.snapshot_s, self._save_snapshots), name="snapshots")]
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._explaining:  # an alert still being diagnosed gets a while, then goes without it
                _, late = await asyncio.wait(set(self._explaining), timeout=EXPLAIN_GRACE_S)
                for t in late:
                    t.cancel()
                await asyncio.gather(*late, return_exceptions=True)
            self._flush()
            self._save_snapshots()
            await asyncio.to_thread(self.publisher.stop)

    async def _supervise(self, source) -> None:
        """Consume a source; restart it with back-off (1 s → 30 s) whenever it fails."""
        delay = 1.0
        while True:
            started = time.monotonic()
            try:
                await self._consume(source)
                log.warning("source %s ended; restarting", source.name)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("source %s failed; restarting in %.0f s", source.name, delay)
            self.restarts[source.name] += 1
            delay = 1.0 if time.monotonic() - started > 60 else min(30.0, delay * 2)
            await asyncio.sleep(delay)

    async def _consume(self, source) -> None:
        async for sample in source.samples():
            if sample.rate > 0:
                key = (sample.asset, sample.channel)
                keep = max(1, int(self.settings.waveform_buffer_s * sample.rate / max(1, sample.values.size)))
                buf = self._recent.get(key)
                if buf is None or buf.maxlen != keep:
                    buf = self._recent[key] = collections.deque(buf or (), maxlen=keep)
                buf.append(sample)
            pipeline = self.pipelines.get(sample.asset)
            if pipeline is None:
                continue
            try:
                records = pipeline.push(sample)
            except ValueError:
                log.exception("pipeline of %s rejected a block of %s", sample.asset, sample.channel)
                continue
            for rec in records:
                self._route(sample.asset, rec)

    def _route(self, asset: str, rec) -> None:
        if isinstance(rec, FeatureRecord):
            self.windows += 1
            self._pending[asset].append(rec.as_dict())
        elif isinstance(rec, AlertRecord):
            self.alerts.append(rec)
            log.warning("ALERT %s: %s", asset, rec.message)
            if rec.explain_later is None:
                self._publish(asset, "alert", rec.as_dict())
            else:
                task = asyncio.create_task(self._publish_explained(asset, rec))
                self._explaining.add(task)
                task.add_done_callback(self._explaining.discard)
        elif isinstance(rec, DriftRecord):
            self.drifts.append(rec)
            self._publish(asset, "drift", rec.as_dict())
            log.info("DRIFT %s: %s", asset, rec.event.message)

    async def _publish_explained(self, asset: str, rec: AlertRecord) -> None:
        """Diagnose an alert in a worker thread, then publish it (with whatever the diagnosis gave).

        The stream goes on meanwhile: the first diagnosis of a process
        compiles numba kernels (5 s on a 2-core x86 machine, more on a Pi).
        """
        job, rec.explain_later = rec.explain_later, None
        try:
            rec.explanation = await asyncio.to_thread(job)
        except asyncio.CancelledError:
            log.warning("%s: the agent stops; the alert goes without its explanation", asset)
        except Exception:
            log.exception("%s: the alert's diagnosis failed; it goes without an explanation", asset)
        finally:
            self._publish(asset, "alert", rec.as_dict())

    def _publish(self, asset: str, kind: str, body: dict) -> None:
        """Hand a record to the publisher; a full disk under the outbox is logged and counted, not raised."""
        try:
            self.publisher.publish(asset, kind, body)
        except OutboxFull as exc:
            self.not_stored[kind] = self.not_stored.get(kind, 0) + 1
            log.error("%s: %s", asset, exc)

    async def _every(self, period_s: float, action) -> None:
        while True:
            await asyncio.sleep(period_s)
            try:
                action()
            except Exception:  # one failed period must not end the periodic task
                log.exception("periodic %s failed; trying again in %.1f s", action.__name__, period_s)

    def _flush(self) -> None:
        for asset, records in self._pending.items():
            if records:
                self._publish(asset, "features", {"records": records})
                self._pending[asset] = []

    # ------------------------------------------------------------------ health and birth
    def health(self) -> dict:
        """Sources, pipelines, outbox and process figures (what the ``health`` topic carries)."""
        return {
            "ts": time.time_ns(), "uptime_s": round(time.monotonic() - self.started, 1),
            "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "sources": [{"name": s.name, "restarts": self.restarts[s.name], **s.stats()} for s in self.sources],
            "pipelines": {a: {"windows": p.windows, "in_alert": p.in_alert, "gaps": p.gaps,
                              "hash": p.config.config_hash()} for a, p in self.pipelines.items()},
            "alerts": len(self.alerts), "drifts": len(self.drifts),
            "outbox": {**self.publisher.stats(), "not_stored": dict(self.not_stored)},
            "commands": self.commands.stats() if self.commands else None,
        }

    def _publish_health(self) -> None:
        self.publisher.publish_health(self.health())

    def _birth_info(self) -> dict:
        return {"pipelines": {a: p.config.describe() for a, p in self.pipelines.items()},
                "sources": [{"adapter": s.adapter, "asset": s.asset} for s in self.settings.sources]}

    # ------------------------------------------------------------------ state
    def _new_pipeline(self, asset: str, cfg: PipelineConfig) -> AssetPipeline:
        pipeline = AssetPipeline(asset, cfg, defer_explanation=True)
        path = self._snapshot_path(asset, cfg)
        if path is not None and path.exists():
            try:
                pipeline.restore(path.read_bytes())
                log.info("%s: restored %d learnt windows of pipeline %s", asset, pipeline.windows, cfg.config_hash())
            except Exception as exc:  # a corrupt or foreign snapshot must not stop the agent
                log.warning("%s: snapshot %s not used (%s); learning afresh", asset, path, exc)
        return pipeline

    def _snapshot_path(self, asset: str, cfg: PipelineConfig) -> Path | None:
        return None if self.state_dir is None else self.state_dir / f"{asset}.{cfg.config_hash()}.model"

    def _save_snapshots(self) -> None:
        for asset, p in self.pipelines.items():
            path = self._snapshot_path(asset, p.config)
            if path is not None:
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(p.snapshot())
                tmp.replace(path)

    def _load_deployed(self) -> dict[str, PipelineConfig]:
        path = None if self.state_dir is None else self.state_dir / "deployed.json"
        if path is None or not path.exists():
            return {}
        return {a: PipelineConfig(**c) for a, c in json.loads(path.read_text(encoding="utf-8")).items()}

    def _save_deployed(self, asset: str, cfg: PipelineConfig) -> None:
        if self.state_dir is None:
            return
        path = self.state_dir / "deployed.json"
        doc = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        doc[asset] = cfg.model_dump(mode="json")
        path.write_text(json.dumps(doc, indent=1), encoding="utf-8")

    # ------------------------------------------------------------------ commands (MQTT thread)
    def _command_router(self):
        if self.settings.hub_keys is None:
            return None
        where = self.settings.command_state_dir or self.state_dir
        state = (where or default_state_dir(self.settings.site, self.settings.edge_id)) / "commands.json"
        return CommandRouter(self.settings.site, self.settings.edge_id, load_public_keys(self.settings.hub_keys),
                             on_config=self._on_config, on_deploy=self._on_deploy, on_snapshot=self._on_snapshot,
                             state_path=state)

    def _on_deploy(self, cmd) -> dict:
        if cmd.asset not in self.pipelines:
            raise ValueError(f"asset {cmd.asset!r} is not on this edge; it has {sorted(self.pipelines)}")
        old = self.pipelines[cmd.asset].config
        doc = dict(cmd.pipeline)
        lineage = {"parent": old.config_hash(), "created_ns": cmd.created_ns, **doc.get("lineage", {})}
        cfg = PipelineConfig(**{**doc, "lineage": lineage})  # a ValueError rejects the bundle
        self._loop.call_soon_threadsafe(self._apply_deploy, cmd.asset, cfg)
        return {"asset": cmd.asset, "hash": cfg.config_hash(), "parent": lineage["parent"]}

    def _apply_deploy(self, asset: str, cfg: PipelineConfig) -> None:
        self._flush()
        self.pipelines[asset] = self._new_pipeline(asset, cfg)
        self._save_deployed(asset, cfg)
        self.publisher.update_birth(self._birth_info())
        log.warning("%s: deployed pipeline %s (%s), parent %s", asset, cfg.name, cfg.config_hash(),
                    cfg.lineage.parent)

    def _on_config(self, cmd) -> dict:
        unknown = sorted(set(cmd.config) - _RUNTIME_KEYS)
        if unknown:
            raise ValueError(f"config keys {unknown} cannot be pushed; allowed: {sorted(_RUNTIME_KEYS)}")
        values = {k: float(v) for k, v in cmd.config.items()}
        bad = [k for k, v in values.items() if not v > 0]
        if bad:
            raise ValueError(f"config values of {bad} must be positive numbers")
        self._loop.call_soon_threadsafe(lambda: [setattr(self.settings, k, v) for k, v in values.items()])
        return {"applied": values, "note": "periods take effect at their next tick"}

    def _on_snapshot(self, cmd) -> dict:
        keys = [k for k in self._recent if k[0] == cmd.asset and (cmd.channel is None or k[1] == cmd.channel)]
        if not keys:
            raise ValueError(f"no waveform of asset {cmd.asset!r} channel {cmd.channel!r} in the buffer")
        self._loop.call_soon_threadsafe(self._send_waveforms, keys, cmd.duration_s, cmd.bundle_id)
        return {"channels": [k[1] for k in keys]}

    def _send_waveforms(self, keys, duration_s: float, request: str) -> None:
        for asset, channel in keys:
            blocks = list(self._recent[(asset, channel)])
            x = np.concatenate([b.values for b in blocks])
            n = min(x.size, int(duration_s * blocks[-1].rate))
            start_ns = blocks[-1].end_ns - int(round(n / blocks[-1].rate * 1e9))
            self._publish(asset, "waveform", {
                "ts": start_ns, "channel": channel, "rate": blocks[-1].rate, "units": blocks[-1].units,
                "request": request, "values": np.round(x[-n:], 6).tolist()})


def _warm_up_kernels() -> None:
    """Compile (or load cached) kernels before data flows."""
    bearing_features(np.random.default_rng(0).normal(size=1024), 12000.0, BearingFrequencies(100.0, 150.0, 130.0))
