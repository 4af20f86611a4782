"""Request and response models of the credentials routes.

Signed documents (credentials, status lists, the controller document) are
answered as JSON-LD objects exactly as signed, so their models keep every
member (``extra="allow"``); the rest are closed models.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class JsonLd(BaseModel):
    """A JSON-LD document answered exactly as signed."""

    model_config = ConfigDict(extra="allow")


class RaisedSkill(BaseModel):
    """A skill level an issued credential confirmed in the learner's profile."""

    skill: str
    level: int
    source: str
    changed: bool


class CredentialSummary(BaseModel):
    """One of the learner's credentials in the wallet."""

    id: str
    title: str
    session: int
    achievement: str
    issued_at: str
    status: Literal["active", "suspended", "revoked"]
    status_reason: str
    shared: bool
    raised: list[RaisedSkill]
    document: dict[str, Any]


class ShareLink(BaseModel):
    """A public link showing the credential without a log-in (the token is shown once)."""

    url: str
    token: str


class StatusChangeIn(BaseModel):
    """An operator's revocation, suspension or reinstatement."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["revoke", "suspend", "reinstate"]
    reason: str = Field(min_length=5, max_length=2000)


class StatusChange(BaseModel):
    """The credential's status after an operator's change."""

    id: str
    status: Literal["active", "suspended", "revoked"]
    status_reason: str


class Verification(BaseModel):
    """What the hub's verifier found: each check and the overall answer."""

    verified: bool
    errors: list[str]
    signature: dict[str, Any]
    issuer: dict[str, Any]
    status: list[dict[str, Any]]
    validity: dict[str, Any]
    achievement: dict[str, Any] | None
    evidence: list[dict[str, Any]]


class SharedCredential(BaseModel):
    """A shared credential and its verification."""

    credential: dict[str, Any]
    verification: Verification
