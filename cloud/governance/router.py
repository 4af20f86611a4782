"""Routes of data governance: a challenge's data agreement, sites' retention defaults, a retention pass,
learners' export and erasure, and the access log as its subjects see it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from cloud.access import DB, Anyone, Operator, Principal, Role, RoleGate
from cloud.challenges import teams
from cloud.challenges.charters import get_charter
from cloud.errors import ERROR_RESPONSES, Invalid, NotFound
from cloud.governance import agreement, retention, rights
from cloud.governance.models import AccessLogEntry
from cloud.sites.models import Site

router = APIRouter(prefix="/api", tags=["governance"])
COMPANIES = RoleGate(Role.hub_operator, Role.sme_partner)
Companies = Annotated[Principal, Depends(COMPANIES)]
LOG_LIMIT = 1000


class Period(BaseModel):
    """How long one data kind is kept and which term says so."""

    days: int
    source: str


class Agreement(BaseModel):
    """The data processing agreement of a challenge, as the hub enforces it."""

    challenge: int
    site: str
    status: str
    controller: str
    lawful_basis: str
    purpose: str
    personal_data: bool
    access: list[str]
    breach_contact: str
    learners_may: list[str]
    learners_may_not: list[str]
    dataset_licence: str
    deidentify_handover: bool
    retention: dict[str, Period]


class SiteRetentionIn(BaseModel):
    """A site's retention defaults: days per data kind (telemetry, waveforms, quarantine, learner_records)."""

    days: dict[str, int] = Field(description="days per data kind; a kind left out takes the hub's default")


class SiteRetentionOut(BaseModel):
    """A site's own defaults and the periods in force for its telemetry and waveforms."""

    site: str
    defaults: dict[str, int]
    in_force: dict[str, dict]


class RetentionReport(BaseModel):
    """What one retention pass deleted (counts), with its ledger entry and the full report."""

    run: int
    ledger_hash: str
    deleted: dict[str, int]
    report: dict


class ErasureIn(BaseModel):
    """Why the erasure is carried out (e.g. the request's reference); recorded in the log."""

    reason: str = Field("", max_length=500)


class ErasureReport(BaseModel):
    """What an erasure changed (rows per table), what it kept and why."""

    user_id: int
    pseudonym: str
    changed: dict[str, int]
    tokens_revoked: int
    areas: dict[str, dict]
    kept: list[str]
    outcomes_naming_the_person: list[int] = Field(description="sessions whose signed-off outcome (kept as the "
                                                              "assessment record) still names the person")
    kept_why: str


class PersonalData(BaseModel):
    """Everything the hub holds about the caller (format ``teachfab-personal-data/1``)."""

    format: str
    generated_at: str | None
    user_id: int
    sha256: str
    profile: dict
    areas: dict
    records: dict[str, list[dict]]


class AccessRead(BaseModel):
    """Someone read the subject's data."""

    at: str | None
    reader: str
    reader_roles: list[str]
    route: str
    path: str
    subject_kind: str
    subject: str


def _site(db, who: Principal, slug: str) -> Site:
    site = db.scalar(select(Site).where(Site.slug == slug))
    if site is None or not who.scope.whole_site(slug):
        raise NotFound(f"no site {slug!r} in your scope")
    return site


@router.get("/governance/challenges/{challenge_id}/agreement", response_model=Agreement, responses=ERROR_RESPONSES,
            summary="The challenge's data processing agreement: basis, purpose, retention per data kind, access")
def challenge_agreement(db: DB, who: Anyone, challenge_id: int, request: Request) -> dict:
    teams.visible_challenge(db, who.scope, challenge_id)
    return agreement.agreement(db, get_charter(db, challenge_id), request.app.state.settings.retention_days())


@router.get("/governance/sites/{site}/retention", response_model=SiteRetentionOut, responses=ERROR_RESPONSES,
            summary="A site's retention defaults and the periods in force for its telemetry and waveforms")
def site_retention(db: DB, who: Companies, site: str, request: Request) -> dict:
    row = _site(db, who, site)
    periods = retention.site_periods(db, request.app.state.settings.retention_days())
    return {"site": site, "defaults": agreement.site_defaults(db, row.id), "in_force": periods.get(site, {})}


@router.put("/governance/sites/{site}/retention", response_model=SiteRetentionOut, responses=ERROR_RESPONSES,
            summary="Set a site's retention defaults (hub operators); charters' own terms come first")
def set_site_retention(db: DB, who: Operator, site: str, body: SiteRetentionIn, request: Request) -> dict:
    _site(db, who, site)
    try:
        defaults = agreement.set_site_defaults(db, site, body.days, who.user_id)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    periods = retention.site_periods(db, request.app.state.settings.retention_days())
    return {"site": site, "defaults": defaults, "in_force": periods.get(site, {})}


@router.post("/governance/retention/run", response_model=RetentionReport, responses=ERROR_RESPONSES,
             summary="Run a retention pass now (it also runs on the hub's schedule)")
def run_retention(db: DB, who: Operator, request: Request) -> dict:
    row = retention.run(db, request.app.state.store, request.app.state.settings.retention_days())
    return {"run": row.id, "ledger_hash": row.ledger_hash, "deleted": retention.summary(row.report),
            "report": row.report}


@router.get("/me/export", response_model=PersonalData,
            summary="Download everything the hub holds about you as one JSON document (logged)")
def my_export(db: DB, who: Anyone, request: Request) -> dict:
    return rights.export(db, request.app.state.rights, who.user_id, who.user_id)


@router.post("/governance/users/{user_id}/erasure", response_model=ErasureReport, responses=ERROR_RESPONSES,
             summary="Carry out a person's erasure request: pseudonymise their identity everywhere it may change")
def erase_user(db: DB, who: Operator, user_id: int, body: ErasureIn, request: Request) -> dict:
    if user_id == who.user_id:
        raise Invalid("user_id: an operator cannot erase their own account while using it")
    return rights.erase(db, request.app.state.rights, user_id, who.user_id, body.reason)


@router.get("/me/access-log", response_model=list[AccessRead],
            summary="Who read your skill profile or matches (newest first)")
def my_access_log(db: DB, who: Anyone) -> list[dict]:
    rows = db.scalars(select(AccessLogEntry).where(AccessLogEntry.subject_kind == "learner",
                                                   AccessLogEntry.subject == str(who.user_id))
                      .order_by(AccessLogEntry.id.desc()).limit(LOG_LIMIT))
    return [rights.access_view(r) for r in rows]


@router.get("/governance/sites/{site}/access-log", response_model=list[AccessRead], responses=ERROR_RESPONSES,
            summary="Who read the site's data (its SME partners and hub operators; newest first)")
def site_access_log(db: DB, who: Companies, site: str) -> list[dict]:
    _site(db, who, site)
    rows = db.scalars(select(AccessLogEntry).where(AccessLogEntry.subject_kind == "site",
                                                   AccessLogEntry.subject == site)
                      .order_by(AccessLogEntry.id.desc()).limit(LOG_LIMIT))
    return [rights.access_view(r) for r in rows]
