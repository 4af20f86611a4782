"""Routes of the learner portal: framework, profile, self-assessment, checks, matches, gaps, pathways,
consents and language; job profiles and the catalogue. Thin over the service modules of this area.

Data labels come in the language asked for (``?lang=``), else the caller's
chosen language, else ``Accept-Language``; refusals are worded in it too.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from cloud.access import DB, Anyone, Operator, Principal, Role, RoleGate, Staff
from cloud.errors import ERROR_RESPONSES
from cloud.skills import careers, checks, joining, profiles, selfassess, sharing
from cloud.skills.errors import SkillsNotFound
from cloud.skills.i18n import request_language
from cloud.skills.job_schemas import (CareerView, EntryView, GapView, ImportResult, JobExport, JobImport, JobMatch,
                                      JobView, PathwayView)
from cloud.skills.schemas import (CheckAnswers, CheckAvailable, CheckQuestions, CheckResult, CheckStart, ConsentsIn,
                                  ConsentView, FrameworkView, LanguageIn, LanguageView, ProfileView, SelfAssessmentIn,
                                  SkillReport, Suggestion, SuggestIn)
from labs.skills.catalogue import Entry, load_catalogue, search
from labs.skills.common import LANGUAGES
from labs.skills.framework import load_framework

router = APIRouter(prefix="/api", tags=["skills"])
Learner = Annotated[Principal, Depends(RoleGate(Role.learner))]
LangQ = Annotated[str | None, Query(description="language of labels and messages: en es fr it tr sl")]


def language(request: Request, db: DB, who: Principal, lang: str | None) -> str:
    """The language of an answer: ``lang``, else the caller's choice, else ``Accept-Language``."""
    if lang is not None:
        return joining.check_language(lang)
    pref = db.get(joining.Preference, who.user_id)
    return pref.language if pref is not None else request_language(request.headers.get("accept-language"))


# ------------------------------------------------------------------------------------------ framework
@router.get("/skills/framework", response_model=FrameworkView, summary="The skills framework (ESCO subset), "
            "areas and level descriptors, in a language")
def framework(request: Request, db: DB, who: Anyone, lang: LangQ = None) -> dict:
    lg = language(request, db, who, lang)
    fw = load_framework()
    return {"esco_version": fw.esco_version, "attribution": fw.attribution, "language": lg,
            "levels": selfassess.levels_scale(), "areas": selfassess.questionnaire(lg)}


# ------------------------------------------------------------------------------------------ the learner's own
@router.get("/skills/me/profile", response_model=ProfileView, summary="My profile matrix: level, source badge, "
            "self-assessed level, latest check and history per skill")
def my_profile(request: Request, db: DB, who: Learner, lang: LangQ = None) -> dict:
    return profiles.profile(db, who.user_id, language(request, db, who, lang))


@router.put("/skills/me/self-assessment", response_model=ProfileView, responses=ERROR_RESPONSES,
            summary="Record self-assessed levels (never overwrites an evidence- or assessor-verified level)")
def self_assess(request: Request, db: DB, who: Learner, body: SelfAssessmentIn, lang: LangQ = None) -> dict:
    selfassess.submit(db, who.user_id, body.levels, body.note)
    return profiles.profile(db, who.user_id, language(request, db, who, lang))


@router.post("/skills/me/suggestions", response_model=list[Suggestion], responses=ERROR_RESPONSES,
             summary="Skills suggested from a description of my experience (nothing is recorded)")
def suggestions(request: Request, db: DB, who: Learner, body: SuggestIn) -> list[dict]:
    return selfassess.suggest(body.text, body.language or language(request, db, who, None))


@router.get("/skills/checks", response_model=list[CheckAvailable], summary="Skills that have a skill check")
def available_checks(request: Request, db: DB, who: Learner, lang: LangQ = None) -> list[dict]:
    return checks.available(language(request, db, who, lang))


@router.post("/skills/checks", response_model=CheckQuestions, status_code=201, responses=ERROR_RESPONSES,
             summary="Start a skill check: five four-option questions on one skill")
def start_check(db: DB, who: Learner, body: CheckStart) -> dict:
    return checks.questions_view(checks.start(db, who.user_id, body.skill))


@router.post("/skills/checks/{check_id}/answers", response_model=CheckResult, responses=ERROR_RESPONSES,
             summary="Answer a skill check: the result and the level shown (kept beside the profile level)")
def answer_check(db: DB, who: Learner, check_id: int, body: CheckAnswers) -> dict:
    return checks.submit(db, who.user_id, check_id, body.answers)


@router.get("/skills/me/report", response_model=SkillReport, summary="The skill checks' final report")
def report(request: Request, db: DB, who: Learner, lang: LangQ = None) -> dict:
    return checks.report(db, who.user_id, language(request, db, who, lang))


@router.get("/skills/me/matches", response_model=list[JobMatch], summary="Job profiles ranked by my fit, "
            "with met, under-level and missing skills")
def my_matches(request: Request, db: DB, who: Learner, lang: LangQ = None) -> list[dict]:
    return careers.matches(db, who.user_id, language(request, db, who, lang))


@router.get("/skills/me/gaps/{job_id}", response_model=GapView, responses=ERROR_RESPONSES,
            summary="My missing and under-level skills for a job")
def my_gaps(request: Request, db: DB, who: Learner, job_id: str, lang: LangQ = None) -> dict:
    return careers.gap_view(db, who.user_id, job_id, language(request, db, who, lang))


@router.get("/skills/me/pathway/{job_id}", response_model=PathwayView, responses=ERROR_RESPONSES,
            summary="The minimum-ECTS pathway of micro-credentials to a job, ordered by prerequisites")
def my_pathway(request: Request, db: DB, who: Learner, job_id: str, lang: LangQ = None,
               max_eqf: Annotated[int | None, Query(ge=1, le=8)] = None,
               language_of_entries: Annotated[list[str] | None, Query(alias="language")] = None,
               mode: Annotated[list[str] | None, Query()] = None) -> dict:
    lg = language(request, db, who, lang)
    for code in language_of_entries or []:
        joining.check_language(code)
    return careers.pathway_view(db, who.user_id, job_id, lg, max_eqf, tuple(language_of_entries or ()),
                                tuple(mode or ()))


@router.get("/skills/me/consents", response_model=list[ConsentView],
            summary="Companies I may share my profile with, and whether I do")
def my_consents(db: DB, who: Learner) -> list[dict]:
    return sharing.consents(db, who.user_id)


@router.put("/skills/me/consents", response_model=list[ConsentView], responses=ERROR_RESPONSES,
            summary="Share my profile with exactly these companies (the others are revoked)")
def set_my_consents(db: DB, who: Learner, body: ConsentsIn) -> list[dict]:
    return sharing.set_consents(db, who.user_id, body.sites)


@router.get("/me/language", response_model=LanguageView, summary="My portal language")
def my_language(db: DB, who: Anyone) -> dict:
    return {"language": joining.language_of(db, who.user_id)}


@router.put("/me/language", response_model=LanguageView, summary="Choose my portal language")
def set_my_language(db: DB, who: Anyone, body: LanguageIn) -> dict:
    return {"language": joining.set_language(db, who.user_id, body.language)}


# ------------------------------------------------------------------------------------------ jobs
@router.get("/jobs", response_model=list[JobView], summary="Every job profile (shipped and imported)")
def jobs(request: Request, db: DB, who: Anyone, lang: LangQ = None) -> list[dict]:
    lg = language(request, db, who, lang)
    return [careers.job_view(j, lg) for j in careers.all_jobs(db).values()]


@router.get("/jobs/export", response_model=JobExport, responses=ERROR_RESPONSES,
            summary="Every job profile as CSV (the import template) or JSON")
def export_jobs(db: DB, who: Staff, format: Annotated[str, Query(pattern="^(csv|json)$")] = "csv") -> dict:
    return {"format": format, "text": careers.export_jobs(db, format)}


@router.post("/jobs/import", response_model=ImportResult, status_code=201, responses=ERROR_RESPONSES,
             summary="Import job profiles from CSV or JSON: all checked first, nothing imported on any refusal")
def import_jobs(db: DB, who: Operator, body: JobImport) -> dict:
    return {"imported": careers.import_jobs(db, who.user_id, body.format, body.text)}


@router.get("/jobs/{job_id}", response_model=JobView, responses=ERROR_RESPONSES, summary="One job profile")
def job(request: Request, db: DB, who: Anyone, job_id: str, lang: LangQ = None) -> dict:
    return careers.job_view(careers.job(db, job_id), language(request, db, who, lang))


@router.get("/jobs/{job_id}/career", response_model=CareerView, responses=ERROR_RESPONSES,
            summary="Career view: a job's successor roles, what each adds, and my fit for each")
def career(request: Request, db: DB, who: Anyone, job_id: str, lang: LangQ = None) -> dict:
    mine = who.user_id if Role.learner in who.roles else None
    return careers.career(db, mine, job_id, language(request, db, who, lang))


# ------------------------------------------------------------------------------------------ catalogue
def entry_view(e: Entry, lang: str) -> dict:
    """A catalogue entry in ``lang``."""
    fw = load_framework()
    title, fb = e.title.get(lang)
    return {**e.model_dump(exclude={"title", "skills", "prerequisites"}), "title": title, "title_fallback": fb,
            "prerequisites": [list(g) for g in e.prerequisite_groups()],
            "skills": [{"skill": s, "label": fw.skills[s].label(lang)[0], "required": lvl, "essential": True}
                       for s, lvl in e.skills.items()]}


@router.get("/catalogue", response_model=list[EntryView], summary="The micro-credential catalogue, searched and "
            "filtered (EQF, most ECTS, language, mode, skill)")
def catalogue(request: Request, db: DB, who: Anyone, lang: LangQ = None, q: Annotated[str, Query(max_length=200)] = "",
              eqf: Annotated[int | None, Query(ge=1, le=8)] = None,
              max_ects: Annotated[float | None, Query(gt=0, le=60)] = None,
              language_of_entries: Annotated[str | None, Query(alias="language")] = None,
              mode: Annotated[str | None, Query(pattern="^(online|on-site|hybrid)$")] = None,
              skill: Annotated[str | None, Query(max_length=64)] = None) -> list[dict]:
    lg = language(request, db, who, lang)
    if language_of_entries is not None and language_of_entries not in LANGUAGES:
        joining.check_language(language_of_entries)
    found = search(load_catalogue().values(), q=q, lang=lg, eqf=eqf, max_ects=max_ects,
                   language=language_of_entries, mode=mode, skill=skill)
    return [entry_view(e, lg) for e in found]


@router.get("/catalogue/{entry_id}", response_model=EntryView, responses=ERROR_RESPONSES,
            summary="One catalogue entry")
def catalogue_entry(request: Request, db: DB, who: Anyone, entry_id: str, lang: LangQ = None) -> dict:
    e = load_catalogue().get(entry_id)
    if e is None:
        raise SkillsNotFound("no_entry", entry=entry_id)
    return entry_view(e, language(request, db, who, lang))
