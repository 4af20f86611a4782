"""Tables of the registry: sites, their assets and sensors, and their edges.

Every table is a typed SQLAlchemy 2 declarative model on
:class:`cloud.database.Base`, like the accounts' and the challenges' tables,
so one alembic history covers the whole relational domain.
"""

from __future__ import annotations

import enum

from sqlalchemy import Enum, Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.database import Base


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
