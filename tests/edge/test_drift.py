"""Drift monitors on the simulator: a load change is detected, a stationary run is not."""

import math
import pickle

import numpy as np
import pytest

from edge_agent.drift import DRIFT_DETECTORS, DriftEvent, DriftMonitor, make_detector
from simulators.regimes import RegimeEvent
from simulators.rotating_machine import RotatingMachine

WIN_S = 0.25  # one RMS per quarter second (3000 samples at 12 kHz)
SHIFT_S = 60.0

# parameters in standard deviations of the first 100 RMS values (standardise=100)
CONFIGS = {
    "adwin": {"delta": 0.002},
    "page_hinkley": {"min_instances": 30, "delta": 0.5, "threshold": 25.0},
    "kswin": {"alpha": 1e-5, "window_size": 200, "stat_size": 50, "seed": 1},
}


def _rms_series(seconds, regimes, seed):
    """Per-window RMS of the drive-end vibration, computed with plain numpy."""
    m = RotatingMachine("m", fs=12000, regimes=regimes, seed=seed)
    return np.array([np.sqrt(np.mean(m.advance(WIN_S)["vibration_de"] ** 2))
                     for _ in range(int(round(seconds / WIN_S)))])


@pytest.fixture(scope="module")
def load_change():
    # load 0.8 -> 0.4 over 5 s at t = 60 s: the vibration RMS drops by about 8 %
    return _rms_series(120.0, [RegimeEvent(start_s=SHIFT_S, to={"load": 0.4}, ramp_s=5.0)], seed=1)


@pytest.fixture(scope="module")
def stationary():
    return _rms_series(600.0, [], seed=2)  # ten minutes, 2400 windows


def _hits(mon, series):
    return [i * WIN_S for i, v in enumerate(series) if mon.update(v, ts=int(i * WIN_S * 1e9))]


def test_registry_covers_the_configs():
    assert set(CONFIGS) == set(DRIFT_DETECTORS)


@pytest.mark.parametrize("detector", sorted(CONFIGS))
def test_regime_shift_is_detected_promptly(detector, load_change):
    mon = DriftMonitor("rms", detector, CONFIGS[detector], standardise=100, asset="m")
    hits = _hits(mon, load_change)
    assert hits, f"{detector} missed the load change"
    assert SHIFT_S <= hits[0] <= SHIFT_S + 15.0
    ev = mon.last_event
    assert isinstance(ev, DriftEvent) and ev.target == "rms" and ev.detector == detector
    assert ev.ts == int(hits[-1] / WIN_S * WIN_S * 1e9)
    # the detail is in raw units and says which way the feature moved
    assert ev.detail["mean_before"] == pytest.approx(load_change[:200].mean(), rel=0.01)
    assert ev.detail["mean_recent"] < ev.detail["mean_before"]
    d = ev.as_dict()
    assert d["kind"] == "drift" and d["asset"] == "m" and d["message"] == f"drift in rms ({detector})"


@pytest.mark.parametrize("detector", sorted(CONFIGS))
def test_no_drift_on_a_long_stationary_run(detector, stationary):
    mon = DriftMonitor("rms", detector, CONFIGS[detector], standardise=100)
    assert _hits(mon, stationary) == []
    assert mon.n_seen == len(stationary) and mon.n_drifts == 0


def test_raw_values_need_standardising_for_adwin(load_change):
    # ADWIN's bound is absolute (made for [0, 1]); a 3.5 mg change of a 43 mg RMS is below it
    assert _hits(DriftMonitor("rms", "adwin"), load_change) == []


def test_adwin_estimation_is_reported_in_raw_units(load_change):
    mon = DriftMonitor("rms", "adwin", standardise=100)
    _hits(mon, load_change)
    assert 0.03 < mon.last_event.detail["estimation"] < 0.045


@pytest.mark.parametrize("detector", sorted(CONFIGS))
def test_non_finite_values_are_skipped_and_counted(detector, load_change):
    mon = DriftMonitor("rms", detector, CONFIGS[detector], standardise=100)
    clean = DriftMonitor("rms", detector, CONFIGS[detector], standardise=100)
    bad = [float("nan"), float("inf"), -float("inf"), None, "x"]
    got, want = [], []
    for i, v in enumerate(load_change):
        if i % 40 == 0:
            for b in bad:
                assert mon.update(b) is False
        got.append(mon.update(v))
        want.append(clean.update(v))
    assert got == want
    n_bad = len(bad) * len(range(0, len(load_change), 40))
    assert mon.n_skipped == n_bad and mon.n_seen == len(load_change) + n_bad


@pytest.mark.parametrize("detector", sorted(CONFIGS))
def test_pickle_round_trip_gives_identical_decisions(detector, load_change):
    mon = DriftMonitor("rms", detector, CONFIGS[detector], standardise=100)
    for v in load_change[:200]:
        mon.update(v)
    twin = pickle.loads(pickle.dumps(mon))
    rest = load_change[200:]
    assert [twin.update(v, ts=1) for v in rest] == [mon.update(v, ts=1) for v in rest]
    assert twin.last_event == mon.last_event


def test_update_record_reads_the_target_or_the_score():
    feat = DriftMonitor("rms", "page_hinkley")
    score = DriftMonitor("score", "page_hinkley")
    feat.update_record({"kurtosis": 3.0})  # target missing: skipped
    score.update_record({"rms": 1.0}, score=0.2)
    assert feat.n_skipped == 1 and score.n_skipped == 0 and score.n_seen == 1


def test_drift_detected_follows_rivers_protocol():
    mon = DriftMonitor("score", "page_hinkley", {"min_instances": 5, "threshold": 1.0})
    results = [mon.update(v) for v in [0.0] * 20 + [5.0] * 5]
    assert any(results) and mon.drift_detected == results[-1]


@pytest.mark.parametrize("args, match", [
    (("rms", "ddm"), "unknown drift detector 'ddm'"),
    (("rms", "adwin", {"delt": 0.1}), "unknown parameter 'delt'"),
    (("rms", "kswin", {"alpha": 2.0}), "invalid parameters"),
    (("", "adwin"), "target"),
])
def test_configuration_errors_are_named(args, match):
    with pytest.raises(ValueError, match=match):
        DriftMonitor(*args)


def test_standardise_rejects_one_value():
    with pytest.raises(ValueError, match="standardise"):
        DriftMonitor("rms", "adwin", standardise=1)
    assert type(make_detector("kswin", seed=3)).__name__ == "KSWIN"
    assert math.isfinite(DriftMonitor("rms", standardise=5)._scale)
