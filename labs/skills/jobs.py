"""Job profiles: the shipped file, and import/export by CSV and JSON with the checks of the job-profile databases.

A profile (``data/jobs.yaml``, :class:`JobProfile`) has a title,
description and responsibilities in the six languages, its ESCO occupation
(primary) and ISCO-08 unit group (secondary), EQF level, sector, required
skills with a minimum level 1-4 (essential or optional) and its successor
roles. Every import passes the checks those databases run, and a refused
import names the row, the field and what was expected; nothing of a refused
file is imported:

- completeness of the mandatory fields;
- consistent terminology (sector from a fixed list, EQF 1-8, levels 1-4);
- reference integrity: every skill in the skills framework, every successor a known profile;
- language completeness: every text in EN ES FR IT TR SL;
- duplicate-title detection (in any language, ignoring case and accents).

Examples
--------
>>> jobs = load_jobs()
>>> len(jobs) >= 12, sorted({j.eqf_level for j in jobs.values()})
(True, [3, 4, 5, 6])
>>> jobs["condition-monitoring-technician"].title.get("it")[0]
'Tecnico del monitoraggio delle condizioni'
>>> text = export_csv([jobs["reliability-engineer"]])
>>> [p.id for p in import_csv(text, existing={})]
['reliability-engineer']
>>> bad = text.replace("Reliability engineer", "")
>>> import_csv(bad, existing={})
Traceback (most recent call last):
...
labs.skills.common.DataError: CSV import: 1 problem(s):
  - row 2 (id 'reliability-engineer'): title_en: missing; expected a text in en
"""

from __future__ import annotations

import csv
import functools
import io
import json
import unicodedata
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator

from labs.skills.common import DATA_DIR, LANGUAGES, DataError, Strict, Text, read_yaml
from labs.skills.framework import ESCO_OCCUPATION, ID, Framework, load_framework

#: Sectors a profile may name (consistent terminology; the pages translate them).
SECTORS = ("manufacturing", "maintenance", "automation", "quality")
Sector = Literal["manufacturing", "maintenance", "automation", "quality"]
MAX_IMPORT_BYTES = 2_000_000
MAX_IMPORT_ROWS = 5_000


class JobProfile(Strict):
    """One job profile."""

    id: str = Field(pattern=ID)
    esco_occupation: str
    isco_08: str = Field(pattern=r"^[0-9]{4}$", description="ISCO-08 unit group (4 digits)")
    eqf_level: int = Field(ge=1, le=8)
    sector: Sector
    title: Text
    description: Text
    responsibilities: list[Text] = Field(min_length=1)
    essential: dict[str, int] = Field(min_length=1, description="skill id -> minimum level 1-4")
    optional: dict[str, int] = Field(default_factory=dict)
    successors: list[str] = Field(default_factory=list)

    @field_validator("esco_occupation")
    @classmethod
    def _esco(cls, v: str) -> str:
        if not ESCO_OCCUPATION.match(v):
            raise ValueError("expected http://data.europa.eu/esco/occupation/<uuid>")
        return v

    @field_validator("essential", "optional")
    @classmethod
    def _levels(cls, v: dict[str, int]) -> dict[str, int]:
        bad = {k: lvl for k, lvl in v.items() if not (isinstance(lvl, int) and 1 <= lvl <= 4)}
        if bad:
            raise ValueError(f"levels must be integers 1-4, got {bad}")
        return v

    def required(self) -> dict[str, tuple[int, bool]]:
        """Every required skill: ``skill -> (minimum level, essential)``."""
        return {**{s: (lvl, False) for s, lvl in self.optional.items()},
                **{s: (lvl, True) for s, lvl in self.essential.items()}}


def _fold(text: str) -> str:
    """Case- and accent-insensitive form of a title, for duplicate detection."""
    nfkd = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in nfkd if not unicodedata.combining(c)).split())


def check_profiles(profiles: list[tuple[str, dict]], framework: Framework, existing: dict[str, JobProfile],
                   kind: str) -> list[JobProfile]:
    """Validate ``(where, document)`` pairs as one batch; :class:`DataError` lists every problem.

    ``existing`` are the profiles already known (the successors may name
    them; their titles count for duplicates unless the batch replaces them).
    """
    errors: list[str] = []
    parsed: list[tuple[str, JobProfile]] = []
    for where, doc in profiles:
        try:
            parsed.append((where, JobProfile.model_validate(doc)))
        except ValidationError as exc:
            errors += _named(where, exc)
    ids = [p.id for _, p in parsed]
    known = set(existing) | set(ids)
    titles: dict[str, str] = {}
    for pid, p in existing.items():
        if pid not in ids:
            for lang in LANGUAGES:
                titles.setdefault(f"{lang}:{_fold(p.title.root[lang])}", pid)
    seen: set[str] = set()
    for where, p in parsed:
        if p.id in seen:
            errors.append(f"{where}: id: {p.id!r} appears twice in this {kind}; expected unique ids")
        seen.add(p.id)
        for field in ("essential", "optional"):
            for s in getattr(p, field):
                if s not in framework.skills:
                    errors.append(f"{where}: {field}: skill {s!r} is not in the skills framework; "
                                  f"expected one of the ids of labs/skills/data/skills.yaml")
        both = sorted(set(p.essential) & set(p.optional))
        if both:
            errors.append(f"{where}: optional: {both} are essential already; expected each skill once")
        for s in p.successors:
            if s not in known:
                errors.append(f"{where}: successors: no profile {s!r}; expected the id of a known profile")
            if s == p.id:
                errors.append(f"{where}: successors: a profile cannot succeed itself")
        for lang in LANGUAGES:
            key = f"{lang}:{_fold(p.title.root[lang])}"
            if key in titles and titles[key] != p.id:
                errors.append(f"{where}: title_{lang}: {p.title.root[lang]!r} is the title of profile "
                              f"{titles[key]!r} too; expected a distinct title")
            titles.setdefault(key, p.id)
    if errors:
        raise DataError(f"{kind}", errors)
    return [p for _, p in parsed]


_TEXT_FIELDS = ("title", "description")


def _named(where: str, exc: ValidationError) -> list[str]:
    """Pydantic errors of one profile as ``where: field: message; expected ...`` (CSV column names)."""
    out = []
    for err in exc.errors():
        parts = [str(p) for p in err["loc"]]
        msg = err["msg"].removeprefix("Value error, ")
        if len(parts) == 1 and parts[0] in _TEXT_FIELDS + ("responsibilities",) and "missing or empty in" in msg:
            langs = msg.split("[", 1)[1].split("]", 1)[0].replace("'", "").split(", ")
            out += [f"{where}: {parts[0]}_{lang}: missing; expected a text in {lang}" for lang in langs]
            continue
        field = ".".join(parts) or "(row)"
        if err["type"] == "missing":
            out.append(f"{where}: {field}: missing; expected a value")
        else:
            out.append(f"{where}: {field} = {err['input']!r}: {msg}")
    return out


@functools.cache
def _load(path: Path) -> dict[str, JobProfile]:
    doc = read_yaml(path)
    items = doc.get("profiles")
    if not isinstance(items, list):
        raise DataError(path.name, ["profiles: missing; expected a list of job profiles"])
    pairs = [(f"{path.name}: profiles[{i}]" + (f" ({d.get('id')!r})" if isinstance(d, dict) else ""), d)
             for i, d in enumerate(items)]
    return {p.id: p for p in check_profiles(pairs, load_framework(), {}, path.name)}


def load_jobs(path: str | Path | None = None) -> dict[str, JobProfile]:
    """The job profiles of ``path`` (default: the shipped ``data/jobs.yaml``) by id, validated, cached."""
    return dict(_load(Path(path) if path else DATA_DIR / "jobs.yaml"))


# ------------------------------------------------------------------------------------------ CSV / JSON
def csv_columns() -> list[str]:
    """The CSV template's columns, in order (``docs/catalogue.md`` describes each)."""
    texts = [f"{f}_{lang}" for f in ("title", "description", "responsibilities") for lang in LANGUAGES]
    return ["id", "esco_occupation", "isco_08", "eqf_level", "sector", *texts, "essential", "optional", "successors"]


def _pairs(text: str) -> dict[str, int] | str:
    out: dict[str, int] = {}
    for item in filter(None, (s.strip() for s in text.split(";"))):
        skill, sep, level = item.partition(":")
        if not sep or not level.strip().isdigit():
            return item
        out[skill.strip()] = int(level)
    return out


def _row_document(row: dict[str, str], where: str, errors: list[str]) -> dict:
    doc: dict = {k: (row.get(k) or "").strip() for k in ("id", "esco_occupation", "isco_08", "sector")}
    level = (row.get("eqf_level") or "").strip()
    doc["eqf_level"] = int(level) if level.isdigit() else level
    for f in _TEXT_FIELDS:
        doc[f] = {lang: (row.get(f"{f}_{lang}") or "").strip() for lang in LANGUAGES}
    items = {lang: [s.strip() for s in (row.get(f"responsibilities_{lang}") or "").split("|") if s.strip()]
             for lang in LANGUAGES}
    counts = {lang: len(v) for lang, v in items.items()}
    if len(set(counts.values())) > 1:
        errors.append(f"{where}: responsibilities_*: {counts} items; expected the same number in every language "
                      "(items separated by '|')")
    n = max(counts.values())
    doc["responsibilities"] = [{lang: (items[lang][i] if i < len(items[lang]) else "") for lang in LANGUAGES}
                               for i in range(n)]
    for f in ("essential", "optional"):
        parsed = _pairs(row.get(f) or "")
        if isinstance(parsed, str):
            errors.append(f"{where}: {f}: {parsed!r} is not 'skill:level'; expected e.g. 'troubleshoot:2; sensors:1'")
            parsed = {}
        doc[f] = parsed
    doc["successors"] = [s.strip() for s in (row.get("successors") or "").split(";") if s.strip()]
    return doc


def import_csv(text: str, existing: dict[str, JobProfile], framework: Framework | None = None) -> list[JobProfile]:
    """Profiles from CSV text (the :func:`csv_columns` template); all or nothing.

    Raises
    ------
    DataError
        Naming each refused row (as numbered in a spreadsheet, header = row 1), field and expectation.
    """
    if len(text.encode()) > MAX_IMPORT_BYTES:
        raise DataError("CSV import", [f"file: {len(text.encode())} bytes; expected at most {MAX_IMPORT_BYTES}"])
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    # spreadsheets in most European locales save CSV with ';' between columns: tell from the header row
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = reader.fieldnames or []
    missing = [c for c in csv_columns() if c not in header]
    unknown = [c for c in header if c not in csv_columns()]
    if missing or unknown:
        raise DataError("CSV import", [f"row 1 (header): columns missing {missing}, unknown {unknown}; "
                                       f"expected {csv_columns()}"])
    errors: list[str] = []
    pairs = []
    for i, row in enumerate(reader, start=2):
        if i - 1 > MAX_IMPORT_ROWS:
            raise DataError("CSV import", [f"file: more than {MAX_IMPORT_ROWS} rows"])
        if None in row:
            errors.append(f"row {i}: {len(row[None])} value(s) beyond the {len(header)} columns; expected "
                          "one value per column (quote texts holding commas)")
        where = f"row {i} (id {(row.get('id') or '').strip()!r})"
        pairs.append((where, _row_document(row, where, errors)))
    if not pairs:
        raise DataError("CSV import", ["file: no data rows; expected at least one profile"])
    try:
        profiles = check_profiles(pairs, framework or load_framework(), existing, "CSV import")
    except DataError as exc:
        errors += exc.errors
    if errors:
        raise DataError("CSV import", errors)
    return profiles


def import_json(text: str, existing: dict[str, JobProfile], framework: Framework | None = None) -> list[JobProfile]:
    """Profiles from a JSON list of profile documents (as :func:`export_json` writes); all or nothing."""
    if len(text.encode()) > MAX_IMPORT_BYTES:
        raise DataError("JSON import", [f"file: {len(text.encode())} bytes; expected at most {MAX_IMPORT_BYTES}"])
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError("JSON import", [f"file: not valid JSON ({exc.msg} at line {exc.lineno})"]) from None
    items = doc.get("profiles") if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not items:
        raise DataError("JSON import", ["file: expected a non-empty list of profiles (or {\"profiles\": [...]})"])
    if len(items) > MAX_IMPORT_ROWS:
        raise DataError("JSON import", [f"file: more than {MAX_IMPORT_ROWS} profiles"])
    pairs = [(f"item {i} (id {d.get('id') if isinstance(d, dict) else None!r})", d) for i, d in enumerate(items)]
    return check_profiles(pairs, framework or load_framework(), existing, "JSON import")


def export_csv(profiles) -> str:
    """CSV text of ``profiles`` in the :func:`csv_columns` template (what :func:`import_csv` reads back)."""
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=csv_columns(), lineterminator="\n")
    w.writeheader()
    for p in profiles:
        row = {"id": p.id, "esco_occupation": p.esco_occupation, "isco_08": p.isco_08, "eqf_level": p.eqf_level,
               "sector": p.sector, "essential": "; ".join(f"{s}:{lvl}" for s, lvl in p.essential.items()),
               "optional": "; ".join(f"{s}:{lvl}" for s, lvl in p.optional.items()),
               "successors": "; ".join(p.successors)}
        for lang in LANGUAGES:
            row[f"title_{lang}"] = p.title.root[lang]
            row[f"description_{lang}"] = p.description.root[lang]
            row[f"responsibilities_{lang}"] = " | ".join(r.root[lang] for r in p.responsibilities)
        w.writerow(row)
    return out.getvalue()


def export_json(profiles) -> str:
    """JSON text ``{"profiles": [...]}`` of ``profiles`` (what :func:`import_json` reads back)."""
    return json.dumps({"profiles": [p.model_dump(mode="json") for p in profiles]}, ensure_ascii=False, indent=1)
