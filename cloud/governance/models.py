"""Tables of the governance area: sites' retention defaults, the access log, data-rights requests, retention runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, utcnow


class SiteRetention(Base):
    """A site's default retention of one data kind, in days (for charters that name none)."""

    __tablename__ = "site_retention"
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    days: Mapped[int] = mapped_column(Integer)
    set_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AccessLogEntry(Base):
    """``reader`` read data of ``subject`` (a learner's user id, or a site's slug) through ``route``.

    The reader's e-mail is copied, so the log stays readable if their account
    is later erased (an erasure pseudonymises it here too).
    """

    __tablename__ = "access_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    reader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    reader_email: Mapped[str] = mapped_column(String(254))
    reader_roles: Mapped[list] = mapped_column(JSON, default=list)
    subject_kind: Mapped[str] = mapped_column(String(16))  # learner | site
    subject: Mapped[str] = mapped_column(String(64), index=True)
    route: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(400))


class RightsRequest(Base):
    """A learner's data export or erasure, who carried it out and what it covered (the log of data rights)."""

    __tablename__ = "rights_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # export | erasure
    by_user: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    ledger_hash: Mapped[str] = mapped_column(String(64))


class RetentionRun(Base):
    """One pass of retention: what each (site, kind) kept and deleted, with the ledger entry recording it."""

    __tablename__ = "retention_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    now_ns: Mapped[int] = mapped_column(BigInteger)
    report: Mapped[dict] = mapped_column(JSON)
    ledger_hash: Mapped[str] = mapped_column(String(64))
