"""Thermal tracker against scipy's Theil-Sen slope and the first-order thermal simulator."""

import numpy as np
import pytest
from scipy import stats

from edge_agent.features.thermal import THERMAL_FEATURES, ThermalTracker, thermal_features
from simulators.thermal import FirstOrderThermal

R, TAU, P = 0.15, 1200.0, 450.0


def run(tracker, hours, loss_of, r_scale_of=lambda t: 1.0, dt=10.0, noise=0.05, seed=0):
    """Drive a simulated node with load steps and ambient swings; feed the tracker; return residuals by time."""
    rng = np.random.default_rng(seed)
    node = FirstOrderThermal(R, TAU / R, 20.0 + R * loss_of(0.0, 0.5))
    out = []
    for k in range(int(hours * 3600 / dt)):
        t = k * dt
        load = 0.5 + 0.4 * ((t // 1500) % 3 == 1) - 0.3 * ((t // 1500) % 3 == 2)
        ambient = 20.0 + 5.0 * np.sin(2 * np.pi * t / 7200)
        tracker.update(int(t * 1e9), node.temperature_c + rng.normal(0, noise), load, ambient)
        out.append((t, tracker.features()))
        node.step(dt, loss_of(t, load), ambient, r_scale_of(t))
    return out


def test_rate_is_the_theil_sen_slope_of_the_window():
    rng = np.random.default_rng(3)
    t = np.arange(0, 600, 5.0)
    temp = 40 + 0.02 * t + rng.normal(0, 0.05, t.size)
    temp[20] += 8.0  # a spike: Theil-Sen shrugs it off
    tr = ThermalTracker(rate_window_s=300.0)
    for ti, x in zip(t, temp):
        tr.update(int(ti * 1e9), x, 1.0, 20.0)
    keep = t >= t[-1] - 300.0
    slope = stats.theilslopes(temp[keep], t[keep]).slope
    assert tr.features()["temperature_rate_k_per_min"] == pytest.approx(60 * slope, rel=1e-12)
    assert tr.features()["temperature_rate_k_per_min"] == pytest.approx(1.2, abs=0.05)


def test_given_model_follows_load_and_ambient_and_flags_cooling_failure():
    loss = lambda t, load: P * load**2  # noqa: E731
    fail = lambda t: 1.0 if t < 3 * 3600 else 1.4  # noqa: E731
    out = run(ThermalTracker(R, TAU, P), 5, loss, fail)
    healthy = np.array([f["temperature_residual"] for t, f in out if t < 3 * 3600])
    late = np.array([f["temperature_residual"] for t, f in out if t > 4.5 * 3600])
    assert np.abs(healthy).max() < 0.3  # load steps of 90 K swing and ambient +-5 K are followed
    assert late.mean() > 5.0  # the cooling failure is not
    assert tuple(out[-1][1]) == THERMAL_FEATURES


def test_learnt_model_with_fixed_losses_then_friction():
    loss = lambda t, load: P * (0.3 + 0.7 * load**2) + (60.0 if t > 5 * 3600 else 0.0)  # noqa: E731
    tr = ThermalTracker(learn_s=3 * 3600)
    out = run(tr, 7, loss)
    assert not tr.learning
    a, b, c = tr.params
    assert 1 / b == pytest.approx(TAU, rel=0.1)
    assert a / b == pytest.approx(R * P * 0.7, rel=0.1)
    healthy = np.array([f["temperature_residual"] for t, f in out if 3.2 * 3600 < t < 5 * 3600])
    late = np.array([f["temperature_residual"] for t, f in out if t > 6.5 * 3600])
    assert np.abs(healthy).max() < 1.0
    assert late.mean() > 0.7 * R * 60.0  # friction of 60 W: ~9 K above the model at steady state
    assert all(f["temperature_residual"] == 0.0 for t, f in out if t < 3 * 3600)  # learning


def test_rows_give_the_same_features_as_a_fed_tracker():
    rows = [(k * 10**10, 30.0 + 0.01 * k, 0.8, 21.0) for k in range(100)]
    tr = ThermalTracker(R, TAU, P)
    for r in rows:
        tr.update(*r)
    assert thermal_features(rows, R, TAU, P) == tr.features()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: ThermalTracker(r_k_per_w=0.1), "give all of r_k_per_w, tau_s, rated_loss_w or none"),
        (lambda: ThermalTracker(0.1, -5.0, 100.0), "tau_s must be a finite number > 0, got -5.0"),
        (lambda: ThermalTracker().update(0, float("nan"), 1.0, 20.0), "thermal reading must be finite"),
        (lambda: ThermalTracker().features(), "no thermal reading yet"),
        (lambda: thermal_features([(0, 1.0, 1.0)]), r"rows must have shape \(n >= 1, 4\)"),
    ],
)
def test_bad_input_is_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_time_must_increase():
    tr = ThermalTracker()
    tr.update(10**9, 30.0, 1.0, 20.0)
    with pytest.raises(ValueError, match="t_ns must increase"):
        tr.update(10**9, 30.0, 1.0, 20.0)
