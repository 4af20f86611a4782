"""The micro-credential catalogue: entries with the EU mandatory elements, prerequisites and skills reached.

``data/catalogue.yaml`` (:class:`Entry`) is validated as a whole by
:func:`load_catalogue`: every skill is in the framework, every
prerequisite names an entry and the prerequisites have no cycle
(:mod:`graphlib`), and each lab-pack entry agrees with its pack's
credential (skills and levels, EQF, ECTS). :func:`search` is the
catalogue page's search and filters.

Examples
--------
>>> cat = load_catalogue()
>>> len(cat) >= 25, sorted({e.eqf_level for e in cat.values()})
(True, [3, 4, 5, 6])
>>> cat["vibration-analysis-2"].prerequisite_groups()
[('vibration-analysis-1',), ('maths-for-signals',)]
>>> [e.id for e in search(cat.values(), q="vibration", lang="en", max_ects=2)]  # titles, outcomes, skills
['maths-for-signals', 'rotating-machinery-maintenance', 'vibration-analysis-1']
>>> [e.id for e in search(cat.values(), q="análisis de vibraciones", lang="es", mode="on-site")]
['vibration-analysis-1', 'vibration-analysis-2']
"""

from __future__ import annotations

import functools
import graphlib
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator

from labs.packs import list_packs, load_pack
from labs.skills.common import DATA_DIR, DataError, Lang, Strict, Text, read_yaml, validation_errors
from labs.skills.framework import ID, Framework, load_framework

Mode = Literal["online", "on-site", "hybrid"]
MODES = ("online", "on-site", "hybrid")


class Entry(Strict):
    """One catalogue entry: a micro-credential a provider offers.

    ``learner`` and ``issue_date`` are the slots of the learner
    identification and the date of issue: null in the catalogue, filled
    when a credential is issued. ``prerequisites`` lists entry ids, or
    lists of ids any one of which will do.
    """

    id: str = Field(pattern=ID)
    pack: str | None = Field(None, description="lab pack whose credential this is")
    title: Text
    awarding_body: str = Field(min_length=3)
    issuer_country: str = Field(pattern=r"^([A-Z]{2})$", description="ISO 3166-1 alpha-2, or EU")
    location: str = Field(min_length=2)
    eqf_level: int = Field(ge=1, le=8)
    ects: float = Field(gt=0, le=60)
    mode: Mode
    language: Lang
    assessment_type: str = Field(min_length=3)
    form_of_participation: str = Field(min_length=3)
    quality_assurance: str = Field(min_length=3)
    learning_outcomes: list[str] = Field(min_length=1)
    prerequisites: list[str | list[str]] = Field(default_factory=list)
    skills: dict[str, int] = Field(min_length=1, description="skill id -> level 1-4 reached on completion")
    learner: None = None
    issue_date: None = None

    @field_validator("skills")
    @classmethod
    def _levels(cls, v: dict[str, int]) -> dict[str, int]:
        bad = {k: lvl for k, lvl in v.items() if not (isinstance(lvl, int) and 1 <= lvl <= 4)}
        if bad:
            raise ValueError(f"levels must be integers 1-4, got {bad}")
        return v

    def prerequisite_groups(self) -> list[tuple[str, ...]]:
        """Each prerequisite as a tuple of alternatives (one id: a tuple of one)."""
        return [(p,) if isinstance(p, str) else tuple(p) for p in self.prerequisites]


def check_catalogue(entries: list[Entry], framework: Framework, fname: str = "catalogue.yaml",
                    packs: dict | None = None) -> dict[str, Entry]:
    """Cross-check a list of entries; return them by id or raise :class:`DataError` listing every problem.

    ``packs`` maps pack ids to loaded packs (:func:`labs.packs.load_pack`); when
    given, each entry with ``pack`` must agree with that pack's credential.
    """
    errors, by_id = [], {}
    for i, e in enumerate(entries):
        where = f"{fname}: entries[{i}] ({e.id!r})"
        if e.id in by_id:
            errors.append(f"{where}: id: duplicate id")
        by_id.setdefault(e.id, e)
        for s in e.skills:
            if s not in framework.skills:
                errors.append(f"{where}: skills: {s!r} is not in the skills framework")
    graph = {}
    for i, e in enumerate(entries):
        where = f"{fname}: entries[{i}] ({e.id!r})"
        for group in e.prerequisite_groups():
            if not group:
                errors.append(f"{where}: prerequisites: an empty list of alternatives")
            for p in group:
                if p not in by_id:
                    errors.append(f"{where}: prerequisites: no entry {p!r}")
                elif p == e.id:
                    errors.append(f"{where}: prerequisites: an entry cannot require itself")
        graph[e.id] = {p for g in e.prerequisite_groups() for p in g if p in by_id and p != e.id}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        errors.append(f"{fname}: prerequisites: a cycle {' -> '.join(exc.args[1])}; expected none")
    for i, e in enumerate(entries):
        if e.pack is None or packs is None:
            continue
        where = f"{fname}: entries[{i}] ({e.id!r})"
        pack = packs.get(e.pack)
        if pack is None:
            errors.append(f"{where}: pack: no lab pack {e.pack!r}")
            continue
        cred = next((c for c in pack.meta.credentials if c.id == e.id), None)
        if cred is None:
            errors.append(f"{where}: id: pack {e.pack!r} has no credential {e.id!r}")
            continue
        want = {}
        for s in cred.skills:
            skill = framework.by_uri.get(s.uri)
            if skill is None:
                errors.append(f"{where}: pack {e.pack!r} skill {s.label!r} ({s.uri}) is not in the skills framework")
            else:
                want[skill.id] = s.level
        if want and want != e.skills:
            errors.append(f"{where}: skills = {e.skills}: expected the pack credential's {want}")
        if e.eqf_level != pack.meta.eqf_level or e.ects != pack.meta.workload.ects:
            errors.append(f"{where}: eqf_level/ects = {e.eqf_level}/{e.ects}: expected the pack's "
                          f"{pack.meta.eqf_level}/{pack.meta.workload.ects}")
    if errors:
        raise DataError(fname, errors)
    return by_id


def parse_catalogue(doc: dict, framework: Framework | None = None, fname: str = "catalogue.yaml",
                    packs: dict | None = None) -> dict[str, Entry]:
    """Validate a catalogue document (``{entries: [...]}``); entries by id."""
    items = doc.get("entries")
    if not isinstance(items, list):
        raise DataError(fname, [f"{fname}: entries: missing; expected a list of entries"])
    entries, errors = [], []
    for i, item in enumerate(items):
        try:
            entries.append(Entry.model_validate(item))
        except ValidationError as exc:
            errors += validation_errors(fname, exc, prefix=f"entries[{i}].")
    if errors:
        raise DataError(fname, errors)
    return check_catalogue(entries, framework or load_framework(), fname, packs)


@functools.cache
def _load(path: Path) -> dict[str, Entry]:
    packs = {p: load_pack(p) for p in list_packs()}
    return parse_catalogue(read_yaml(path), load_framework(), path.name, packs)


def load_catalogue(path: str | Path | None = None) -> dict[str, Entry]:
    """The catalogue of ``path`` (default: the shipped ``data/catalogue.yaml``) by id, validated, cached."""
    return dict(_load(Path(path) if path else DATA_DIR / "catalogue.yaml"))


def _fold(text: str) -> str:
    nfkd = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in nfkd if not unicodedata.combining(c))


def search(entries: Iterable[Entry], q: str = "", lang: str = "en", eqf: int | None = None,
           max_ects: float | None = None, language: str | None = None, mode: str | None = None,
           skill: str | None = None, framework: Framework | None = None) -> list[Entry]:
    """Entries matching every given filter, by EQF then title.

    ``q`` matches (case- and accent-insensitively) the title in ``lang`` or
    English, the awarding body, the location, the learning outcomes and the
    labels of the skills developed.
    """
    fw = framework or load_framework()
    needle = _fold(q.strip())
    out = []
    for e in entries:
        if eqf is not None and e.eqf_level != eqf:
            continue
        if max_ects is not None and e.ects > max_ects:
            continue
        if language and e.language != language:
            continue
        if mode and e.mode != mode:
            continue
        if skill and skill not in e.skills:
            continue
        if needle:
            hay = [e.title.get(lang)[0], e.title.root["en"], e.awarding_body, e.location, *e.learning_outcomes]
            hay += [fw.skills[s].label(lang)[0] for s in e.skills if s in fw.skills]
            if not any(needle in _fold(h) for h in hay):
                continue
        out.append(e)
    return sorted(out, key=lambda e: (e.eqf_level, e.title.get(lang)[0]))
