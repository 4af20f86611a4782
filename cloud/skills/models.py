"""Tables of the skills area: profile levels and their history, skill checks, consents, invitations,
language preferences and imported job profiles (migration ``0003``).

The history (:class:`SkillChange`) is append-only and every row is also a
link of the hash-chained ledger (``ledger_hash``); the migration makes it
write-once in the database, like evidence.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, utcnow


class SkillLevel(Base):
    """A learner's current level of one skill, its source, and the self-assessed level beside it."""

    __tablename__ = "skill_levels"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    skill: Mapped[str] = mapped_column(String(64), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))  # self | evidence | assessor
    self_level: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SkillChange(Base):
    """One proposed change of a profile level: applied, or kept as history only (a lower-trust source)."""

    __tablename__ = "skill_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    skill: Mapped[str] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    applied: Mapped[bool] = mapped_column(Boolean)
    previous_level: Mapped[int | None] = mapped_column(Integer, nullable=True)
    previous_source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    by_user: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    ref: Mapped[dict] = mapped_column(JSON)  # what raised it: session, evidence, outcome, criteria ...
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ledger_hash: Mapped[str] = mapped_column(String(64))


class SkillCheck(Base):
    """A skill check: the questions asked (ids and option order), then the answers and result."""

    __tablename__ = "skill_checks"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    skill: Mapped[str] = mapped_column(String(64))
    asked: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    answers: Mapped[list | None] = mapped_column(JSON, nullable=True)
    correct: Mapped[int | None] = mapped_column(Integer, nullable=True)
    level: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Consent(Base):
    """A learner lets the SME partners of one company (an SME site) see their profile in aggregates."""

    __tablename__ = "skill_consents"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Invitation(Base):
    """An invitation link for a learner to join (only the token's SHA-256 is stored)."""

    __tablename__ = "invitations"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), nullable=True)
    language: Mapped[str] = mapped_column(String(8), default="en")
    invited_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)


class Preference(Base):
    """A user's portal language."""

    __tablename__ = "user_preferences"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str] = mapped_column(String(8))


class ImportedJob(Base):
    """A job profile imported by a hub operator (CSV or JSON), beside the shipped ones."""

    __tablename__ = "imported_jobs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    document: Mapped[dict] = mapped_column(JSON)
    imported_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
