"""The table of handover packages: one archive per build, with its manifest and the ledger entry that seals it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, utcnow


class HandoverPackage(Base):
    """A built handover archive (a ZIP) of one challenge; the newest of a challenge is the current one.

    ``manifest`` lists every file of the archive with its SHA-256;
    ``manifest_sha256`` is the hash of the manifest's canonical JSON, and
    the ledger entry (``ledger_hash``) records it, so a downloaded archive
    can be checked against the hub's tamper-evident log.
    """

    __tablename__ = "handover_packages"
    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    built_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    archive: Mapped[bytes] = mapped_column(LargeBinary)
    archive_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    manifest: Mapped[dict] = mapped_column(JSON)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    deidentified: Mapped[bool] = mapped_column(Boolean, default=False)
    ledger_hash: Mapped[str] = mapped_column(String(64))
