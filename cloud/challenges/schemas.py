"""Request bodies of the challenges, sessions and assessment API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

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


#: A link of a submission: an http(s) URL of at most 2 048 characters (what browsers and servers keep).
Link = Annotated[str, Field(max_length=2048, pattern=r"^https?://[^\s]+$",
                            description="http(s) URL of the report or an artefact")]


class SubmissionIn(_In):
    """The team's hand-in: a note and links to its report and artefacts."""

    note: str = Field("", max_length=20_000)
    links: list[Link] = Field(default_factory=list, max_length=20)


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


# ------------------------------------------------------------------ answers
class Member(BaseModel):
    """A person as other members of a challenge see them."""

    id: int
    email: str
    name: str = ""


class TeamPublic(BaseModel):
    """A team and its members."""

    id: int
    name: str
    members: list[Member]


class ChallengePublic(BaseModel):
    """A challenge in a list: site, assets, teams (with member ids) and staff ids."""

    id: int
    name: str
    site: str
    assets: list[str]
    teams: dict[str, list[int]]
    staff: list[int]


class TeamRef(BaseModel):
    """A team of a challenge, with its members' ids."""

    id: int
    name: str
    members: list[int]


class StaffDuty(BaseModel):
    """A staff member of a challenge and their duty."""

    user_id: int
    email: str
    duty: Duty


class Signature(BaseModel):
    """A party's signature of the charter, over the charter's SHA-256 as it was then."""

    party: Party
    user_id: int
    signed_at: str
    charter_sha256: str


class ChallengeView(BaseModel):
    """A challenge with its charter, rubric, signatures, teams and staff duties.

    The charter fields are ``None`` for a bare challenge without charter (the demo's).
    """

    id: int
    name: str
    site: str
    assets: list[str]
    teams: list[TeamRef]
    staff: list[StaffDuty]
    pack: str | None = None
    status: str | None = Field(None, description="draft, signed, active or closed")
    charter: dict[str, Any] | None = Field(None, description="the charter document (docs/lab-packs.md)")
    rubric: dict[str, Any] | None = Field(None, description="the rubric copied into the challenge")
    charter_sha256: str | None = None
    activated_at: str | None = None
    closed_at: str | None = None
    signatures: list[Signature] = []
    unsigned: list[Party] = []


class PipelineRef(BaseModel):
    """Which pipeline produced something: its deployment, hash, parent and author."""

    deployment: int
    name: str
    hash: str
    parent: str | None
    author: str | None
    deployed_by: int | None
    ledger_hash: str


class DeploymentView(PipelineRef):
    """A deployment of a session: the pipeline document, when it became active (scenario clock)."""

    asset: str
    active_ns: int
    created_at: str
    bundle_id: str | None
    pipeline: dict[str, Any]


class EvidenceSummary(BaseModel):
    """The evidence of one asset in a session's summary."""

    id: int
    asset: str
    sha256: str
    met: bool = Field(description="whether the final pipeline met the charter's acceptance criteria")


class SessionView(BaseModel):
    """A lab session (``kind`` lab) or challenge window (``kind`` window) with its deployments and evidence."""

    id: int
    kind: str
    challenge: int
    team: int
    pack: str | None
    scenario: str
    site: str
    edge: str
    assets: list[str]
    speed: float
    status: str = Field(description="running, closed or failed")
    started_at: str
    start_ns: int = Field(description="scenario t = 0 on the epoch clock")
    duration_s: float
    end_ns: int | None
    closed_at: str | None
    error: str | None
    ground_truth: list[dict[str, Any]] | None = Field(description="hidden (None) from learners until the close")
    variant: dict[str, Any] | None = Field(None, description="the assessed variant the hub drew (seed, drawn onset, "
                                                             "severity, timings); hidden like the ground truth")
    deployments: list[DeploymentView]
    evidence: list[EvidenceSummary]


class DeploymentSent(BaseModel):
    """A deployment signed and published to the session's edge, recorded with its lineage."""

    deployment: int
    asset: str
    name: str
    hash: str
    parent: str | None
    bundle_id: str
    active_ns: int
    ledger_hash: str


class GroundTruthEvent(BaseModel):
    """A fault or regime change a mentor logged on a real asset of a window."""

    event: str
    category: str
    asset: str
    start_ns: int
    end_ns: int | None
    note: str
    logged_by: int


class EvidencePublic(BaseModel):
    """The stored evidence of one asset of a closed session, with its integrity check."""

    id: int
    asset: str
    computed_at: str
    sha256: str
    ledger_hash: str
    intact: bool = Field(description="the document still hashes to its stored SHA-256")
    document: dict[str, Any] = Field(description="final pipeline's segment, every segment, the whole session "
                                                 "(docs/mentors.md, 'Evidence')")


class SubmissionView(BaseModel):
    """A team's submission with the mentor's feedback and its service-level state."""

    id: int
    session: int
    submitted_by: int
    submitted_at: str
    note: str
    links: list[str]
    feedback: str | None
    feedback_by: int | None
    feedback_at: str | None
    sla: str = Field(description="on_track, due_soon, overdue, done or done_late")


class ScoreView(BaseModel):
    """One assessor's levels and comments."""

    assessor: int
    side: str
    levels: dict[str, int]
    comments: dict[str, str]
    submitted_at: str


class ModerationView(BaseModel):
    """The moderator's levels for the disputed criteria, with the rationale."""

    moderator: int
    levels: dict[str, int]
    rationale: str
    moderated_at: str


class AssessmentSummary(BaseModel):
    """Where a session's assessment stands, as a learner sees it."""

    session: int
    stage: str = Field(description="open, awaiting_scores, needs_moderation, ready_for_signoff or signed_off")
    outcome: dict[str, Any] | None = Field(description="the outcome document once signed off")


class AssessmentState(AssessmentSummary):
    """Where a session's assessment stands, as staff see it: every score, disagreements, what is missing."""

    scores: list[ScoreView]
    disagreements: dict[str, list[int]] = Field(description="criterion -> the levels given, where they differ "
                                                             "by more than the rubric's moderation threshold")
    moderation: ModerationView | None
    needed: dict[str, int | None] = Field(description="scores still needed per side (academic, industrial)")


class CriterionResult(BaseModel):
    """The final level of one rubric criterion in an outcome."""

    id: str
    name: str
    side: str
    weight: float
    level: float
    descriptor: str
    moderated: bool


class OutcomeEvidence(BaseModel):
    """Evidence an outcome rests on."""

    id: int
    asset: str
    sha256: str
    ledger_hash: str
    acceptance_met: bool
    pipeline: dict[str, Any] | None


class PersonRef(BaseModel):
    """Who: id and e-mail."""

    id: int
    email: str


class OutcomeView(BaseModel):
    """The signed-off outcome (pass / not yet) in the form the credentials area consumes."""

    session: int
    kind: str
    challenge: int
    pack: str | None
    pack_title: str | None
    team: dict[str, Any]
    learners: list[Member]
    result: str = Field(description="pass or not_yet")
    reasons: list[str]
    weighted_level: float
    pass_level: float
    criteria: list[CriterionResult]
    assessors: list[dict[str, Any]]
    moderation: ModerationView | None
    evidence: list[OutcomeEvidence]
    credentials: list[dict[str, Any]]
    eqf_level: int | None
    workload: dict[str, Any] | None
    signed_off_by: PersonRef
    signed_off_at: str
    note: str
    credential_due_at: str | None = None


class CredentialDecision(BaseModel):
    """The credential decision recorded on an outcome, against its service level."""

    session: int
    decision: str
    decided_at: str | None
    due_at: str | None


class SlaItem(BaseModel):
    """A tracked service level: mentor feedback on a submission, or a credential decision."""

    kind: str = Field(description="mentor_feedback or credential_decision")
    session: int
    challenge: int
    team: int
    started_at: str
    target: str
    deadline: str
    done_at: str | None
    state: str = Field(description="on_track, due_soon, overdue, done or done_late")
    submission: int | None = None
    result: str | None = None
    decision: str | None = None


class LedgerEntryView(BaseModel):
    """An entry of the tamper-evident log with its decoded payload."""

    id: int
    kind: str
    created_ns: int
    hash: str
    prev_hash: str
    payload: dict[str, Any]


class EvidenceProblem(BaseModel):
    """An evidence row that does not match what the ledger recorded."""

    id: int
    problem: str


class CheckpointCheck(BaseModel):
    """The chain compared with the signed checkpoints on file."""

    ok: bool
    checked: int = Field(description="checkpoints whose signature verified")
    latest: dict[str, Any] | None = Field(description="payload of the newest one: entries, head, last_id, created_ns")
    problem: str | None = Field(description="entries deleted, history rewritten or a bad signature; None if all hold")


class LedgerCheck(BaseModel):
    """The whole hash chain recomputed, the evidence checked against it, the head against the checkpoints."""

    ok: bool = Field(description="all three hold")
    entries: int
    head: str
    broken_at: int | None = Field(description="id of the first entry that does not chain, if any")
    chain_ok: bool
    evidence: list[EvidenceProblem] = Field(description="evidence rows that differ from what the ledger recorded")
    checkpoints: CheckpointCheck


class CheckpointPublished(BaseModel):
    """A signed checkpoint of the log's head (a bundle of contract.signing) and the public key verifying it."""

    bundle: dict[str, Any]
    public_key_pem: str
