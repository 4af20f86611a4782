"""Operational KPIs of one asset over one period ``[lo, hi)``: downtime, failures, repair, alerts, uptime.

Stops and work orders come from the logs mentors and operators keep
(:mod:`cloud.kpis.models`); alerts, feature windows and temperatures from
the telemetry store. Definitions and normalisation: ``docs/kpis.md``.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.challenges.models import LabSession, SessionStatus
from cloud.kpis.models import AlertReview, StopEvent, WorkOrder
from cloud.kpis.sources import aware
from cloud.kpis.stats import Figure, mean, mtbf, overlap_h, rate
from cloud.sites.models import Asset

UPTIME_TARGET = 0.99
#: A teaching window's minute counts as up when at least one feature window of the asset arrived in it.
UPTIME_BUCKET_NS = 60 * 10**9
FIRST_TIME_FIX_TARGET = 0.90


def _ns(ts: datetime) -> int:
    return int(ts.timestamp() * 1e9)


def scheduled_hours(operating_hours_per_week: float, lo: datetime, hi: datetime) -> float:
    """Planned running time of a period: the site's operating hours per week, pro rata.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> scheduled_hours(40, datetime(2026, 11, 1, tzinfo=timezone.utc), datetime(2026, 12, 1, tzinfo=timezone.utc))
    171.42857142857142
    """
    return operating_hours_per_week * (hi - lo).total_seconds() / (7 * 86400)


def asset_figures(db: Session, store, asset: Asset, lo: datetime, hi: datetime, now: datetime,
                  operating_hours_per_week: float) -> dict[str, Figure]:
    """Every operational figure of one asset in the period (keys as in ``docs/kpis.md``)."""
    stops = list(db.scalars(select(StopEvent).where(StopEvent.asset_id == asset.id)))
    end_of = lambda s: aware(s.end) or min(now, hi)  # noqa: E731 - an open stop lasts until now
    unplanned = [s for s in stops if not s.planned]
    down_h = sum(overlap_h(aware(s.start), end_of(s), lo, hi) for s in unplanned)
    all_down_h = sum(overlap_h(aware(s.start), end_of(s), lo, hi) for s in stops)
    sched = scheduled_hours(operating_hours_per_week, lo, hi)
    running = max(0.0, sched - all_down_h)
    failures = [s for s in unplanned if lo <= aware(s.start) < hi]
    repairs = [(aware(s.end) - aware(s.start)).total_seconds() / 3600 for s in unplanned
               if s.end is not None and lo <= aware(s.end) < hi]
    orders = [w for w in db.scalars(select(WorkOrder).where(WorkOrder.asset_id == asset.id))
              if w.closed_at is not None and lo <= aware(w.closed_at) < hi and w.fixed_first_time is not None]
    out = {
        "unplanned_downtime_h": Figure(down_h, sum(overlap_h(aware(s.start), end_of(s), lo, hi) > 0 for s in unplanned),
                                       unit="h", direction="max"),
        "downtime_per_100_running_h": Figure(100 * down_h / running if running else None, len(failures),
                                             unit="h/100h", direction="max",
                                             note=f"{running:.1f} running h of {sched:.1f} scheduled"),
        "failures": Figure(float(len(failures)), len(failures), unit="count", direction="max"),
        "mtbf_h": mtbf(running, len(failures)),
        "mttr_h": mean(repairs, "h"),
        "first_time_fix": rate(sum(bool(w.fixed_first_time) for w in orders), len(orders), FIRST_TIME_FIX_TARGET),
    }
    out["alert_precision"] = alert_precision(db, store, asset, lo, hi)
    out["thermal_rise_k"] = thermal_rise(store, asset, lo, hi)
    return out


def alert_precision(db: Session, store, asset: Asset, lo: datetime, hi: datetime) -> Figure:
    """Share of the reviewed alerts of the period that led to a confirmed finding; unreviewed ones are noted."""
    lo_ns, hi_ns = _ns(lo), _ns(hi)
    reviews = [r for r in db.scalars(select(AlertReview).where(AlertReview.asset_id == asset.id))
               if lo_ns <= r.alert_ts < hi_ns]
    reviewed = {r.alert_ts for r in reviews}
    raised = [a for a in store.alerts(asset.site.slug, asset.name, limit=10_000) if lo_ns <= a["ts"] < hi_ns]
    open_ = sum(a["ts"] not in reviewed for a in raised)
    return rate(sum(r.confirmed for r in reviews), len(reviews),
                note=f"{len(raised)} alert(s) raised, {open_} not reviewed yet")


def thermal_rise(store, asset: Asset, lo: datetime, hi: datetime) -> Figure:
    """Mean temperature above ambient (K), hour by hour: the thermal figure normalised for ambient."""
    hour = 3600 * 10**9
    temp = dict(store.series(asset.site.slug, asset.name, "temperature", _ns(lo), _ns(hi), hour, "mean"))
    if not temp:
        return Figure(None, 0, unit="K", direction="max", note="no temperature series")
    amb = dict(store.series(asset.site.slug, asset.name, "ambient", _ns(lo), _ns(hi), hour, "mean"))
    rises = [temp[t] - amb[t] for t in temp if t in amb]
    return mean(rises, "K", note=f"{len(rises)} hour(s) with temperature and ambient")


def teaching_windows(db: Session, site: str, lo: datetime, hi: datetime) -> list[LabSession]:
    """The closed or failed remote-lab sessions of a site that started in the period."""
    rows = db.scalars(select(LabSession).where(LabSession.site == site, LabSession.kind == "lab",
                                               LabSession.status.in_([SessionStatus.closed, SessionStatus.failed])))
    return [s for s in rows if lo <= aware(s.started_at) < hi]


def uptime_counts(db: Session, store, site: str, lo: datetime, hi: datetime) -> tuple[int, int]:
    """Up and total teaching-window minutes (times assets) of a site's sessions started in the period.

    A session's window is its span on the scenario clock, ``[start_ns, end_ns)``
    (``start_ns + duration_s`` when it failed before closing); a failed session
    was down for all of it.
    """
    up = total = 0
    for s in teaching_windows(db, site, lo, hi):
        start = s.start_ns
        end = s.end_ns if s.end_ns else s.start_ns + int(s.duration_s * 1e9)
        slots = max(1, -(-(end - start) // UPTIME_BUCKET_NS))
        total += slots * len(s.assets)
        if s.status is SessionStatus.failed:
            continue
        for asset in s.assets:
            seen = {(t - start) // UPTIME_BUCKET_NS for t, n in
                    store.series(site, asset, "learning", start, end, None, "count")}
            up += len({k for k in seen if 0 <= k < slots})
    return up, total


def lab_uptime(db: Session, store, sites, lo: datetime, hi: datetime) -> Figure:
    """Share of the teaching-window minutes, over ``sites``, in which each asset delivered feature windows."""
    up = total = 0
    for site in [sites] if isinstance(sites, str) else sites:
        u, t = uptime_counts(db, store, site, lo, hi)
        up, total = up + u, total + t
    return rate(up, total, UPTIME_TARGET, note="" if total else "no teaching window in the period")


def as_utc(ts: datetime) -> datetime:
    """``ts`` as an aware UTC datetime (naive ones are taken as UTC)."""
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)

