"""Learning units and their offers: the data file's checks, tags read from live events, the best unit,
offers only for events the user sees (once per event), open → follow-up in that order, the follow-up in the
learner's profile, and the learnflow KPI (offered, opened, completed, later verified skill change).
SQLite and PostgreSQL (``tests/learning/conftest.py``).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from cloud.access import Principal, Role
from cloud.errors import Conflict, Invalid, NotFound
from cloud.kpis import service as kpis
from cloud.kpis.learning import Slice
from cloud.learnflow import service
from cloud.learnflow.models import LearningOffer
from cloud.scope import Scope
from cloud.skills import profiles
from cloud.skills.models import SkillLevel
from cloud.telemetry.factory import open_store
from contract.payloads import parse_message
from labs.skills.common import LANGUAGES, DataError
from labs.skills.units import load_units, parse_units, tags_of_alert, tags_of_drift, tags_of_feature

TS = 1_793_000_000 * 10**9


def test_every_unit_in_six_languages_with_known_tags_skills_and_entries():
    units = load_units()
    assert len(units) >= 8 and {u.kind for u in units.values()} == {"page", "worked_example"}
    for u in units.values():
        for text in (u.title, u.summary, u.body):
            assert set(text.root) == set(LANGUAGES) and all(v.strip() for v in text.root.values())
    assert {f for u in units.values() for f in u.faults} >= {"outer_race", "inner_race", "ball", "imbalance",
                                                              "misalignment", "broken_rotor_bar", "cooling_failure"}
    assert {d for u in units.values() for d in u.drift} == {"feature", "score", "input"}


def _unit(**kw):
    base = {"id": "u-1", "kind": "page", "minutes": 5, "faults": ["outer_race"], "skills": ["signal-processing"],
            "title": {lang: "t" for lang in LANGUAGES}, "summary": {lang: "s" for lang in LANGUAGES},
            "body": {lang: "b" for lang in LANGUAGES}}
    return {**base, **kw}


def test_a_bad_units_file_lists_every_problem():
    with pytest.raises(DataError) as err:
        parse_units({"units": [
            _unit(title={"en": "only English"}),
            _unit(id="u-2", faults=["rust"], families=["vibes"]),
            _unit(id="u-3", kind="video", body=None),
            _unit(id="u-4", kind="video", body=None, url="http://insecure.example/v"),
            _unit(id="u-5", skills=["juggling"], entries=["no-such-entry"]),
            _unit(id="u-6", faults=[]),
            _unit(id="u-7"),
            _unit(id="u-7"),
        ]})
    text = "\n".join(err.value.errors)
    assert "units[0].title = {'en': 'only English'}: missing or empty in ['es', 'fr', 'it', 'tr', 'sl']" in text
    assert "unknown fault 'rust', family 'vibes'" in text
    assert "a video unit needs its url" in text
    assert "units[3].url = 'http://insecure.example/v'" in text
    assert "units[4].skills: 'juggling' is not a skill of the framework" in text
    assert "units[4].entries: 'no-such-entry' is not a catalogue entry" in text
    assert "a unit needs at least one tag" in text
    assert "units[7].id = 'u-7': duplicate id" in text
    video = parse_units({"units": [_unit(kind="video", body=None, url="https://videos.example/envelope")]})
    assert video["u-1"].url == "https://videos.example/envelope"


@pytest.mark.parametrize("message, feature_set, unit", [
    ("score 31 above 9.8; most deviating feature: env_bpfo_hsnr (z = +8.1)", None, "outer-race-envelope"),
    ("score 12 above 9; most deviating feature: env_bpfi_sb (z = +5.0)", None, "inner-race-sidebands"),
    ("score 12 above 9; most deviating feature: env_2bsf_snr (z = +4.0)", None, "ball-defect-2bsf"),
    ("score 9 above 8; most deviating feature: order_2x (z = +6.2)", None, "orders-imbalance-misalignment"),
    ("score 9 above 8; most deviating feature: sideband_db (z = +3.2)", None, "rotor-bar-sidebands"),
    ("score 9 above 8; most deviating feature: temperature_residual (z = +4.4)", None, "thermal-above-ambient"),
    ("score 9 above 8 for 2 windows", "thermal", "thermal-above-ambient"),
    ("score 9 above 8 for 2 windows", None, None),
])
def test_the_unit_an_alert_gets(message, feature_set, unit):
    from labs.skills.units import best_unit

    got = best_unit(load_units().values(), tags_of_alert(message, feature_set))
    assert (got.id if got else None) == unit


def test_drift_tags():
    assert tags_of_drift("score") == {"faults": set(), "families": set(), "drift": {"score"}}
    assert tags_of_drift("ambient")["drift"] == {"input"}
    assert tags_of_drift("kurtosis") == {"faults": set(), "families": {"time"}, "drift": {"feature"}}
    assert tags_of_feature("order_7x") == ("spectral", ("looseness",))


def _store():
    store = open_store("sqlite://:memory:")
    bodies = [("pump-1", "alert", {"ts": TS, "score": 31.0, "threshold": 9.8,
                                   "message": "score 31; most deviating feature: env_bpfo_hsnr (z = +8)"}),
              ("pump-1", "alert", {"ts": TS + 10**9, "score": 9.0, "threshold": 8.0, "message": "score 9"}),
              ("pump-1", "drift", {"ts": TS + 2 * 10**9, "target": "score", "detector": "page_hinkley",
                                   "message": "score drifted"}),
              ("fan-9", "alert", {"ts": TS, "score": 31.0, "threshold": 9.8, "message": "x"})]
    for seq, (asset, kind, body) in enumerate(bodies, 1):
        site = "vet-lab" if asset == "pump-1" else "acme-plant"
        store.write(parse_message(f"tf/v1/{site}/gw/{asset}/{kind}",
                                  json.dumps({"v": 1, "edge": "gw", "boot": "b", "seq": seq, **body}).encode()))
    return store


def _who(user, roles=(Role.learner,), assets=frozenset({("vet-lab", "pump-1")})):
    return Principal(user.id, user.email, frozenset(roles), Scope(assets=assets), "t")


def test_offer_open_follow_up_and_the_kpi(db, people):
    p = people
    store = _store()
    ana = _who(p.ana)
    with pytest.raises(NotFound, match="no asset 'fan-9' at site 'acme-plant' in your scope"):
        service.offer(db, store, ana, "acme-plant", "fan-9", "alert", TS, "en")
    with pytest.raises(NotFound, match="no alert of asset 'pump-1' at site 'vet-lab' with ts 7"):
        service.offer(db, store, ana, "vet-lab", "pump-1", "alert", 7, "en")
    with pytest.raises(Invalid, match="event kind must be one of"):
        service.offer(db, store, ana, "vet-lab", "pump-1", "window", TS, "en")
    assert service.offer(db, store, ana, "vet-lab", "pump-1", "alert", TS + 10**9, "en") is None  # nothing fits

    row = service.offer(db, store, ana, "vet-lab", "pump-1", "alert", TS, "sl")
    assert (row.unit_id, row.follow_up_skill, row.language) == ("outer-race-envelope", "signal-processing", "sl")
    assert row.tags == {"faults": ["outer_race"], "families": ["envelope"], "drift": []}
    again = service.offer(db, store, ana, "vet-lab", "pump-1", "alert", TS, "sl")
    assert again.id == row.id and db.query(LearningOffer).count() == 1  # once per user and event
    view = service.offer_view(row, "sl")
    assert view["unit"]["title"] == "Napaka zunanjega obroča ležaja: kako brati ovojnični spekter"
    assert "body" not in view["unit"]  # the summary only, until opened
    drift = service.offer(db, store, ana, "vet-lab", "pump-1", "drift", TS + 2 * 10**9, "en")
    assert drift.unit_id == "score-drift-threshold"

    with pytest.raises(NotFound, match=f"no learning offer {row.id} of yours"):
        service.open_offer(db, _who(p.ben), row.id)
    with pytest.raises(Conflict, match="open the unit"):
        service.follow_up(db, ana, row.id, 2)
    opened = service.open_offer(db, ana, row.id)
    first_open = opened.opened_at
    assert service.open_offer(db, ana, row.id).opened_at == first_open  # the first open counts
    assert "BPFO" in service.offer_view(opened, "en", full=True)["unit"]["body"]
    with pytest.raises(Invalid, match="level must be 1-4"):
        service.follow_up(db, ana, row.id, 5)
    done = service.follow_up(db, ana, row.id, 2)
    assert done.follow_up_level == 2 and done.completed_at is not None
    level = db.get(SkillLevel, (p.ana.id, "signal-processing"))
    assert (level.self_level, level.source) == (2, "self")
    with pytest.raises(Conflict, match="answered already"):
        service.follow_up(db, ana, row.id, 3)

    # later, evidence raises the skill to 2: the verified change after the unit is +2 (from none)
    profiles.propose(db, p.ana.id, "signal-processing", 2, "evidence", {"kind": "evidence", "session": 1})
    db.commit()
    now = datetime.now(timezone.utc)
    lo, hi = now - timedelta(days=1), now + timedelta(days=1)
    figs = kpis.learnflow_figures(db, Slice(), lo, hi)
    assert figs["learnflow_offered"].value == 2
    assert (figs["learnflow_opened"].value, figs["learnflow_opened"].n) == (0.5, 2)
    assert (figs["learnflow_completed"].value, figs["learnflow_completed"].n) == (1.0, 1)
    assert (figs["learnflow_skill_change"].value, figs["learnflow_skill_change"].n) == (2.0, 1)
    assert kpis.learnflow_figures(db, Slice(sites=frozenset({"acme-plant"})), lo, hi)["learnflow_offered"].n == 0
