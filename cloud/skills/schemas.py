"""Request and response models of the skills API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Lang = Literal["en", "es", "fr", "it", "tr", "sl"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------------------ framework
class SkillView(BaseModel):
    """A skill in the chosen language; ``label_source`` is esco, project or fallback (English shown)."""

    skill: str
    label: str
    label_source: str
    type: str


class AreaView(BaseModel):
    """A questionnaire area and its skills."""

    area: str
    name: str
    skills: list[SkillView]


class LevelView(BaseModel):
    """A proficiency level."""

    level: int
    name: str
    descriptor: str


class FrameworkView(BaseModel):
    """The skills framework for the questionnaire and the pages."""

    esco_version: str
    attribution: str
    language: Lang
    levels: list[LevelView]
    areas: list[AreaView]


# ------------------------------------------------------------------------------------------ profiles
class ChangeView(BaseModel):
    """One proposed change of a level: applied or kept as history, and what raised it (``ref``)."""

    id: int
    skill: str
    label: str
    level: int
    source: str
    applied: bool
    previous_level: int | None
    previous_source: str | None
    by: int | None
    ref: dict[str, Any]
    at: str | None
    ledger_hash: str


class CheckSummary(BaseModel):
    """The latest skill check of a skill."""

    check: int
    correct: int | None
    total: int
    level: int | None
    at: str | None


class ProfileSkill(BaseModel):
    """A row of the profile matrix."""

    skill: str
    uri: str
    label: str
    label_source: str
    area: str
    level: int | None
    level_name: str | None
    source: str | None = Field(description="self, evidence or assessor")
    self_level: int | None
    check: CheckSummary | None
    updated_at: str | None
    history: list[ChangeView]


class ProfileView(BaseModel):
    """A learner's profile matrix with counts per source."""

    user: int
    language: Lang
    skills: list[ProfileSkill]
    counts: dict[str, int]


class SelfAssessmentIn(_In):
    """Self-assessed levels 1-4 by skill id (what the learner confirmed)."""

    levels: dict[str, int] = Field(min_length=1, max_length=100)
    note: str = Field("", max_length=2000)


class SuggestIn(_In):
    """Free text describing experience, in a language."""

    text: str = Field(min_length=1, max_length=5000)
    language: Lang | None = None


class Suggestion(BaseModel):
    """A skill suggested from the text (to confirm, edit or remove)."""

    skill: str
    label: str
    matched: str
    area: str


# ------------------------------------------------------------------------------------------ checks
class CheckAvailable(BaseModel):
    """A skill that has a check."""

    skill: str
    label: str


class CheckStart(_In):
    """Start a skill check."""

    skill: str = Field(max_length=64)


class CheckQuestion(BaseModel):
    """A question as asked (options in the drawn order)."""

    id: str
    level: int
    question: str
    options: list[str]


class CheckQuestions(BaseModel):
    """A skill check's questions (English; no answers)."""

    check: int
    skill: str
    questions: list[CheckQuestion]
    language: str
    submitted: bool


class CheckAnswers(_In):
    """The option index (0-3, as shown) chosen for each question, in order."""

    answers: list[int] = Field(min_length=1, max_length=20)


class CheckItem(BaseModel):
    """One graded question."""

    id: str
    level: int
    chosen: int
    correct_option: int
    ok: bool
    explanation: str


class CheckResult(BaseModel):
    """A graded check: correct answers and the level shown."""

    check: int
    skill: str
    correct: int
    total: int
    level: int
    items: list[CheckItem]


class ReportSkill(BaseModel):
    """A skill evaluated by a check, with the self-assessed level beside it."""

    skill: str
    label: str
    area: str
    level: int
    correct: int
    total: int
    self_level: int | None
    at: str | None


class SkillReport(BaseModel):
    """The final report of the skill checks."""

    skills: list[ReportSkill]
    evaluated: int
    average_level: float | None
    strongest_skill: str | None
    strongest_area: str | None
    strongest_area_name: str | None = None


# ------------------------------------------------------------------------------------------ people
class ConsentHistory(BaseModel):
    """When a consent was given and revoked."""

    granted_at: str | None
    revoked_at: str | None


class ConsentView(BaseModel):
    """A company and whether the learner shares their profile with it."""

    site: str
    name: str
    shared: bool
    history: list[ConsentHistory]


class ConsentsIn(_In):
    """The companies (SME site slugs) to share with; every other one is revoked."""

    sites: list[str] = Field(max_length=200)


class LanguageIn(_In):
    """A portal language."""

    language: Lang


class LanguageView(BaseModel):
    """The caller's portal language."""

    language: Lang


class LearnerSummary(BaseModel):
    """A learner a mentor sees, with their team(s) and counts per source."""

    user: int
    name: str
    email: str
    teams: list[str]
    skills: int
    verified: int


class TeamSummary(BaseModel):
    """A team the caller sees."""

    id: int
    name: str
    members: int


class AggregateGap(BaseModel):
    """A required skill over a group: how many are short, missing, by how much on average."""

    skill: str
    label: str
    required: int
    essential: bool
    short: int
    missing: int
    mean_short_by: float
    mean_level: float


class MemberGap(BaseModel):
    """A team member's fit and gaps (skill -> levels short)."""

    user: int
    name: str
    email: str
    fit: float
    gaps: dict[str, int]


class TeamGaps(BaseModel):
    """A team's gaps for a job."""

    team: int
    name: str
    job: str
    title: str
    members: list[MemberGap]
    aggregate: list[AggregateGap]


class CompanyView(BaseModel):
    """A company (SME site) the caller sees aggregates of."""

    site: str
    name: str


class CompanyGaps(BaseModel):
    """A company's aggregated gaps over consenting learners (shown from ``min_group`` learners)."""

    site: str
    name: str
    job: str
    title: str
    consenting: int
    min_group: int
    shown: bool
    aggregate: list[AggregateGap]


class InvitationIn(_In):
    """Invite a learner by e-mail, optionally into a team."""

    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    team_id: int | None = None
    language: Lang = "en"


class InvitationCreated(BaseModel):
    """An invitation: the link to send (its token is shown only now)."""

    id: int
    email: str
    link: str
    expires_at: str | None


class CompanyRef(BaseModel):
    """A company a learner may share with."""

    site: str
    name: str


class InvitationView(BaseModel):
    """What the join page shows."""

    email: str
    team: str | None
    language: Lang
    expires_at: str | None
    companies: list[CompanyRef]


class AcceptIn(_In):
    """Join: a password, a name, a language and the companies to share with."""

    password: str = Field(min_length=1, max_length=256)
    display_name: str = Field("", max_length=200)
    language: Lang = "en"
    share_with: list[str] = Field(default_factory=list, max_length=200)


class JoinToken(BaseModel):
    """The new learner's bearer token."""

    access_token: str
    token_type: str = "bearer"
    expires_at: str
    user: int
