"""Offer the matching learning unit beside a live event, record the open and the follow-up, measure it.

An offer is made for one user and one event the user can see (an alert
or a drift event of an asset in their scope, looked up in the telemetry
store, so the page cannot make one up); asking again for the same event
returns the same offer. Opening records ``opened_at``; the follow-up is a
self-assessment item on the unit's first skill, which for a learner
enters the skill profile as a self-assessed level (``cloud.skills``).

Examples
--------
>>> unit_view(load_units()["outer-race-envelope"], "es")["title"]
'Defecto en la pista exterior del rodamiento: cómo leer un espectro de envolvente'
>>> event_tags("drift", {"target": "score", "detector": "page_hinkley"})
{'faults': [], 'families': [], 'drift': ['score']}
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.access import Principal, Role
from cloud.database import as_utc, iso_utc, utcnow
from cloud.errors import Conflict, Invalid, NotFound
from cloud.learnflow.models import LearningOffer
from cloud.skills import selfassess
from cloud.skills.models import SkillChange
from labs.skills.catalogue import load_catalogue
from labs.skills.common import LANGUAGES, LEVELS
from labs.skills.framework import load_framework
from labs.skills.units import Unit, best_unit, load_units, tags_of_alert, tags_of_drift

KINDS = ("alert", "drift")
#: Skill sources that count as a verified change (not the learner's own rating).
VERIFIED = ("evidence", "assessor")


#: How far a page's event stamp may be from the stored one (JSON numbers in a browser are doubles).
TS_TOLERANCE_NS = 1_000


def _event(store, site: str, asset: str, kind: str, ts: int) -> dict:
    if kind not in KINDS:
        raise Invalid(f"event kind must be one of {list(KINDS)}, got {kind!r}")
    rows = store.alerts(site, asset, limit=2000) if kind == "alert" else store.drift(site, asset, limit=2000)
    # a page's numbers are doubles: a nanosecond stamp of today arrives rounded by up to 256 ns
    near = [r for r in rows if abs(r["ts"] - ts) <= TS_TOLERANCE_NS]
    if near:
        return min(near, key=lambda r: abs(r["ts"] - ts))
    raise NotFound(f"no {kind} of asset {asset!r} at site {site!r} with ts {ts}")


def event_tags(kind: str, event: dict) -> dict[str, list[str]]:
    """The fault types, feature families and drift kinds an alert or drift event carries (sorted lists)."""
    tags = tags_of_alert(event.get("message", "")) if kind == "alert" else \
        tags_of_drift(event.get("target", ""), event.get("detector", ""))
    return {k: sorted(v) for k, v in tags.items()}


def offer(db: Session, store, who: Principal, site: str, asset: str, kind: str, ts: int,
          lang: str) -> LearningOffer | None:
    """The unit offered to ``who`` beside one event (recorded once), or None when no unit fits it."""
    if not who.scope.asset(site, asset):
        raise NotFound(f"no asset {asset!r} at site {site!r} in your scope")
    event = _event(store, site, asset, kind, ts)
    ts = event["ts"]  # the stored stamp, not the page's rounded copy
    key = (LearningOffer.user_id == who.user_id, LearningOffer.site == site, LearningOffer.asset == asset,
           LearningOffer.event_kind == kind, LearningOffer.event_ts == ts)
    found = db.scalar(select(LearningOffer).where(*key))
    if found is not None:
        return found
    tags = event_tags(kind, event)
    unit = best_unit(load_units().values(), {k: set(v) for k, v in tags.items()})
    if unit is None:
        return None
    row = LearningOffer(user_id=who.user_id, unit_id=unit.id, site=site, asset=asset, event_kind=kind, event_ts=ts,
                        tags=tags, language=lang if lang in LANGUAGES else "en", follow_up_skill=unit.skills[0])
    try:
        with db.begin_nested():
            db.add(row)
    except IntegrityError:  # the same page asked twice at once: the other request recorded it
        return db.scalar(select(LearningOffer).where(*key))
    db.commit()
    return row


def _mine(db: Session, who: Principal, offer_id: int) -> LearningOffer:
    row = db.get(LearningOffer, offer_id)
    if row is None or row.user_id != who.user_id:
        raise NotFound(f"no learning offer {offer_id} of yours")
    return row


def open_offer(db: Session, who: Principal, offer_id: int) -> LearningOffer:
    """The user opens the unit of their offer: recorded the first time."""
    row = _mine(db, who, offer_id)
    if row.opened_at is None:
        row.opened_at = utcnow()
        db.commit()
    return row


def follow_up(db: Session, who: Principal, offer_id: int, level: int) -> LearningOffer:
    """The follow-up self-assessment (level 1-4 of the unit's skill); a learner's enters their profile."""
    row = _mine(db, who, offer_id)
    if row.opened_at is None:
        raise Conflict(f"open the unit of offer {offer_id} before its follow-up")
    if row.completed_at is not None:
        raise Conflict(f"the follow-up of offer {offer_id} is answered already")
    if level not in LEVELS:
        raise Invalid(f"level must be 1-4, got {level!r}")
    if Role.learner in who.roles:
        selfassess.submit(db, who.user_id, {row.follow_up_skill: level},
                          note=f"follow-up of learning unit {row.unit_id} (offer {row.id})")
    row.completed_at, row.follow_up_level = utcnow(), level
    db.commit()
    return row


def unit_view(unit: Unit, lang: str) -> dict:
    """A unit's texts in ``lang`` (English where a language is unknown), its skills and further entries."""
    fw, cat = load_framework(), load_catalogue()
    return {"id": unit.id, "kind": unit.kind, "minutes": unit.minutes, "title": unit.title.get(lang)[0],
            "summary": unit.summary.get(lang)[0], "body": unit.body.get(lang)[0] if unit.body else None,
            "url": unit.url, "faults": unit.faults, "families": unit.families, "drift": unit.drift,
            "skills": [{"skill": s, "label": fw.skills[s].label(lang)[0]} for s in unit.skills],
            "entries": [{"id": e, "title": cat[e].title.get(lang)[0]} for e in unit.entries]}


def offer_view(row: LearningOffer, lang: str, full: bool = False) -> dict:
    """An offer as the pages show it: the unit (summary, or everything once opened), its state, the follow-up."""
    unit = load_units()[row.unit_id]
    view = unit_view(unit, lang)
    if not full:
        view = {k: view[k] for k in ("id", "kind", "minutes", "title", "summary")}
    fw = load_framework()
    return {"id": row.id, "site": row.site, "asset": row.asset, "event_kind": row.event_kind,
            "event_ts": row.event_ts, "tags": row.tags, "language": lang, "unit": view,
            "offered_at": iso_utc(row.offered_at), "opened_at": iso_utc(row.opened_at),
            "completed_at": iso_utc(row.completed_at),
            "follow_up": {"skill": row.follow_up_skill, "label": fw.skills[row.follow_up_skill].label(lang)[0],
                          "levels": [1, 2, 3, 4], "answered": row.follow_up_level}}


def my_offers(db: Session, who: Principal, limit: int = 50) -> list[LearningOffer]:
    """The caller's offers, newest first."""
    return list(db.scalars(select(LearningOffer).where(LearningOffer.user_id == who.user_id)
                           .order_by(LearningOffer.id.desc()).limit(limit)))


# ------------------------------------------------------------------------------------------ the KPI
def _verified_level(db: Session, user_id: int, skill: str, at: datetime) -> int:
    level = 0
    for r in db.scalars(select(SkillChange).where(SkillChange.user_id == user_id, SkillChange.skill == skill,
                                                  SkillChange.applied.is_(True)).order_by(SkillChange.id)):
        if r.source in VERIFIED and as_utc(r.created_at) <= at:
            level = r.level
    return level


def counts(db: Session, users: set[int] | None, sites: frozenset[str] | None, lo: datetime, hi: datetime) -> dict:
    """Offers made in ``[lo, hi)`` (of ``users`` at ``sites``; None: all): how many were offered, opened and
    completed, and for completed ones the verified level change of the unit's skill from the offer to ``hi``."""
    rows = [r for r in db.scalars(select(LearningOffer))
            if lo <= as_utc(r.offered_at) < hi and (users is None or r.user_id in users)
            and (sites is None or r.site in sites)]
    opened = [r for r in rows if r.opened_at is not None]
    done = [r for r in opened if r.completed_at is not None]
    changes = [_verified_level(db, r.user_id, r.follow_up_skill, hi)
               - _verified_level(db, r.user_id, r.follow_up_skill, as_utc(r.offered_at) - timedelta(seconds=1))
               for r in done]
    return {"offered": len(rows), "opened": len(opened), "completed": len(done), "skill_changes": changes}
