"""Commands to edges: the hub signs a command bundle with its Ed25519 key and publishes it (operators).

The edge agent verifies the signature, the expiry and the bundle id before it
applies a command (``edge_agent.commands``); its answer comes back on
``cmd_result`` and shows in ``GET /api/edges/{site}/{edge}``.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field, ValidationError

from cloud.accounts.deps import DB, Operator
from cloud.domain import service
from contract.commands import parse_command
from contract.mqtt import make_client, parse_mqtt_url
from contract.signing import load_private_key, sign_bundle
from contract.topics import command_topic

router = APIRouter(prefix="/api", tags=["commands"])


class CommandIn(BaseModel):
    """A command for one edge; the hub adds ``bundle_id``, ``edge``, ``created_ns`` and ``expires_ns``."""

    cmd: Literal["config", "deploy", "snapshot"]
    config: dict[str, Any] | None = Field(None, description="config: keys the agent understands")
    asset: str | None = Field(None, description="deploy, snapshot: the asset")
    pipeline: dict[str, Any] | None = Field(None, description="deploy: the declared pipeline")
    channel: str | None = Field(None, description="snapshot: one channel (default: all)")
    duration_s: float | None = Field(None, gt=0, le=60, description="snapshot: seconds of raw waveform")


class CommandSent(BaseModel):
    """What was published, where."""

    bundle_id: str
    topic: str
    key_id: str
    expires_ns: int


def hub_signer(request: Request) -> tuple:
    """The hub's command key and key id (503 when none is configured); a FastAPI dependency."""
    settings = request.app.state.settings
    if not settings.command_key:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "commands are disabled: set TEACHFAB_HUB_COMMAND_KEY to the hub's Ed25519 private key")
    return load_private_key(settings.command_key), settings.command_key_id


def publish_once(broker: str, topic: str, payload: bytes, timeout: float = 5.0) -> None:
    """Publish ``payload`` to ``topic`` at QoS 1 on a short-lived connection; raise ``OSError`` on failure."""
    host, port = parse_mqtt_url(broker)
    client = make_client(f"tf-hub-cmd-{uuid.uuid4().hex[:8]}", "3.1.1")
    client.connect(host, port, keepalive=10)
    client.loop_start()
    try:
        info = client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise OSError(f"broker {broker} did not acknowledge the command within {timeout} s")
    finally:
        client.disconnect()
        client.loop_stop()


@router.post("/edges/{site}/{edge}/commands", response_model=CommandSent, status_code=202,
             summary="Sign a command (config, deploy, snapshot) with the hub key and publish it to an edge "
                     "(hub operators)",
             responses={404: {"description": "edge neither registered nor seen"},
                        422: {"description": "the command does not match the edge contract"},
                        503: {"description": "no hub key configured, or the broker is unreachable"}})
def send_command(request: Request, db: DB, who: Operator, site: str, edge: str, body: CommandIn,
                 signer: Annotated[tuple, Depends(hub_signer)]) -> CommandSent:
    known = any(e.edge_id == edge for e in service.list_edges(db, site)) or any(
        e["site"] == site and e["edge"] == edge for e in request.app.state.store.edges())
    if not known:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no edge {edge!r} at site {site!r}")
    return sign_and_publish(request.app.state.settings, signer, site, edge, body.model_dump(exclude_none=True))


def sign_and_publish(settings, signer: tuple, site: str, edge: str, command: dict) -> CommandSent:
    """Complete ``command`` (bundle id, edge, creation and expiry), check it against the edge's
    contract, sign it with the hub key and publish it; ``HTTPException`` 422/503 on failure."""

    now = time.time_ns()
    doc = {**command, "bundle_id": uuid.uuid4().hex, "edge": edge,
           "created_ns": now, "expires_ns": now + settings.command_ttl_s * 10**9}
    try:
        parse_command(doc)  # the edge's own contract: refuse here what the edge would refuse
    except ValidationError as exc:
        raise HTTPException(422, [{"loc": e["loc"], "msg": e["msg"]} for e in exc.errors()]) from None
    key, key_id = signer
    topic = command_topic(site, edge, command["cmd"])
    try:
        publish_once(settings.broker, topic, json.dumps(sign_bundle(doc, key, key_id)).encode())
    except OSError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"could not publish: {exc}") from None
    return CommandSent(bundle_id=doc["bundle_id"], topic=topic, key_id=key_id, expires_ns=doc["expires_ns"])
