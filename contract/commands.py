"""Commands of MQTT contract v1: what the hub sends down, and the edge's answer.

A command travels on ``tf/v1/{site}/{edge}/cmd/{name}`` as a signed bundle
(:mod:`contract.signing`) whose payload is one of the models below; the
hub completes and validates it before signing (refusing what the edge
would refuse), the edge validates it again after checking the signature.
The edge answers every command, valid or not, with :func:`command_result`
on ``tf/v1/{site}/{edge}/cmd_result``.

A command names both its ``site`` and its ``edge``, inside the signed
payload: edge ids repeat across sites (every lab's first gateway is
``edge-1``), so a bundle signed for ``plant-b/edge-1`` must not be
accepted by ``teachfab-lab/edge-1`` when someone republishes it there.

Examples
--------
>>> cmd = parse_command({"cmd": "snapshot", "bundle_id": "s-1", "site": "lab", "edge": "edge-1",
...                      "created_ns": 1_700_000_000_000_000_000, "asset": "pump-1"})
>>> type(cmd).__name__, cmd.duration_s
('SnapshotCommand', 1.0)
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from contract.bounds import Identifier, TimestampNs
from contract.topics import COMMAND_NAMES

#: Largest command payload an edge reads (bytes of the signed bundle).
MAX_COMMAND_BYTES = 1 << 20


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    bundle_id: Identifier
    site: Identifier = Field(description="the site of the edge the command is for (edge ids repeat across sites)")
    edge: Identifier
    created_ns: TimestampNs
    expires_ns: int | None = None


class ConfigCommand(_Command):
    """``cmd/config``: a configuration push (keys the agent understands)."""

    cmd: Literal["config"]
    config: dict[str, Any]


class DeployCommand(_Command):
    """``cmd/deploy``: a declared pipeline for one asset (validated by the edge's pipeline registry)."""

    cmd: Literal["deploy"]
    asset: Identifier
    pipeline: dict[str, Any]


class SnapshotCommand(_Command):
    """``cmd/snapshot``: send raw waveform of an asset (one channel or all) for ``duration_s``."""

    cmd: Literal["snapshot"]
    asset: Identifier
    channel: str | None = None
    duration_s: float = Field(1.0, gt=0, le=60)


Command = Annotated[ConfigCommand | DeployCommand | SnapshotCommand, Field(discriminator="cmd")]
_COMMAND: TypeAdapter = TypeAdapter(Command)


def parse_command(doc: Any) -> ConfigCommand | DeployCommand | SnapshotCommand:
    """Validate a command payload (raises pydantic's ``ValidationError``)."""
    return _COMMAND.validate_python(doc)


def command_result(cmd: str | None, bundle_id: str | None, status: Literal["accepted", "rejected"],
                   reason: str | None, ts: int, detail: dict | None = None) -> dict:
    """The body of a ``cmd_result`` message (the publisher adds the envelope).

    Examples
    --------
    >>> command_result("deploy", "d-1", "rejected", "bad signature", 1_700_000_000_000_000_000)["status"]
    'rejected'
    """
    return {"cmd": cmd if cmd in COMMAND_NAMES else None, "bundle_id": bundle_id, "status": status,
            "reason": reason, "detail": detail, "ts": ts}
