"""Routes of the KPI area: the report and its CSV, site settings, the stop and maintenance logs, alert
reviews, closing a period into the ledger, and adopting a pathway. Thin over :mod:`.service` and :mod:`.logbook`.

Hub operators see the whole hub; an SME partner sees the sites of their company only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from cloud.access import DB, Operator, Principal, Role, RoleGate
from cloud.accounts.service import user_of
from cloud.database import iso_utc, utcnow
from cloud.errors import ERROR_RESPONSES, NotFound
from cloud.kpis import logbook, service
from cloud.kpis.models import KpiClose, KpiSiteSettings
from cloud.kpis.schemas import (AdoptIn, AdoptionView, AlertReviewIn, AlertReviewView, CloseIn, CloseView, KpiExport,
                                KpiReport, SiteLog, SiteSettingsIn, SiteSettingsView, StopEnd, StopIn, StopView,
                                WorkOrderIn, WorkOrderView)
from cloud.kpis.sources import KpiSources, aware
from cloud.sites.models import Asset
from cloud.skills import careers

router = APIRouter(prefix="/api", tags=["kpis"])
Companies = Annotated[Principal, Depends(RoleGate(Role.hub_operator, Role.sme_partner))]
Loggers = Annotated[Principal, Depends(RoleGate(Role.hub_operator, Role.mentor, Role.sme_partner))]
Learner = Annotated[Principal, Depends(RoleGate(Role.learner))]
OptMonth = Annotated[str | None, Query(pattern=r"^20\d{2}-(0[1-9]|1[0-2])$",
                                      description="YYYY-MM, 2000-2099 (default: the last 12 months)")]


def _sources(request: Request) -> KpiSources:
    return request.app.state.kpi_sources


def _sites(db, who: Principal, site: str | None) -> frozenset[str] | None:
    if site is not None:
        return frozenset({logbook.visible_site(db, who, site).slug})
    return None if who.scope.everything else frozenset(who.scope.sites)


def _report(request: Request, db, who, first, last, site, pack, team_id, baseline_from, baseline_to) -> dict:
    if first is None or last is None:
        default = service.default_range(utcnow())
        first, last = first or (last if last and last < default[0] else default[0]), last or default[1]
    baseline = (baseline_from, baseline_to or baseline_from) if baseline_from else None
    return service.report(db, request.app.state.store, _sources(request), _sites(db, who, site), first, last,
                          pack, team_id, baseline, extra=service.learnflow_figures)


@router.get("/kpis", response_model=KpiReport, responses=ERROR_RESPONSES,
            summary="KPIs per month with baselines: learning, operations per asset, onboarding, pathways")
def kpis(request: Request, db: DB, who: Companies, first: OptMonth = None, last: OptMonth = None,
         site: str | None = None, pack: str | None = None, team_id: int | None = None, baseline_from: OptMonth = None,
         baseline_to: OptMonth = None) -> dict:
    return _report(request, db, who, first, last, site, pack, team_id, baseline_from, baseline_to)


@router.get("/kpis/export", response_model=KpiExport, responses=ERROR_RESPONSES,
            summary="The same report as CSV rows (one per figure and period)")
def kpis_csv(request: Request, db: DB, who: Companies, first: OptMonth = None, last: OptMonth = None,
             site: str | None = None, pack: str | None = None, team_id: int | None = None,
             baseline_from: OptMonth = None, baseline_to: OptMonth = None) -> dict:
    rep = _report(request, db, who, first, last, site, pack, team_id, baseline_from, baseline_to)
    scope = rep["scope"].replace(":", "-").replace(",", "_")
    name = f"teachfab-kpis-{scope}-{rep['periods'][0]}-{rep['periods'][-1]}.csv"
    return {"format": "csv", "filename": name, "text": service.to_csv(rep)}


@router.get("/kpis/sites/{site}/settings", response_model=SiteSettingsView, responses=ERROR_RESPONSES,
            summary="A site's KPI settings: baseline period or engineered baseline, operating hours, registration")
def get_settings(db: DB, who: Companies, site: str) -> dict:
    row = logbook.visible_site(db, who, site)
    return logbook.settings_view(row, db.get(KpiSiteSettings, row.id))


@router.put("/kpis/sites/{site}/settings", response_model=SiteSettingsView, responses=ERROR_RESPONSES,
            summary="Set a site's KPI settings (operators)")
def put_settings(db: DB, who: Operator, site: str, body: SiteSettingsIn) -> dict:
    row = logbook.visible_site(db, who, site)
    return logbook.settings_view(row, logbook.save_settings(db, row, body))


@router.get("/kpis/sites/{site}/log", response_model=SiteLog, responses=ERROR_RESPONSES,
            summary="Stops, work orders and alert reviews logged at a site")
def site_log(db: DB, who: Loggers, site: str) -> dict:
    return logbook.site_log(db, logbook.visible_site(db, who, site))


def _stop(site: str, asset: str, s) -> dict:
    return {"id": s.id, "site": site, "asset": asset, "start": aware(s.start), "end": aware(s.end),
            "planned": s.planned, "reason": s.reason, "logged_by": s.logged_by}


@router.post("/kpis/sites/{site}/assets/{asset}/stops", response_model=StopView, status_code=201,
             responses=ERROR_RESPONSES, summary="Log a stop of an asset (planned or not; open while it lasts)")
def add_stop(db: DB, who: Loggers, site: str, asset: str, body: StopIn) -> dict:
    row = logbook.log_stop(db, logbook.visible_asset(db, who, site, asset), who, body)
    return _stop(site, asset, row)


@router.post("/kpis/stops/{stop_id}/end", response_model=StopView, responses=ERROR_RESPONSES,
             summary="Record when an open stop ended")
def end_stop(db: DB, who: Loggers, stop_id: int, body: StopEnd) -> dict:
    row = logbook.end_stop(db, who, stop_id, body.end)
    a = db.get(Asset, row.asset_id)
    return _stop(a.site.slug, a.name, row)


@router.post("/kpis/sites/{site}/assets/{asset}/work-orders", response_model=WorkOrderView, status_code=201,
             responses=ERROR_RESPONSES, summary="Add a work order to the maintenance log")
def add_work_order(db: DB, who: Loggers, site: str, asset: str, body: WorkOrderIn) -> dict:
    w = logbook.log_work_order(db, logbook.visible_asset(db, who, site, asset), who, body)
    return {"id": w.id, "site": site, "asset": asset, "number": w.number, "opened_at": aware(w.opened_at),
            "closed_at": aware(w.closed_at), "fault": w.fault, "action": w.action,
            "fixed_first_time": w.fixed_first_time, "stop_id": w.stop_id, "alert_ts": w.alert_ts,
            "logged_by": w.logged_by}


@router.post("/kpis/sites/{site}/assets/{asset}/alert-reviews", response_model=AlertReviewView, status_code=201,
             responses=ERROR_RESPONSES, summary="Say whether an alert led to a confirmed finding")
def add_review(request: Request, db: DB, who: Loggers, site: str, asset: str, body: AlertReviewIn) -> dict:
    r = logbook.review_alert(db, request.app.state.store, logbook.visible_asset(db, who, site, asset), who, body)
    return {"id": r.id, "site": site, "asset": asset, "alert_ts": r.alert_ts, "confirmed": r.confirmed,
            "finding": r.finding, "reviewed_by": r.reviewed_by}


@router.post("/kpis/closes", response_model=CloseView, status_code=201, responses=ERROR_RESPONSES,
             summary="Publish a finished month's KPIs for the hub or a site: stored and written to the ledger")
def close(request: Request, db: DB, who: Operator, body: CloseIn) -> dict:
    row = service.close_period(db, request.app.state.store, _sources(request), body.scope, body.period,
                               user_of(db, who), extra=service.learnflow_figures)
    return next(c for c in service.verify_closes(db) if c["id"] == row.id)


@router.get("/kpis/closes", response_model=list[CloseView], responses=ERROR_RESPONSES,
            summary="The published KPI periods, each checked against its ledger entry")
def closes(db: DB, who: Companies) -> list[dict]:
    seen = None if who.scope.everything else {f"site:{s}" for s in who.scope.sites}
    return [c for c in service.verify_closes(db) if seen is None or c["scope"] in seen]


@router.get("/kpis/closes/{close_id}", response_model=CloseView, responses=ERROR_RESPONSES,
            summary="One published KPI period with its figures, checked against the ledger")
def one_close(db: DB, who: Companies, close_id: int) -> dict:
    row = db.get(KpiClose, close_id)
    if row is None or not (who.scope.everything or row.scope in {f"site:{s}" for s in who.scope.sites}):
        raise NotFound(f"no KPI close {close_id} in your scope")
    check = next(c for c in service.verify_closes(db) if c["id"] == close_id)
    return {**check, "values": row.values}


@router.post("/pathways/adopt", response_model=AdoptionView, status_code=201, responses=ERROR_RESPONSES,
             summary="Adopt the pathway the hub recommends towards a job (counted by the pathway KPIs)")
def adopt(db: DB, who: Learner, body: AdoptIn) -> dict:
    plan = careers.pathway_view(db, who.user_id, body.job_id, "en", body.max_eqf, tuple(body.languages),
                                tuple(body.modes))
    row = logbook.adopt_pathway(db, who.user_id, body.job_id, [s["entry"] for s in plan["steps"]])
    return {"job_id": row.job_id, "credentials": row.credentials, "adopted_at": iso_utc(row.adopted_at)}
