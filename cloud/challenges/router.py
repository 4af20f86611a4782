"""Routes of teams, challenges and their charters; thin over :mod:`cloud.challenges.charters`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from cloud.access import DB, Anyone, Operator, Principal, Role, RoleGate
from cloud.accounts.service import user_of
from cloud.challenges import charters, teams
from cloud.challenges.schemas import (ChallengeCreate, ChallengePublic, ChallengeView, CharterUpdate, Member,
                                      SignatureIn, StaffAdd, TeamCreate, TeamPublic)
from cloud.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api", tags=["challenges"])
RUNS = RoleGate(Role.hub_operator, Role.mentor)
SIGNERS = RoleGate(Role.hub_operator, Role.mentor, Role.assessor, Role.sme_partner)
Runs = Annotated[Principal, Depends(RUNS)]
Signers = Annotated[Principal, Depends(SIGNERS)]


def _team(t) -> TeamPublic:
    return TeamPublic(id=t.id, name=t.name, members=[Member(id=m.id, email=m.email, name=m.display_name)
                                                     for m in t.members])


@router.post("/teams", response_model=TeamPublic, status_code=201, responses=ERROR_RESPONSES,
             summary="Create a team of learners (mentors, operators)")
def create_team(db: DB, who: Runs, body: TeamCreate) -> TeamPublic:
    members = teams.users_with_role(db, body.members, Role.learner, "members")
    return _team(teams.create_team(db, body.name, members))


@router.get("/teams", response_model=list[TeamPublic],
            summary="Teams in the caller's scope (a learner: their own teams)")
def list_teams(db: DB, who: Anyone) -> list[TeamPublic]:
    staff = bool(who.roles & {Role.hub_operator, Role.mentor, Role.assessor, Role.sme_partner})
    return [_team(t) for t in teams.list_teams(db, who.scope, who.user_id, staff)]


@router.get("/challenges", response_model=list[ChallengePublic],
            summary="Challenges in the caller's scope (a learner: their teams' challenges)")
def list_challenges(db: DB, who: Anyone) -> list[ChallengePublic]:
    return [ChallengePublic(id=c.id, name=c.name, site=c.site.slug, assets=[a.name for a in c.assets],
                            teams={t.name: [m.id for m in t.members] for t in c.teams},
                            staff=[u.id for u in c.staff]) for c in teams.list_challenges(db, who.scope)]


@router.post("/challenges", response_model=ChallengeView, status_code=201, responses=ERROR_RESPONSES,
             summary="Create a challenge with a draft charter from a lab pack or a written charter")
def create_challenge(db: DB, who: Runs, body: ChallengeCreate) -> dict:
    return charters.view(db, charters.create_from_request(db, body, user_of(db, who)))


@router.get("/challenges/{challenge_id}", response_model=ChallengeView, responses=ERROR_RESPONSES,
            summary="A challenge with its charter, signatures, teams and staff duties")
def challenge(db: DB, who: Anyone, challenge_id: int) -> dict:
    return charters.view(db, teams.visible_challenge(db, who.scope, challenge_id))


@router.put("/challenges/{challenge_id}/charter", response_model=ChallengeView, responses=ERROR_RESPONSES,
            summary="Replace the draft charter (refused once any party has signed)")
def edit_charter(db: DB, who: Runs, challenge_id: int, body: CharterUpdate) -> dict:
    row = teams.visible_challenge(db, who.scope, challenge_id)
    charters.edit_charter(db, challenge_id, body.charter, user_of(db, who))
    return charters.view(db, row)


@router.post("/challenges/{challenge_id}/staff", response_model=ChallengeView, status_code=201,
             responses=ERROR_RESPONSES,
             summary="Put a mentor or an academic/industrial assessor on the challenge's staff (hub operators)")
def add_staff(db: DB, who: Operator, challenge_id: int, body: StaffAdd) -> dict:
    row = teams.visible_challenge(db, who.scope, challenge_id)
    charters.add_staff(db, challenge_id, body.user_id, body.duty)
    db.refresh(row)
    return charters.view(db, row)


@router.post("/challenges/{challenge_id}/signatures", response_model=ChallengeView, status_code=201,
             responses=ERROR_RESPONSES,
             summary="Sign the charter for a party: industry partner (SME partner of the site), provider "
                     "(mentor/assessor of the challenge) or hub (hub operator)")
def sign_charter(db: DB, who: Signers, challenge_id: int, body: SignatureIn) -> dict:
    row = teams.visible_challenge(db, who.scope, challenge_id)
    charters.sign(db, challenge_id, user_of(db, who), body.party)
    return charters.view(db, row)


@router.post("/challenges/{challenge_id}/activate", response_model=ChallengeView, responses=ERROR_RESPONSES,
             summary="Activate a charter signed by every party: sessions may start")
def activate(db: DB, who: Runs, challenge_id: int) -> dict:
    row = teams.visible_challenge(db, who.scope, challenge_id)
    charters.activate(db, challenge_id, user_of(db, who))
    return charters.view(db, row)


@router.post("/challenges/{challenge_id}/close", response_model=ChallengeView, responses=ERROR_RESPONSES,
             summary="Close an active challenge (no session may still run); its handover package is built")
def close(db: DB, who: Runs, challenge_id: int, request: Request) -> dict:
    row = teams.visible_challenge(db, who.scope, challenge_id)
    charters.close(db, challenge_id, user_of(db, who), getattr(request.app.state, "hooks", None))
    return charters.view(db, row)
