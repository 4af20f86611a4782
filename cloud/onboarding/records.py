"""The onboarding record of a site, stamped from what the hub sees.

Steps, in order: ``registered`` (the site was registered: stamped by a
SQLAlchemy hook when its row is inserted), ``kit_issued`` (the first kit),
``first_data`` (when telemetry of the site first reached the store: the
hub's watcher, :func:`cloud.onboarding.hooks.watch_first_data`, calls
:func:`first_data`), ``first_challenge_signed``
(the first charter of a challenge at the site that every party signed:
its last signature) and ``first_live_window`` (the first
challenge window on the site's real assets: its ``started_at``). The last
two are read from the challenges' own tables when a record is shown, so
they carry the time the thing happened, whichever route did it.

The target is 8 weeks (56 days) from registration to the first live
window; a site past it without that step is overdue.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session

from cloud.challenges.models import Challenge, Charter, CharterSignature, CharterStatus, LabSession
from cloud.database import utcnow
from cloud.onboarding.models import OnboardingRecord
from cloud.onboarding.schemas import OnboardingPublic, OnboardingStep
from cloud.scope import Scope
from cloud.sites.models import Site

STEPS = ("registered", "kit_issued", "first_data", "first_challenge_signed", "first_live_window")
_COLUMN = {"kit_issued": "kit_issued_at", "first_data": "first_data_at",
           "first_challenge_signed": "first_challenge_signed_at", "first_live_window": "first_live_window_at"}
TARGET_DAYS = 56


@event.listens_for(Site, "after_insert")
def _registered(mapper, connection, site: Site) -> None:
    """Stamp ``registered`` in the same transaction as the site's row."""
    connection.execute(insert(OnboardingRecord.__table__).values(site_id=site.id, registered_at=utcnow(),
                                                                 target_days=TARGET_DAYS))


def record_of(db: Session, site: Site) -> OnboardingRecord:
    """The site's record (made now for a site registered before onboarding existed)."""
    rec = db.get(OnboardingRecord, site.id)
    if rec is None:
        rec = OnboardingRecord(site_id=site.id, registered_at=utcnow(), target_days=TARGET_DAYS)
        db.add(rec)
        db.flush()
    return rec


def stamp(db: Session, site: Site, step: str, at: datetime | None = None, edge: str | None = None) -> bool:
    """Stamp ``step`` of ``site`` at ``at`` (now) unless stamped already; return whether it was new."""
    rec = record_of(db, site)
    column = _COLUMN[step]
    if getattr(rec, column) is not None:
        return False
    setattr(rec, column, at or utcnow())
    if step == "first_data":
        rec.first_data_edge = edge
    return True


def first_data(db: Session, site_slug: str, edge: str, at: datetime | None = None) -> str:
    """Stamp ``first_data`` of site ``site_slug`` at ``at`` (now); commit.

    Returns ``"stamped"``, ``"already"`` (stamped before) or
    ``"unregistered"`` (no such site: data of it is no one's onboarding).
    """
    site = db.scalar(select(Site).where(Site.slug == site_slug))
    if site is None:
        return "unregistered"
    new = stamp(db, site, "first_data", at=at, edge=edge)
    db.commit()
    return "stamped" if new else "already"


def _from_challenges(db: Session, site: Site, rec: OnboardingRecord) -> None:
    """Stamp the challenge steps from the charters and windows of the site's challenges."""
    if rec.first_challenge_signed_at is None:
        # a charter is signed when every party has signed: the time of its last signature
        last_signature = (select(func.max(CharterSignature.signed_at).label("at"))
                          .join(Charter, Charter.challenge_id == CharterSignature.challenge_id)
                          .join(Challenge, Challenge.id == Charter.challenge_id)
                          .where(Challenge.site_id == site.id, Charter.status != CharterStatus.draft)
                          .group_by(Charter.challenge_id).subquery())
        signed = db.scalar(select(func.min(last_signature.c.at)))
        if signed is not None:
            rec.first_challenge_signed_at = signed
    if rec.first_live_window_at is None:
        window = db.scalar(select(func.min(LabSession.started_at))
                           .where(LabSession.kind == "window", LabSession.site == site.slug))
        if window is not None:
            rec.first_live_window_at = window


def _aware(t: datetime | None) -> datetime | None:
    """``t`` as an aware UTC time (SQLite hands back naive ones)."""
    if t is None:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def view(db: Session, site: Site, now: datetime | None = None) -> OnboardingPublic:
    """The record of ``site`` as shown: steps with times, days used of the target, overdue, the next step."""
    rec = record_of(db, site)
    _from_challenges(db, site, rec)
    db.commit()
    now = now or utcnow()
    times = {"registered": _aware(rec.registered_at), **{s: _aware(getattr(rec, c)) for s, c in _COLUMN.items()}}
    detail = {"first_data": f"from edge {rec.first_data_edge}" if rec.first_data_edge else ""}
    steps = [OnboardingStep(step=s, at=times[s], detail=detail.get(s, "")) for s in STEPS]
    done = times["first_live_window"] is not None
    end = times["first_live_window"] if done else now
    elapsed = (end - times["registered"]).total_seconds() / 86400
    pending = [s for s in STEPS if times[s] is None]
    return OnboardingPublic(site=site.slug, name=site.name, steps=steps, done=done, elapsed_days=round(elapsed, 2),
                            target_days=rec.target_days, overdue=not done and elapsed > rec.target_days,
                            next_step=pending[0] if pending else None)


def visible(db: Session, scope: Scope, now: datetime | None = None) -> list[OnboardingPublic]:
    """The records of the SME sites ``scope`` sees whole, by slug (an SME partner: its own)."""
    sites = db.scalars(select(Site).where(Site.kind == "sme").order_by(Site.slug))
    return [view(db, s, now) for s in sites if scope.whole_site(s.slug)]
