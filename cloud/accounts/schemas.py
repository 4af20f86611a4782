"""Request and response models of the accounts API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from cloud.access import Role
from cloud.accounts.models import User
from cloud.accounts.security import password_problem


def _strong(password: str) -> str:
    problem = password_problem(password)
    if problem:
        raise ValueError(f"the password {problem}")
    return password


#: A password the hub accepts (:func:`cloud.accounts.security.password_problem`).
NewPassword = Annotated[str, Field(min_length=12, max_length=256), AfterValidator(_strong)]


class Token(BaseModel):
    """An issued bearer token."""

    access_token: str
    token_type: str = "bearer"
    expires_at: datetime


class UserCreate(BaseModel):
    """A new user; ``sites`` are slugs of the sites they belong to (SME partners)."""

    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    password: NewPassword
    display_name: str = ""
    roles: list[Role] = Field(min_length=1)
    sites: list[str] = []


class UserUpdate(BaseModel):
    """Fields to change; absent fields stay as they are."""

    display_name: str | None = None
    password: NewPassword | None = Field(None, description="a new password; revokes the user's tokens")
    active: bool | None = None
    roles: list[Role] | None = None
    sites: list[str] | None = None


class PasswordChange(BaseModel):
    """Your current password and the new one."""

    current_password: str = Field(max_length=256)
    new_password: NewPassword


class UserPublic(BaseModel):
    """A user as the API shows it (never the password hash)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str
    display_name: str
    active: bool
    roles: list[Role]
    site_ids: list[int]

    @classmethod
    def of(cls, user: User) -> UserPublic:
        """Public view of ``user``."""
        return cls(id=user.id, email=user.email, display_name=user.display_name, active=user.active,
                   roles=sorted(user.roles, key=lambda r: r.value),
                   site_ids=sorted(m.site_id for m in user.site_memberships))


class Me(BaseModel):
    """The caller, with the scope their roles give."""

    id: int
    email: str
    roles: list[Role]
    all_sites: bool = Field(description="true for hub operators: every site and asset")
    sites: list[str] = Field(description="sites seen whole")
    assets: list[tuple[str, str]] = Field(description="(site, asset) pairs seen individually")


class AuthConfig(BaseModel):
    """How the mentor page should log in."""

    mode: str
    demo_login: bool = Field(description="POST /api/auth/demo-token hands out a demo mentor token")
