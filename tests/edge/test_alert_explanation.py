"""A vibration pipeline's alert carries the diagnosis of its alerting windows."""

import json

import numpy as np
import pytest

from contract.payloads import AlertMsg
from edge_agent.pipeline import AlertRecord, AssetPipeline, PipelineConfig
from firmware_adapters.sample import Sample
from simulators.faults import FaultEvent
from simulators.rotating_machine import RotatingMachine

T0 = 1_700_000_000_000_000_000


def _alerts(kind, defer=False, **config):
    m = RotatingMachine("pump-1", faults=[FaultEvent(kind, start_s=10.0)], seed=21)
    p = AssetPipeline("pump-1", PipelineConfig(window=4096, warmup=20, **config), defer_explanation=defer)
    out, t = [], T0
    for _ in range(60):
        out += p.push(Sample("pump-1", "vibration_de", t, 12000.0, m.next_block(4096), "g"))
        t += int(round(4096 / 12000.0 * 1e9))
    return [r for r in out if isinstance(r, AlertRecord)]


@pytest.mark.parametrize("kind", ["outer_race", "inner_race"])
def test_alert_names_the_bearing_fault_with_its_evidence(kind):
    alerts = _alerts(kind, iso_class={"group": 2, "foundation": "flexible"})
    assert len(alerts) == 1
    e = alerts[0].explanation
    assert e["kind"] == "bearing" and e["fault"] == kind and e["confidence"] > 0.9
    line = {"outer_race": 3.5848, "inner_race": 5.4152}[kind] * 1797.0 / 60
    assert e["defect_hz"] == pytest.approx(line, rel=1e-3)
    assert e["measured_hz"] == pytest.approx(line, rel=0.03) and e["prominence"] > 10 and e["harmonics_found"] >= 2
    assert e["severity"]["zone"] in "ABCD" and e["severity"]["foundation"] == "flexible" and not e["severity"]["assumed"]
    assert e["moved"] and abs(e["moved"][0]["z"]) >= abs(e["moved"][-1]["z"])
    spec = e["spectrum"]
    assert 2 <= len(spec["values"]) <= 512 and spec["marks"][0]["hz"] == pytest.approx(line, rel=0.03)
    # what goes on the wire passes the contract and stays small
    payload = {"v": 1, "edge": "e", "boot": "b", "seq": 1, **alerts[0].as_dict()}
    assert AlertMsg.model_validate(payload).explanation.fault == kind
    assert len(json.dumps(payload)) < 16_000


def test_explanation_can_be_switched_off_and_old_hashes_hold():
    assert "explanation" not in _alerts("outer_race", explain=False)[0].as_dict()
    assert PipelineConfig().config_hash() == PipelineConfig(explain=True, iso_class=None).config_hash()
    assert PipelineConfig().config_hash() != PipelineConfig(iso_class={"group": 1}).config_hash()


def test_a_failed_diagnosis_still_explains_with_the_moved_features():
    p = AssetPipeline("m", PipelineConfig(window=4096, warmup=2))
    p._alerting = [np.full(4096, np.nan)]  # a window the diagnosis refuses
    p.last_window = (T0, 12000.0, p._alerting[0])
    e = p._explanation_job({"rms": 1.0}, {"rms": 1.0})()
    assert e["kind"] == "features" and e["fault"] == "unknown"
    assert e["summary"].startswith("diagnosis not possible: x must be finite")


def test_a_deferred_explanation_is_the_same_and_needs_none_of_the_later_state():
    inline, = _alerts("outer_race")
    deferred, = _alerts("outer_race", defer=True)
    assert deferred.explanation is None and "explanation" not in deferred.as_dict()
    # the pipeline went on for many windows after the alert: the job took what it needs when the alert opened
    assert deferred.explain_later() == inline.explanation
    assert inline.explain_later is None
