"""Tables of the credentials area: issuer keys, status lists and issued credentials (migration ``0005_credentials``).

Keys are never deleted: a retired key keeps its row (and its place in the
controller document, marked ``revoked``) so credentials it signed still
verify. Only public keys are stored; the private key comes from the hub's
settings.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, utcnow


class IssuerKey(Base):
    """One Ed25519 key of the issuer as a Multikey; ``retired_at`` is set when a newer key takes over."""

    __tablename__ = "issuer_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    public_multibase: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class StatusList(Base):
    """A Bitstring Status List of one purpose (``revocation`` or ``suspension``) and its signed credential."""

    __tablename__ = "status_lists"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # e.g. revocation-1
    purpose: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(Integer)
    bits: Mapped[bytes] = mapped_column(LargeBinary)
    document: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # the signed status list credential
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IssuedCredential(Base):
    """An issued OpenBadgeCredential: one per learner, session and credential of the pack."""

    __tablename__ = "issued_credentials"
    __table_args__ = (UniqueConstraint("session_id", "user_id", "credential_key"),
                      UniqueConstraint("revocation_list", "revocation_index"),
                      UniqueConstraint("suspension_list", "suspension_index"))
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the uuid of urn:uuid:...
    session_id: Mapped[int] = mapped_column(ForeignKey("lab_sessions.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    credential_key: Mapped[str] = mapped_column(String(64))  # the pack credential's id
    document: Mapped[dict] = mapped_column(JSON)
    key_id: Mapped[int] = mapped_column(ForeignKey("issuer_keys.id"))
    revocation_list: Mapped[str] = mapped_column(ForeignKey("status_lists.id"))
    revocation_index: Mapped[int] = mapped_column(Integer)
    suspension_list: Mapped[str] = mapped_column(ForeignKey("status_lists.id"))
    suspension_index: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | suspended | revoked
    status_reason: Mapped[str] = mapped_column(Text, default="")
    share_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    raised: Mapped[list] = mapped_column(JSON, default=list)  # skill levels it confirmed
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ledger_hash: Mapped[str] = mapped_column(String(64))
