"""Routes of the handover package: its description, the archive, its check and a rebuild.

Who may download: the challenge's SME partners (its site's members), its
provider (mentors and assessors on its staff) and hub operators; a
learner gets 403, and anyone outside the challenge's scope 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel

from cloud.access import DB, Principal, Role, RoleGate
from cloud.challenges import teams
from cloud.errors import ERROR_RESPONSES
from cloud.handover import service

router = APIRouter(prefix="/api", tags=["handover"])
PARTIES = RoleGate(Role.hub_operator, Role.mentor, Role.assessor, Role.sme_partner)
RUNS = RoleGate(Role.hub_operator, Role.mentor)
Parties = Annotated[Principal, Depends(PARTIES)]
Runs = Annotated[Principal, Depends(RUNS)]
ZIP = {200: {"content": {"application/zip": {}}, "description": "the handover archive (ZIP)"}}


class HandoverPublic(BaseModel):
    """A handover package: its hashes, the ledger entry that seals its manifest, and its files' hashes."""

    id: int
    challenge: int
    created_at: str | None
    size: int
    archive_sha256: str
    manifest_sha256: str
    ledger_hash: str
    de_identified: bool
    files: dict[str, str]


class HandoverCheck(BaseModel):
    """Whether the package still matches its manifest, the manifest its ledger entry, and the chain verifies."""

    ok: bool
    problems: list[str]
    package: int
    challenge: int
    manifest_sha256: str | None
    ledger_entry: int | None
    chain_ok: bool


@router.get("/challenges/{challenge_id}/handover", response_model=HandoverPublic, responses=ERROR_RESPONSES,
            summary="The challenge's handover package: hashes, ledger entry and files (built when it closes)")
def handover(db: DB, who: Parties, challenge_id: int) -> dict:
    teams.visible_challenge(db, who.scope, challenge_id)
    return service.view(service.latest(db, challenge_id))


@router.get("/challenges/{challenge_id}/handover/archive", response_class=Response,
            responses={**ZIP, **ERROR_RESPONSES},
            summary="Download the handover archive (ZIP) of a closed challenge")
def archive(db: DB, who: Parties, challenge_id: int) -> Response:
    teams.visible_challenge(db, who.scope, challenge_id)
    row = service.latest(db, challenge_id)
    name = f"teachfab-handover-challenge-{challenge_id}-{row.id}.zip"
    return Response(row.archive, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "X-Archive-SHA256": row.archive_sha256, "X-Manifest-SHA256": row.manifest_sha256})


@router.get("/challenges/{challenge_id}/handover/check", response_model=HandoverCheck, responses=ERROR_RESPONSES,
            summary="Check the handover package against its manifest and the ledger")
def check(db: DB, who: Parties, challenge_id: int) -> dict:
    teams.visible_challenge(db, who.scope, challenge_id)
    return service.check(db, challenge_id)


@router.post("/challenges/{challenge_id}/handover", response_model=HandoverPublic, status_code=201,
             responses=ERROR_RESPONSES,
             summary="Build the handover package again (a closed challenge; e.g. after late evidence)")
def rebuild(db: DB, who: Runs, challenge_id: int, request: Request) -> dict:
    teams.visible_challenge(db, who.scope, challenge_id)
    row = service.build(db, request.app.state.store, challenge_id, who.user_id)
    db.commit()
    return service.view(row)
