"""Who sees what: the :class:`~cloud.scope.Scope` of a user from their roles, sites, teams and challenges.

=============  ==================================================================
role           scope
=============  ==================================================================
hub_operator   everything
sme_partner    whole sites they are members of (their own sites)
mentor         whole sites of the challenges they are staff of, and sites they
               are members of (a hub operator links them)
assessor       as a mentor
learner        only the assets of the challenges of their teams, and the lab
               sessions of their teams
=============  ==================================================================

A challenge whose charter is still a **draft** grants no reach into its
site: its staff and teams see the challenge itself, not the site's
telemetry, alerts, edges or registry, until every party has signed (a
mentor could otherwise create a draft at any SME's site and read it).

A lab session runs at its own site ``session-<id>``: staff and SME partners
of its challenge see it whole, and so does the team it runs for. A challenge
window on real assets shows its team only the assets it watches.

Roles add up: a user holding several roles sees the union.

A charter whose data agreement leaves ``learner`` out of
``data_sharing.access`` keeps its challenge's telemetry from learners:
they still see the challenge, not its assets' or sessions' data
(docs/governance.md).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.access import Role
from cloud.accounts.models import SiteMembership, User
from cloud.challenges.models import (Challenge, Charter, CharterStatus, LabSession, challenge_assets, challenge_staff,
                                     challenge_teams, team_members)
from cloud.scope import Scope
from cloud.sites.models import Asset, Site


def _drafts(db: Session, challenge_ids) -> set[int]:
    """Those of ``challenge_ids`` whose charter is a draft (a challenge without a charter is none)."""
    ids = list(challenge_ids)
    if not ids:
        return set()
    return set(db.scalars(select(Charter.challenge_id).where(Charter.challenge_id.in_(ids),
                                                              Charter.status == CharterStatus.draft)))


def scope_of(db: Session, user: User) -> Scope:
    """Compute the scope of ``user`` from roles, memberships, teams and challenge staffing.

    The hub builds its authenticator with this function (:func:`cloud.accounts.service.authenticator`),
    which resolves every caller's scope with it.
    """
    roles = user.roles
    if Role.hub_operator in roles:
        return Scope(everything=True)
    sites: set[str] = set()
    assets: set[tuple[str, str]] = set()
    challenges: set[int] = set()
    overseen: set[int] = set()  # challenges the user runs or hosts: their lab sessions are visible whole
    if roles & {Role.sme_partner, Role.mentor, Role.assessor}:
        own = select(Site.slug, Site.id).join(SiteMembership, SiteMembership.site_id == Site.id) \
            .where(SiteMembership.user_id == user.id)
        own_rows = db.execute(own).all()
        sites |= {slug for slug, _ in own_rows}
        if Role.sme_partner in roles:
            ids = [i for _, i in own_rows]
            overseen |= set(db.scalars(select(Challenge.id).where(Challenge.site_id.in_(ids))))
    if roles & {Role.mentor, Role.assessor}:
        rows = db.execute(select(Challenge.id, Site.slug).join(Site, Site.id == Challenge.site_id)
                          .join(challenge_staff, challenge_staff.c.challenge_id == Challenge.id)
                          .where(challenge_staff.c.user_id == user.id)).all()
        overseen |= {i for i, _ in rows}
        drafts = _drafts(db, [i for i, _ in rows])
        sites |= {slug for i, slug in rows if i not in drafts}
    if Role.learner in roles:
        mine = select(challenge_teams.c.challenge_id).join(
            team_members, team_members.c.team_id == challenge_teams.c.team_id).where(
            team_members.c.user_id == user.id)
        ids = set(db.scalars(mine))
        challenges |= ids
        ids -= _drafts(db, ids)
        shared = ids - _closed_to(db, ids, Role.learner)
        rows = db.execute(select(Site.slug, Asset.name).join(Asset, Asset.site_id == Site.id)
                          .join(challenge_assets, challenge_assets.c.asset_id == Asset.id)
                          .where(challenge_assets.c.challenge_id.in_(shared))).all()
        assets |= {(s, a) for s, a in rows}
        for site, kind, watched in db.execute(select(LabSession.site, LabSession.kind, LabSession.assets).join(
                team_members, team_members.c.team_id == LabSession.team_id).where(
                team_members.c.user_id == user.id, LabSession.challenge_id.in_(shared))):
            if kind == "window":  # a window on a real site: only the assets it watches
                assets |= {(site, a) for a in watched}
            else:
                sites.add(site)
    if overseen:
        challenges |= overseen
        sites |= set(db.scalars(select(LabSession.site).where(LabSession.challenge_id.in_(overseen))))
    return Scope(sites=frozenset(sites), assets=frozenset(assets), challenge_ids=frozenset(challenges))


def _closed_to(db: Session, challenge_ids: set[int], role: Role) -> set[int]:
    """The challenges whose charter's data agreement does not give ``role`` access to their data."""
    out = set()
    for cid, document in db.execute(select(Charter.challenge_id, Charter.document)
                                    .where(Charter.challenge_id.in_(challenge_ids))):
        access = (document.get("data_sharing") or {}).get("access")
        if access is not None and role.value not in access:
            out.add(cid)
    return out
