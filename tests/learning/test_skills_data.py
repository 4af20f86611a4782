"""The skills data files: framework, job profiles (with CSV/JSON import refusals), catalogue and question bank."""

from __future__ import annotations

import csv
import io
import json

import pytest

from labs.skills.catalogue import Entry, check_catalogue, load_catalogue, parse_catalogue
from labs.skills.common import LANGUAGES, DataError
from labs.skills.framework import load_framework, parse_framework
from labs.skills.jobs import csv_columns, export_csv, export_json, import_csv, import_json, load_jobs
from labs.skills.questions import checkable, load_questions


def test_framework_languages_and_sources():
    fw = load_framework()
    for s in fw.skills.values():
        assert set(s.labels) == set(LANGUAGES)
        assert s.labels["tr"][1] == "project" and s.labels["en"][1] == "esco"
    areas = {s.area for s in fw.skills.values()}
    assert areas == set(fw.areas) and "transversal" in areas
    for wanted in ("predictive-maintenance", "signal-processing", "machine-learning", "sensors", "internet-of-things",
                   "electric-motors", "mechatronics", "troubleshoot", "statistical-process-control",
                   "perform-data-analysis", "python", "solve-problems", "work-in-teams"):
        assert wanted in fw.skills


def test_framework_refusals_name_the_field():
    good = {"esco_version": "1.2.0", "attribution": "This service uses the ESCO classification ...",
            "areas": {"a": {lang: "A" for lang in LANGUAGES}},
            "skills": [{"id": "x-skill", "uri": "http://data.europa.eu/esco/skill/" + "0" * 8 + "-0000-0000-0000-" + "0" * 12,
                        "type": "knowledge", "area": "a",
                        "labels": {lang: ["x", "project"] for lang in LANGUAGES}}]}
    with pytest.raises(DataError, match=r"skills\[0\] = dict: labels.en: the English label must be ESCO's preferred"):
        parse_framework(good)
    good["skills"][0]["labels"]["en"] = ["x", "esco"]
    assert parse_framework(good).skill("x-skill").label("xx") == ("x", "fallback")
    good["skills"][0]["labels"]["tr"] = ["x", "esco"]
    with pytest.raises(DataError, match="ESCO has no Turkish"):
        parse_framework(good)
    good["skills"][0]["labels"]["tr"] = ["x", "project"]
    del good["skills"][0]["labels"]["sl"]
    with pytest.raises(DataError, match=r"missing or empty in \['sl'\]"):
        parse_framework(good)


def test_jobs_span_eqf_3_to_6_with_career_paths():
    jobs = load_jobs()
    assert len(jobs) >= 12 and {j.eqf_level for j in jobs.values()} == {3, 4, 5, 6}
    path = ["industrial-machinery-mechanic", "condition-monitoring-technician", "predictive-maintenance-specialist",
            "reliability-engineer"]
    for a, b in zip(path, path[1:]):
        assert b in jobs[a].successors
    assert all(jobs[s] for j in jobs.values() for s in j.successors)


def test_csv_and_json_round_trip():
    jobs = load_jobs()
    text = export_csv(jobs.values())
    assert text.splitlines()[0].split(",") == csv_columns()
    back = import_csv(text, existing={})
    assert [p.model_dump() for p in back] == [p.model_dump() for p in jobs.values()]
    back = import_json(export_json(jobs.values()), existing={})
    assert [p.model_dump() for p in back] == [p.model_dump() for p in jobs.values()]


def test_a_semicolon_csv_from_a_european_spreadsheet_imports_too():
    jobs = load_jobs()
    text = export_csv([jobs["reliability-engineer"]])
    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows(rows)
    assert [p.model_dump() for p in import_csv("\ufeff" + out.getvalue(), existing={})] == \
        [jobs["reliability-engineer"].model_dump()]


def _rows(text: str) -> list[str]:
    return text.splitlines()


def test_bad_csv_imports_are_refused_naming_row_field_and_expectation():
    jobs = load_jobs()
    good = export_csv([jobs["reliability-engineer"], jobs["automation-engineer"]])
    header, row2, row3 = _rows(good)
    # a malformed mandatory field in one row, an unknown skill in another: both named, neither imported
    bad3 = row3.replace("automation-technology:3", "automation-technolgy:3")
    bad2 = row2.replace("http://data.europa.eu/esco/occupation/07dfff6d", "http://example.org/occupation/07dfff6d")
    text = "\n".join([header, bad2, bad3]) + "\n"
    with pytest.raises(DataError) as exc:
        import_csv(text, existing={})
    errors = exc.value.errors
    assert any(e.startswith("row 2 (id 'reliability-engineer'): esco_occupation") and
               "expected http://data.europa.eu/esco/occupation/<uuid>" in e for e in errors), errors
    assert any(e.startswith("row 3 (id 'automation-engineer'): essential: skill 'automation-technolgy'") and
               "skills framework" in e for e in errors), errors
    no_tr = row3.replace(",Otomasyon mühendisi,", ",,")
    with pytest.raises(DataError) as exc:
        import_csv("\n".join([header, row2, no_tr]) + "\n", existing={})
    assert exc.value.errors == ["row 3 (id 'automation-engineer'): title_tr: missing; expected a text in tr"]
    # a duplicate title (in any language, ignoring case) against what exists
    dup = row2.replace("reliability-engineer,", "reliability-engineer-2,", 1)
    with pytest.raises(DataError, match=r"row 2 \(id 'reliability-engineer-2'\): title_en: 'Reliability engineer' "
                                         r"is the title of profile 'reliability-engineer' too"):
        import_csv("\n".join([header, dup]) + "\n", existing=jobs)
    with pytest.raises(DataError, match=r"row 1 \(header\): columns missing \['sector'\]"):
        import_csv(good.replace(",sector,", ",sectr,"), existing={})
    with pytest.raises(DataError, match=r"row 2 .*eqf_level = 9: Input should be less than or equal to 8"):
        import_csv("\n".join([header, row2.replace(",6,maintenance,", ",9,maintenance,")]) + "\n", existing={})
    with pytest.raises(DataError, match=r"row 2 .*essential: 'statistics' is not 'skill:level'"):
        import_csv("\n".join([header, row2.replace("statistics:3", "statistics")]) + "\n", existing={})


def test_bad_json_import_is_refused():
    with pytest.raises(DataError, match="not valid JSON"):
        import_json("{", existing={})
    doc = json.loads(export_json([load_jobs()["reliability-engineer"]]))
    doc["profiles"][0]["successors"] = ["no-such-job"]
    with pytest.raises(DataError, match=r"item 0 \(id 'reliability-engineer'\): successors: no profile 'no-such-job'"):
        import_json(json.dumps(doc), existing={})


def test_catalogue_elements_and_choices():
    cat = load_catalogue()
    assert len(cat) >= 25 and {e.eqf_level for e in cat.values()} == {3, 4, 5, 6}
    assert {e.pack for e in cat.values() if e.pack} == {"outer-race-early", "inner-race-vs-ball", "rotor-bar-mcsa",
                                                         "cooling-drift"}
    assert {e.mode for e in cat.values()} == {"online", "on-site", "hybrid"}
    assert {e.language for e in cat.values()} == set(LANGUAGES) - {"xx"}
    for e in cat.values():  # every EU mandatory element (the learner and date slots are filled at issue)
        assert e.title and e.awarding_body and e.issuer_country and e.learning_outcomes and e.ects > 0
        assert e.eqf_level and e.assessment_type and e.form_of_participation and e.quality_assurance
        assert e.learner is None and e.issue_date is None


def test_catalogue_refusals():
    fw = load_framework()
    base = dict(title={lang: "T" for lang in LANGUAGES}, awarding_body="Body", issuer_country="SI", location="online",
                eqf_level=4, ects=1, mode="online", language="en", assessment_type="test",
                form_of_participation="online", quality_assurance="internal", learning_outcomes=["Do x."],
                skills={"sensors": 2})
    a = Entry(id="aa", prerequisites=["bb"], **base)
    b = Entry(id="bb", prerequisites=[["aa", "cc"]], **base)
    with pytest.raises(DataError) as exc:
        check_catalogue([a, b], fw)
    assert "catalogue.yaml: entries[1] ('bb'): prerequisites: no entry 'cc'" in exc.value.errors
    assert any("a cycle" in e for e in exc.value.errors)
    with pytest.raises(DataError, match=r"entries\[0\]\.mode = 'classroom'"):
        parse_catalogue({"entries": [{**base, "id": "cc", "mode": "classroom"}]}, fw)
    with pytest.raises(DataError, match=r"skills: 'sensor' is not in the skills framework"):
        parse_catalogue({"entries": [{**base, "id": "cc", "skills": {"sensor": 2}}]}, fw)


def test_question_bank():
    bank = load_questions()
    assert {"signal-processing", "monitor-automated-machines", "machine-learning",
            "predictive-maintenance"} <= set(checkable(bank))
    for q in bank.values():
        assert len(q.options) == 4 and 0 <= q.correct <= 3 and q.explanation
