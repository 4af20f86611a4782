"""A KPI report per hub, site, pack and cohort over monthly periods, with baselines; closing a period.

:func:`report` computes every figure of ``docs/kpis.md`` for each period
and its baseline; :func:`rows` flattens a report for CSV;
:func:`close_period` publishes one finished period's figures: a
:class:`~cloud.kpis.models.KpiClose` row and a ``kpi`` ledger entry holding
the same figures, so a published value can be checked against the
chain later (:func:`verify_closes`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.accounts.models import User
from cloud.challenges import ledger
from cloud.challenges.models import LedgerEntry
from cloud.database import utcnow
from cloud.errors import Conflict, Invalid, NotFound
from cloud.kpis import learning, operations
from cloud.kpis.learning import Slice
from cloud.kpis.models import KpiClose, KpiSiteSettings
from cloud.kpis.sources import KpiSources, aware
from cloud.kpis.stats import Figure, mean, rate
from cloud.learnflow.service import counts
from cloud.sites.models import Site

PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
ONBOARDING_TARGET_DAYS = 56.0  # 8 weeks
MAX_PERIODS = 36


def month(label: str) -> tuple[datetime, datetime]:
    """The half-open UTC range of a month ``YYYY-MM``.

    Examples
    --------
    >>> [d.isoformat() for d in month("2026-12")]
    ['2026-12-01T00:00:00+00:00', '2027-01-01T00:00:00+00:00']
    """
    m = PERIOD.match(label or "")
    if not m:
        raise Invalid(f"period must be a month YYYY-MM, got {label!r}")
    y, mo = int(m[1]), int(m[2])
    if not 1970 <= y <= 9998:  # telemetry starts at the epoch; datetime ends at 9999 (a baseline looks back)
        raise Invalid(f"period {label!r}: the year must be within 1970..9998")
    return datetime(y, mo, 1, tzinfo=timezone.utc), datetime(y + mo // 12, mo % 12 + 1, 1, tzinfo=timezone.utc)


def months(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` inclusive (at most :data:`MAX_PERIODS`)."""
    lo, _ = month(first)
    _, hi = month(last)
    if hi <= lo:
        raise Invalid(f"period range: {first!r} is after {last!r}")
    out, y, m = [], lo.year, lo.month
    while datetime(y, m, 1, tzinfo=timezone.utc) < hi:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    if len(out) > MAX_PERIODS:
        raise Invalid(f"period range: {len(out)} months, at most {MAX_PERIODS}")
    return out


def default_range(now: datetime, span: int = 12) -> tuple[str, str]:
    """The ``span`` months up to and including the month of ``now``.

    Examples
    --------
    >>> default_range(datetime(2026, 12, 2, tzinfo=timezone.utc))
    ('2026-01', '2026-12')
    """
    k = now.year * 12 + now.month - 1 - (span - 1)
    return f"{k // 12:04d}-{k % 12 + 1:02d}", f"{now.year:04d}-{now.month:02d}"


def _span(lo: datetime | None, hi: datetime | None) -> tuple[datetime, datetime] | None:
    return (aware(lo), aware(hi)) if lo is not None and hi is not None and hi > lo else None


def learning_figures(db: Session, sources: KpiSources, sl: Slice, lo: datetime, hi: datetime,
                     now: datetime, creds=None) -> dict[str, Figure]:
    """Every learning and pathway figure of a slice in ``[lo, hi)``."""
    creds = sources.credentials.issued(db) if creds is None else creds
    hours, on_time = learning.signoff_to_credential(db, creds, sl, lo, hi)
    fb24, fb48 = learning.feedback(db, sl, lo, hi, now)
    return {
        "credential_attainment": learning.attainment(db, creds, sl, lo, hi),
        "challenge_closure": learning.closure(db, sl, lo, hi),
        "signoff_to_credential_h": hours,
        "credential_on_time": on_time,
        "feedback_within_24h": fb24,
        "feedback_within_48h": fb48,
        "cross_recognition": learning.cross_recognition(db, creds, sl, lo, hi),
        "pathway_acceptance": learning.pathway_acceptance(db, sl, hi),
        "pathway_completion": learning.pathway_completion(db, creds, sl, hi),
        "skill_change_after_credential": learning.skill_change(db, creds, sl, lo, hi),
    }


def site_settings(db: Session, site: Site) -> KpiSiteSettings:
    """A site's KPI settings (defaults when none were saved)."""
    return db.get(KpiSiteSettings, site.id) or KpiSiteSettings(site_id=site.id, engineered={},
                                                                 operating_hours_per_week=40.0)


def onboarding_figures(db: Session, store, sources: KpiSources, site: str) -> dict:
    """Days from registration to first data, first co-signed charter and first live window, with the dates."""
    d = sources.onboarding.dates(db, store, site)

    def days(at):
        if d.registered_at is None or at is None:
            return Figure(None, 0, unit="days", target=ONBOARDING_TARGET_DAYS, direction="max",
                          note="registration date not recorded" if d.registered_at is None else "not reached yet")
        return Figure((at - d.registered_at).total_seconds() / 86400, 1, unit="days",
                      target=ONBOARDING_TARGET_DAYS, direction="max")
    return {"figures": {"registration_to_first_data_days": days(d.first_data_at),
                        "registration_to_charter_signed_days": days(d.first_charter_signed_at),
                        "registration_to_first_live_days": days(d.first_live_at)},
            "dates": {k: (v.isoformat() if v else None) for k, v in
                      (("registered_at", d.registered_at), ("first_data_at", d.first_data_at),
                       ("first_charter_signed_at", d.first_charter_signed_at), ("first_live_at", d.first_live_at))},
            "sources": d.sources}


def site_report(db: Session, store, sources: KpiSources, site: Site, periods: list[str], now: datetime) -> dict:
    """Operational figures per asset and the lab uptime of one site per period, against its baseline."""
    cfg = site_settings(db, site)
    base = _span(cfg.baseline_start, cfg.baseline_end)
    assets = {}
    for a in site.assets:
        series = {}
        for p in periods:
            lo, hi = month(p)
            for k, f in operations.asset_figures(db, store, a, lo, hi, now, cfg.operating_hours_per_week).items():
                series.setdefault(k, []).append(f.as_dict())
        baseline = {}
        if base:
            baseline = {k: f.as_dict() for k, f in
                        operations.asset_figures(db, store, a, *base, now, cfg.operating_hours_per_week).items()}
        for k, v in (cfg.engineered or {}).items():  # an engineered baseline for a site without history
            if k in series:
                baseline[k] = Figure(float(v), 0, note="engineered baseline").as_dict()
        assets[a.name] = {"series": series, "baseline": baseline}
    uptime = [operations.lab_uptime(db, store, site.slug, *month(p)).as_dict() for p in periods]
    onboarding = onboarding_figures(db, store, sources, site.slug)
    onboarding["figures"] = {k: f.as_dict() for k, f in onboarding["figures"].items()}
    return {"site": site.slug, "name": site.name, "kind": site.kind.value,
            "operating_hours_per_week": cfg.operating_hours_per_week,
            "baseline_period": [base[0].isoformat(), base[1].isoformat()] if base else None,
            "assets": assets, "lab_uptime": uptime, "onboarding": onboarding}


def report(db: Session, store, sources: KpiSources, sites: frozenset[str] | None, first: str, last: str,
           pack: str | None = None, team_id: int | None = None, baseline: tuple[str, str] | None = None,
           now: datetime | None = None, extra=None) -> dict:
    """The KPI report of the visible ``sites`` (None: the whole hub) from month ``first`` to ``last``.

    ``baseline`` (two months) is the period the learning figures are compared
    with; operational figures use each site's own baseline (period or
    engineered values). ``extra(db, sl, lo, hi)`` adds figures of higher areas.
    """
    now = now or utcnow()
    periods = months(first, last)
    sl = Slice(sites, pack, team_id)
    creds = sources.credentials.issued(db)
    series: dict[str, list] = {}
    for p in periods:
        lo, hi = month(p)
        figs = learning_figures(db, sources, sl, lo, hi, now, creds)
        if extra is not None:
            figs.update(extra(db, sl, lo, hi))
        for k, f in figs.items():
            series.setdefault(k, []).append(f.as_dict())
    base = {}
    if baseline:
        blo, _ = month(baseline[0])
        _, bhi = month(baseline[1])
        base = {k: f.as_dict() for k, f in learning_figures(db, sources, sl, blo, bhi, now, creds).items()}
        if extra is not None:
            base.update({k: f.as_dict() for k, f in extra(db, sl, blo, bhi).items()})
    rows = db.scalars(select(Site).order_by(Site.slug))
    site_rows = [s for s in rows if sites is None or s.slug in sites]
    site_reports = [site_report(db, store, sources, s, periods, now) for s in site_rows]
    onboarding = [r["onboarding"]["figures"]["registration_to_first_live_days"] for r in site_reports
                  if r["kind"] == "sme"]
    reached = [f for f in onboarding if f["value"] is not None]
    hub_onboarding = {
        "first_live_days": mean([f["value"] for f in reached], "days", ONBOARDING_TARGET_DAYS).as_dict(),
        "live_within_8_weeks": rate(sum(f["value"] < ONBOARDING_TARGET_DAYS for f in reached),
                                    len(reached)).as_dict(),
    }
    labs = [s.slug for s in site_rows if s.kind.value == "lab"]
    uptime = [operations.lab_uptime(db, store, labs, *month(p)).as_dict() for p in periods]
    return {"periods": periods, "scope": "hub" if sites is None else "sites:" + ",".join(sorted(sites)),
            "lab_uptime": uptime,
            "pack": pack, "team_id": team_id, "baseline_period": list(baseline) if baseline else None,
            "learning": {"series": series, "baseline": base}, "onboarding": hub_onboarding,
            "sites": site_reports, "computed_at": now.isoformat()}


FIELDS = ("period", "scope", "site", "asset", "kpi", "value", "n", "low", "high", "unit", "target", "meets",
          "baseline", "note")


def rows(rep: dict) -> list[dict]:
    """The report as flat rows (one per figure and period), the CSV export's lines."""
    out = []

    def add(period, site, asset, kpi, f, base=None):
        out.append({"period": period, "scope": rep["scope"], "site": site, "asset": asset, "kpi": kpi,
                    **{k: f.get(k) for k in ("value", "n", "low", "high", "unit", "target", "meets", "note")},
                    "baseline": (base or {}).get("value")})
    for kpi, figs in rep["learning"]["series"].items():
        for p, f in zip(rep["periods"], figs):
            add(p, "", "", kpi, f, rep["learning"]["baseline"].get(kpi))
    for p, f in zip(rep["periods"], rep["lab_uptime"]):
        add(p, "", "", "lab_uptime", f)
    for s in rep["sites"]:
        for p, f in zip(rep["periods"], s["lab_uptime"]):
            add(p, s["site"], "", "lab_uptime", f)
        for asset, block in s["assets"].items():
            for kpi, figs in block["series"].items():
                for p, f in zip(rep["periods"], figs):
                    add(p, s["site"], asset, kpi, f, block["baseline"].get(kpi))
        for kpi, f in s["onboarding"]["figures"].items():
            add("", s["site"], "", kpi, f)
    return out


def to_csv(rep: dict) -> str:
    """The report as CSV text (header :data:`FIELDS`)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, FIELDS, lineterminator="\n")
    w.writeheader()
    for r in rows(rep):
        w.writerow(r)
    return buf.getvalue()


def _scope_sites(db: Session, scope: str) -> frozenset[str] | None:
    if scope == "hub":
        return None
    if not scope.startswith("site:") or db.scalar(select(Site).where(Site.slug == scope[5:])) is None:
        raise NotFound(f"scope must be 'hub' or 'site:<a registered site>', got {scope!r}")
    return frozenset({scope[5:]})


def close_period(db: Session, store, sources: KpiSources, scope: str, period: str, user: User,
                 now: datetime | None = None, extra=None) -> KpiClose:
    """Publish the figures of a finished month for ``scope`` (``hub`` or ``site:<slug>``): stored and ledgered."""
    now = now or utcnow()
    _, hi = month(period)
    if hi > now:
        raise Conflict(f"period {period} has not ended yet (it ends {hi.isoformat()})")
    sites = _scope_sites(db, scope)
    if db.scalar(select(KpiClose).where(KpiClose.scope == scope, KpiClose.period == period)) is not None:
        raise Conflict(f"period {period} of {scope} is closed already")
    rep = report(db, store, sources, sites, period, period, now=now, extra=extra)
    values = {"rows": rows(rep)}
    entry = ledger.append(db, "kpi", f"kpi:{scope}:{period}",
                          {"scope": scope, "period": period, "values": values, "sha256": ledger.sha256_of(values)})
    row = KpiClose(scope=scope, period=period, values=values, closed_by=user.id, ledger_hash=entry.hash)
    db.add(row)
    db.commit()
    return row


def verify_closes(db: Session) -> list[dict]:
    """Each published close checked against its ledger entry: same figures, same hash, chain intact there."""
    chain = ledger.verify_chain(db)
    out = []
    for c in db.scalars(select(KpiClose).order_by(KpiClose.id).execution_options(populate_existing=True)):
        entry = db.scalar(select(LedgerEntry).where(LedgerEntry.hash == c.ledger_hash)
                          .execution_options(populate_existing=True))
        problem = ""
        if entry is None:
            problem = "ledger entry missing"
        else:
            payload = json.loads(entry.payload)
            if payload.get("sha256") != ledger.sha256_of(c.values) or payload.get("values") != c.values:
                problem = "published figures differ from the ledgered ones"
            elif not chain["ok"] and chain["broken_at"] is not None and entry.id >= chain["broken_at"]:
                problem = f"ledger chain broken at entry {chain['broken_at']}"
        out.append({"id": c.id, "scope": c.scope, "period": c.period, "closed_at": aware(c.closed_at).isoformat(),
                    "ledger_hash": c.ledger_hash, "ok": not problem, "problem": problem,
                    "rows": len(c.values.get("rows", []))})
    return out


def learnflow_figures(db: Session, sl: Slice, lo: datetime, hi: datetime) -> dict[str, Figure]:
    """Learning in the flow of work (``cloud.learnflow``): units offered beside live events, the share opened,
    the share of opened ones whose follow-up was answered, and the verified skill change after them."""
    users = None
    if sl.team_id is not None or sl.pack is not None:
        users = learning.in_slice(db, sl)[1]
    c = counts(db, users, sl.sites, lo, hi)
    return {"learnflow_offered": Figure(float(c["offered"]), c["offered"], unit="count"),
            "learnflow_opened": rate(c["opened"], c["offered"]),
            "learnflow_completed": rate(c["completed"], c["opened"]),
            "learnflow_skill_change": mean(c["skill_changes"], "levels", direction="min")}
