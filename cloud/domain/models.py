"""Relational domain of the hub: registry (sites, assets, sensors, edges) and minimal teams/challenges.

Every table is a typed SQLAlchemy 2 declarative model. Accounts (users,
roles, memberships, tokens) live in :mod:`cloud.accounts.models` on the same
:class:`Base`, so one alembic history covers the whole relational domain.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone

from sqlalchemy import Column, DateTime, Enum, Float, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Timezone-aware current time (UTC)."""
    return datetime.now(timezone.utc)


def iso_utc(ts: datetime | None) -> str | None:
    """ISO 8601 with the UTC offset; SQLite hands datetimes back naive, they were stored in UTC.

    Examples
    --------
    >>> iso_utc(datetime(2026, 11, 23, 9, 30))
    '2026-11-23T09:30:00+00:00'
    """
    if ts is None:
        return None
    return (ts if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)).isoformat()


class Base(DeclarativeBase):
    """Declarative base of every relational table of the hub."""


class SiteKind(str, enum.Enum):
    """A site is an SME's plant or a teaching lab."""

    sme = "sme"
    lab = "lab"


class Site(Base):
    """A place with assets: an SME plant or a lab. ``slug`` is the MQTT ``site`` segment."""

    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[SiteKind] = mapped_column(Enum(SiteKind, name="site_kind"))
    region: Mapped[str] = mapped_column(String(100), default="")
    assets: Mapped[list[Asset]] = relationship(back_populates="site", cascade="all, delete-orphan",
                                               order_by="Asset.name")
    edges: Mapped[list[Edge]] = relationship(back_populates="site", cascade="all, delete-orphan",
                                             order_by="Edge.edge_id")


class Asset(Base):
    """A machine at a site; ``name`` is the MQTT ``asset`` segment."""

    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("site_id", "name", name="uq_asset_site_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64), default="")
    site: Mapped[Site] = relationship(back_populates="assets")
    sensors: Mapped[list[Sensor]] = relationship(back_populates="asset", cascade="all, delete-orphan",
                                                 order_by="Sensor.channel")


class Sensor(Base):
    """One measured channel of an asset (units, sample rate in Hz)."""

    __tablename__ = "sensors"
    __table_args__ = (UniqueConstraint("asset_id", "channel", name="uq_sensor_asset_channel"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(64))
    units: Mapped[str] = mapped_column(String(32))
    rate_hz: Mapped[float] = mapped_column(Float)
    asset: Mapped[Asset] = relationship(back_populates="sensors")


class Edge(Base):
    """A registered edge agent of a site; ``public_key_id`` names its device key, if any."""

    __tablename__ = "edges"
    __table_args__ = (UniqueConstraint("site_id", "edge_id", name="uq_edge_site_edge"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    edge_id: Mapped[str] = mapped_column(String(64))
    public_key_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    site: Mapped[Site] = relationship(back_populates="edges")


team_members = Table(
    "team_members", Base.metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)
challenge_teams = Table(
    "challenge_teams", Base.metadata,
    Column("challenge_id", ForeignKey("challenges.id", ondelete="CASCADE"), primary_key=True),
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
)
challenge_assets = Table(
    "challenge_assets", Base.metadata,
    Column("challenge_id", ForeignKey("challenges.id", ondelete="CASCADE"), primary_key=True),
    Column("asset_id", ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True),
)
challenge_staff = Table(
    "challenge_staff", Base.metadata,
    Column("challenge_id", ForeignKey("challenges.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    # mentor, academic_assessor or industrial_assessor (cloud.challenges.models.Duty)
    Column("duty", String(32), nullable=False, server_default="mentor"),
)


class Team(Base):
    """A team of learners (members are users)."""

    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    members: Mapped[list["User"]] = relationship(secondary=team_members, order_by="User.id")  # noqa: F821


class Challenge(Base):
    """A challenge at a site on some of its assets, worked by teams, run by mentors/assessors (staff).

    Its charter, lab sessions, evidence and assessment live in :mod:`cloud.challenges.models`.
    """

    __tablename__ = "challenges"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    site: Mapped[Site] = relationship()
    assets: Mapped[list[Asset]] = relationship(secondary=challenge_assets, order_by="Asset.name")
    teams: Mapped[list[Team]] = relationship(secondary=challenge_teams, order_by="Team.name")
    staff: Mapped[list["User"]] = relationship(secondary=challenge_staff, order_by="User.id")  # noqa: F821
