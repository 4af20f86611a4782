"""Tables of the learning domain: teams, challenges, charters and their signatures, lab sessions,
deployments, evidence, submissions, assessment scores, outcomes and the hash-chained ledger.

A :class:`Challenge` gets one :class:`Charter`; each
:class:`LabSession` runs a pack's scenario for one team of the challenge.
Evidence and ledger rows are write-once: the migration adds database
triggers that refuse ``UPDATE`` and ``DELETE`` on them.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (JSON, BigInteger, Column, DateTime, Enum, Float, ForeignKey, String, Table, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.accounts.models import User
from cloud.database import Base, utcnow
from cloud.sites.models import Asset, Site

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
    # mentor, academic_assessor or industrial_assessor (Duty)
    Column("duty", String(32), nullable=False, server_default="mentor"),
)


class Team(Base):
    """A team of learners (members are users)."""

    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    members: Mapped[list[User]] = relationship(secondary=team_members, order_by="User.id")


class Challenge(Base):
    """A challenge at a site on some of its assets, worked by teams, run by mentors/assessors (staff).

    Its :class:`Charter`, lab sessions, evidence and assessment are the tables below.
    """

    __tablename__ = "challenges"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    site: Mapped[Site] = relationship()
    assets: Mapped[list[Asset]] = relationship(secondary=challenge_assets, order_by="Asset.name")
    teams: Mapped[list[Team]] = relationship(secondary=challenge_teams, order_by="Team.name")
    staff: Mapped[list[User]] = relationship(secondary=challenge_staff, order_by="User.id")


class Duty(str, enum.Enum):
    """What a staff member does in one challenge."""

    mentor = "mentor"
    academic_assessor = "academic_assessor"
    industrial_assessor = "industrial_assessor"


class CharterStatus(str, enum.Enum):
    """Lifecycle: draft → signed (by every party) → active → closed."""

    draft = "draft"
    signed = "signed"
    active = "active"
    closed = "closed"


class Party(str, enum.Enum):
    """The three parties that co-sign a charter."""

    industry_partner = "industry_partner"
    provider = "provider"
    hub = "hub"


class Charter(Base):
    """The charter of one challenge: the document (validated like a pack's charter) and its state."""

    __tablename__ = "charters"
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"), primary_key=True)
    pack_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    document: Mapped[dict] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    rubric: Mapped[dict] = mapped_column(JSON)
    status: Mapped[CharterStatus] = mapped_column(Enum(CharterStatus, name="charter_status"),
                                                  default=CharterStatus.draft)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    challenge: Mapped[Challenge] = relationship()
    signatures: Mapped[list[CharterSignature]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                              order_by="CharterSignature.signed_at")


class CharterSignature(Base):
    """``user_id`` signed the charter (as it was, ``charter_sha256``) for ``party``."""

    __tablename__ = "charter_signatures"
    __table_args__ = (UniqueConstraint("challenge_id", "party", name="uq_signature_party"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("charters.challenge_id", ondelete="CASCADE"), index=True)
    party: Mapped[Party] = mapped_column(Enum(Party, name="charter_party"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    charter_sha256: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SessionStatus(str, enum.Enum):
    """A lab session runs, then is closed (evidence computed) — or failed to run."""

    running = "running"
    closed = "closed"
    failed = "failed"


class LabSession(Base):
    """One run of a lab pack's scenario for one team (``kind`` ``lab``), or a challenge window on
    real assets (``kind`` ``window``); its data are at site ``site`` from edge ``edge``.

    For a lab session ``start_ns`` is the scenario's t = 0 on the epoch clock
    and ``speed`` the scenario seconds per wall second, so scenario time ``t``
    carries the timestamp ``start_ns + t·1e9``; its ground truth comes from the
    scenario. A window runs in real time and its ground truth is the fault and
    maintenance events mentors log. Either stays hidden from learners until closed.
    """

    __tablename__ = "lab_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="lab", server_default="lab")
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    pack_id: Mapped[str] = mapped_column(String(64))
    scenario: Mapped[str] = mapped_column(String(128))
    site: Mapped[str] = mapped_column(String(64), index=True)
    edge: Mapped[str] = mapped_column(String(64))
    assets: Mapped[list] = mapped_column(JSON)
    speed: Mapped[float] = mapped_column(Float, default=1.0)
    status: Mapped[SessionStatus] = mapped_column(Enum(SessionStatus, name="session_status"),
                                                  default=SessionStatus.running)
    started_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    start_ns: Mapped[int] = mapped_column(BigInteger)
    duration_s: Mapped[float] = mapped_column(Float)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    end_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ground_truth: Mapped[list] = mapped_column(JSON)
    #: the assessed variant the hub drew (seed and drawn values), hidden like the ground truth; None: the public script
    variant: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    challenge: Mapped[Challenge] = relationship()
    team: Mapped[Team] = relationship()
    deployments: Mapped[list[Deployment]] = relationship(order_by="Deployment.id", lazy="selectin")
    evidence: Mapped[list[Evidence]] = relationship(order_by="Evidence.asset", lazy="selectin")

    def scenario_ns(self, wall_ns: int) -> int:
        """The scenario-clock timestamp of wall-clock time ``wall_ns`` (identity at speed 1)."""
        return self.start_ns + int((wall_ns - self.start_ns) * self.speed)


class Deployment(Base):
    """A pipeline deployed to a session's asset, with its lineage; ``active_ns`` is on the scenario clock."""

    __tablename__ = "deployments"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("lab_sessions.id", ondelete="CASCADE"), index=True)
    asset: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(128))
    config_hash: Mapped[str] = mapped_column(String(16))
    parent_hash: Mapped[str | None] = mapped_column(String(16), nullable=True)
    pipeline: Mapped[dict] = mapped_column(JSON)
    bundle_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    active_ns: Mapped[int] = mapped_column(BigInteger)
    ledger_hash: Mapped[str] = mapped_column(String(64))


class Evidence(Base):
    """What the hub computed for one asset when its session closed (write-once)."""

    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("session_id", "asset", name="uq_evidence_session_asset"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("lab_sessions.id"), index=True)
    asset: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    document: Mapped[dict] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    ledger_hash: Mapped[str] = mapped_column(String(64))


class Submission(Base):
    """A team hands in its work for a session; a mentor answers with feedback (tracked against the SLA)."""

    __tablename__ = "submissions"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("lab_sessions.id", ondelete="CASCADE"), index=True)
    submitted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
    links: Mapped[list] = mapped_column(JSON, default=list)
    feedback_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    feedback_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    feedback: Mapped[str] = mapped_column(Text, default="")


class AssessmentScore(Base):
    """One assessor's rubric levels (1-4 per criterion) and comments for a session."""

    __tablename__ = "assessment_scores"
    __table_args__ = (UniqueConstraint("session_id", "assessor_id", name="uq_score_assessor"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("lab_sessions.id", ondelete="CASCADE"), index=True)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    side: Mapped[str] = mapped_column(String(16))
    levels: Mapped[dict] = mapped_column(JSON)
    comments: Mapped[dict] = mapped_column(JSON, default=dict)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ledger_hash: Mapped[str] = mapped_column(String(64))


class Moderation(Base):
    """A moderator's levels for the criteria the assessors disagreed on, with the rationale."""

    __tablename__ = "moderations"
    session_id: Mapped[int] = mapped_column(ForeignKey("lab_sessions.id", ondelete="CASCADE"), primary_key=True)
    moderator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    levels: Mapped[dict] = mapped_column(JSON)
    rationale: Mapped[str] = mapped_column(Text)
    moderated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ledger_hash: Mapped[str] = mapped_column(String(64))


class Outcome(Base):
    """The signed-off result of a session (pass / not yet) in the form the credentials area consumes."""

    __tablename__ = "outcomes"
    session_id: Mapped[int] = mapped_column(ForeignKey("lab_sessions.id", ondelete="CASCADE"), primary_key=True)
    result: Mapped[str] = mapped_column(String(16))
    weighted_level: Mapped[float] = mapped_column(Float)
    document: Mapped[dict] = mapped_column(JSON)
    signed_off_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signed_off_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    credential_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    credential_decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    credential_decision: Mapped[str] = mapped_column(String(16), default="")
    ledger_hash: Mapped[str] = mapped_column(String(64))


class LedgerEntry(Base):
    """One link of the tamper-evident log: ``hash = sha256(prev_hash + canonical entry)`` (write-once).

    ``prev_hash`` is unique, so two writers can never fork the chain.
    """

    __tablename__ = "ledger"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[str] = mapped_column(Text)
    created_ns: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
