"""Request and answer models of the learnflow routes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

TS = Field(ge=946_684_800 * 10**9, lt=4_102_444_800 * 10**9, description="the event's ts (epoch ns)")


class OfferIn(BaseModel):
    """An alert or drift event the page shows: which one (the hub looks it up)."""

    site: str = Field(min_length=1, max_length=64)
    asset: str = Field(min_length=1, max_length=64)
    kind: Literal["alert", "drift"]
    ts: int = TS


class FollowUpIn(BaseModel):
    """The follow-up self-assessment: the level 1-4 the user gives themselves on the unit's skill."""

    level: int = Field(ge=1, le=4)


class FollowUpView(BaseModel):
    """The follow-up item: the skill, the levels offered, the level answered."""

    skill: str
    label: str
    levels: list[int]
    answered: int | None


class OfferView(BaseModel):
    """A learning unit offered beside one event; ``unit`` holds its summary, or everything once opened."""

    id: int
    site: str
    asset: str
    event_kind: str
    event_ts: int
    tags: dict[str, list[str]]
    language: str
    unit: dict[str, Any]
    offered_at: str | None
    opened_at: str | None
    completed_at: str | None
    follow_up: FollowUpView


class OfferAnswer(BaseModel):
    """The offer for an event, or null when no unit teaches what it shows."""

    offer: OfferView | None


class UnitView(BaseModel):
    """A learning unit in a language."""

    id: str
    kind: str
    minutes: int
    title: str
    summary: str
    body: str | None
    url: str | None
    faults: list[str]
    families: list[str]
    drift: list[str]
    skills: list[dict[str, str]]
    entries: list[dict[str, str]]
