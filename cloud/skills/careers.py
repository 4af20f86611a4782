"""Job profiles in the hub (shipped and imported), a learner's matches, gaps, pathway and career view.

Matching uses the learner's current levels whatever their source (the
badges say which are verified); the pathway closes the gaps of those
levels, recognises catalogue entries the learner holds (a credential
issued from a passing outcome) or has evidenced (every skill of the entry
met at a verified level), and is recomputed on every request, so it
follows each profile change and completed credential.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.challenges.models import LabSession, Outcome, team_members
from cloud.database import iso_utc
from cloud.skills import profiles
from cloud.skills.errors import SkillsConflict, SkillsInvalid, SkillsNotFound
from cloud.skills.models import ImportedJob
from labs.skills import pathways
from labs.skills.catalogue import load_catalogue
from labs.skills.common import DataError
from labs.skills.framework import load_framework
from labs.skills.jobs import JobProfile, export_csv, export_json, import_csv, import_json, load_jobs
from labs.skills.matching import Matcher, fit_score, gaps, skill_status


def all_jobs(db: Session) -> dict[str, JobProfile]:
    """Shipped profiles, then the imported ones."""
    return dict(_jobs_and_matcher(db)[0])


#: (imported ids and times) -> (profiles, their Matcher): built once per state of the imported profiles.
_CACHE: dict[tuple, tuple[dict[str, JobProfile], Matcher]] = {}


def _jobs_and_matcher(db: Session) -> tuple[dict[str, JobProfile], Matcher]:
    rows = list(db.scalars(select(ImportedJob).order_by(ImportedJob.id)))
    key = tuple((r.id, iso_utc(r.imported_at)) for r in rows)
    if key not in _CACHE:
        jobs = load_jobs()
        for row in rows:
            jobs[row.id] = JobProfile.model_validate(row.document)
        if len(_CACHE) > 8:
            _CACHE.clear()
        _CACHE[key] = (jobs, Matcher(load_framework().ids(), [j.required() for j in jobs.values()]))
    return _CACHE[key]


def job(db: Session, job_id: str) -> JobProfile:
    """One profile, or 404 naming it."""
    found = all_jobs(db).get(job_id)
    if found is None:
        raise SkillsNotFound("no_job", job=job_id)
    return found


def job_view(j: JobProfile, lang: str) -> dict:
    """A profile in ``lang`` (``fallback`` flags mark English shown for a missing language)."""
    fw = load_framework()
    title, fb = j.title.get(lang)
    return {"id": j.id, "title": title, "title_fallback": fb, "description": j.description.get(lang)[0],
            "responsibilities": [r.get(lang)[0] for r in j.responsibilities], "esco_occupation": j.esco_occupation,
            "isco_08": j.isco_08, "eqf_level": j.eqf_level, "sector": j.sector, "successors": j.successors,
            "skills": [{"skill": s, "label": fw.skills[s].label(lang)[0], "required": lvl, "essential": ess}
                       for s, (lvl, ess) in j.required().items()]}


def matches(db: Session, user_id: int, lang: str, limit: int = 100) -> list[dict]:
    """Every job ranked by the learner's fit, with the per-skill indicators."""
    by_id, matcher = _jobs_and_matcher(db)
    jobs = list(by_id.values())
    lv = profiles.levels(db, user_id)
    scores = matcher.scores(matcher.level_matrix([lv]))[0]
    order = sorted(range(len(jobs)), key=lambda k: (-scores[k], jobs[k].eqf_level, jobs[k].id))[:limit]
    out = []
    for k in order:
        j = jobs[k]
        out.append({"job": j.id, "title": j.title.get(lang)[0], "eqf_level": j.eqf_level, "sector": j.sector,
                    "fit": round(float(scores[k]), 1), "skills": _status(lv, j, lang)})
    return out


def _status(lv: dict, j: JobProfile, lang: str) -> list[dict]:
    fw = load_framework()
    return [{"skill": s.skill, "label": fw.skills[s.skill].label(lang)[0] if s.skill in fw.skills else s.skill,
             "required": s.required, "level": s.level, "essential": s.essential, "status": s.status,
             "short_by": s.short_by} for s in skill_status(lv, j.required())]


def gap_view(db: Session, user_id: int, job_id: str, lang: str) -> dict:
    """Missing and under-level skills of the learner for one job, with the level difference."""
    j, lv = job(db, job_id), profiles.levels(db, user_id)
    rows = [r for r in _status(lv, j, lang) if r["status"] in ("missing", "under")]
    return {"job": j.id, "title": j.title.get(lang)[0], "fit": round(fit_score(lv, j.required()), 1),
            "gaps": sorted(rows, key=lambda r: (not r["essential"], -r["short_by"], r["skill"]))}


def held_credentials(db: Session, user_id: int) -> list[str]:
    """Catalogue ids of the credentials issued to the learner (passing outcomes with an 'issued' decision)."""
    sessions = select(LabSession.id).join(team_members, team_members.c.team_id == LabSession.team_id) \
        .where(team_members.c.user_id == user_id)
    held = []
    for o in db.scalars(select(Outcome).where(Outcome.session_id.in_(sessions), Outcome.credential_decision == "issued")):
        if any(lr["id"] == user_id for lr in o.document["learners"]):
            held += [c["id"] for c in o.document.get("credentials", [])]
    return sorted(set(held))


def pathway_view(db: Session, user_id: int, job_id: str, lang: str, max_eqf: int | None = None,
                 languages: tuple[str, ...] = (), modes: tuple[str, ...] = ()) -> dict:
    """The minimum-ECTS pathway to ``job_id`` from the learner's profile (filters: EQF, language, mode)."""
    if max_eqf is not None and not 1 <= max_eqf <= 8:
        raise SkillsInvalid("level_range", skill="max_eqf", value=max_eqf)
    j, lv = job(db, job_id), profiles.levels(db, user_id)
    verified = profiles.levels(db, user_id, verified_only=True)
    cat = load_catalogue()
    want = gaps(lv, j.required())
    p = pathways.plan(want, cat, held=held_credentials(db, user_id), verified=verified, max_eqf=max_eqf,
                      languages=languages, modes=modes)
    fw = load_framework()
    steps, closed = [], set()
    title = lambda i: cat[i].title.get(lang)[0]  # noqa: E731
    for n, c in enumerate(p.ordered, 1):
        e = cat[c]
        first = [s for s in p.covers.get(c, []) if s not in closed]  # each gap is closed by the first step reaching it
        closed |= set(first)
        steps.append({"step": n, "entry": c, "title": title(c), "ects": e.ects, "eqf_level": e.eqf_level,
                      "mode": e.mode, "language": e.language,
                      "prerequisites": [[title(x) for x in g] for g in e.prerequisite_groups()],
                      "needed_for": [title(d) for d in p.ordered if any(c in g for g in cat[d].prerequisite_groups())],
                      "closes": [{"skill": s, "label": fw.skills[s].label(lang)[0], "level": want[s]} for s in first]})
    return {"job": j.id, "title": j.title.get(lang)[0], "total_ects": p.total_ects, "steps": steps,
            "gaps": want, "unclosable": [{"skill": s, "label": fw.skills[s].label(lang)[0], "reason": r}
                                         for s, r in p.unclosable.items()],
            "recognised": p.recognised, "filters": {"max_eqf": max_eqf, "languages": list(languages),
                                                    "modes": list(modes)}}


def career(db: Session, user_id: int | None, job_id: str, lang: str) -> dict:
    """From a job: its successor roles, what each adds (new skills, higher levels) and the learner's fit."""
    jobs, j = all_jobs(db), job(db, job_id)
    fw = load_framework()
    lv = profiles.levels(db, user_id) if user_id is not None else {}
    here = j.required()
    out = []
    for sid in j.successors:
        nxt = jobs.get(sid)
        if nxt is None:
            continue
        adds = [{"skill": s, "label": fw.skills[s].label(lang)[0], "from": here.get(s, (0, False))[0], "to": lvl,
                 "essential": ess} for s, (lvl, ess) in nxt.required().items() if lvl > here.get(s, (0, False))[0]]
        out.append({"job": nxt.id, "title": nxt.title.get(lang)[0], "eqf_level": nxt.eqf_level,
                    "fit": round(fit_score(lv, nxt.required()), 1), "adds": adds})
    return {"job": j.id, "title": j.title.get(lang)[0], "eqf_level": j.eqf_level,
            "fit": round(fit_score(lv, here), 1), "successors": out}


def import_jobs(db: Session, user_id: int, fmt: str, text: str) -> list[str]:
    """Import profiles (CSV or JSON): all checked first, nothing imported on any refusal; commit."""
    existing = all_jobs(db)
    try:
        if fmt == "csv":
            got = import_csv(text, existing)
        elif fmt == "json":
            got = import_json(text, existing)
        else:
            raise SkillsInvalid("import_format", value=fmt)
    except DataError as exc:
        raise SkillsInvalid("import_refused", problems="; ".join(exc.errors)) from None
    shipped = load_jobs()
    for p in got:
        if p.id in shipped:
            raise SkillsConflict("shipped_job", job=p.id)
    for p in got:
        row = db.get(ImportedJob, p.id)
        if row is None:
            db.add(ImportedJob(id=p.id, document=p.model_dump(mode="json"), imported_by=user_id))
        else:
            row.document, row.imported_by = p.model_dump(mode="json"), user_id
    db.commit()
    return [p.id for p in got]


def export_jobs(db: Session, fmt: str) -> str:
    """Every profile as CSV or JSON text."""
    jobs = all_jobs(db).values()
    if fmt == "csv":
        return export_csv(jobs)
    if fmt == "json":
        return export_json(jobs)
    raise SkillsInvalid("import_format", value=fmt)


def imported_at(db: Session) -> dict[str, str]:
    """When each imported profile was imported."""
    return {r.id: iso_utc(r.imported_at) for r in db.scalars(select(ImportedJob))}
