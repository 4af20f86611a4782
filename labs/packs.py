"""Lab packs: a remote lab session described as data, validated before anyone runs it.

A lab pack is one folder ``labs/packs/<id>/`` holding

- ``pack.yaml`` — what the pack is: title, summary, EQF level, notional
  workload (hours, ECTS), duration, team size, prerequisites, and the
  micro-credential(s) it evidences with learning outcomes and ESCO skills;
- ``charter.yaml`` — the challenge-charter template: scope, KPIs, safety
  profile, data-sharing and IP terms, timeline, machine-checkable acceptance
  criteria and the assessment set-up;
- ``rubric.yaml`` — the dual (academic and industrial) rubric: criteria,
  four levels with descriptors, weights summing to 1, moderation threshold;
- ``scenario.yaml`` — the shipped simulator scenario the session runs, by
  name, and the assets learners work on;
- ``starter_pipeline.yaml`` — a declared pipeline
  (:class:`edge_agent.pipeline.PipelineConfig`) learners start from;
- ``instructions.md`` — the learner-facing instructions.

:func:`load_pack` validates every file and cross-checks them (the scenario
exists and has the named assets, acceptance metrics are ones the hub's
evidence computes, rubric weights sum to 1); every problem is reported with
the file and the field that holds it. ``docs/lab-packs.md`` describes every
field for authors.

Examples
--------
>>> "outer-race-early" in list_packs()
True
>>> pack = load_pack("outer-race-early")
>>> pack.meta.eqf_level, pack.scenario.scenario
(5, 'outer_race_early_detection')
>>> [c["metric"] for c in pack.acceptance_criteria()]
['detection_delay_s', 'missed_faults', 'false_alarms_per_hour']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge_agent.pipeline import PipelineConfig
from labs.documents import Charter, Rubric
from labs.variants import VariantRanges, corners, draw_variant
from labs.variants import problems as variant_problems
from simulators.scenario import Scenario, ScenarioError, list_examples, load_scenario, scenario_document

#: Folder of the lab packs shipped with TeachFab.
PACKS_DIR = Path(__file__).with_name("packs")

#: Written in place of an ESCO URI that nobody has checked yet.
TODO_VERIFY = "TODO-verify"

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_ESCO_SKILL = re.compile(rf"^http://data\.europa\.eu/esco/skill/{_UUID}$")
_ID = r"^[a-z0-9][a-z0-9-]{1,47}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------- pack.yaml
class SkillRef(_Strict):
    """An ESCO skill a credential evidences, and the level 1-4 it evidences it at.

    Evidence that met the charter's acceptance criteria raises a learner's
    profile to ``level`` (source ``evidence``); a passing signed-off
    assessment confirms it (source ``assessor``, see ``docs/skills.md``).
    ``uri`` is ``http://data.europa.eu/esco/skill/<uuid>`` or, while nobody
    has looked the skill up, the literal ``TODO-verify`` (never a guess).
    """

    uri: str
    label: str = Field(min_length=3)
    level: int = Field(2, ge=1, le=4, description="proficiency 1-4 a learner reaches on this skill with the credential")
    source: str = ""

    @field_validator("uri")
    @classmethod
    def _esco_uri(cls, v: str) -> str:
        if v != TODO_VERIFY and not _ESCO_SKILL.match(v):
            raise ValueError(f"expected http://data.europa.eu/esco/skill/<uuid> or {TODO_VERIFY!r}")
        return v

    @property
    def verified(self) -> bool:
        """Whether the URI is a real ESCO skill URI (not a ``TODO-verify`` placeholder)."""
        return self.uri != TODO_VERIFY


class Credential(_Strict):
    """A micro-credential the pack evidences, with the EU mandatory elements a pack can fix."""

    id: str = Field(pattern=_ID)
    title: str = Field(min_length=5)
    learning_outcomes: list[str] = Field(min_length=1)
    skills: list[SkillRef] = Field(min_length=1)
    assessment_type: str = "dual rubric (academic and industrial assessors) on evidence scored against ground truth"
    form_of_participation: Literal["online", "onsite", "blended"] = "blended"
    quality_assurance: str = "internal moderation by the providing hub"


class Workload(_Strict):
    """Notional learning time: hours and ECTS credits (1 ECTS is 25-30 hours)."""

    hours: float = Field(gt=0)
    ects: float = Field(ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> "Workload":
        if self.ects and not 20 <= self.hours / self.ects <= 35:
            raise ValueError(f"{self.hours} h for {self.ects} ECTS is not 25-30 h per credit")
        return self


class Duration(_Strict):
    """How long the lab runs: hours on the live asset, calendar weeks overall."""

    lab_hours: float = Field(gt=0)
    weeks: float = Field(gt=0)


class TeamSize(_Strict):
    """Learners per team."""

    min: int = Field(ge=1)
    max: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> "TeamSize":
        if self.max < self.min:
            raise ValueError(f"max = {self.max} is below min = {self.min}")
        return self


class PackMeta(_Strict):
    """Contents of ``pack.yaml``."""

    id: str = Field(pattern=_ID)
    title: str = Field(min_length=5)
    summary: str = Field(min_length=20)
    eqf_level: int = Field(ge=1, le=8)
    workload: Workload
    duration: Duration
    team_size: TeamSize
    prerequisites: list[str] = Field(default_factory=list)
    requires_packs: list[str] = Field(default_factory=list)
    credentials: list[Credential] = Field(min_length=1)


# ----------------------------------------------------------- scenario.yaml
class ScenarioRef(_Strict):
    """Contents of ``scenario.yaml``: the shipped scenario the session runs and the learners' assets."""

    scenario: str
    assets: list[str] = Field(min_length=1)
    hide_ground_truth: bool = True
    notes: str = ""
    variants: VariantRanges | None = Field(
        None, description="ranges of the assessed variant the hub draws per session (labs/variants.py); "
                          "without them a session runs the public script")


# -------------------------------------------------------------------- pack
class PackError(ValueError):
    """A lab pack that cannot be used; ``errors`` lists every problem as ``file: field: message``."""

    def __init__(self, pack: str, errors: list[str]) -> None:
        self.pack, self.errors = pack, errors
        super().__init__(f"lab pack {pack}: {len(errors)} problem(s):\n" + "\n".join(f"  - {e}" for e in errors))


@dataclass(frozen=True)
class Pack:
    """A validated lab pack; build one with :func:`load_pack`."""

    path: Path
    meta: PackMeta
    charter: Charter
    rubric: Rubric
    scenario: ScenarioRef
    starter_pipeline: PipelineConfig
    instructions: str

    @property
    def id(self) -> str:
        """The pack id (also its folder name)."""
        return self.meta.id

    def load_scenario(self, document: dict | None = None) -> Scenario:
        """The simulator scenario of this pack (fresh, at t = 0): the public script, or ``document`` (a variant)."""
        return load_scenario(document if document is not None else self.scenario.scenario)

    def variant(self, seed: int) -> tuple[dict, dict] | None:
        """The assessed variant ``seed`` draws (scenario document, what was drawn), or ``None`` when the pack
        declares no variants (its sessions run the public script)."""
        if self.scenario.variants is None:
            return None
        return draw_variant(scenario_document(self.scenario.scenario)[0], self.scenario.variants, seed)

    def acceptance_criteria(self, include_optional: bool = False) -> list[dict]:
        """The charter's criteria as ``{metric, op, value}`` dicts for
        :func:`labs.evidence.check_acceptance` (required ones only by default)."""
        return [{"metric": c.metric, "op": c.op, "value": c.value}
                for c in self.charter.acceptance if c.required or include_optional]

    def skills(self) -> list[SkillRef]:
        """Every ESCO skill of every credential, first occurrence of each URI or label kept."""
        seen, out = set(), []
        for cred in self.meta.credentials:
            for s in cred.skills:
                key = s.uri if s.verified else s.label
                if key not in seen:
                    seen.add(key)
                    out.append(s)
        return out


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "(top level)"


def _errors(fname: str, exc: ValidationError) -> list[str]:
    msgs = []
    for err in exc.errors():
        where = f"{fname}: {_loc(err['loc'])}"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] in ("missing", "extra_forbidden") or not err["loc"]:
            msgs.append(f"{where}: {msg}")
        else:
            inp = err["input"]
            shown = repr(inp) if not isinstance(inp, (dict, list)) or len(repr(inp)) < 60 else type(inp).__name__
            msgs.append(f"{where} = {shown}: {msg}")
    return msgs


def _read_yaml(path: Path, errors: list[str]) -> dict | None:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        errors.append(f"{path.name}: file missing")
        return None
    except yaml.YAMLError as exc:
        errors.append(f"{path.name}: not valid YAML: {exc}")
        return None
    if not isinstance(doc, dict):
        errors.append(f"{path.name}: top level must be a mapping of fields, got {type(doc).__name__}")
        return None
    return doc


def _validate(model, path: Path, errors: list[str]):
    doc = _read_yaml(path, errors)
    if doc is None:
        return None
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        errors.extend(_errors(path.name, exc))
        return None


def _cross_check(folder: Path, meta: PackMeta | None, charter: Charter | None, pipeline: PipelineConfig | None,
                 scen: ScenarioRef | None, errors: list[str]) -> None:
    if meta is not None:
        if meta.id != folder.name:
            errors.append(f"pack.yaml: id = {meta.id!r}: must equal the folder name {folder.name!r}")
        known = list_packs(folder.parent)
        for i, p in enumerate(meta.requires_packs):
            if p not in known:
                errors.append(f"pack.yaml: requires_packs[{i}] = {p!r}: no such pack; have {known}")
    if charter is not None and charter.assessment.rubric != "rubric.yaml":
        errors.append(f"charter.yaml: assessment.rubric = {charter.assessment.rubric!r}: must be 'rubric.yaml'")
    if scen is not None:
        if scen.scenario not in list_examples():
            errors.append(f"scenario.yaml: scenario = {scen.scenario!r}: not a shipped scenario; "
                          f"have {list_examples()}")
        else:
            try:
                scenario = load_scenario(scen.scenario)
            except ScenarioError as exc:
                errors.append(f"scenario.yaml: scenario = {scen.scenario!r}: does not load: {exc}")
            else:
                ids = [a.asset for a in scenario.assets]
                for a in scenario.assets:
                    channels = [c.name for c in a.channels()]
                    missing = [c for c in (pipeline.inputs if pipeline else []) if c not in channels]
                    if a.asset in scen.assets and missing:
                        errors.append(f"starter_pipeline.yaml: channel(s) {missing} not published by asset "
                                      f"{a.asset!r} of {scen.scenario!r}; it has {channels}")
                for i, a in enumerate(scen.assets):
                    if a not in ids:
                        errors.append(f"scenario.yaml: assets[{i}] = {a!r}: not in scenario "
                                      f"{scen.scenario!r}; it has {ids}")
                for i, a in enumerate(charter.scope.assets if charter is not None else []):
                    if a not in ids:
                        errors.append(f"charter.yaml: scope.assets[{i}] = {a!r}: not in scenario "
                                      f"{scen.scenario!r}; it has {ids}")
                if scen.variants is not None:
                    errors.extend(_variant_errors(scen))


def _variant_errors(scen: ScenarioRef) -> list[str]:
    """The declared variant ranges must fit the scenario, and its extreme variants must load."""
    base = scenario_document(scen.scenario)[0]
    found = [f"scenario.yaml: {p}" for p in variant_problems(base, scen.variants)]
    if not found:
        for extreme in corners(scen.variants):
            try:
                load_scenario(draw_variant(base, extreme, seed=0)[0])
            except ScenarioError as exc:
                found += [f"scenario.yaml: variants: an extreme variant does not load: {e}" for e in exc.errors]
    return found


def load_pack(id_or_path: str | Path) -> Pack:
    """Load, validate and cross-check a lab pack.

    Parameters
    ----------
    id_or_path : str or pathlib.Path
        The id of a shipped pack (``teachfab lab list``) or the path of a pack folder.

    Raises
    ------
    PackError
        With every problem found, each naming its file, field, value and what was expected.

    Examples
    --------
    >>> load_pack("rotor-bar-mcsa").starter_pipeline.feature_set
    'motor_current'
    >>> load_pack("no-such-pack")
    Traceback (most recent call last):
    ...
    labs.packs.PackError: lab pack no-such-pack: 1 problem(s):
      - no such pack folder; shipped packs: [...]
    """
    folder = Path(id_or_path)
    if not folder.is_dir() and (PACKS_DIR / str(id_or_path)).is_dir():
        folder = PACKS_DIR / str(id_or_path)
    if not folder.is_dir():
        raise PackError(str(id_or_path), [f"no such pack folder; shipped packs: {list_packs()}"])
    errors: list[str] = []
    meta = _validate(PackMeta, folder / "pack.yaml", errors)
    charter = _validate(Charter, folder / "charter.yaml", errors)
    rubric = _validate(Rubric, folder / "rubric.yaml", errors)
    scen = _validate(ScenarioRef, folder / "scenario.yaml", errors)
    pipeline = None
    doc = _read_yaml(folder / "starter_pipeline.yaml", errors)
    if doc is not None:
        try:
            pipeline = PipelineConfig.model_validate(doc)
        except ValidationError as exc:
            errors.extend(_errors("starter_pipeline.yaml", exc))
    try:
        instructions = (folder / "instructions.md").read_text(encoding="utf-8")
    except FileNotFoundError:
        errors.append("instructions.md: file missing")
        instructions = ""
    else:
        if len(instructions.strip()) < 200:
            errors.append("instructions.md: too short to guide a learner (under 200 characters)")
    _cross_check(folder, meta, charter, pipeline, scen, errors)
    if errors:
        raise PackError(folder.name, errors)
    return Pack(folder, meta, charter, rubric, scen, pipeline, instructions)


def list_packs(folder: str | Path = PACKS_DIR) -> list[str]:
    """Ids (folder names) of the packs in ``folder``: every subfolder holding a ``pack.yaml``.

    Examples
    --------
    >>> list_packs()
    ['cooling-drift', 'inner-race-vs-ball', 'outer-race-early', 'rotor-bar-mcsa']
    """
    return sorted(p.parent.name for p in Path(folder).glob("*/pack.yaml"))


def describe(pack: Pack) -> str:
    """A readable summary of ``pack`` (what ``teachfab lab show`` prints)."""
    m, lines = pack.meta, []
    lines += [f"{m.title} [{m.id}]", "", m.summary.strip(), "",
              f"EQF level {m.eqf_level} · {m.workload.hours:g} h ({m.workload.ects:g} ECTS) · "
              f"{m.duration.lab_hours:g} lab hours over {m.duration.weeks:g} week(s) · "
              f"teams of {m.team_size.min}-{m.team_size.max}"]
    if m.prerequisites:
        lines += ["Prerequisites: " + "; ".join(m.prerequisites)]
    for c in m.credentials:
        lines += ["", f"Credential: {c.title} [{c.id}]", "  Learning outcomes:"]
        lines += [f"    - {lo}" for lo in c.learning_outcomes]
        lines += ["  Skills (ESCO):"]
        lines += [f"    - {s.label}: {s.uri}" for s in c.skills]
    s = pack.scenario
    lines += ["", f"Scenario: {s.scenario} (assets: {', '.join(s.assets)}; ground truth "
              f"{'hidden from learners until the session closes' if s.hide_ground_truth else 'visible'})",
              f"Starter pipeline: {pack.starter_pipeline.name} ({pack.starter_pipeline.feature_set}, "
              f"{pack.starter_pipeline.detector.name}, {len(pack.starter_pipeline.drift)} drift monitor(s))",
              "", "Acceptance criteria:"]
    for a in pack.charter.acceptance:
        flag = "" if a.required else " (reported, not required)"
        lines += [f"  - {a.metric} {a.op} {a.value:g}{flag}"]
    r = pack.rubric
    lines += ["", f"Rubric (levels {' / '.join(r.levels)}; pass at weighted level >= {r.pass_level:g}; "
              f"moderation when assessors differ by more than {r.moderation_threshold} level(s)):"]
    for c in r.criteria:
        tag = ", pack-specific" if c.pack_specific else ""
        lines += [f"  - {c.name} ({c.side}{tag}): weight {c.weight:g}"]
    return "\n".join(lines)
