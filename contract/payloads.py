"""Payloads of MQTT contract v1: what an edge sends, as pydantic models.

Every payload is a JSON object with the envelope ``v`` (schema version),
``edge``, ``boot`` (random per agent start) and ``seq`` (per edge,
increasing); :class:`Envelope` stamps them on the edge. At the hub,
:func:`parse_message` turns a topic and raw payload into a typed
:class:`Message` or raises :class:`InvalidMessage` whose ``reason`` names
the field, the value and what was expected — the reason is what the
quarantine stores.

Parsing is strict and bounded, because every payload is hostile until
validated: integers must be JSON integers (``"seq": "12"``, ``true`` and
``12.0`` are refused) within SQLite's 64-bit range, no value anywhere —
the free-form fields of ``birth`` and ``health`` included — may be
``NaN`` or infinite, a payload is at most :data:`MAX_PAYLOAD_BYTES`, and
pydantic-core's JSON parser refuses nesting beyond its recursion limit and
numbers beyond its range. Whatever else goes wrong while parsing is still
an :class:`InvalidMessage`, never another exception.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from contract.bounds import Segment, TimestampNs
from contract.explanation import Explanation
from contract.topics import parse_topic

SCHEMA_VERSION = 1
#: Largest payload the hub parses (a 2 000 000-sample waveform fits); larger ones are quarantined unread.
MAX_PAYLOAD_BYTES = 64 * 1024 * 1024
#: Largest ``seq`` (SQLite's signed 64-bit INTEGER).
MAX_SEQ = 2**63 - 1
#: How deep the free-form fields of ``birth``/``health`` may nest.
MAX_STATE_DEPTH = 32


class InvalidMessage(ValueError):
    """A payload that breaks the contract; ``reason`` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


def _not_bool(value: Any) -> Any:
    # JSON ``true`` equals 1 in Python; a schema version is a number, never a flag
    if isinstance(value, bool):
        raise ValueError(f"must be the integer 1, not {value!r}")
    return value


class _Enveloped(BaseModel):
    model_config = _STRICT
    v: Annotated[Literal[1], BeforeValidator(_not_bool)]
    edge: Segment
    boot: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=0, le=MAX_SEQ)


class FeatureRecordIn(BaseModel):
    """One window's features as sent by an edge."""

    model_config = _STRICT
    ts: TimestampNs
    features: dict[str, float] = Field(max_length=256)
    score: float | None = None
    threshold: float | None = None
    learning: bool = False


class FeaturesMsg(_Enveloped):
    """``tf/v1/{site}/{edge}/{asset}/features``: a batch of records."""

    records: list[FeatureRecordIn] = Field(min_length=1, max_length=10_000)


class AlertMsg(_Enveloped):
    """``tf/v1/{site}/{edge}/{asset}/alert``: an alert episode opened."""

    ts: TimestampNs
    score: float
    threshold: float
    severity: Literal["warning", "critical"] = "warning"
    message: str = Field(max_length=2000)
    features: dict[str, float] = Field(default_factory=dict, max_length=256)
    explanation: Explanation | None = None


class StatusMsg(_Enveloped):
    """``tf/v1/{site}/{edge}/status`` (retained): online or offline."""

    state: Literal["online", "offline"]
    ts: TimestampNs
    version: str | None = None
    assets: list[str] = Field(default_factory=list)


class DriftMsg(_Enveloped):
    """``tf/v1/{site}/{edge}/{asset}/drift``: a drift monitor fired on a feature or the score."""

    ts: TimestampNs
    kind: Literal["drift"] = "drift"
    asset: str | None = None
    target: str = Field(min_length=1, max_length=128)
    detector: str = Field(min_length=1, max_length=64)
    detail: dict[str, float | int | str | None] = Field(default_factory=dict, max_length=64)
    message: str = Field(max_length=2000)


class WaveformMsg(_Enveloped):
    """``tf/v1/{site}/{edge}/{asset}/waveform``: raw samples sent on a snapshot request."""

    ts: TimestampNs
    channel: str = Field(min_length=1, max_length=64)
    rate: float = Field(gt=0)
    units: str = Field(max_length=32)
    request: str | None = Field(None, max_length=64)
    values: list[float] = Field(min_length=1, max_length=2_000_000)


class _EdgeState(_Enveloped):
    """Retained edge-level state; its fields are the edge's to define (stored as JSON)."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False, strict=True)
    ts: TimestampNs

    @model_validator(mode="after")
    def _finite_and_shallow(self):
        for key, value in (self.model_extra or {}).items():
            problem = _state_problem(value, MAX_STATE_DEPTH)
            if problem:
                raise ValueError(f"field {key!r}: {problem}")
        return self


def _state_problem(value: Any, depth: int) -> str | None:
    """Why a free-form JSON value may not be stored (non-finite number, too deep), or ``None``."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value!r} is not a finite number"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SEQ:
        return "integer out of the 64-bit range"
    if isinstance(value, (dict, list)):
        if depth <= 0:
            return f"nested deeper than {MAX_STATE_DEPTH} levels"
        items = value.values() if isinstance(value, dict) else value
        for item in items:
            problem = _state_problem(item, depth - 1)
            if problem:
                return problem
    return None


class BirthMsg(_EdgeState):
    """``tf/v1/{site}/{edge}/birth`` (retained): version, pipelines and their lineage."""


class HealthMsg(_EdgeState):
    """``tf/v1/{site}/{edge}/health`` (retained): sources, pipelines, outbox figures."""


class CmdResultMsg(_Enveloped):
    """``tf/v1/{site}/{edge}/cmd_result``: a command accepted or rejected, with the reason."""

    cmd: str | None = None
    bundle_id: str | None = None
    status: Literal["accepted", "rejected"]
    reason: str | None = None
    detail: dict | None = None
    ts: TimestampNs


#: The payload model of every message kind (``ASSET_KINDS`` and ``EDGE_KINDS`` of :mod:`contract.topics`).
MODELS: dict[str, type[BaseModel]] = {"features": FeaturesMsg, "alert": AlertMsg, "drift": DriftMsg,
                                      "waveform": WaveformMsg, "status": StatusMsg, "birth": BirthMsg,
                                      "health": HealthMsg, "cmd_result": CmdResultMsg}


@dataclass(frozen=True)
class Message:
    """A validated message and where it came from; ``digest`` fingerprints the payload's bytes."""

    kind: str
    site: str
    edge: str
    asset: str | None
    body: BaseModel
    digest: str = ""


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
    contract.payloads.InvalidMessage: status payload: edge: Field required (got nothing); ...
    """
    try:
        kind, site, edge, asset = parse_topic(topic)
    except ValueError as exc:
        raise InvalidMessage(str(exc)) from None
    if kind not in MODELS:
        raise InvalidMessage(f"{kind} is not a single message: expand it with contract.bundle.expand first")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidMessage(f"{kind} payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        body = MODELS[kind].model_validate_json(payload)
    except ValidationError as exc:
        raise InvalidMessage(_reason(kind, exc)) from None
    except Exception as exc:  # noqa: BLE001 - any parser failure is the payload's fault, never the hub's
        raise InvalidMessage(f"{kind} payload could not be parsed: {type(exc).__name__}: {str(exc)[:200]}") from None
    if body.edge != edge:
        raise InvalidMessage(f"{kind} payload: edge {body.edge!r} does not match topic edge {edge!r}")
    return Message(kind, site, edge, asset, body, hashlib.blake2b(payload, digest_size=16).hexdigest())


def _reason(kind: str, exc: ValidationError) -> str:
    """The quarantine reason of a failed validation: not JSON, not an object, or the fields."""
    first = exc.errors()[0]
    if first["type"] == "json_invalid":
        return f"{kind} payload is not JSON: {first['msg'].removeprefix('Invalid JSON: ')}"
    if first["type"] == "model_type" and not first["loc"]:
        got = first.get("input")
        return f"{kind} payload must be a JSON object, got {type(got).__name__}"
    return f"{kind} payload: {describe_errors(exc)}"


def describe_errors(exc: ValidationError, limit: int = 5) -> str:
    """One phrase per error: field path, what was wrong, the value received (at most ``limit``).

    Examples
    --------
    >>> try:
    ...     StatusMsg.model_validate({"v": 1, "edge": "e", "boot": "b", "seq": -1, "state": "up", "ts": 1})
    ... except ValidationError as exc:
    ...     print(describe_errors(exc, limit=2))
    seq: Input should be greater than or equal to 0 (got -1); state: Input should be 'online' or 'offline' (got 'up'); and 1 more
    """
    errors = exc.errors()
    parts = []
    for err in errors[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "payload"
        shown = "nothing" if err["type"] == "missing" else repr(err.get("input"))[:60]
        parts.append(f"{where}: {err['msg']} (got {shown})")
    more = len(errors) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


class Envelope:
    """Stamps an edge's payloads with ``v``, ``edge``, ``boot`` and a per-edge ``seq``.

    Examples
    --------
    >>> env = Envelope("edge-1", boot="b1")
    >>> env.wrap({"x": 1})["seq"], env.wrap({"x": 2})["seq"]
    (1, 2)
    """

    def __init__(self, edge: str, boot: str | None = None) -> None:
        self.edge = edge
        self.boot = boot or uuid.uuid4().hex
        self._seq = itertools.count(1)

    def wrap(self, body: dict) -> dict:
        """Return ``body`` with the envelope fields added."""
        return {"v": SCHEMA_VERSION, "edge": self.edge, "boot": self.boot, "seq": next(self._seq), **body}


def now_ns() -> int:
    """UTC epoch nanoseconds from this machine's clock (the edge clock, on an edge)."""
    return time.time_ns()
