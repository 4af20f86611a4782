"""Route of edge commands: a hub operator sends a config, deploy or snapshot command to one edge."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from cloud.access import DB, Operator
from cloud.commands.schemas import CommandIn, CommandSent
from cloud.commands.service import CommandSigner
from cloud.errors import NotFound, Unavailable
from cloud.sites import service as registry

router = APIRouter(prefix="/api", tags=["commands"])


def hub_signer(request: Request) -> CommandSigner:
    """The hub's :class:`CommandSigner` (503 when the hub has no command key); a FastAPI dependency."""
    signer = request.app.state.command_signer
    if signer is None:
        raise Unavailable("commands are disabled: set TEACHFAB_HUB_COMMAND_KEY to the hub's Ed25519 private key")
    return signer


Signer = Annotated[CommandSigner, Depends(hub_signer)]


@router.post("/edges/{site}/{edge}/commands", response_model=CommandSent, status_code=202,
             summary="Sign a command (config, deploy, snapshot) with the hub key and publish it to an edge "
                     "(hub operators)",
             responses={404: {"description": "edge neither registered nor seen"},
                        422: {"description": "the command does not match the edge contract"},
                        503: {"description": "no hub key configured, or the broker is unreachable"}})
def send_command(request: Request, db: DB, who: Operator, site: str, edge: str, body: CommandIn,
                 signer: Signer) -> CommandSent:
    seen = any(e["site"] == site and e["edge"] == edge for e in request.app.state.store.edges())
    if not (seen or registry.edge_registered(db, site, edge)):
        raise NotFound(f"no edge {edge!r} at site {site!r}")
    return signer.send(site, edge, body.model_dump(exclude_none=True))
