"""Routes of challenges, charters and teams; thin over :mod:`cloud.challenges.charters`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy import select

from cloud.accounts.deps import DB, Anyone, Operator, Principal, RoleGate
from cloud.accounts.models import Role, User
from cloud.challenges import charters
from cloud.challenges.schemas import ChallengeCreate, CharterUpdate, SignatureIn, StaffAdd, TeamCreate
from cloud.domain import service as registry
from cloud.domain.models import Challenge, Team, team_members

router = APIRouter(prefix="/api", tags=["challenges"])
RUNS = RoleGate(Role.hub_operator, Role.mentor)
SIGNERS = RoleGate(Role.hub_operator, Role.mentor, Role.assessor, Role.sme_partner)
Runs = Annotated[Principal, Depends(RUNS)]
Signers = Annotated[Principal, Depends(SIGNERS)]
ERRORS = {404: {"description": "unknown, or outside the caller's scope"},
          409: {"description": "the challenge's state does not allow it"},
          422: {"description": "invalid document; the message names the field"}}


def domain_call(fn: Callable, *args, **kwargs):
    """Run a service call, turning its errors into HTTP answers (403/404/409/422)."""
    try:
        return fn(*args, **kwargs)
    except charters.ChallengeError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except registry.RegistryError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except PermissionError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc.args[0])) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def user_of(db: DB, who: Principal) -> User:
    """The caller's user row."""
    return db.get(User, who.user_id)


def visible_challenge(db: DB, who: Principal, challenge_id: int) -> Challenge:
    """The challenge if the caller may see it, else 404."""
    row = db.get(Challenge, challenge_id)
    if row is None or not who.scope.challenge(challenge_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no challenge {challenge_id} in your scope")
    return row


def _users(db: DB, ids: list[int], role: Role, what: str) -> list[User]:
    out = []
    for uid in ids:
        u = db.get(User, uid)
        if u is None or role not in u.roles:
            raise HTTPException(422, f"{what}: user {uid} does not exist or lacks the role {role.value}")
        out.append(u)
    return out


@router.post("/teams", status_code=201, responses=ERRORS, summary="Create a team of learners (mentors, operators)")
def create_team(db: DB, who: Runs, body: TeamCreate) -> dict:
    members = _users(db, body.members, Role.learner, "members")
    team = domain_call(registry.create_team, db, body.name, members)
    return {"id": team.id, "name": team.name, "members": [m.id for m in team.members]}


@router.get("/teams", summary="Teams in the caller's scope (a learner: their own teams)")
def teams(db: DB, who: Anyone) -> list[dict]:
    rows = db.scalars(select(Team).order_by(Team.id))
    if not who.scope.everything:
        mine = set(db.scalars(select(team_members.c.team_id).where(team_members.c.user_id == who.user_id)))
        seen = {t.id for c in registry.list_challenges(db, who.scope) for t in c.teams} | mine
        rows = [t for t in rows if t.id in seen]
    return [{"id": t.id, "name": t.name, "members": [{"id": m.id, "email": m.email, "name": m.display_name}
                                                    for m in t.members]} for t in rows]


@router.post("/challenges", status_code=201, responses=ERRORS,
             summary="Create a challenge with a draft charter from a lab pack or a written charter")
def create_challenge(db: DB, who: Runs, body: ChallengeCreate) -> dict:
    mentors = _users(db, body.mentors, Role.mentor, "mentors")
    if Role.mentor in who.roles and who.user_id not in body.mentors:
        mentors.append(user_of(db, who))  # a mentor creating a challenge mentors it
    teams_ = []
    for tid in body.teams:
        team = db.get(Team, tid)
        if team is None:
            raise HTTPException(422, f"teams: no team {tid}")
        teams_.append(team)
    challenge = domain_call(
        charters.create_challenge, db, body.name, body.site, pack_id=body.pack, charter=body.charter,
        rubric=body.rubric, parties=body.parties, assets=body.assets, teams=teams_, mentors=mentors,
        academic_assessors=_users(db, body.academic_assessors, Role.assessor, "academic_assessors"),
        industrial_assessors=_users(db, body.industrial_assessors, Role.assessor, "industrial_assessors"))
    return charters.view(db, challenge)


@router.get("/challenges/{challenge_id}", responses=ERRORS,
            summary="A challenge with its charter, signatures, teams and staff duties")
def challenge(db: DB, who: Anyone, challenge_id: int) -> dict:
    return charters.view(db, visible_challenge(db, who, challenge_id))


@router.put("/challenges/{challenge_id}/charter", responses=ERRORS,
            summary="Replace the draft charter (refused once any party has signed)")
def edit_charter(db: DB, who: Runs, challenge_id: int, body: CharterUpdate) -> dict:
    row = visible_challenge(db, who, challenge_id)
    domain_call(charters.edit_charter, db, challenge_id, body.charter, user_of(db, who))
    return charters.view(db, row)


@router.post("/challenges/{challenge_id}/staff", status_code=201, responses=ERRORS,
             summary="Put a mentor or an academic/industrial assessor on the challenge's staff (hub operators)")
def add_staff(db: DB, who: Operator, challenge_id: int, body: StaffAdd) -> dict:
    row = visible_challenge(db, who, challenge_id)
    user = db.get(User, body.user_id)
    if user is None:
        raise HTTPException(422, f"user_id: no user {body.user_id}")
    domain_call(charters.add_staff, db, challenge_id, user, body.duty)
    db.refresh(row)
    return charters.view(db, row)


@router.post("/challenges/{challenge_id}/signatures", status_code=201, responses=ERRORS,
             summary="Sign the charter for a party: industry partner (SME partner of the site), provider "
                     "(mentor/assessor of the challenge) or hub (hub operator)")
def sign_charter(db: DB, who: Signers, challenge_id: int, body: SignatureIn) -> dict:
    row = visible_challenge(db, who, challenge_id)
    domain_call(charters.sign, db, challenge_id, user_of(db, who), body.party)
    return charters.view(db, row)


@router.post("/challenges/{challenge_id}/activate", responses=ERRORS,
             summary="Activate a charter signed by every party: sessions may start")
def activate(db: DB, who: Runs, challenge_id: int) -> dict:
    row = visible_challenge(db, who, challenge_id)
    domain_call(charters.activate, db, challenge_id, user_of(db, who))
    return charters.view(db, row)


@router.post("/challenges/{challenge_id}/close", responses=ERRORS,
             summary="Close an active challenge (no session may still run)")
def close(db: DB, who: Runs, challenge_id: int) -> dict:
    row = visible_challenge(db, who, challenge_id)
    domain_call(charters.close, db, challenge_id, user_of(db, who))
    return charters.view(db, row)
