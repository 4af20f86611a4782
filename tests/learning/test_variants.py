"""Assessed variants: drawn within the pack's ranges, reproducible from their seed, hidden until the close,
and passable: each pack's starter pipeline meets its charter at the extremes of its ranges."""

from __future__ import annotations

import pytest

from cloud.challenges import ledger, sessions
from cloud.challenges.schemas import SessionView
from labs.packs import list_packs, load_pack
from labs.rehearsal import rehearse
from labs.variants import VariantRanges, corners, draw_variant, problems
from simulators.scenario import load_scenario, scenario_document
from tests.learning.support import T0, active_challenge

BASE, _ = scenario_document("outer_race_early_detection")
RANGES = load_pack("outer-race-early").scenario.variants


def test_draws_stay_in_range_differ_by_seed_and_repeat_by_seed():
    starts = set()
    for seed in range(50):
        doc, drawn = draw_variant(BASE, RANGES, seed)
        fault, regime = doc["faults"][0], doc["regimes"][0]
        assert 220 <= fault["start_s"] <= 380 and 0.2 <= fault["severity"] <= 0.3 and 240 <= fault["ramp_s"] <= 360
        assert 100 <= regime["start_s"] <= 260 and 40 <= regime["end_s"] - regime["start_s"] <= 90
        assert drawn["faults"]["0"]["start_s"] == fault["start_s"] and doc["seed"] == drawn["noise_seed"]
        assert draw_variant(BASE, RANGES, seed) == (doc, drawn)
        load_scenario(doc)  # every draw is a valid scenario
        starts.add(fault["start_s"])
    assert len(starts) > 40  # seeds give different onsets
    orders = {draw_variant(BASE, RANGES, s)[0]["regimes"][0]["start_s"] < draw_variant(BASE, RANGES, s)[0]["faults"][
        0]["start_s"] for s in range(50)}
    assert orders == {True, False} or orders == {True}  # the ranges let the regime come before or after


def test_ranges_are_checked_against_the_scenario():
    assert problems(BASE, RANGES) == []
    bad = VariantRanges(faults=[{"fault": 3, "start_s": [1, 2]}, {"fault": 0, "start_s": [500, 700]}],
                        regimes=[{"regime": 0, "length_s": [0, 10]}])
    found = problems(BASE, bad)
    assert any("fault = 3: the scenario has 1 fault" in p for p in found)
    assert any("must start before the duration_s = 600" in p for p in found)
    assert any("lengths are > 0" in p for p in found)
    with pytest.raises(ValueError, match="low <= high"):
        VariantRanges(faults=[{"fault": 0, "start_s": [300, 200]}])


def test_session_runs_a_hidden_variant_revealed_at_close(db, people):
    p = people
    c = active_challenge(db, p)
    a = sessions.start_session(db, c.id, p.team.id, p.mentor, start_ns=T0, variant_seed=11)
    b = sessions.start_session(db, c.id, p.team.id, p.mentor, start_ns=T0)  # a secret seed
    assert a.variant["seed"] == 11 and b.variant["seed"] != 11
    doc, drawn = load_pack("outer-race-early").variant(11)
    assert a.variant["drawn"] == drawn
    fault = next(e for e in a.ground_truth if e["category"] == "fault")
    assert fault["start_ns"] == T0 + round(drawn["faults"]["0"]["start_s"] * 1e9)  # the truth is the variant's
    learner_view = SessionView(**sessions.view(a, show_truth=False))
    assert learner_view.variant is None and learner_view.ground_truth is None
    staff_view = SessionView(**sessions.view(a, show_truth=True))
    assert staff_view.variant == {"seed": 11, "drawn": drawn}
    started = [e for e in ledger.entries(db, f"session:{a.id}") if e["kind"] == "session_started"][0]
    assert started["payload"]["variant_sha256"]  # committed to before anyone worked on it


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("pack_id", list_packs())
def test_starter_meets_the_charter_at_the_extremes_of_its_variants(pack_id):
    pack = load_pack(pack_id)
    assert pack.scenario.variants is not None, f"{pack_id}: assessed sessions need declared variants"
    base = scenario_document(pack.scenario.scenario)[0]
    for i, extreme in enumerate(corners(pack.scenario.variants)):
        doc, _ = draw_variant(base, extreme, seed=i)
        res = rehearse(pack_id, scenario_doc=doc)
        assert res["met"], (pack_id, "low" if i == 0 else "high", res["acceptance"])


def test_a_pack_with_ranges_that_do_not_fit_is_refused(tmp_path):
    import shutil

    import yaml

    from labs.packs import PACKS_DIR, PackError

    dst = tmp_path / "outer-race-early"
    shutil.copytree(PACKS_DIR / "outer-race-early", dst)
    path = dst / "scenario.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["variants"] = {"faults": [{"fault": 5, "start_s": [10, 20]}], "regimes": [{"regime": 0, "start_s": [500, 590],
                                                                                     "length_s": [20, 40]}]}
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(PackError) as err:
        load_pack(dst)
    assert "scenario.yaml: variants.faults[0].fault = 5: the scenario has 1 fault(s)" in err.value.errors
    assert any("variants.regimes[0]: may end at 630 s, at or after the duration_s = 600" in e for e in err.value.errors)
