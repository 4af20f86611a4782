"""A declared thermal pipeline: scalar temperature, load and ambient readings → model residual → alert.

The simulated asset is :class:`simulators.thermal.ThermalAsset` (winding
time constant 5 minutes) with load steps, a warming workshop and a cooling
fan that clogs from 5400 s.
"""

import numpy as np
import pytest

from edge_agent.pipeline import AlertRecord, AssetPipeline, DriftRecord, FeatureRecord, PipelineConfig
from firmware_adapters.sample import Sample
from simulators.faults import FaultEvent
from simulators.regimes import RegimeEvent
from simulators.thermal import ThermalAsset

ONSET_S, LOAD_STEPS_S, STEP_S = 5400.0, (1200.0, 2400.0, 3600.0), 5.0
THERMAL = {"temperature": "winding_temperature", "load": "load", "load_scale": 0.01,
           "ambient": "ambient_temperature", "period_s": 30, "learn_s": 3000}


def config(**kw):
    doc = dict(name="winding-thermal", feature_set="thermal", thermal=THERMAL, features=["temperature_residual"],
               warmup=20, learn_after_warmup=False, threshold=8.0, confirm=3,
               drift=[{"target": "load", "detector": "page_hinkley", "params": {"min_instances": 6}}])
    return PipelineConfig(**{**doc, **kw})


def samples(asset, seconds, step_s=STEP_S):
    """Every reading of ``asset`` as a scalar Sample stamped when it is taken (the end of each step)."""
    out = []
    for k in range(1, int(seconds / step_s) + 1):
        for channel, values in asset.advance(step_s).items():
            out.append(Sample(asset.asset, channel, int(round(k * step_s * 1e9)), 0.0, values, ""))
    return out


def push_all(pipe, blocks):
    return [rec for s in blocks for rec in pipe.push(s)]


@pytest.fixture(scope="module")
def readings():
    regimes = [RegimeEvent(t, {"load": v}, ramp_s=20) for t, v in zip(LOAD_STEPS_S, (1.0, 0.4, 0.9))]
    regimes.append(RegimeEvent(3000.0, {"ambient_c": 28.0}, ramp_s=1800))
    asset = ThermalAsset("motor-9", load=0.6, winding_tau_s=300.0, seed=3, regimes=regimes,
                         faults=[FaultEvent("cooling_failure", start_s=ONSET_S, severity=0.8, ramp_s=300)])
    return samples(asset, 7200.0)


@pytest.fixture(scope="module")
def run(readings):
    pipe = AssetPipeline("motor-9", config())
    return pipe, push_all(pipe, readings)


def test_residual_stays_near_zero_through_load_and_ambient_and_rises_when_the_fan_clogs(run):
    pipe, out = run
    fitted = [r for r in out if isinstance(r, FeatureRecord) and "temperature_residual" in r.features]
    healthy = np.array([r.features["temperature_residual"] for r in fitted if r.ts < ONSET_S * 1e9])
    late = np.array([r.features["temperature_residual"] for r in fitted if r.ts > (ONSET_S + 600) * 1e9])
    # load steps of ~30 K and an ambient rise of 8 K are explained by the model; the clogged fan is not
    assert np.abs(healthy).max() < 0.6 and healthy.std() < 0.25
    assert late.min() > 10.0
    a, b, c = pipe._thermal.tracker.params
    assert 1 / b == pytest.approx(300.0, rel=0.1)  # the winding's time constant, learnt


def test_one_alert_soon_after_the_fan_starts_to_clog_and_none_before(run):
    _, out = run
    alerts = [r for r in out if isinstance(r, AlertRecord)]
    assert len(alerts) == 1
    assert ONSET_S * 1e9 < alerts[0].ts <= (ONSET_S + 300) * 1e9
    assert "temperature_residual" in alerts[0].message
    expl = alerts[0].explanation  # explained with the residual against the first-order model
    assert expl["kind"] == "thermal" and expl["fault"] == "overheating" and expl["residual_k"] > 0


def test_windows_before_the_model_is_fitted_are_learning_and_carry_no_residual(run):
    pipe, out = run
    records = [r for r in out if isinstance(r, FeatureRecord)]
    assert len(records) == pipe.windows == int((7200 - 10) / 30)  # first reading with a load at 10 s
    unfitted = [r for r in records if r.ts < 3000e9]
    assert unfitted and all(r.learning and r.score == 0.0 for r in unfitted)
    assert not any("temperature_residual" in r.features for r in unfitted)
    assert all(r.features["winding_temperature"] > 20.0 for r in unfitted)  # the readings still go out
    # the detector's warm-up (20 windows) starts once the model is known
    fitted = [r for r in records if "temperature_residual" in r.features]
    assert pipe.judged == len(fitted) and [r.learning for r in fitted[:21]] == [True] * 20 + [False]


def test_load_steps_are_drift_events_on_the_load_input(run):
    _, out = run
    drift = [r.event for r in out if isinstance(r, DriftRecord)]
    assert [d.target for d in drift] == ["load"] * 3
    for d, step in zip(drift, LOAD_STEPS_S):
        assert step * 1e9 < d.ts <= (step + 60) * 1e9


def test_given_model_runs_from_the_first_window():
    # at rated load the winding loses 400 W: 20 + 0.15 K/W * 400 W = 80 degC, which the model predicts
    asset = ThermalAsset("motor-9", load=1.0, ambient_c=20.0, seed=1)
    th = {**THERMAL, "r_k_per_w": 0.15, "tau_s": 1200.0, "rated_loss_w": 400.0}
    pipe = AssetPipeline("motor-9", config(thermal=th, warmup=5, drift=[]))
    records = [r for r in push_all(pipe, samples(asset, 600.0)) if isinstance(r, FeatureRecord)]
    assert len(records) == 19
    first = records[0].features
    assert first["temperature_residual"] == pytest.approx(0.0, abs=0.2)
    assert records[0].learning and not records[5].learning
    assert all(r.score < 8.0 for r in records)


def test_snapshot_restore_continues_identically(readings):
    half = len(readings) // 2
    a = AssetPipeline("motor-9", config())
    push_all(a, readings[:half])
    assert not a._thermal.tracker.learning  # the fitted model is part of the snapshot
    b = AssetPipeline("motor-9", config())
    b.restore(a.snapshot())
    out_a, out_b = push_all(a, readings[half:]), push_all(b, readings[half:])
    assert [r.as_dict() for r in out_a] == [r.as_dict() for r in out_b]
    assert any(isinstance(r, AlertRecord) for r in out_b)
    other = AssetPipeline("motor-9", config(thermal={**THERMAL, "learn_s": 2400}))
    with pytest.raises(ValueError, match="snapshot is of pipeline"):
        other.restore(a.snapshot())


def test_config_hash_covers_the_thermal_settings():
    base = config()
    assert base.config_hash() == config().config_hash()
    for change in ({"learn_s": 2400}, {"period_s": 60}, {"load_scale": 1.0}, {"ambient": "t_room"}):
        assert config(thermal={**THERMAL, **change}).config_hash() != base.config_hash(), change
    assert base.inputs == ["winding_temperature", "load", "ambient_temperature"]
    # pipelines without thermal settings keep the hashes they had before the thermal block existed,
    # so their snapshots and lineage stay valid
    assert PipelineConfig().config_hash() == "7f25c760446de941"


def test_stale_and_non_finite_readings_are_counted_and_skipped():
    pipe = AssetPipeline("m", config(drift=[]))
    s = lambda ch, t, v: Sample("m", ch, int(t * 1e9), 0.0, np.array([v]), "")  # noqa: E731
    pipe.push(s("load", 0, 50.0))
    pipe.push(s("ambient_temperature", 0, 20.0))
    assert pipe.push(s("winding_temperature", 1, 40.0)) == []
    pipe.push(s("winding_temperature", 1, 40.1))  # same time again: rejected
    pipe.push(s("winding_temperature", 2, float("nan")))
    out = pipe.push(s("winding_temperature", 31, 40.2))
    assert pipe._thermal.rejected == 2
    assert [round(r.features["winding_temperature"], 1) for r in out] == [40.2]


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"thermal": None}, "feature_set 'thermal' needs thermal: {temperature: <channel>"),
        ({"feature_set": "bearing"}, "thermal settings apply to feature_set 'thermal' only, not 'bearing'"),
        ({"thermal": {"temperature": "t", "load": "load"}}, "thermal needs the ambient temperature"),
        ({"thermal": {**THERMAL, "ambient_c": 20.0}}, "give ambient .* or ambient_c .*, not both"),
        ({"thermal": {**THERMAL, "tau_s": 300.0}}, "give all of r_k_per_w, tau_s, rated_loss_w or none"),
        ({"thermal": {**THERMAL, "period_s": 0}}, r"thermal\.period_s\n  Input should be greater than 0"),
        ({"thermal": {**THERMAL, "load": "winding_temperature"}}, "must be different channels"),
        ({"features": ["rms"]}, r"features \['rms'\] are not in feature set 'thermal'"),
        ({"drift": [{"target": "speed"}]}, r"drift target 'speed' is neither 'score' nor a feature of 'thermal' "
                                           r"nor one of its input channels \['ambient_temperature', 'load'"),
    ],
)
def test_bad_thermal_config_is_named(kw, message):
    with pytest.raises(ValueError, match=message):
        config(**kw)


def test_log_scale_detector_takes_the_residual_as_it_is():
    # a residual is signed: the z-score detector must not take its logarithm
    assert AssetPipeline("m", config()).detector.linear == ("temperature_residual",)
