"""A declared motor-current pipeline: three aligned phase windows → MCSA features → detector → alert."""

import pytest

from edge_agent.pipeline import AlertRecord, AssetPipeline, DriftRecord, FeatureRecord, PipelineConfig
from firmware_adapters.sample import Sample
from simulators.faults import FaultEvent
from simulators.motor_current import InductionMotor
from simulators.regimes import RegimeEvent

PHASES = ["current_a", "current_b", "current_c"]


def _run(motor, seconds, config):
    pipe, out = AssetPipeline(motor.asset, config), []
    for k in range(int(seconds * 10)):
        data = motor.advance(0.1)
        for ch in PHASES:
            out += pipe.push(Sample(motor.asset, ch, int(k * 1e8), motor.fs, data[ch], "A"))
    return pipe, out


def test_broken_rotor_bar_raises_the_sideband_and_an_alert():
    motor = InductionMotor("motor-1", fs=5000.0, supply_hz=50.0, pole_pairs=2, load=0.9, seed=1,
                           faults=[FaultEvent("broken_rotor_bar", 150.0, 0.03, ramp_s=0.0)])
    config = PipelineConfig(name="mcsa", feature_set="motor_current", channels=PHASES, supply_hz=50.0,
                            pole_pairs=2, rpm=1459.5, window=50000, warmup=10, confirm=1,
                            features=["sideband_db", "thd_2_40", "rms_a"],
                            detector={"name": "zscore", "params": {"log": False}}, threshold=8.0)
    pipe, out = _run(motor, 240.0, config)
    windows = [r for r in out if isinstance(r, FeatureRecord)]
    alerts = [r for r in out if isinstance(r, AlertRecord)]
    assert len(windows) == 24 and pipe.gaps == 0
    before = [w.features["sideband_db"] for w in windows if w.ts <= 150e9]
    after = [w.features["sideband_db"] for w in windows if w.ts > 160e9]
    assert max(before) < min(after) - 6  # the fault lifts the (1 ± 2s)f sidebands by well over 6 dB
    assert alerts and all(a.ts > 150e9 for a in alerts)
    assert "sideband_db" in alerts[0].message
    expl = alerts[0].explanation  # explained with the (1 ± 2s)·f sideband level on the MCSA scale
    assert expl["kind"] == "motor_current" and expl["fault"] == "broken_rotor_bar" and expl["confidence"] > 0.5
    assert "dB below the supply line" in expl["summary"] and expl["moved"][0]["name"] == "sideband_db"


def test_current_pipeline_config_is_checked():
    with pytest.raises(ValueError, match="needs channels"):
        PipelineConfig(feature_set="motor_current", supply_hz=50.0)
    with pytest.raises(ValueError, match="not in feature set 'motor_current'"):
        PipelineConfig(feature_set="motor_current", channels=PHASES, supply_hz=50.0, features=["kurtosis"])


def test_drift_monitor_watches_a_feature_the_detector_does_not_see():
    # the load shows in the phase RMS; the detector sees only the sideband level (dB, taken as it is)
    motor = InductionMotor("motor-1", fs=5000.0, supply_hz=50.0, pole_pairs=2, load=0.9, seed=2,
                           regimes=[RegimeEvent(100.0, {"load": 0.5}, ramp_s=5.0)])
    config = PipelineConfig(name="mcsa", feature_set="motor_current", channels=PHASES, supply_hz=50.0,
                            pole_pairs=2, rpm=1455.0, window=50000, warmup=6, features=["sideband_db"],
                            threshold=8.0, drift=[{"target": "rms_a", "detector": "page_hinkley",
                                                   "params": {"min_instances": 6}, "standardise": 6}])
    pipe, out = _run(motor, 160.0, config)
    assert pipe.detector.linear == ("sideband_db",)
    records = [r for r in out if isinstance(r, FeatureRecord)]
    assert all(set(r.features) >= {"sideband_db"} and "rms_a" not in r.features for r in records)
    (drift,) = [r.event for r in out if isinstance(r, DriftRecord)]
    assert drift.target == "rms_a" and 100e9 < drift.ts <= 120e9
    assert not [r for r in out if isinstance(r, AlertRecord)]
