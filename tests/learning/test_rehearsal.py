"""Lab packs rehearsed offline: each starter pipeline meets its charter; deliberately bad variants do not.

Pack 1 (outer-race-early) is checked in detail below; the other three
packs' starters are rehearsed further down.
"""

import pytest
import yaml

from labs.packs import load_pack
from labs.rehearsal import EPOCH_NS, rehearse
from teachfab.cli import main as cli

ONSET_S = 240.0  # outer_race_early_detection: spall from 240 s, load reduction 120-180 s


@pytest.fixture(scope="module")
def starter():
    return load_pack("outer-race-early").starter_pipeline.model_dump(mode="json")


def test_starter_pipeline_detects_the_spall_soon_after_onset_without_false_alarms(starter):
    res = rehearse("outer-race-early", starter, duration_s=400)
    ev = res["evidence"]["pump-1"]
    (fault,) = ev["faults"]
    assert fault["event"] == "outer_race" and fault["start_ns"] == EPOCH_NS + round(ONSET_S * 1e9)
    assert 0 < fault["detection_delay_s"] <= 5.0  # consistent with the onset: a few windows of 0.16 s
    assert ev["false_alarms"] == 0 and ev["false_alarms_per_hour"] == 0.0
    assert ev["regimes"][0]["event"] == "load_change" and ev["regimes"][0]["false_alarms_during"] == 0
    assert res["met"] is True and res["pipeline"]["name"] == "outer-race-starter"


def test_threshold_far_too_low_gives_false_alarms_and_not_met(starter, tmp_path, capsys):
    bad = {**starter, "threshold": 2.0}
    res = rehearse("outer-race-early", bad, duration_s=400)
    ev = res["evidence"]["pump-1"]
    assert ev["false_alarms_per_hour"] > 0.5
    verdict = {c["metric"]: c["met"] for c in res["acceptance"]["pump-1"]["criteria"]}
    assert verdict["false_alarms_per_hour"] is False and res["met"] is False
    # the command line says the same and exits non-zero
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    assert cli(["lab", "rehearse", "outer-race-early", "--pipeline", str(path), "--duration", "400"]) == 1
    assert "NOT MET false_alarms_per_hour" in capsys.readouterr().out


# ----------------------------------------------------------------- packs 2-4



def _starter(pack_id):
    return load_pack(pack_id).starter_pipeline.model_dump(mode="json")


def _criteria(res, asset):
    return {c["metric"]: c["met"] for c in res["acceptance"][asset]["criteria"]}


def test_inner_race_vs_ball_starter_meets_the_charter_on_both_fans():
    res = rehearse("inner-race-vs-ball", _starter("inner-race-vs-ball"))
    for asset in ("fan-a", "fan-b"):
        ev = res["evidence"][asset]
        assert ev["missed_faults"] == 0 and 0 < ev["detection_delay_s"] <= 5.0  # onset at 60 s, windows of 0.3 s
        assert ev["false_alarms"] == 0 and ev["precision"] == 1.0
    assert res["met"] is True


def test_rotor_bar_starter_sees_the_sidebands_and_not_the_load_reduction():
    res = rehearse("rotor-bar-mcsa", _starter("rotor-bar-mcsa"), duration_s=400)  # crack from 300 s
    ev = res["evidence"]["motor-1"]
    (fault,) = ev["faults"]
    assert fault["event"] == "broken_rotor_bar" and 0 < fault["detection_delay_s"] <= 30.0  # 10-s windows, confirm 2
    assert ev["false_alarms"] == 0
    (regime,) = ev["regimes"]  # the load reduction at 120 s, noticed in the phase RMS
    assert regime["handled"] and ev["drift_events_handled"] == 1
    assert [d["target"] for d in res["drift"]][0] == "rms_a"
    assert EPOCH_NS + 120e9 < res["drift"][0]["ts"] <= EPOCH_NS + 140e9
    assert "sideband" in res["alerts"][0]["message"]
    assert res["met"] is True


def test_rotor_bar_threshold_far_too_low_alarms_on_the_load_reduction():
    res = rehearse("rotor-bar-mcsa", {**_starter("rotor-bar-mcsa"), "threshold": 2.0}, duration_s=400)
    assert res["evidence"]["motor-1"]["false_alarms"] >= 1
    assert _criteria(res, "motor-1")["false_alarms_per_hour"] is False and res["met"] is False


def test_cooling_drift_starter_detects_the_clogged_fan_and_flags_the_load_steps_as_drift():
    res = rehearse("cooling-drift", _starter("cooling-drift"))
    ev = res["evidence"]["motor-2"]
    (fault,) = ev["faults"]
    assert fault["event"] == "cooling_failure" and 0 < fault["detection_delay_s"] <= 120.0
    assert ev["false_alarms"] == 0
    load_steps = [r for r in ev["regimes"] if r["event"] == "load_change"]
    assert len(load_steps) == 4 and all(r["handled"] for r in load_steps)
    assert ev["false_drift_alarms"] <= 1
    assert "temperature_residual" in res["alerts"][0]["message"]
    assert res["met"] is True


def test_cooling_drift_model_that_keeps_learning_absorbs_the_clogging_fan():
    # the residual grows over minutes: a detector that learns it as normal never alerts
    res = rehearse("cooling-drift", {**_starter("cooling-drift"), "learn_after_warmup": True}, duration_s=2100)
    assert res["windows"] == 209  # one every 10 s from the first reading with a load
    assert res["evidence"]["motor-2"]["missed_faults"] == 1
    assert _criteria(res, "motor-2")["missed_faults"] is False and res["met"] is False
