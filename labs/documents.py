"""The charter and rubric documents of the learning domain, validated with pydantic.

A challenge's charter (:class:`Charter`) and its dual-assessment rubric
(:class:`Rubric`) are the same documents whether they come from a lab pack's
``charter.yaml``/``rubric.yaml`` templates (:mod:`labs.packs`) or are written
for a real SME asset and sent to the hub's API. ``docs/lab-packs.md`` describes
every field.

Examples
--------
>>> c = AcceptanceCriterion(metric="detection_delay_s", op="<=", value=120)
>>> c.met(15.0)
True
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from labs.evidence import METRICS

#: Comparison operators an acceptance criterion may use.
OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt, "==": operator.eq}

#: Rubric criteria every rubric must have (the dual-assessment core of DESIGN.md).
CORE_CRITERIA = ("reproducibility", "safety_compliance", "impact", "operator_usability")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

# ------------------------------------------------------------ charter.yaml
class Scope(_Strict):
    """What the challenge is about and what it is not."""

    assets: list[str] = Field(min_length=1)
    goal: str
    in_scope: list[str] = Field(min_length=1)
    out_of_scope: list[str] = Field(default_factory=list)


class Kpi(_Strict):
    """A key performance indicator the industry partner cares about."""

    name: str
    description: str
    target: str


class Hazard(_Strict):
    """A hazard and how it is controlled."""

    hazard: str
    control: str


class SafetyProfile(_Strict):
    """Hazards, permits and who may stop the work."""

    hazards: list[Hazard] = Field(min_length=1)
    permits: list[str] = Field(default_factory=list)
    stop_work_authority: list[str] = Field(min_length=1)
    notes: str = ""


#: Licences a charter may give the handover's dataset: identifier → (title, URL). ``proprietary``: none granted.
DATASET_LICENCES = {
    "CC-BY-4.0": ("Creative Commons Attribution 4.0", "https://creativecommons.org/licenses/by/4.0/"),
    "CC-BY-SA-4.0": ("Creative Commons Attribution-ShareAlike 4.0", "https://creativecommons.org/licenses/by-sa/4.0/"),
    "CC-BY-NC-4.0": ("Creative Commons Attribution-NonCommercial 4.0",
                     "https://creativecommons.org/licenses/by-nc/4.0/"),
    "CC0-1.0": ("Creative Commons Zero 1.0 (public domain dedication)",
                "https://creativecommons.org/publicdomain/zero/1.0/"),
    "ODbL-1.0": ("Open Data Commons Open Database License 1.0", "https://opendatacommons.org/licenses/odbl/1-0/"),
    "ODC-By-1.0": ("Open Data Commons Attribution License 1.0", "https://opendatacommons.org/licenses/by/1-0/"),
    "PDDL-1.0": ("Open Data Commons Public Domain Dedication and License 1.0",
                 "https://opendatacommons.org/licenses/pddl/1-0/"),
    "proprietary": ("All rights reserved by the data owner; use by the charter's parties under its terms only", None),
}
#: Kinds of data the hub keeps, each with its own retention period (docs/governance.md).
DATA_KINDS = ("telemetry", "waveforms", "quarantine", "learner_records")
#: Lawful bases of GDPR Art. 6(1) a data processing agreement may name.
LAWFUL_BASES = ("consent", "contract", "legal_obligation", "vital_interests", "public_task", "legitimate_interests")


class DataSharing(_Strict):
    """Who owns the data, what learners may do with it, how long it is kept: the challenge's data agreement.

    ``retention`` gives days per data kind (:data:`DATA_KINDS`); a kind it
    does not name keeps ``retention_days`` when given, else the site's
    default (never forever). ``dataset_licence`` is the licence of the
    handover's dataset (:data:`DATASET_LICENCES`); ``deidentify_handover``
    replaces site, asset, edge and people's names in the handover package
    with stable pseudonyms.

    Examples
    --------
    >>> d = DataSharing(owner="Acme", learners_may=["analyse"], retention={"waveforms": 30})
    >>> d.retention["waveforms"], d.retention_days, d.dataset_licence
    (30, None, 'proprietary')
    """

    owner: str
    learners_may: list[str] = Field(min_length=1)
    learners_may_not: list[str] = Field(default_factory=list)
    retention_days: int | None = Field(default=None, ge=1)
    retention: dict[str, int] = Field(default_factory=dict)
    personal_data: bool = False
    lawful_basis: Literal[LAWFUL_BASES] = "contract"  # type: ignore[valid-type]
    purpose: str = "teaching and assessment of the challenge, and its results for the industry partner"
    access: list[Literal["learner", "mentor", "assessor", "hub_operator", "sme_partner"]] = Field(
        default_factory=lambda: ["learner", "mentor", "assessor", "hub_operator", "sme_partner"])
    breach_contact: str = ""
    dataset_licence: str = "proprietary"
    deidentify_handover: bool = False

    @field_validator("retention")
    @classmethod
    def _kinds(cls, value: dict[str, int]) -> dict[str, int]:
        for kind, days in value.items():
            if kind not in DATA_KINDS:
                raise ValueError(f"unknown data kind {kind!r}; expected one of {', '.join(DATA_KINDS)}")
            if not isinstance(days, int) or days < 1:
                raise ValueError(f"retention of {kind} must be a whole number of days >= 1, got {days!r}")
        return value

    @field_validator("dataset_licence")
    @classmethod
    def _licence(cls, value: str) -> str:
        if value not in DATASET_LICENCES:
            raise ValueError(f"unknown dataset licence {value!r}; expected one of {', '.join(DATASET_LICENCES)}")
        return value

    @field_validator("breach_contact")
    @classmethod
    def _contact(cls, value: str) -> str:
        if value and ("@" not in value or " " in value.strip()):
            raise ValueError(f"breach_contact must be an e-mail address, got {value!r}")
        return value.strip()


class IpTerms(_Strict):
    """Who owns what the team produces."""

    pipelines: str
    reports: str
    background_ip: str
    publication: str


class Milestone(_Strict):
    """A dated step, in days from the start of the challenge."""

    day: int = Field(ge=0)
    milestone: str


class AcceptanceCriterion(_Strict):
    """A machine-checkable acceptance criterion, e.g. ``{metric: detection_delay_s, op: "<=", value: 120}``.

    ``metric`` is one the hub's evidence computes
    (:data:`labs.evidence.METRICS`). ``required: false`` marks a
    criterion that is reported but does not decide acceptance.

    Examples
    --------
    >>> c = AcceptanceCriterion(metric="false_alarms_per_hour", op="<=", value=0.5)
    >>> c.met(0.0), c.met(2.0), c.met(None)
    (True, False, False)
    """

    metric: str
    op: Literal["<=", "<", ">=", ">", "=="]
    value: float
    required: bool = True
    note: str = ""

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, v: str) -> str:
        if v not in METRICS:
            raise ValueError(f"unknown metric; expected one of {list(METRICS)}")
        return v

    def met(self, measured: float | None) -> bool:
        """Whether ``measured`` satisfies the criterion (an unmeasured value never does)."""
        return measured is not None and bool(OPS[self.op](measured, self.value))


class Assessment(_Strict):
    """How the work is assessed: the rubric file and the assessors on each side."""

    rubric: str = "rubric.yaml"
    academic_assessors: int = Field(1, ge=1)
    industrial_assessors: int = Field(1, ge=1)
    submission: list[str] = Field(min_length=1)


class Parties(_Strict):
    """Who co-signs the charter (filled in when a challenge is created from the template)."""

    industry_partner: str
    provider: str
    hub: str
    mentor: str


class Charter(_Strict):
    """Contents of ``charter.yaml``: a challenge-charter template."""

    template: Literal[True] = True
    parties: Parties
    scope: Scope
    kpis: list[Kpi] = Field(min_length=1)
    safety: SafetyProfile
    data_sharing: DataSharing
    ip: IpTerms
    timeline: list[Milestone] = Field(min_length=1)
    acceptance: list[AcceptanceCriterion] = Field(min_length=1)
    assessment: Assessment

    @field_validator("timeline")
    @classmethod
    def _in_order(cls, v: list[Milestone]) -> list[Milestone]:
        days = [m.day for m in v]
        if days != sorted(days):
            raise ValueError(f"milestones must be in order of day, got days {days}")
        return v


# ------------------------------------------------------------- rubric.yaml
class RubricCriterion(_Strict):
    """One criterion: who judges it, its weight, a descriptor per level (lowest first)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    side: Literal["academic", "industrial"]
    weight: float = Field(gt=0, le=1)
    descriptors: list[str] = Field(min_length=4, max_length=4)
    pack_specific: bool = False


class Rubric(_Strict):
    """Contents of ``rubric.yaml``."""

    levels: list[str] = Field(min_length=4, max_length=4)
    criteria: list[RubricCriterion] = Field(min_length=5)
    moderation_threshold: int = Field(ge=1, le=3)
    pass_level: float = Field(ge=1, le=4)
    minimum_levels: dict[str, int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _coherent(self) -> "Rubric":
        ids = [c.id for c in self.criteria]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate criterion ids {dupes}")
        missing = [c for c in CORE_CRITERIA if c not in ids]
        if missing:
            raise ValueError(f"criteria lack the core ones {missing}")
        if not any(c.pack_specific for c in self.criteria):
            raise ValueError("criteria need at least one pack_specific criterion")
        if {c.side for c in self.criteria} != {"academic", "industrial"}:
            raise ValueError("criteria need both academic and industrial ones")
        total = sum(c.weight for c in self.criteria)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"weights sum to {total:.4g}, not 1")
        for cid, level in self.minimum_levels.items():
            if cid not in ids or not 1 <= level <= 4:
                raise ValueError(f"minimum_levels.{cid} = {level}: needs a criterion id and a level 1-4")
        return self

    def weighted_level(self, levels: dict[str, int]) -> float:
        """The weighted mean level of one assessor's (or the moderated) scores.

        Examples
        --------
        >>> from labs.packs import load_pack
        >>> r = load_pack("outer-race-early").rubric
        >>> r.weighted_level({c.id: 3 for c in r.criteria})
        3.0
        """
        unknown = sorted(set(levels) - {c.id for c in self.criteria})
        missing = sorted({c.id for c in self.criteria} - set(levels))
        if unknown or missing:
            raise ValueError(f"levels: unknown criteria {unknown}, missing {missing}")
        return round(sum(c.weight * levels[c.id] for c in self.criteria), 6)
