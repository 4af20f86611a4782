"""Request bodies of the challenges, sessions and assessment API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cloud.challenges.models import Duty, Party


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TeamCreate(_In):
    """A team of learners (user ids holding the learner role)."""

    name: str = Field(min_length=2, max_length=200)
    members: list[int] = Field(min_length=1)


class ChallengeCreate(_In):
    """A challenge with a draft charter: from a lab pack (``pack``) or a written ``charter``."""

    name: str = Field(min_length=3, max_length=200)
    site: str = Field(description="slug of the SME plant or lab the challenge runs at")
    pack: str | None = Field(None, description="lab pack id (teachfab lab list); its charter is the template")
    charter: dict[str, Any] | None = Field(None, description="charter fields (docs/lab-packs.md); overrides the pack's")
    rubric: dict[str, Any] | None = Field(None, description="rubric (docs/lab-packs.md); default: the pack's")
    parties: dict[str, str] | None = Field(None, description="industry_partner, provider, hub, mentor names")
    assets: list[str] = Field(default_factory=list, description="real assets of the site the challenge works on")
    teams: list[int] = Field(default_factory=list)
    mentors: list[int] = Field(default_factory=list)
    academic_assessors: list[int] = Field(default_factory=list)
    industrial_assessors: list[int] = Field(default_factory=list)


class CharterUpdate(_In):
    """A new draft of the charter (refused once anyone has signed)."""

    charter: dict[str, Any]


class StaffAdd(_In):
    """Put a user on the challenge's staff."""

    user_id: int
    duty: Duty


class SignatureIn(_In):
    """Sign the charter for one party."""

    party: Party


class SessionCreate(_In):
    """Start a lab session of the challenge's pack for one of its teams."""

    team_id: int
    speed: float = Field(1.0, gt=0, le=50, description="scenario seconds per wall second (1: real time)")


class WindowCreate(_In):
    """Open a challenge window on real assets of the challenge for one of its teams."""

    team_id: int
    edge: str = Field(description="the registered edge of the challenge's site that reads these assets")
    assets: list[str] = Field(default_factory=list, description="default: every asset of the challenge")


class EventIn(_In):
    """A fault, maintenance finding or regime change a mentor logs for a real asset (the ground truth)."""

    asset: str
    event: str = Field(min_length=2, max_length=100, description="e.g. outer_race, misalignment, load_change")
    category: Literal["fault", "regime"]
    start_ns: int = Field(gt=0, description="when it began (UTC epoch ns)")
    end_ns: int | None = Field(None, description="when it ended (None: until the window closes)")
    note: str = Field("", max_length=2000, description="how it was found, e.g. the maintenance work order")


class DeployIn(_In):
    """Deploy a declared pipeline to one asset of the session (signed by the hub, verified by the edge)."""

    asset: str
    pipeline: dict[str, Any] = Field(description="declared pipeline (edge_agent.pipeline.PipelineConfig fields)")
    note: str = Field("", max_length=2000, description="why this pipeline: recorded in its lineage")


class SubmissionIn(_In):
    """The team's hand-in: a note and links to its report and artefacts."""

    note: str = Field("", max_length=20_000)
    links: list[str] = Field(default_factory=list, max_length=20)


class FeedbackIn(_In):
    """A mentor's feedback on a submission."""

    text: str = Field(min_length=10, max_length=20_000)


class ScoreIn(_In):
    """One assessor's rubric levels (1-4 for every criterion) and comments."""

    levels: dict[str, int]
    comments: dict[str, str] = Field(default_factory=dict)


class ModerationIn(_In):
    """Levels for the disputed criteria, with the moderator's rationale."""

    levels: dict[str, int]
    rationale: str = Field(min_length=10, max_length=5000)


class SignOffIn(_In):
    """Sign the assessment off."""

    note: str = Field("", max_length=5000)


class CredentialDecisionIn(_In):
    """The credential decision on a signed-off outcome."""

    decision: Literal["issued", "withheld"]
