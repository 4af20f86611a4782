"""Response models of the telemetry API: what the store holds, as the routes return it.

The SQLite and InfluxDB stores return the same keys; a field one backend
lacks (InfluxDB events have no ``id``) is optional. Models that describe a
row of the store allow extra keys, so a backend that stores more (e.g. a new
column) is not silently truncated by the API.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contract.explanation import Explanation


class _Row(BaseModel):
    model_config = ConfigDict(extra="allow")


class AssetSeen(_Row):
    """An asset the hub has telemetry of, with its edge, the edge's state and its alert count."""

    site: str
    asset: str
    edge: str
    first_seen_ns: int | None = None
    last_seen_ns: int | None = None
    edge_state: str = Field("unknown", description="online, offline or unknown")
    alerts: int = 0


class EdgeSeen(_Row):
    """An edge and its last retained status."""

    site: str
    edge: str
    state: str = Field(description="online or offline")
    boot: str
    version: str | None = None
    assets: list[str] = []
    status_ts: int = Field(description="UTC epoch ns of the status message")
    last_seen_ns: int


class FeatureWindow(_Row):
    """One analysis window: its end time ``ts`` (epoch ns) and one number per feature, plus
    ``score`` and ``threshold`` of the detector when the edge sent them."""

    ts: int


class _EdgeEvent(_Row):
    """Something an edge sent at ``ts`` (its clock) that the hub stored at ``received_ns`` (its own)."""

    id: int | None = None
    ts: int
    site: str
    edge: str
    received_ns: int | None = None


class AlertEvent(_EdgeEvent):
    """An alert episode opened by an edge's pipeline."""

    asset: str
    score: float
    threshold: float
    severity: str
    message: str
    explanation: Explanation | None = None


class DriftEvent(_EdgeEvent):
    """A drift monitor fired on a feature, the score or an input channel."""

    asset: str
    target: str
    detector: str
    message: str
    detail: dict[str, Any] = {}


class Spectrum(BaseModel):
    """An amplitude spectrum, thinned to at most a few thousand points."""

    freqs: list[float]
    amplitude: list[float]
    band_hz: list[float] | None = Field(None, description="demodulation band of an envelope spectrum")


class WaveformSnapshot(_EdgeEvent):
    """Raw samples of one channel sent on a snapshot request, optionally with the hub's spectra."""

    asset: str
    channel: str
    rate: float
    units: str
    request: str | None = None
    n: int | None = None
    values: list[float]
    spectrum: Spectrum | None = None
    envelope: Spectrum | None = None
    rms: float | None = None
    resolution_hz: float | None = None


class CommandAnswer(_EdgeEvent):
    """An edge's answer to a hub command."""

    cmd: str | None = None
    bundle_id: str | None = None
    status: str = Field(description="accepted or rejected")
    reason: str | None = None
    detail: dict[str, Any] | None = None


class EdgeDetail(BaseModel):
    """One edge: status, retained birth (pipelines and their lineage) and health, command answers."""

    status: EdgeSeen | None
    birth: dict[str, Any] | None = Field(description="the edge's retained birth message")
    health: dict[str, Any] | None = Field(description="the edge's retained health message")
    command_results: list[CommandAnswer]


class Quarantined(BaseModel):
    """A payload refused by validation, with the reason."""

    id: int
    received_ns: int
    topic: str
    reason: str
    payload: str = Field(description="the payload as received (UTF-8, undecodable bytes replaced)")


class Health(BaseModel):
    """What is true of the hub now; ``ok`` only when every part works (``problems`` says which does not)."""

    ok: bool
    ingest_subscribed: bool = Field(description="whether MQTT ingest holds its subscriptions")
    broker_connected: bool = Field(False, description="whether the MQTT connection is up")
    store_writable: bool = Field(True, description="whether the telemetry store takes writes")
    domain_reachable: bool = Field(True, description="whether the relational database answers")
    lag_s: float = Field(0.0, description="seconds the oldest message not yet stored has waited")
    last_message_s: float | None = Field(None, description="seconds since the last message arrived")
    queue_depth: int = Field(0, description="messages waiting for the store writer")
    problems: list[str] = Field(default_factory=list, description="one reason per failing part")
