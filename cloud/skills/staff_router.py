"""Routes for mentors, assessors, hub operators and SME partners: learners' profiles and gaps of their teams,
a company's aggregated gaps over consenting learners, and invitations (with the public join steps)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from cloud.access import DB, Principal, Role, RoleGate, Staff
from cloud.accounts.service import issue_token
from cloud.errors import ERROR_RESPONSES
from cloud.skills import careers, joining, profiles, sharing
from cloud.skills.job_schemas import JobMatch
from cloud.skills.router import LangQ, language
from cloud.skills.schemas import (AcceptIn, CompanyGaps, CompanyView, InvitationCreated, InvitationIn, InvitationView,
                                  JoinToken, LearnerSummary, ProfileView, TeamGaps, TeamSummary)

router = APIRouter(prefix="/api", tags=["skills (staff)"])
Companies = Annotated[Principal, Depends(RoleGate(Role.hub_operator, Role.sme_partner))]
Inviters = Annotated[Principal, Depends(RoleGate(Role.hub_operator, Role.mentor))]


@router.get("/skills/learners", response_model=list[LearnerSummary],
            summary="Learners of the teams I mentor or assess (hub operators: every learner in a team)")
def learners(db: DB, who: Staff) -> list[dict]:
    seen: dict[int, dict] = {}
    for team in sharing.visible_teams(db, who):
        for m in team.members:
            if Role.learner in m.roles:
                row = seen.setdefault(m.id, {"user": m.id, "name": m.display_name or m.email, "email": m.email,
                                             "teams": []})
                row["teams"].append(team.name)
    lv = profiles.levels_of(db, list(seen))
    verified = {u: len(profiles.levels(db, u, verified_only=True)) for u in seen}
    return [{**row, "skills": len(lv[u]), "verified": verified[u]} for u, row in sorted(seen.items())]


@router.get("/skills/learners/{user_id}/profile", response_model=ProfileView, responses=ERROR_RESPONSES,
            summary="A learner's profile matrix (their mentors and assessors, hub operators)")
def learner_profile(request: Request, db: DB, who: Staff, user_id: int, lang: LangQ = None) -> dict:
    sharing.learner(db, who, user_id)
    return profiles.profile(db, user_id, language(request, db, who, lang))


@router.get("/skills/learners/{user_id}/matches", response_model=list[JobMatch], responses=ERROR_RESPONSES,
            summary="A learner's job matches (their mentors and assessors, hub operators)")
def learner_matches(request: Request, db: DB, who: Staff, user_id: int, lang: LangQ = None) -> list[dict]:
    sharing.learner(db, who, user_id)
    return careers.matches(db, user_id, language(request, db, who, lang))


@router.get("/skills/teams", response_model=list[TeamSummary], summary="Teams whose profiles I see")
def teams(db: DB, who: Staff) -> list[dict]:
    return [{"id": t.id, "name": t.name, "members": len(t.members)} for t in sharing.visible_teams(db, who)]


@router.get("/skills/teams/{team_id}/gaps/{job_id}", response_model=TeamGaps, responses=ERROR_RESPONSES,
            summary="A team's gaps for a job: each member's, and which skills are short for how many")
def team_gaps(request: Request, db: DB, who: Staff, team_id: int, job_id: str, lang: LangQ = None) -> dict:
    return sharing.team_view(db, who, team_id, job_id, language(request, db, who, lang))


@router.get("/skills/companies", response_model=list[CompanyView],
            summary="Companies whose aggregated gaps I see (SME partners: their own)")
def companies(db: DB, who: Companies) -> list[dict]:
    return [{"site": s.slug, "name": s.name} for s in sharing.own_companies(db, who)]


@router.get("/skills/companies/{site}/gaps/{job_id}", response_model=CompanyGaps, responses=ERROR_RESPONSES,
            summary="A company's gaps for a job over the learners who consented to share with it (no individual)")
def company_gaps(request: Request, db: DB, who: Companies, site: str, job_id: str, lang: LangQ = None) -> dict:
    return sharing.company_view(db, who, site, job_id, language(request, db, who, lang))


@router.post("/invitations", response_model=InvitationCreated, status_code=201, responses=ERROR_RESPONSES,
             summary="Invite a learner by e-mail (optionally into a team I run); returns the link to send")
def invite(request: Request, db: DB, who: Inviters, body: InvitationIn) -> dict:
    row, token = joining.invite(db, who, body.email, body.team_id, body.language)
    base = str(request.base_url).rstrip("/")
    return {"id": row.id, "email": row.email, "link": f"{base}/join?token={token}",
            "expires_at": row.expires_at.isoformat()}


@router.get("/invitations/{token}", response_model=InvitationView, responses=ERROR_RESPONSES,
            summary="What an invitation is for (public: the token is the secret)")
def invitation(db: DB, token: str) -> dict:
    return joining.invitation_view(db, token)


@router.post("/invitations/{token}/accept", response_model=JoinToken, status_code=201, responses=ERROR_RESPONSES,
             summary="Join: set a password, language and consents; returns a bearer token (public)")
def accept(request: Request, db: DB, token: str, body: AcceptIn) -> dict:
    user = joining.accept(db, token, body.password, body.display_name, body.language, body.share_with)
    bearer, expires = issue_token(db, user, request.app.state.settings.token_ttl_s)
    return {"access_token": bearer, "expires_at": expires.isoformat(), "user": user.id}
