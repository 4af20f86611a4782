"""Job matching and gap analysis on hand-computed cases; pathways: MILP optimum vs greedy and exhaustive search."""

from __future__ import annotations

import random

import numpy as np
import pytest

from labs.skills import pathways
from labs.skills.catalogue import Entry, load_catalogue
from labs.skills.common import LANGUAGES
from labs.skills.framework import load_framework
from labs.skills.jobs import load_jobs
from labs.skills.matching import Matcher, aggregate_gaps, fit_score, gaps, skill_status

JOB = {"signal-processing": (3, True), "sensors": (2, True), "python": (2, False), "work-in-teams": (1, False)}


@pytest.mark.parametrize("levels, expected", [
    ({}, 0.0),
    # weights 2, 2, 1, 1 (sum 6): coverage 2/3, 1 (capped), 0, 1 -> 100·(4/3 + 2 + 0 + 1)/6
    ({"signal-processing": 2, "sensors": 4, "work-in-teams": 1}, 100 * (4 / 3 + 2 + 1) / 6),
    ({"signal-processing": 3, "sensors": 2, "python": 2, "work-in-teams": 3}, 100.0),
    # exceeding one requirement never makes up for another: 100·(2·1 + 0 + 1·1/2 + 0)/6
    ({"signal-processing": 4, "python": 1, "mechatronics": 4}, 100 * 2.5 / 6),
])
def test_fit_score_by_hand(levels, expected):
    assert fit_score(levels, JOB) == pytest.approx(expected, abs=1e-12)


def test_per_skill_indicators_and_gaps_by_hand():
    levels = {"signal-processing": 2, "sensors": 4, "mechatronics": 3}
    got = {s.skill: (s.status, s.short_by) for s in skill_status(levels, JOB)}
    assert got == {"signal-processing": ("under", 1), "sensors": ("met", 0), "python": ("missing", 2),
                   "work-in-teams": ("missing", 1), "mechatronics": ("not_required", 0)}
    assert gaps(levels, JOB) == {"signal-processing": 3, "python": 2, "work-in-teams": 1}


def test_team_gaps_by_hand():
    team = [{"signal-processing": 3, "sensors": 1}, {"signal-processing": 1}, {"sensors": 2, "python": 2}]
    rows = {r["skill"]: r for r in aggregate_gaps(team, JOB)}
    assert rows["signal-processing"] == {"skill": "signal-processing", "required": 3, "essential": True, "short": 2,
                                         "missing": 1, "mean_short_by": 2.5, "mean_level": 1.33}
    assert rows["sensors"]["short"] == 2 and rows["sensors"]["mean_short_by"] == 1.5
    assert [r["skill"] for r in aggregate_gaps(team, JOB)][0] == "work-in-teams"  # all three lack it


def test_the_matrix_matcher_gives_the_reference_scores():
    fw, jobs = load_framework(), list(load_jobs().values())
    rng = np.random.default_rng(12)
    levels = rng.integers(0, 5, size=(200, len(fw.skills))) * (rng.random((200, len(fw.skills))) < 0.4)
    matcher = Matcher(fw.ids(), [j.required() for j in jobs])
    got = matcher.scores(levels)
    for i in range(0, 200, 7):
        profile = {s: int(v) for s, v in zip(fw.ids(), levels[i]) if v}
        for j, job in enumerate(jobs):
            assert got[i, j] == pytest.approx(fit_score(profile, job.required()), abs=1e-9)
    assert matcher.level_matrix([{"python": 3}])[0, fw.ids().index("python")] == 3
    with pytest.raises(ValueError, match="expected values 0-4"):
        matcher.scores(np.full((1, len(fw.skills)), 5))


def _entry(eid: str, ects: float, skills: dict, prerequisites=(), eqf=4, mode="online", language="en") -> Entry:
    return Entry(id=eid, title={lang: eid for lang in LANGUAGES}, awarding_body="Body", issuer_country="SI",
                 location="online", eqf_level=eqf, ects=ects, mode=mode, language=language, assessment_type="test",
                 form_of_participation="online", quality_assurance="internal", learning_outcomes=["Do it."],
                 skills=skills, prerequisites=list(prerequisites))


def test_greedy_costs_more_than_the_optimum_and_the_tool_picks_the_optimum():
    cat = {e.id: e for e in [
        _entry("broad-course", 4, {"sensors": 2, "python": 2, "statistics": 2}),
        _entry("sensors-intro", 1, {"sensors": 2}),          # the cheapest-looking first step
        _entry("python-intro", 1.5, {"python": 2}),
        _entry("stats-intro", 2, {"statistics": 2}),
    ]}
    want = {"sensors": 2, "python": 2, "statistics": 2}
    g, opt = pathways.greedy(want, cat), pathways.plan(want, cat)
    assert g.ordered[0] == "sensors-intro" and g.total_ects == 4.5
    assert opt.ordered == ["broad-course"] and opt.total_ects == 4
    assert pathways.exhaustive(want, cat).total_ects == 4


def test_the_shipped_catalogue_has_a_trap_for_greedy():
    cat, jobs = load_catalogue(), load_jobs()
    worse = {}
    for job in jobs.values():
        want = gaps({}, job.required())
        g, opt = pathways.greedy(want, cat), pathways.plan(want, cat)
        assert opt.total_ects <= g.total_ects, job.id
        if g.total_ects > opt.total_ects:
            worse[job.id] = (g.ordered[0], g.total_ects, opt.total_ects)
    first, greedy_ects, best = worse["quality-engineering-technician"]
    assert first == "data-literacy-bridge" and (greedy_ects, best) == (8.5, 7.5)


def _respects_prerequisites(p: pathways.Pathway, cat) -> bool:
    done = set(p.recognised)
    for c in p.ordered:
        if not all(any(x in done for x in group) for group in cat[c].prerequisite_groups()):
            return False
        done.add(c)
    return True


def test_milp_equals_exhaustive_on_random_small_catalogues_and_respects_prerequisites():
    rng = random.Random(5)
    skills = ["sensors", "python", "statistics", "signal-processing", "mechatronics"]
    for trial in range(40):
        entries = []
        for i in range(rng.randint(5, 10)):
            earlier = [e.id for e in entries]
            prereqs = []
            if earlier and rng.random() < 0.5:
                prereqs.append(rng.choice(earlier))
            if len(earlier) > 1 and rng.random() < 0.3:
                prereqs.append(rng.sample(earlier, 2))
            entries.append(_entry(f"e{i}", rng.choice([0.5, 1, 1.5, 2, 3, 4]),
                                  {s: rng.randint(1, 4) for s in rng.sample(skills, rng.randint(1, 3))}, prereqs))
        cat = {e.id: e for e in entries}
        want = {s: rng.randint(1, 3) for s in rng.sample(skills, 3)}
        held = {rng.choice(list(cat))} if rng.random() < 0.3 else set()
        opt, brute = pathways.plan(want, cat, held), pathways.exhaustive(want, cat, held)
        assert opt.total_ects == brute.total_ects, trial
        assert opt.unclosable == brute.unclosable
        assert _respects_prerequisites(opt, cat), (trial, opt.ordered)
        closed = {s for c in opt.ordered for s in opt.covers[c]}
        assert closed == set(want) - set(opt.unclosable)


def test_unclosable_gaps_are_named_and_filters_apply():
    cat = load_catalogue()
    p = pathways.plan({"signal-processing": 4, "sensors": 2}, cat)
    assert p.unclosable == {"signal-processing": "no catalogue entry reaches level 4"} and p.ordered
    p = pathways.plan({"sensors": 2, "python": 2}, cat, modes={"online"})
    assert all(cat[c].mode == "online" for c in p.ordered)
    assert p.unclosable == {"sensors": "no entry reaches level 2 within the filters"}
    p = pathways.plan({"python": 2}, cat, languages={"en"}, max_eqf=4)
    assert p.ordered == ["python-for-engineers"]


def test_held_and_evidenced_entries_shorten_the_pathway():
    cat = load_catalogue()
    want = {"signal-processing": 3}
    before = pathways.plan(want, cat)
    held = pathways.plan(want, cat, held={"pdm-bearing-early-detection"})
    assert "pdm-bearing-early-detection" in before.ordered and "pdm-bearing-early-detection" in held.recognised
    assert held.total_ects == before.total_ects - 1
    evidenced = pathways.plan(want, cat, verified={"inspect-data": 2, "perform-data-analysis": 2,
                                                   "manage-maintenance-operations": 1, "predictive-maintenance": 2})
    assert evidenced.total_ects == held.total_ects


def test_the_worked_example_of_docs_skills_md():
    job = load_jobs()["rotating-equipment-mechanic"].required()
    levels = {"perform-machine-maintenance": 3, "use-testing-equipment": 1, "troubleshoot": 2, "sensors": 1,
              "python": 2}
    # essential (w = 2): 2·1 + 2·0.5 + 2·1 + 2·0; optional (w = 1): 1·1 + 1·0 + 1·0; Σw = 11 -> 100·6/11
    assert round(fit_score(levels, job), 1) == 54.5
    assert gaps(levels, job) == {"use-testing-equipment": 2, "follow-safety-precautions": 2, "signal-processing": 1,
                                 "record-test-data": 2}
