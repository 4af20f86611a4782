"""Account tables: users, their roles (:class:`cloud.access.Role`), site memberships and API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.access import Role
from cloud.database import Base, utcnow


class User(Base):
    """A person who logs in with ``email`` and a password (argon2id hash only is stored)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    role_grants: Mapped[list[RoleGrant]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    site_memberships: Mapped[list[SiteMembership]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def roles(self) -> set[Role]:
        """The roles this user holds."""
        return {g.role for g in self.role_grants}


class RoleGrant(Base):
    """User ``user_id`` holds ``role``."""

    __tablename__ = "user_roles"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[Role] = mapped_column(Enum(Role, name="user_role"), primary_key=True)


class SiteMembership(Base):
    """User ``user_id`` belongs to site ``site_id`` (scopes SME partners to their own sites)."""

    __tablename__ = "site_memberships"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)


class ApiToken(Base):
    """An opaque bearer token; only its SHA-256 is stored, with its expiry."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user: Mapped[User] = relationship()
