"""What mentors, operators and SME technicians log for the operational KPIs: stops, work orders, alert reviews,
and the per-site KPI settings; plus learners' adopted pathways.

Every write checks that the caller sees the asset (an SME partner: their
own sites only) and that times are in order, with a message naming the field.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.access import Principal
from cloud.database import iso_utc, utcnow
from cloud.errors import Conflict, Invalid, NotFound
from cloud.kpis.models import AlertReview, KpiSiteSettings, PathwayAdoption, StopEvent, WorkOrder
from cloud.kpis.sources import aware
from cloud.sites.models import Asset, Site
from cloud.sites.service import get_asset, get_site


def _utc(ts: datetime | None, field: str) -> datetime | None:
    if ts is None:
        return None
    if ts.tzinfo is None:
        raise Invalid(f"{field}: {ts.isoformat()} has no UTC offset; send e.g. 2026-11-03T08:00:00Z")
    return ts.astimezone(timezone.utc)


def visible_site(db: Session, who: Principal, slug: str) -> Site:
    """A site the caller sees whole (404 otherwise: an SME partner learns nothing of other sites)."""
    site = get_site(db, slug)
    if site is None or not who.scope.whole_site(slug):
        raise NotFound(f"no site {slug!r} in your scope")
    return site


def visible_asset(db: Session, who: Principal, site: str, name: str) -> Asset:
    """An asset the caller sees (404 otherwise)."""
    asset = get_asset(db, site, name)
    if asset is None or not who.scope.asset(site, name):
        raise NotFound(f"no asset {name!r} at site {site!r} in your scope")
    return asset


def save_settings(db: Session, site: Site, body) -> KpiSiteSettings:
    """Store a site's baseline period, engineered baseline, operating hours and registration date."""
    start, end = _utc(body.baseline_start, "baseline_start"), _utc(body.baseline_end, "baseline_end")
    if (start is None) != (end is None) or (start and end <= start):
        raise Invalid("baseline_start and baseline_end: give both, the end after the start")
    row = db.get(KpiSiteSettings, site.id) or KpiSiteSettings(site_id=site.id)
    row.baseline_start, row.baseline_end, row.engineered = start, end, dict(body.engineered)
    row.operating_hours_per_week = body.operating_hours_per_week
    row.registered_at, row.updated_at = _utc(body.registered_at, "registered_at"), utcnow()
    db.add(row)
    db.commit()
    return row


def settings_view(site: Site, row: KpiSiteSettings | None) -> dict:
    """A site's settings as the routes answer them."""
    return {"site": site.slug, "baseline_start": aware(row.baseline_start) if row else None,
            "baseline_end": aware(row.baseline_end) if row else None,
            "engineered": row.engineered if row else {},
            "operating_hours_per_week": row.operating_hours_per_week if row else 40.0,
            "registered_at": aware(row.registered_at) if row else None}


def log_stop(db: Session, asset: Asset, who: Principal, body) -> StopEvent:
    """Log a stop (open while ``end`` is null)."""
    start, end = _utc(body.start, "start"), _utc(body.end, "end")
    if end is not None and end <= start:
        raise Invalid(f"end: {end.isoformat()} is not after start {start.isoformat()}")
    if start > utcnow():
        raise Invalid(f"start: {start.isoformat()} is in the future")
    row = StopEvent(asset_id=asset.id, start=start, end=end, planned=body.planned, reason=body.reason,
                    logged_by=who.user_id)
    db.add(row)
    db.commit()
    return row


def end_stop(db: Session, who: Principal, stop_id: int, end: datetime) -> StopEvent:
    """Record when an open stop ended."""
    row = db.get(StopEvent, stop_id)
    asset = db.get(Asset, row.asset_id) if row else None
    if row is None or not who.scope.asset(asset.site.slug, asset.name):
        raise NotFound(f"no stop {stop_id} in your scope")
    if row.end is not None:
        raise Conflict(f"stop {stop_id} ended already at {iso_utc(row.end)}")
    end = _utc(end, "end")
    if end <= aware(row.start):
        raise Invalid(f"end: {end.isoformat()} is not after the stop's start {iso_utc(row.start)}")
    row.end = end
    db.commit()
    return row


def log_work_order(db: Session, asset: Asset, who: Principal, body) -> WorkOrder:
    """Add an entry to the maintenance log."""
    opened, closed = _utc(body.opened_at, "opened_at"), _utc(body.closed_at, "closed_at")
    if closed is not None and closed < opened:
        raise Invalid(f"closed_at: {closed.isoformat()} is before opened_at {opened.isoformat()}")
    if body.stop_id is not None:
        stop = db.get(StopEvent, body.stop_id)
        if stop is None or stop.asset_id != asset.id:
            raise Invalid(f"stop_id: {body.stop_id} is not a stop of asset {asset.name!r}")
    row = WorkOrder(asset_id=asset.id, number=body.number, opened_at=opened, closed_at=closed, fault=body.fault,
                    action=body.action, fixed_first_time=body.fixed_first_time, stop_id=body.stop_id,
                    alert_ts=body.alert_ts, logged_by=who.user_id)
    db.add(row)
    db.commit()
    return row


def review_alert(db: Session, store, asset: Asset, who: Principal, body) -> AlertReview:
    """Say whether an alert of the asset (it must exist in the store) led to a confirmed finding."""
    if not any(a["ts"] == body.alert_ts for a in store.alerts(asset.site.slug, asset.name, limit=10_000)):
        raise NotFound(f"no alert of asset {asset.name!r} at ts {body.alert_ts}")
    if db.scalar(select(AlertReview).where(AlertReview.asset_id == asset.id,
                                           AlertReview.alert_ts == body.alert_ts)) is not None:
        raise Conflict(f"the alert at ts {body.alert_ts} of {asset.name!r} is reviewed already")
    row = AlertReview(asset_id=asset.id, alert_ts=body.alert_ts, confirmed=body.confirmed, finding=body.finding,
                      reviewed_by=who.user_id)
    db.add(row)
    db.commit()
    return row


def site_log(db: Session, site: Site) -> dict:
    """Everything logged at a site, newest first."""
    assets = {a.id: a.name for a in site.assets}
    ids = list(assets)

    def base(r):
        return {"id": r.id, "site": site.slug, "asset": assets[r.asset_id]}
    stops = db.scalars(select(StopEvent).where(StopEvent.asset_id.in_(ids)).order_by(StopEvent.start.desc()))
    orders = db.scalars(select(WorkOrder).where(WorkOrder.asset_id.in_(ids)).order_by(WorkOrder.opened_at.desc()))
    reviews = db.scalars(select(AlertReview).where(AlertReview.asset_id.in_(ids)).order_by(AlertReview.alert_ts.desc()))
    return {"site": site.slug,
            "stops": [{**base(s), "start": aware(s.start), "end": aware(s.end), "planned": s.planned,
                       "reason": s.reason, "logged_by": s.logged_by} for s in stops],
            "work_orders": [{**base(w), "number": w.number, "opened_at": aware(w.opened_at),
                             "closed_at": aware(w.closed_at), "fault": w.fault, "action": w.action,
                             "fixed_first_time": w.fixed_first_time, "stop_id": w.stop_id, "alert_ts": w.alert_ts,
                             "logged_by": w.logged_by} for w in orders],
            "alert_reviews": [{**base(r), "alert_ts": r.alert_ts, "confirmed": r.confirmed, "finding": r.finding,
                               "reviewed_by": r.reviewed_by} for r in reviews]}


def adopt_pathway(db: Session, user_id: int, job_id: str, credentials: list[str]) -> PathwayAdoption:
    """Record that a learner adopted the pathway to ``job_id`` (once per job; adopting again replaces it)."""
    row = db.scalar(select(PathwayAdoption).where(PathwayAdoption.user_id == user_id, PathwayAdoption.job_id == job_id))
    if row is None:
        row = PathwayAdoption(user_id=user_id, job_id=job_id, credentials=credentials)
        db.add(row)
    else:
        row.credentials, row.adopted_at = credentials, utcnow()
    db.commit()
    return row
