"""Tables of onboarding: starter kits (with the edge's broker user) and one onboarding record per site.

:class:`Nameplate` holds what the maker's plate says of an asset (the
Asset Administration Shell's nameplate submodel). A :class:`Kit` holds the broker user it issued (Mosquitto's hash only, never
the password) and the sensor mapping and pipeline it was made from;
revoking it (``revoked_at``) removes the user from the broker's files. An
:class:`OnboardingRecord` is stamped from what the hub sees: the site's
registration, the first kit, the first data, the first charter signed in
full, the first live challenge window.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.database import Base, utcnow
from cloud.sites.models import Asset, Site


class Kit(Base):
    """A starter kit for edge ``edge_id`` of a site: its broker user and the mapping it was made from."""

    __tablename__ = "onboarding_kits"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    edge_id: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    spec: Mapped[dict] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    replaces: Mapped[int | None] = mapped_column(Integer, nullable=True)
    site: Mapped[Site] = relationship()


class OnboardingRecord(Base):
    """The onboarding of one site, step by step, each stamped with when it happened."""

    __tablename__ = "onboarding_records"
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kit_issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    first_data_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    first_data_edge: Mapped[str | None] = mapped_column(String(64), nullable=True)
    first_challenge_signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    first_live_window_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    target_days: Mapped[int] = mapped_column(Integer, default=56)
    site: Mapped[Site] = relationship()


class Nameplate(Base):
    """What the maker's plate says of an asset (the AAS nameplate submodel); every field optional."""

    __tablename__ = "asset_nameplates"
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    manufacturer: Mapped[str] = mapped_column(String(200), default="")
    product_type: Mapped[str] = mapped_column(String(200), default="")
    serial_number: Mapped[str] = mapped_column(String(200), default="")
    rated_power_kw: Mapped[float | None] = mapped_column(Float, nullable=True)
    rated_speed_rpm: Mapped[float | None] = mapped_column(Float, nullable=True)
    bearing: Mapped[dict] = mapped_column(JSON, default=dict)
    asset: Mapped[Asset] = relationship()
