"""The skills framework: a curated subset of ESCO v1.2.0 skills with labels in six languages.

``data/skills.yaml`` holds each skill's stable id, ESCO URI, type, area and
labels ``[text, source]`` per language (``esco``: copied from ESCO;
``project``: TeachFab's translation; every Turkish label is ``project``, ESCO
has no Turkish). :func:`load_framework` validates it; the test suite checks
every URI and English label against ESCO v1.2.0 itself.

Examples
--------
>>> fw = load_framework()
>>> fw.skill("predictive-maintenance").label("fr")
('maintenance prédictive', 'project')
>>> fw.by_uri["http://data.europa.eu/esco/skill/cfa2be0d-96d5-4017-a866-962efb9c5070"].id
'signal-processing'
>>> len(fw.skills) >= 40, sorted(fw.areas)[:2]
(True, ['automation', 'data'])
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from labs.skills.common import DATA_DIR, LANGUAGES, DataError, Strict, Text, read_yaml, validation_errors

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
ESCO_SKILL = re.compile(rf"^http://data\.europa\.eu/esco/skill/{_UUID}$")
ESCO_OCCUPATION = re.compile(rf"^http://data\.europa\.eu/esco/occupation/{_UUID}$")
ID = r"^[a-z0-9][a-z0-9-]{1,63}$"


class Skill(Strict):
    """One skill of the framework.

    ``labels`` maps each language to ``[text, source]``; ``synonyms`` (per
    language, optional) are other words learners use for it.
    """

    id: str = Field(pattern=ID)
    uri: str
    type: Literal["skill/competence", "knowledge", "transversal"]
    area: str
    labels: dict[str, tuple[str, Literal["esco", "project"]]]
    synonyms: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("uri")
    @classmethod
    def _esco(cls, v: str) -> str:
        if not ESCO_SKILL.match(v):
            raise ValueError("expected http://data.europa.eu/esco/skill/<uuid>")
        return v

    @model_validator(mode="after")
    def _languages(self) -> "Skill":
        missing = [lang for lang in LANGUAGES if lang not in self.labels or not self.labels[lang][0].strip()]
        if missing:
            raise ValueError(f"labels: missing or empty in {missing}; every skill needs {list(LANGUAGES)}")
        extra = sorted((set(self.labels) | set(self.synonyms)) - set(LANGUAGES))
        if extra:
            raise ValueError(f"labels/synonyms: unknown language(s) {extra}; expected {list(LANGUAGES)}")
        if self.labels["tr"][1] != "project":
            raise ValueError("labels.tr: ESCO has no Turkish, so the source of a Turkish label must be 'project'")
        if self.labels["en"][1] != "esco":
            raise ValueError("labels.en: the English label must be ESCO's preferred label (source 'esco')")
        return self

    def label(self, lang: str) -> tuple[str, str]:
        """The label in ``lang`` and its source (English, marked ``fallback``, for an unknown language)."""
        if lang in self.labels:
            return self.labels[lang]
        return self.labels["en"][0], "fallback"


class FrameworkFile(Strict):
    """Contents of ``skills.yaml``."""

    esco_version: str
    attribution: str = Field(min_length=20)
    areas: dict[str, Text]
    skills: list[Skill] = Field(min_length=1)


@dataclass(frozen=True)
class Framework:
    """The validated skills framework; build it with :func:`load_framework`."""

    esco_version: str
    attribution: str
    areas: dict[str, Text]
    skills: dict[str, Skill]
    by_uri: dict[str, Skill] = field(repr=False)

    def skill(self, skill_id: str) -> Skill:
        """The skill with ``skill_id``; ``KeyError`` naming the known ids otherwise."""
        try:
            return self.skills[skill_id]
        except KeyError:
            raise KeyError(f"no skill {skill_id!r} in the framework") from None

    def ids(self) -> list[str]:
        """Skill ids in file order (the column order of the matching matrices)."""
        return list(self.skills)


def parse_framework(doc: dict, fname: str = "skills.yaml") -> Framework:
    """Validate a framework document (the parsed ``skills.yaml``); :class:`DataError` lists every problem."""
    try:
        f = FrameworkFile.model_validate(doc)
    except ValidationError as exc:
        raise DataError(fname, validation_errors(fname, exc)) from None
    errors, skills, by_uri = [], {}, {}
    for i, s in enumerate(f.skills):
        if s.id in skills:
            errors.append(f"{fname}: skills[{i}].id = {s.id!r}: duplicate id")
        if s.uri in by_uri:
            errors.append(f"{fname}: skills[{i}].uri = {s.uri!r}: also skill {by_uri[s.uri].id!r}")
        if s.area not in f.areas:
            errors.append(f"{fname}: skills[{i}].area = {s.area!r}: not one of the areas {sorted(f.areas)}")
        skills.setdefault(s.id, s)
        by_uri.setdefault(s.uri, s)
    if errors:
        raise DataError(fname, errors)
    return Framework(f.esco_version, f.attribution, f.areas, skills, by_uri)


@functools.cache
def _load(path: Path) -> Framework:
    return parse_framework(read_yaml(path), path.name)


def load_framework(path: str | Path | None = None) -> Framework:
    """The skills framework of ``path`` (default: the shipped ``data/skills.yaml``), validated, cached."""
    return _load(Path(path) if path else DATA_DIR / "skills.yaml")
