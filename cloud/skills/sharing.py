"""Who sees whose profile, consent to share with companies, and the staff's aggregated views.

=============  ====================================================================
caller         may see
=============  ====================================================================
learner        their own profile only
mentor,        the profiles and gaps of the learners in the teams of the challenges
assessor       they are on the staff of
hub_operator   every profile
sme_partner    no individual profile; for their own company (an SME site they are a
               member of) the gaps aggregated over the learners who consented to
               share with that company — and only when at least :data:`MIN_GROUP`
               did, so no aggregate describes one person
=============  ====================================================================

Consent is per company, recorded with its time, revocable (the row keeps
when it was revoked) and written to the ledger (``consent`` about ``learner:<id>``).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.access import Principal, Role
from cloud.accounts.models import SiteMembership, User
from cloud.challenges import ledger
from cloud.challenges.models import Team, challenge_staff, challenge_teams, team_members
from cloud.database import iso_utc, utcnow
from cloud.sites.models import Site, SiteKind
from cloud.skills import careers, profiles
from cloud.skills.errors import SkillsInvalid, SkillsNotFound
from cloud.skills.models import Consent
from labs.skills.framework import load_framework
from labs.skills.matching import aggregate_gaps, fit_score

#: Fewest consenting learners for which a company sees an aggregate.
MIN_GROUP = 3


def staffed_teams(db: Session, user_id: int) -> set[int]:
    """Teams of the challenges ``user_id`` is on the staff of."""
    q = select(challenge_teams.c.team_id).join(challenge_staff, challenge_staff.c.challenge_id ==
                                               challenge_teams.c.challenge_id).where(challenge_staff.c.user_id == user_id)
    return set(db.scalars(q))


def visible_teams(db: Session, who: Principal) -> list[Team]:
    """Teams whose profiles the caller may see (operators: all; mentors and assessors: their challenges')."""
    if Role.hub_operator in who.roles:
        return list(db.scalars(select(Team).order_by(Team.name)))
    if who.roles & {Role.mentor, Role.assessor}:
        ids = staffed_teams(db, who.user_id)
        return list(db.scalars(select(Team).where(Team.id.in_(ids)).order_by(Team.name))) if ids else []
    return []


def may_see_learner(db: Session, who: Principal, user_id: int) -> bool:
    """Whether the caller may read ``user_id``'s individual profile."""
    if who.user_id == user_id or Role.hub_operator in who.roles:
        return True
    if who.roles & {Role.mentor, Role.assessor}:
        teams = staffed_teams(db, who.user_id)
        return bool(teams) and db.scalar(select(team_members.c.user_id).where(
            team_members.c.user_id == user_id, team_members.c.team_id.in_(teams)).limit(1)) is not None
    return False


def learner(db: Session, who: Principal, user_id: int) -> User:
    """The learner ``user_id`` if the caller may see them; 404 otherwise (the hub answers both alike)."""
    user = db.get(User, user_id)
    if user is None or Role.learner not in user.roles or not may_see_learner(db, who, user_id):
        raise SkillsNotFound("no_learner", user=user_id)
    return user


def team_view(db: Session, who: Principal, team_id: int, job_id: str, lang: str) -> dict:
    """A team for a target job: each member's fit and gaps, and the gaps aggregated over the team."""
    team = next((t for t in visible_teams(db, who) if t.id == team_id), None)
    if team is None:
        raise SkillsNotFound("no_team", team=team_id)
    job = careers.job(db, job_id)
    members = [m for m in team.members if Role.learner in m.roles]
    lv = profiles.levels_of(db, [m.id for m in members])
    req = job.required()
    rows = [{"user": m.id, "name": m.display_name or m.email, "email": m.email,
             "fit": round(fit_score(lv[m.id], req), 1),
             "gaps": {s: r - lv[m.id].get(s, 0) for s, (r, _) in req.items() if lv[m.id].get(s, 0) < r}}
            for m in members]
    return {"team": team.id, "name": team.name, "job": job.id, "title": job.title.get(lang)[0],
            "members": rows, "aggregate": _labelled(aggregate_gaps([lv[m.id] for m in members], req), lang)}


def _labelled(rows: list[dict], lang: str) -> list[dict]:
    fw = load_framework()
    return [{**r, "label": fw.skills[r["skill"]].label(lang)[0]} for r in rows]


def companies(db: Session) -> list[Site]:
    """The SME sites a learner may consent to."""
    return list(db.scalars(select(Site).where(Site.kind == SiteKind.sme).order_by(Site.name)))


def own_companies(db: Session, who: Principal) -> list[Site]:
    """The companies whose aggregates the caller sees (operators: all SMEs; SME partners: their own)."""
    if Role.hub_operator in who.roles:
        return companies(db)
    if Role.sme_partner in who.roles:
        return list(db.scalars(select(Site).join(SiteMembership, SiteMembership.site_id == Site.id).where(
            SiteMembership.user_id == who.user_id, Site.kind == SiteKind.sme).order_by(Site.name)))
    return []


def consents(db: Session, user_id: int) -> list[dict]:
    """Every company with whether the learner shares with it now, and the consent history."""
    rows = list(db.scalars(select(Consent).where(Consent.user_id == user_id).order_by(Consent.id)))
    out = []
    for site in companies(db):
        mine = [r for r in rows if r.site_id == site.id]
        out.append({"site": site.slug, "name": site.name, "shared": any(r.revoked_at is None for r in mine),
                    "history": [{"granted_at": iso_utc(r.granted_at), "revoked_at": iso_utc(r.revoked_at)}
                                for r in mine]})
    return out


def set_consents(db: Session, user_id: int, sites: list[str], commit: bool = True) -> list[dict]:
    """Share with exactly the companies ``sites`` (slugs): grant the new ones, revoke the others."""
    known = {s.slug: s for s in companies(db)}
    for slug in sites:
        if slug not in known:
            all_sites = {s.slug for s in db.scalars(select(Site))}
            raise (SkillsInvalid("not_a_company", site=slug) if slug in all_sites
                   else SkillsNotFound("no_company", site=slug))
    active = {r.site_id: r for r in db.scalars(select(Consent).where(Consent.user_id == user_id,
                                                                     Consent.revoked_at.is_(None)))}
    want = {known[s].id for s in sites}
    now = utcnow()
    for site_id, row in active.items():
        if site_id not in want:
            row.revoked_at = now
            ledger.append(db, "consent", f"learner:{user_id}", {"site": site_id, "shared": False})
    for site_id in want - set(active):
        db.add(Consent(user_id=user_id, site_id=site_id, granted_at=now))
        ledger.append(db, "consent", f"learner:{user_id}", {"site": site_id, "shared": True})
    if commit:
        db.commit()
    return consents(db, user_id)


def company_view(db: Session, who: Principal, slug: str, job_id: str, lang: str) -> dict:
    """Gaps for a job aggregated over the learners who consented to share with company ``slug``."""
    site = next((s for s in own_companies(db, who) if s.slug == slug), None)
    if site is None:
        raise SkillsNotFound("no_company", site=slug)
    job = careers.job(db, job_id)
    users = list(db.scalars(select(Consent.user_id).where(Consent.site_id == site.id, Consent.revoked_at.is_(None))))
    lv = profiles.levels_of(db, users)
    shown = len(users) >= MIN_GROUP
    return {"site": site.slug, "name": site.name, "job": job.id, "title": job.title.get(lang)[0],
            "consenting": len(users), "min_group": MIN_GROUP, "shown": shown,
            "aggregate": _labelled(aggregate_gaps(list(lv.values()), job.required()), lang) if shown else []}
