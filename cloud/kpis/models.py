"""Tables of the KPI area: per-site settings (baseline, operating hours), logged stop events,
the maintenance log, alert reviews, pathway adoptions and the closed KPI periods (migration ``0010_kpis``).

Stop events and work orders are what mentors and operators log on the
shop floor; an alert review says whether an alert led to a confirmed
finding. A :class:`KpiClose` is the figure set published for one period;
its ``ledger_hash`` is the ledger link that makes it checkable later.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, utcnow


class KpiSiteSettings(Base):
    """How a site's KPIs are baselined and normalised.

    ``baseline_start``/``baseline_end`` name the baseline period (e.g. the
    6-12 months before the teaching factory started); a new site without
    history gives ``engineered`` values instead (KPI key -> value).
    ``operating_hours_per_week`` is the planned running time the
    per-running-hour figures divide by. ``registered_at`` is when the SME
    registered, for the onboarding KPI (an onboarding record may supply it).
    """

    __tablename__ = "kpi_site_settings"
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    baseline_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    baseline_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    engineered: Mapped[dict] = mapped_column(JSON, default=dict)
    operating_hours_per_week: Mapped[float] = mapped_column(Float, default=40.0)
    registered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StopEvent(Base):
    """A logged stop of an asset: from ``start`` to ``end`` (open while ``end`` is null), planned or not."""

    __tablename__ = "stop_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    planned: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text, default="")
    logged_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    logged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WorkOrder(Base):
    """One entry of the maintenance log: the fault found, the action taken, whether it was fixed first time.

    ``stop_id`` links the stop it repaired; ``alert_ts`` the alert that raised it, if any.
    """

    __tablename__ = "work_orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    fault: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(Text)
    fixed_first_time: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    stop_id: Mapped[int | None] = mapped_column(ForeignKey("stop_events.id", ondelete="SET NULL"), nullable=True)
    alert_ts: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    logged_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class AlertReview(Base):
    """Whether one alert (site, asset, ts) led to a confirmed finding or was a false alarm."""

    __tablename__ = "alert_reviews"
    __table_args__ = (UniqueConstraint("asset_id", "alert_ts", name="uq_alert_review"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    alert_ts: Mapped[int] = mapped_column(BigInteger)
    confirmed: Mapped[bool] = mapped_column(Boolean)
    finding: Mapped[str] = mapped_column(Text, default="")
    reviewed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PathwayAdoption(Base):
    """A learner adopted the pathway the hub recommended towards a job: the credentials it listed."""

    __tablename__ = "pathway_adoptions"
    __table_args__ = (UniqueConstraint("user_id", "job_id", name="uq_pathway_adoption"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str] = mapped_column(String(64))
    credentials: Mapped[list] = mapped_column(JSON)
    adopted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class KpiClose(Base):
    """The KPI figures published for one period of one scope (``hub`` or ``site:<slug>``), ledgered."""

    __tablename__ = "kpi_closes"
    __table_args__ = (UniqueConstraint("scope", "period", name="uq_kpi_close"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(80))
    period: Mapped[str] = mapped_column(String(16))
    values: Mapped[dict] = mapped_column(JSON)
    closed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ledger_hash: Mapped[str] = mapped_column(String(64))
