"""Request and answer models of the KPI routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


class FigureView(BaseModel):
    """One KPI value with its sample size, 95 % interval, unit and target."""

    value: float | None
    n: int
    low: float | None
    high: float | None
    unit: str
    target: float | None
    direction: str = Field(description="'min': at least the target; 'max': at most")
    note: str
    meets: bool | None


class LearningBlock(BaseModel):
    """Learning, pathway and learn-in-the-flow figures per period, and their baseline."""

    series: dict[str, list[FigureView]]
    baseline: dict[str, FigureView]


class AssetBlock(BaseModel):
    """Operational figures of one asset per period and its baseline (period or engineered)."""

    series: dict[str, list[FigureView]]
    baseline: dict[str, FigureView]


class OnboardingView(BaseModel):
    """Onboarding milestones of a site and the days from registration to each."""

    figures: dict[str, FigureView]
    dates: dict[str, str | None]


class SiteBlock(BaseModel):
    """The operational KPIs of one site."""

    site: str
    name: str
    kind: str
    operating_hours_per_week: float
    baseline_period: list[str] | None
    assets: dict[str, AssetBlock]
    lab_uptime: list[FigureView]
    onboarding: OnboardingView


class KpiReport(BaseModel):
    """Every KPI of ``docs/kpis.md`` for a scope over monthly periods."""

    periods: list[str]
    scope: str
    pack: str | None
    team_id: int | None
    baseline_period: list[str] | None
    lab_uptime: list[FigureView] = Field(description="remote-lab uptime in teaching windows, over the lab sites")
    learning: LearningBlock
    onboarding: dict[str, FigureView]
    sites: list[SiteBlock]
    computed_at: str


class KpiExport(BaseModel):
    """The report as CSV text."""

    format: str
    filename: str
    text: str


class SiteSettingsIn(BaseModel):
    """A site's KPI settings; an engineered baseline gives KPI key -> value for a site without history."""

    baseline_start: datetime | None = None
    baseline_end: datetime | None = None
    engineered: dict[str, float] = Field(default_factory=dict, max_length=50)
    operating_hours_per_week: float = Field(40.0, gt=0, le=168)
    registered_at: datetime | None = None


class SiteSettingsView(SiteSettingsIn):
    """A site's KPI settings as stored."""

    site: str


class StopIn(BaseModel):
    """A stop of an asset (``end`` null while it lasts)."""

    start: datetime
    end: datetime | None = None
    planned: bool = False
    reason: str = Field("", max_length=2000)


class StopEnd(BaseModel):
    """When an open stop ended."""

    end: datetime


class StopView(StopIn):
    """A logged stop."""

    id: int
    site: str
    asset: str
    logged_by: int


class WorkOrderIn(BaseModel):
    """An entry of the maintenance log."""

    number: str = Field(min_length=1, max_length=64)
    opened_at: datetime
    closed_at: datetime | None = None
    fault: str = Field(min_length=1, max_length=64)
    action: str = Field(min_length=3, max_length=4000)
    fixed_first_time: bool | None = None
    stop_id: int | None = None
    alert_ts: int | None = Field(None, ge=946_684_800 * 10**9, lt=4_102_444_800 * 10**9)


class WorkOrderView(WorkOrderIn):
    """A logged work order."""

    id: int
    site: str
    asset: str
    logged_by: int


class AlertReviewIn(BaseModel):
    """Whether an alert led to a confirmed finding."""

    alert_ts: int = Field(ge=946_684_800 * 10**9, lt=4_102_444_800 * 10**9)
    confirmed: bool
    finding: str = Field("", max_length=2000)


class AlertReviewView(AlertReviewIn):
    """A recorded alert review."""

    id: int
    site: str
    asset: str
    reviewed_by: int


class SiteLog(BaseModel):
    """The stops, work orders and alert reviews logged at a site."""

    site: str
    stops: list[StopView]
    work_orders: list[WorkOrderView]
    alert_reviews: list[AlertReviewView]


class CloseIn(BaseModel):
    """Close a finished month for the hub (``hub``) or one site (``site:<slug>``)."""

    scope: str = Field(pattern=r"^(hub|site:[a-z0-9][a-z0-9_-]{0,62})$")
    period: str = Field(pattern=MONTH)


class CloseView(BaseModel):
    """A published KPI period checked against the ledger."""

    id: int
    scope: str
    period: str
    closed_at: str
    ledger_hash: str
    ok: bool
    problem: str
    rows: int
    values: dict[str, Any] | None = None


class AdoptIn(BaseModel):
    """A learner adopts the pathway the hub recommends towards a job."""

    job_id: str = Field(min_length=1, max_length=64)
    max_eqf: int | None = Field(None, ge=1, le=8, description="the filters the learner chose on the pathway")
    modes: list[str] = Field(default_factory=list, max_length=3)
    languages: list[str] = Field(default_factory=list, max_length=6)


class AdoptionView(BaseModel):
    """An adopted pathway: the credentials it listed."""

    job_id: str
    credentials: list[str]
    adopted_at: str
