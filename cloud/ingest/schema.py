"""Validation of v1 payloads at the hub (pydantic).

:func:`parse_message` turns a topic and raw payload into a typed message or
raises :class:`InvalidMessage` whose ``reason`` names the field, the value
and what was expected — the reason is what the quarantine stores.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# 2000-01-01 .. 2100-01-01 in epoch nanoseconds: a timestamp sent in
# seconds or milliseconds by mistake falls outside and is rejected, instead
# of landing silently in 1970.
MIN_TS_NS = 946_684_800 * 10**9
MAX_TS_NS = 4_102_444_800 * 10**9
Timestamp = Field(ge=MIN_TS_NS, le=MAX_TS_NS, description="UTC epoch nanoseconds")
Segment = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")


class InvalidMessage(ValueError):
    """A payload that breaks the contract; ``reason`` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)


class _Envelope(BaseModel):
    model_config = _STRICT
    v: Literal[1]
    edge: str = Segment
    boot: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=0)


class FeatureRecordIn(BaseModel):
    """One window's features as sent by an edge."""

    model_config = _STRICT
    ts: int = Timestamp
    features: dict[str, float] = Field(max_length=256)
    score: float | None = None
    threshold: float | None = None
    learning: bool = False


class FeaturesMsg(_Envelope):
    """``tf/v1/{site}/{edge}/{asset}/features``: a batch of records."""

    records: list[FeatureRecordIn] = Field(min_length=1, max_length=10_000)


class AlertMsg(_Envelope):
    """``tf/v1/{site}/{edge}/{asset}/alert``: an alert episode opened."""

    ts: int = Timestamp
    score: float
    threshold: float
    severity: Literal["warning", "critical"] = "warning"
    message: str = Field(max_length=2000)
    features: dict[str, float] = Field(default_factory=dict, max_length=256)


class StatusMsg(_Envelope):
    """``tf/v1/{site}/{edge}/status`` (retained): online or offline."""

    state: Literal["online", "offline"]
    ts: int = Timestamp
    version: str | None = None
    assets: list[str] = Field(default_factory=list)


class DriftMsg(_Envelope):
    """``tf/v1/{site}/{edge}/{asset}/drift``: a drift monitor fired on a feature or the score."""

    ts: int = Timestamp
    kind: Literal["drift"] = "drift"
    asset: str | None = None
    target: str = Field(min_length=1, max_length=128)
    detector: str = Field(min_length=1, max_length=64)
    detail: dict[str, float | int | str | None] = Field(default_factory=dict, max_length=64)
    message: str = Field(max_length=2000)


class WaveformMsg(_Envelope):
    """``tf/v1/{site}/{edge}/{asset}/waveform``: raw samples sent on a snapshot request."""

    ts: int = Timestamp
    channel: str = Field(min_length=1, max_length=64)
    rate: float = Field(gt=0)
    units: str = Field(max_length=32)
    request: str | None = Field(None, max_length=64)
    values: list[float] = Field(min_length=1, max_length=2_000_000)


class _EdgeState(_Envelope):
    """Retained edge-level state; its fields are the edge's to define (stored as JSON)."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)
    ts: int = Timestamp


class BirthMsg(_EdgeState):
    """``tf/v1/{site}/{edge}/birth`` (retained): version, pipelines and their lineage."""


class HealthMsg(_EdgeState):
    """``tf/v1/{site}/{edge}/health`` (retained): sources, pipelines, outbox figures."""


class CmdResultMsg(_Envelope):
    """``tf/v1/{site}/{edge}/cmd_result``: a command accepted or rejected, with the reason."""

    cmd: str | None = None
    bundle_id: str | None = None
    status: Literal["accepted", "rejected"]
    reason: str | None = None
    detail: dict | None = None
    ts: int = Timestamp


ASSET_KINDS = {"features": FeaturesMsg, "alert": AlertMsg, "drift": DriftMsg, "waveform": WaveformMsg}
EDGE_KINDS = {"status": StatusMsg, "birth": BirthMsg, "health": HealthMsg, "cmd_result": CmdResultMsg}
_MODELS = {**ASSET_KINDS, **EDGE_KINDS}


@dataclass(frozen=True)
class Message:
    """A validated message and where it came from."""

    kind: str
    site: str
    edge: str
    asset: str | None
    body: BaseModel


def parse_message(topic: str, payload: bytes) -> Message:
    """Validate a topic and payload against the v1 contract.

    Examples
    --------
    >>> m = parse_message("tf/v1/lab/e1/status",
    ...     b'{"v":1,"edge":"e1","boot":"b","seq":0,"state":"online","ts":1700000000000000000}')
    >>> m.kind, m.edge, m.body.state
    ('status', 'e1', 'online')
    >>> parse_message("tf/v1/lab/e1/status", b'{"v":1}')
    Traceback (most recent call last):
    ...
    cloud.ingest.schema.InvalidMessage: status payload: edge: Field required (got nothing); ...
    """
    parts = topic.split("/")
    if len(parts) == 5 and parts[:2] == ["tf", "v1"] and parts[4] in EDGE_KINDS:
        kind, site, edge, asset = parts[4], parts[2], parts[3], None
    elif len(parts) == 6 and parts[:2] == ["tf", "v1"] and parts[5] in ASSET_KINDS:
        kind, site, edge, asset = parts[5], parts[2], parts[3], parts[4]
    else:
        raise InvalidMessage(f"topic {topic!r} is not tf/v1/<site>/<edge>/<asset>/({'|'.join(ASSET_KINDS)}) "
                             f"or tf/v1/<site>/<edge>/({'|'.join(EDGE_KINDS)})")
    for what, seg in (("site", site), ("edge", edge), ("asset", asset)):
        if seg is not None and not (0 < len(seg) <= 64):
            raise InvalidMessage(f"topic {topic!r}: {what} segment must be 1-64 characters")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidMessage(f"{kind} payload is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidMessage(f"{kind} payload must be a JSON object, got {type(data).__name__}")
    try:
        body = _MODELS[kind].model_validate(data)
    except ValidationError as exc:
        raise InvalidMessage(f"{kind} payload: {_describe(exc)}") from None
    if body.edge != edge:
        raise InvalidMessage(f"{kind} payload: edge {body.edge!r} does not match topic edge {edge!r}")
    return Message(kind, site, edge, asset, body)


def _describe(exc: ValidationError) -> str:
    """One line per error: field path, what was wrong, the value received."""
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "payload"
        got = err.get("input")
        shown = "nothing" if err["type"] == "missing" else repr(got)[:60]
        parts.append(f"{where}: {err['msg']} (got {shown})")
    more = len(exc.errors()) - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
