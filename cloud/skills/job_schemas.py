"""Response and request models of the skills API about jobs: profiles, matches, gaps, pathways, the career
view, import/export and the catalogue."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

# ------------------------------------------------------------------------------------------ jobs
class JobSkill(BaseModel):
    """A skill a job requires."""

    skill: str
    label: str
    required: int
    essential: bool


class JobView(BaseModel):
    """A job profile in the chosen language."""

    id: str
    title: str
    title_fallback: bool
    description: str
    responsibilities: list[str]
    esco_occupation: str
    isco_08: str
    eqf_level: int
    sector: str
    successors: list[str]
    skills: list[JobSkill]


class SkillIndicator(BaseModel):
    """Per skill of a match: met, under (by how much), missing or not required."""

    skill: str
    label: str
    required: int
    level: int
    essential: bool
    status: Literal["met", "under", "missing", "not_required"]
    short_by: int


class JobMatch(BaseModel):
    """A job's fit for the learner (0-100, docs/skills.md) and the per-skill indicators."""

    job: str
    title: str
    eqf_level: int
    sector: str
    fit: float
    skills: list[SkillIndicator]


class GapView(BaseModel):
    """Missing and under-level skills for one job."""

    job: str
    title: str
    fit: float
    gaps: list[SkillIndicator]


class Closes(BaseModel):
    """A gap a pathway step closes."""

    skill: str
    label: str
    level: int


class PathwayStep(BaseModel):
    """One step of a pathway."""

    step: int
    entry: str
    title: str
    ects: float
    eqf_level: int
    mode: str
    language: str
    prerequisites: list[list[str]] = Field(description="titles of the entries to take first (any one of each group)")
    needed_for: list[str] = Field(description="titles of later steps that need this one")
    closes: list[Closes] = Field(description="gaps this step is the first to close")


class Unclosable(BaseModel):
    """A gap no admissible catalogue entry closes, and why."""

    skill: str
    label: str
    reason: str


class PathwayView(BaseModel):
    """The minimum-ECTS pathway to a job, in order."""

    job: str
    title: str
    total_ects: float
    steps: list[PathwayStep]
    gaps: dict[str, int]
    unclosable: list[Unclosable]
    recognised: list[str]
    filters: dict[str, Any]


class CareerAdd(BaseModel):
    """What a successor role adds: a new skill or a higher level."""

    skill: str
    label: str
    to: int
    essential: bool
    from_: int = Field(alias="from")

    model_config = ConfigDict(populate_by_name=True)


class Successor(BaseModel):
    """A successor role with the caller's fit."""

    job: str
    title: str
    eqf_level: int
    fit: float
    adds: list[CareerAdd]


class CareerView(BaseModel):
    """A job with its successor roles."""

    job: str
    title: str
    eqf_level: int
    fit: float
    successors: list[Successor]


class JobImport(_In):
    """Job profiles to import: CSV (the template of docs/catalogue.md) or JSON text."""

    format: Literal["csv", "json"]
    text: str = Field(min_length=1, max_length=2_000_000)


class ImportResult(BaseModel):
    """What was imported."""

    imported: list[str]


class JobExport(BaseModel):
    """Every job profile as CSV or JSON text."""

    format: Literal["csv", "json"]
    text: str


# ------------------------------------------------------------------------------------------ catalogue
class EntryView(BaseModel):
    """A catalogue entry in the chosen language (every EU mandatory element)."""

    id: str
    title: str
    title_fallback: bool
    pack: str | None
    awarding_body: str
    issuer_country: str
    location: str
    eqf_level: int
    ects: float
    mode: str
    language: str
    assessment_type: str
    form_of_participation: str
    quality_assurance: str
    learning_outcomes: list[str]
    prerequisites: list[list[str]]
    skills: list[JobSkill]
    learner: None = None
    issue_date: None = None
