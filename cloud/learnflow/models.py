"""The table of the learnflow area: one row per learning unit offered to a user next to one live event."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, utcnow


class LearningOffer(Base):
    """Unit ``unit_id`` offered to ``user_id`` beside an alert or drift event (``event_kind``, ``event_ts``)
    of ``site``/``asset``; when it was opened, and the follow-up self-assessment when it was completed."""

    __tablename__ = "learning_offers"
    __table_args__ = (UniqueConstraint("user_id", "site", "asset", "event_kind", "event_ts", name="uq_learning_offer"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[str] = mapped_column(String(64))
    site: Mapped[str] = mapped_column(String(64), index=True)
    asset: Mapped[str] = mapped_column(String(64))
    event_kind: Mapped[str] = mapped_column(String(8))
    event_ts: Mapped[int] = mapped_column(BigInteger)
    tags: Mapped[dict] = mapped_column(JSON)
    language: Mapped[str] = mapped_column(String(8))
    offered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    follow_up_skill: Mapped[str] = mapped_column(String(64))
    follow_up_level: Mapped[int | None] = mapped_column(Integer, nullable=True)
