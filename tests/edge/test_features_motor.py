"""Motor current features against explicit numpy computations and the induction-motor simulator."""

import numpy as np
import pytest

from edge_agent.features.motor import motor_current_features, motor_current_names, slip_from
from simulators.faults import FaultEvent
from simulators.motor_current import InductionMotor

FS = 5000.0
N = 25000  # 5 s: 0.2 Hz bins
SHIFTS = np.array([0.0, -2 * np.pi / 3, 2 * np.pi / 3])


def three_phase(f, lines, neg=0.0, gains=(1.0, 1.0, 1.0), noise=0.0, seed=0):
    """Phase currents: fundamental ``f`` (amplitude 10) plus ``lines`` {freq: amplitude}, negative sequence ``neg``."""
    t = np.arange(N) / FS
    rng = np.random.default_rng(seed)
    out = np.empty((3, N))
    for p, sh in enumerate(SHIFTS):
        x = 10 * np.cos(2 * np.pi * f * t + sh + 0.3) + 10 * neg * np.cos(2 * np.pi * f * t - sh + 1.1)
        for fl, a in lines.items():
            x += a * np.cos(2 * np.pi * fl * t + (fl / f) * sh + 0.7)
        out[p] = gains[p] * x + noise * rng.standard_normal(N)
    return out


def lstsq_amplitudes(x, freqs):
    """Amplitude and phasor of each frequency by a least-squares fit of cosines and sines."""
    t = np.arange(x.size) / FS
    basis = np.column_stack([g(2 * np.pi * f * t) for f in freqs for g in (np.cos, np.sin)])
    coef, *_ = np.linalg.lstsq(basis, x, rcond=None)
    phasors = coef[0::2] - 1j * coef[1::2]
    return np.abs(phasors), phasors


def test_rms_and_nema_imbalance_match_numpy():
    i = three_phase(50.0, {}, gains=(1.0, 0.95, 1.08))
    m = motor_current_features(i, FS, 50.0)
    rms = np.sqrt(np.mean(i**2, axis=1))
    assert [m["rms_a"], m["rms_b"], m["rms_c"]] == pytest.approx(rms, rel=1e-12)
    assert m["imbalance"] == pytest.approx(np.max(np.abs(rms - rms.mean())) / rms.mean(), rel=1e-12)


@pytest.mark.parametrize("neg", [0.0, 0.02, 0.1])
def test_negative_sequence_ratio_matches_explicit_symmetrical_components(neg):
    f = 49.93  # off-bin
    i = three_phase(f, {250.0: 0.3}, neg=neg, noise=0.05)
    m = motor_current_features(i, FS, 50.0)
    ph = np.array([lstsq_amplitudes(i[p], [f, 250.0])[1][0] for p in range(3)])
    a = np.exp(2j * np.pi / 3)
    fortescue = np.array([[1, 1, 1], [1, a, a**2], [1, a**2, a]]) / 3
    _, i1, i2 = fortescue @ ph
    assert m["i2_i1"] == pytest.approx(abs(i2) / abs(i1), abs=2e-3)
    assert m["i2_i1"] == pytest.approx(neg, abs=2e-3)
    assert m["supply_hz"] == pytest.approx(f, abs=0.01)


def test_thd_matches_least_squares_harmonic_amplitudes():
    f = 49.93
    harmonics = {3 * f: 0.2, 5 * f: 0.35, 7 * f: 0.15, 11 * f: 0.05}
    i = three_phase(f, harmonics)
    m = motor_current_features(i, FS, 50.0, n_harmonics=40)
    freqs = [f] + [h * f for h in range(2, 41) if h * f < FS / 2]
    ref = []
    for p in range(3):
        amps, _ = lstsq_amplitudes(i[p], freqs)
        ref.append(np.sqrt(np.sum(amps[1:] ** 2)) / amps[0])
    assert m["thd_2_40"] == pytest.approx(np.mean(ref), rel=0.01)
    assert m["thd_2_40"] == pytest.approx(np.sqrt(0.2**2 + 0.35**2 + 0.15**2 + 0.05**2) / 10, rel=0.01)


def test_rotor_bar_sidebands_in_db_relative_to_the_line():
    f, s = 50.0, 0.031
    lower, upper = (1 - 2 * s) * f, (1 + 2 * s) * f
    i = three_phase(f, {lower: 0.1, upper: 0.03}, noise=0.01)
    m = motor_current_features(i, FS, 50.0, rpm=60 * f / 2 * (1 - s), pole_pairs=2)
    amps, _ = lstsq_amplitudes(i[0], [f, lower, upper])
    assert m["sideband_lower_db"] == pytest.approx(20 * np.log10(amps[1] / amps[0]), abs=0.1)
    assert m["sideband_upper_db"] == pytest.approx(20 * np.log10(amps[2] / amps[0]), abs=0.2)
    assert m["sideband_db"] == pytest.approx(10 * np.log10((0.1**2 + 0.03**2) / 100), abs=0.1)
    assert tuple(m) == motor_current_names()


def test_simulated_motor_faults_show_in_their_features():
    """The simulator's own physics (independent of these kernels) drives the expected features."""
    healthy = InductionMotor("m", fs=FS, load=1.0, noise_a=0.02)
    brb = InductionMotor("m", fs=FS, load=1.0, noise_a=0.02,
                         faults=[FaultEvent("broken_rotor_bar", 0.0, severity=0.02, ramp_s=0.0)])
    unbal = InductionMotor("m", fs=FS, load=1.0,
                           faults=[FaultEvent("supply_imbalance", 0.0, severity=0.05, ramp_s=0.0)])
    feats = {}
    for name, motor in (("healthy", healthy), ("brb", brb), ("unbal", unbal)):
        i = motor.next_block(N)
        feats[name] = motor_current_features(i, FS, 50.0, rpm=60 * motor.shaft_hz, pole_pairs=2)
    assert feats["healthy"]["sideband_lower_db"] < -60
    assert feats["brb"]["sideband_lower_db"] == pytest.approx(20 * np.log10(0.02), abs=1.5)
    assert feats["unbal"]["i2_i1"] == pytest.approx(0.05, abs=0.005)
    assert feats["healthy"]["i2_i1"] < 0.005
    # the healthy motor's 5th and 7th harmonics (2 % and 1.2 %)
    assert feats["healthy"]["thd_2_40"] == pytest.approx(np.hypot(0.02, 0.012), rel=0.05)


def test_slip_from_speed_and_no_sidebands_without_it():
    assert slip_from(60.0, rpm=1746.0, pole_pairs=2) == pytest.approx(0.03)
    m = motor_current_features(three_phase(50.0, {}), FS, 50.0)
    assert "sideband_db" not in m and tuple(m) == motor_current_names(with_sidebands=False)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"currents": np.zeros((2, N))}, r"currents must have shape \(3, n\)"),
        ({"supply_hz": 0.0}, "supply_hz must be a finite number > 0, got 0.0"),
        ({"supply_hz": 2600.0}, "must lie below fs/2"),
        ({"slip": 0.7}, r"slip must lie in \(0, 0.5\)"),
        ({"rpm": 1600.0, "pole_pairs": 2}, r"slip must lie in \(0, 0.5\) .* got -0.06"),
        ({"rpm": 1455.0, "pole_pairs": 1.5}, "pole_pairs must be an integer >= 1"),
        ({"n_harmonics": 1}, "n_harmonics must be an integer >= 2"),
        ({"currents": three_phase(50.0, {})[:, :1000], "slip": 0.03}, "too coarse for sidebands .* use at least"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    args = {"currents": three_phase(50.0, {}), "fs": FS, "supply_hz": 50.0} | kwargs
    with pytest.raises(ValueError, match=message):
        motor_current_features(**args)
