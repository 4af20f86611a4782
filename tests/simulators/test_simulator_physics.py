"""Simulator physics, each fault checked with an independent computation.

Every check here recomputes what an analyst would look at with scipy.signal
and plain numpy — band-pass + Hilbert envelope spectra, Hann-windowed
and flat-top amplitude spectra, symmetrical components, the analytic first-order
response, an ODE solver — never with the project's own edge kernels.
"""

import numpy as np
import pytest
from scipy import integrate, signal

from edge_agent.bearings import SKF_6203, SKF_6205, BearingGeometry
from simulators.faults import FaultEvent
from simulators.motor_current import InductionMotor
from simulators.regimes import OperatingSchedule, Profile, RegimeEvent
from simulators.rotating_machine import RotatingMachine
from simulators.thermal import FirstOrderThermal, ThermalAsset

FS = 12000.0


# ------------------------------------------------------------------ helpers
def _record(machine, seconds: float, block: int = 1200) -> np.ndarray:
    """``seconds`` of signal as (axes, n), in blocks like a server would pull them."""
    parts = [np.atleast_2d(machine.next_block(block)) for _ in range(int(round(seconds * machine.fs / block)))]
    return np.concatenate(parts, axis=1)


def _envelope_spectrum(x: np.ndarray, fs: float, band=(2000.0, 4500.0)):
    """Band-pass around the resonance, Hilbert envelope, Hann-windowed amplitude spectrum."""
    sos = signal.butter(4, band, btype="bandpass", fs=fs, output="sos")
    env = np.abs(signal.hilbert(signal.sosfiltfilt(sos, x)))
    env = (env - env.mean()) * np.hanning(env.size)
    return np.fft.rfftfreq(env.size, 1 / fs), np.abs(np.fft.rfft(env))


def _amplitude_spectrum(x: np.ndarray, fs: float):
    """Flat-top windowed one-sided amplitude spectrum (a sine of amplitude A reads A)."""
    w = signal.windows.flattop(x.size, sym=False)
    return np.fft.rfftfreq(x.size, 1 / fs), 2 * np.abs(np.fft.rfft(x * w)) / w.sum()


def _peak(f, s, centre, tol):
    """(frequency, value) of the largest bin within ``centre·(1 ± tol)``."""
    sel = (f >= centre * (1 - tol)) & (f <= centre * (1 + tol))
    k = np.argmax(s[sel])
    return f[sel][k], s[sel][k]


def _floor(f, s, lo=5.0, hi=500.0):
    return np.median(s[(f > lo) & (f < hi)])


def _machine(kind=None, severity=0.5, params=None, **kw):
    faults = [FaultEvent(kind, 0.0, severity, ramp_s=0.0, params=params or {})] if kind else []
    return RotatingMachine("m", fs=kw.pop("fs", FS), faults=faults, seed=kw.pop("seed", 2), **kw)


# ----------------------------------------------------------- bearing faults
def test_outer_race_envelope_peak_at_bpfo_with_clean_harmonics():
    m = _machine("outer_race")
    x = _record(m, 8.0)[0]
    f, s = _envelope_spectrum(x, FS)
    fr, bpfo = m.shaft_hz, SKF_6205.bpfo * m.shaft_hz
    sel = (f > 20) & (f < 500)
    top = f[sel][np.argmax(s[sel])]
    assert top == pytest.approx(bpfo, rel=0.01)
    floor = _floor(f, s)
    assert _peak(f, s, bpfo, 0.01)[1] > 50 * floor
    assert _peak(f, s, 2 * bpfo, 0.01)[1] > 10 * floor  # harmonics
    # stationary defect: no shaft-rate modulation, so no 1X line in the envelope
    assert _peak(f, s, fr, 0.01)[1] < 5 * floor


def test_inner_race_envelope_peak_at_bpfi_with_shaft_sidebands():
    m = _machine("inner_race")
    x = _record(m, 8.0)[0]
    f, s = _envelope_spectrum(x, FS)
    fr, bpfi = m.shaft_hz, SKF_6205.bpfi * m.shaft_hz
    sel = (f > 20) & (f < 500)
    top = f[sel][np.argmax(s[sel])]
    assert top == pytest.approx(bpfi, rel=0.01)
    floor, df = _floor(f, s), f[1]
    lower, lower_v = _peak(f, s, top - fr, 0.01)
    upper, upper_v = _peak(f, s, top + fr, 0.01)
    assert lower_v > 15 * floor and upper_v > 15 * floor
    assert top - lower == pytest.approx(fr, abs=2 * df) and upper - top == pytest.approx(fr, abs=2 * df)
    assert _peak(f, s, fr, 0.01)[1] > 15 * floor  # the modulation itself


def test_ball_envelope_peak_at_two_bsf_modulated_at_ftf():
    m = _machine("ball")
    x = _record(m, 10.0)[0]
    f, s = _envelope_spectrum(x, FS)
    fr = m.shaft_hz
    two_bsf, ftf = 2 * SKF_6205.bsf * fr, SKF_6205.ftf * fr
    sel = (f > 50) & (f < 500)
    top = f[sel][np.argmax(s[sel])]
    assert top == pytest.approx(two_bsf, rel=0.01)
    floor, df = _floor(f, s), f[1]
    for side in (-1, 1):
        where, value = _peak(f, s, top + side * ftf, 0.01)
        assert value > 10 * floor
        assert abs(where - top) == pytest.approx(ftf, abs=2 * df)
    cage, cage_v = _peak(f, s, ftf, 0.02)
    assert cage_v > 10 * floor and cage == pytest.approx(ftf, rel=0.01)


@pytest.mark.parametrize("kind, factor", [("outer_race", "bpfo"), ("inner_race", "bpfi"), ("ball", "bsf")])
def test_user_bearing_geometry_moves_the_lines(kind, factor):
    geometry = BearingGeometry.from_dimensions("6206", n_balls=9, ball_d=9.525, pitch_d=46.0)
    m = _machine(kind, bearing=geometry, rpm=1500)
    x = _record(m, 8.0)[0]
    f, s = _envelope_spectrum(x, FS)
    expect = getattr(geometry, factor) * m.shaft_hz * (2 if kind == "ball" else 1)
    sel = (f > 50) & (f < 500)
    assert f[sel][np.argmax(s[sel])] == pytest.approx(expect, rel=0.01)


def test_6203_preset_outer_race():
    m = _machine("outer_race", bearing=SKF_6203)
    f, s = _envelope_spectrum(_record(m, 6.0)[0], FS)
    sel = (f > 20) & (f < 500)
    assert f[sel][np.argmax(s[sel])] == pytest.approx(SKF_6203.bpfo * m.shaft_hz, rel=0.01)


def test_bursts_are_impulsive_not_a_sine():
    x = _record(_machine("outer_race"), 4.0)[0]
    f, s = _amplitude_spectrum(x, FS)
    bpfo = SKF_6205.bpfo * 1797 / 60
    assert _peak(f, s, bpfo, 0.02)[1] < 10 * _floor(f, s, 50, 500)  # no line at BPFO in the raw spectrum
    from scipy.stats import kurtosis
    assert kurtosis(x, fisher=False) > 5


def test_impacts_follow_a_speed_profile():
    """Order tracking with an independently integrated shaft angle recovers BPFO as an order."""
    profile = [(0.0, 900.0), (8.0, 1800.0)]
    m = RotatingMachine("m", fs=FS, speed_profile=profile, seed=3,
                        faults=[FaultEvent("outer_race", 0.0, 0.8, ramp_s=0.0)])
    x = _record(m, 8.0)[0]
    t = np.arange(x.size) / FS
    rpm = np.interp(t, [p[0] for p in profile], [p[1] for p in profile])
    revs = integrate.cumulative_trapezoid(rpm / 60.0, t, initial=0.0)
    sos = signal.butter(4, (2000, 4500), btype="bandpass", fs=FS, output="sos")
    env = np.abs(signal.hilbert(signal.sosfiltfilt(sos, x)))
    per_rev = 256
    grid = np.arange(0, revs[-1], 1 / per_rev)
    env_angle = np.interp(grid, revs, env)
    env_angle = (env_angle - env_angle.mean()) * np.hanning(env_angle.size)
    orders = np.fft.rfftfreq(env_angle.size, 1 / per_rev)
    spec = np.abs(np.fft.rfft(env_angle))
    sel = (orders > 1.5) & (orders < 10)
    assert orders[sel][np.argmax(spec[sel])] == pytest.approx(SKF_6205.bpfo, rel=0.01)
    assert m.shaft_hz == pytest.approx(30.0)


# ------------------------------------------------------------- line faults
def test_imbalance_is_a_radial_1x_in_quadrature():
    m = _machine("imbalance", severity=0.3, axes=3, fs=12800)
    x = _record(m, 8.0, block=1280)
    fr = m.shaft_hz
    one_x = []
    for axis in x:
        f, s = _amplitude_spectrum(axis, m.fs)
        one_x.append(_peak(f, s, fr, 0.005)[1])
        assert _peak(f, s, 2 * fr, 0.005)[1] < 0.05  # no 2X growth
    assert 0.3 - 0.04 - 0.01 < one_x[0] < 0.3 + 0.04 + 0.01  # fault plus residual 1X, at some phase
    assert one_x[1] > 0.6 * one_x[0] and one_x[2] < 0.15 * one_x[0]  # radial, not axial
    # a rotating force: horizontal and vertical 1X are 90 degrees apart
    n = x.shape[1]
    k = int(round(fr * n / m.fs))
    spec_x, spec_y = np.fft.rfft(x[0] * np.hanning(n)), np.fft.rfft(x[1] * np.hanning(n))
    k += np.argmax(np.abs(spec_x[k - 2: k + 3])) - 2
    lag = np.degrees(np.angle(spec_y[k] / spec_x[k]))
    assert abs(abs(lag) - 90) < 15


def test_misalignment_is_2x_strongest_axially():
    m = _machine("misalignment", severity=0.25, axes=3, fs=12800)
    x = _record(m, 8.0, block=1280)
    fr = m.shaft_hz
    two_x = []
    for axis in x:
        f, s = _amplitude_spectrum(axis, m.fs)
        two_x.append(_peak(f, s, 2 * fr, 0.005)[1])
    assert two_x[2] == pytest.approx(0.25, rel=0.1)
    assert two_x[2] > 2 * max(two_x[0], two_x[1])
    f, s = _amplitude_spectrum(x[2], m.fs)
    assert _peak(f, s, 2 * fr, 0.005)[1] > _peak(f, s, fr, 0.005)[1]  # 2X dominates 1X axially


@pytest.mark.parametrize("halves", [False, True])
def test_looseness_is_a_harmonic_family(halves):
    m = _machine("looseness", severity=0.2, params={"half_harmonics": halves} if halves else {})
    x = _record(m, 8.0)[0]
    f, s = _amplitude_spectrum(x, FS)
    fr, floor = m.shaft_hz, _floor(f, s, 5, 1000)
    strong = [h for h in range(1, 11) if _peak(f, s, h * fr, 0.003)[1] > 30 * floor]
    assert len(strong) >= 9
    half_lines = [h + 0.5 for h in range(5) if _peak(f, s, (h + 0.5) * fr, 0.003)[1] > 30 * floor]
    assert len(half_lines) == (5 if halves else 0)


def test_healthy_machine_has_no_fault_lines():
    m = _machine(None)
    x = _record(m, 8.0)[0]
    fr = m.shaft_hz
    f, s = _envelope_spectrum(x, FS)
    floor = _floor(f, s)
    for factor in (SKF_6205.bpfo, SKF_6205.bpfi, 2 * SKF_6205.bsf, SKF_6205.ftf):
        assert _peak(f, s, factor * fr, 0.02)[1] < 6 * floor
    f, s = _amplitude_spectrum(x, FS)
    assert _peak(f, s, fr, 0.005)[1] == pytest.approx(0.04, rel=0.15)  # residual imbalance only
    assert _peak(f, s, 2 * fr, 0.005)[1] < 0.03
    assert all(_peak(f, s, h * fr, 0.003)[1] < 10 * _floor(f, s, 5, 1000) for h in range(3, 11))


def test_fault_end_removes_the_signature():
    m = RotatingMachine("m", faults=[FaultEvent("outer_race", 0.0, 0.5, ramp_s=0.0, end_s=4.0)], seed=1)
    before, after = _record(m, 4.0)[0], _record(m, 4.0)[0]
    bpfo = SKF_6205.bpfo * m.shaft_hz
    f, s = _envelope_spectrum(before, FS)
    assert _peak(f, s, bpfo, 0.01)[1] > 30 * _floor(f, s)
    f, s = _envelope_spectrum(after[2400:], FS)  # after the last ring-down
    assert _peak(f, s, bpfo, 0.01)[1] < 6 * _floor(f, s)


# ---------------------------------------------------------------- regimes
def test_regime_change_shifts_rms_without_fault_signatures():
    m = RotatingMachine("m", load=1.0, seed=4,
                        regimes=[RegimeEvent(6.0, {"load": 0.3}), RegimeEvent(6.0, {"noise_scale": 0.5}),
                                 RegimeEvent(6.0, {"rpm": 1200.0})])
    before, after = _record(m, 6.0)[0], _record(m, 6.0)[0]
    assert np.std(after) < 0.75 * np.std(before)
    assert m.shaft_hz == pytest.approx(20.0)
    f, s = _amplitude_spectrum(after, FS)
    assert _peak(f, s, 20.0, 0.005)[1] == pytest.approx(0.04 * (1200 / 1797) ** 2, rel=0.2)  # 1X moved and fell
    f, s = _envelope_spectrum(after, FS)
    floor = _floor(f, s)
    for factor in (SKF_6205.bpfo, SKF_6205.bpfi, 2 * SKF_6205.bsf):
        assert _peak(f, s, factor * 20.0, 0.02)[1] < 6 * floor
    truth = m.ground_truth()
    assert {e["category"] for e in truth} == {"regime"}
    assert sorted(e["event"] for e in truth) == ["background_change", "load_change", "speed_change"]


def test_profile_integral_is_exact():
    p = Profile([0, 2, 5, 9], [600, 1800, 1200, 300])
    t = np.linspace(0, 12, 24001)
    numeric = integrate.cumulative_trapezoid(p(t), t, initial=0.0)  # exact on a grid through the knots
    np.testing.assert_allclose(p.integral(t), numeric, rtol=1e-9, atol=1e-9)
    step = Profile([0, 2, 2, 5], [600, 600, 1200, 1200])  # a step: repeated knot time
    assert float(step.integral(12.0)) == pytest.approx(2 * 600 + 10 * 1200)


def test_regime_end_reverts_and_overlaps_are_refused():
    s = OperatingSchedule({"load": 0.8}, [RegimeEvent(10.0, {"load": 0.4}, ramp_s=2.0, end_s=20.0)])
    assert [float(s.value("load", t)) for t in (5, 11, 15, 21, 30)] == pytest.approx([0.8, 0.6, 0.4, 0.6, 0.8])
    with pytest.raises(ValueError, match="overlaps"):
        OperatingSchedule({"load": 0.8}, [RegimeEvent(10.0, {"load": 0.4}, ramp_s=5.0),
                                          RegimeEvent(12.0, {"load": 0.9})])
    with pytest.raises(ValueError, match="'speed' unknown"):
        OperatingSchedule({"load": 0.8}, [RegimeEvent(1.0, {"speed": 1.0})])


# ----------------------------------------------------------- motor current
def _motor_record(faults, seconds=20.0, load=1.0, **kw):
    m = InductionMotor("motor", fs=5000.0, load=load, faults=faults, seed=kw.pop("seed", 2), **kw)
    x = np.concatenate([m.next_block(5000) for _ in range(int(seconds))], axis=1)
    speed_rpm = m.advance(0.0)["shaft_speed"][0]
    return m, x, speed_rpm


def test_broken_rotor_bar_sidebands_at_one_plus_minus_two_s():
    _, x, speed = _motor_record([FaultEvent("broken_rotor_bar", 0.0, 0.01, ramp_s=0.0)], load=1.0)
    f, s = _amplitude_spectrum(x[0], 5000.0)
    df = f[1]
    ns = 60 * 50.0 / 2
    slip = (ns - speed) / ns  # from the speed reading, as a technician would
    line = _peak(f, s, 50.0, 0.002)[1]
    for side in (-1, 1):
        near = (f > 50 + side * 0.5) & (f < 50 + side * 5) if side > 0 else (f > 45) & (f < 49.5)
        k = np.argmax(s[near])
        assert f[near][k] == pytest.approx((1 + side * 2 * slip) * 50.0, abs=df)
    lower_db = 20 * np.log10(_peak(f, s, (1 - 2 * slip) * 50, 0.001)[1] / line)
    assert lower_db == pytest.approx(-40.0, abs=1.0)  # severity 0.01 at rated load
    assert _peak(f, s, (1 - 4 * slip) * 50, 0.001)[1] > 30 * _floor(f, s, 5, 500)  # k = 2


def test_broken_rotor_bar_fades_at_light_load():
    _, x, speed = _motor_record([FaultEvent("broken_rotor_bar", 0.0, 0.01, ramp_s=0.0)], load=0.15)
    f, s = _amplitude_spectrum(x[0], 5000.0)
    slip = (1500 - speed) / 1500
    assert slip == pytest.approx(0.15 * 0.03)
    line = _peak(f, s, 50.0, 0.002)[1]
    assert 20 * np.log10(_peak(f, s, (1 - 2 * slip) * 50, 0.001)[1] / line) < -45  # rotor current is small


def test_eccentricity_sidebands_at_f_plus_minus_fr():
    _, x, speed = _motor_record([FaultEvent("eccentricity", 0.0, 0.005, ramp_s=0.0)], load=0.7)
    f, s = _amplitude_spectrum(x[1], 5000.0)
    fr, df, floor = speed / 60.0, f[1], _floor(f, s, 5, 500)
    for centre in (50 - fr, 50 + fr):
        sel = (f > centre - 1) & (f < centre + 1)
        k = np.argmax(s[sel])
        assert f[sel][k] == pytest.approx(centre, abs=df)
        assert s[sel][k] > 50 * floor


def _sequences(x, fs, f0):
    """Positive- and negative-sequence phasor magnitudes at ``f0`` (Fortescue)."""
    n = x.shape[1]
    k = int(round(f0 * n / fs))
    ph = 2 * np.fft.rfft(x, axis=1)[:, k] / n
    a = np.exp(2j * np.pi / 3)
    i1 = (ph[0] + a * ph[1] + a * a * ph[2]) / 3
    i2 = (ph[0] + a * a * ph[1] + a * ph[2]) / 3
    return abs(i1), abs(i2)


def test_supply_imbalance_negative_sequence_ratio():
    _, x, _ = _motor_record([FaultEvent("supply_imbalance", 0.0, 0.04, ramp_s=0.0)], seconds=10.0)
    i1, i2 = _sequences(x, 5000.0, 50.0)
    assert i2 / i1 == pytest.approx(0.04, rel=0.03)
    assert i1 == pytest.approx(np.sqrt(2) * 10.0, rel=0.01)  # rated RMS current at rated load


def test_healthy_motor_is_balanced_and_has_no_sidebands():
    m, x, speed = _motor_record([], seconds=20.0, load=0.8)
    i1, i2 = _sequences(x, 5000.0, 50.0)
    assert i2 / i1 < 0.002
    f, s = _amplitude_spectrum(x[0], 5000.0)
    slip, fr = (1500 - speed) / 1500, speed / 60
    floor = _floor(f, s, 5, 500)
    for centre in ((1 - 2 * slip) * 50, (1 + 2 * slip) * 50, 50 - fr, 50 + fr):
        assert _peak(f, s, centre, 0.003)[1] < 10 * floor
    # load-dependent amplitude: RMS follows sqrt(I0^2 + (load*Ia)^2)
    assert np.sqrt(np.mean(x[0] ** 2)) == pytest.approx(np.hypot(3.5, 0.8 * np.sqrt(100 - 3.5**2)), rel=0.01)
    assert _peak(f, s, 250.0, 0.002)[1] / _peak(f, s, 50.0, 0.002)[1] == pytest.approx(0.02, rel=0.05)


def test_slip_and_speed_follow_load_and_supply():
    m = InductionMotor("m", supply_hz=60.0, pole_pairs=3, load=0.5, rated_slip=0.04,
                       regimes=[RegimeEvent(1.0, {"load": 1.0})])
    m.advance(0.5)
    assert m.slip == pytest.approx(0.02) and m.shaft_hz == pytest.approx(60 * 0.98 / 3)
    m.advance(1.0)
    assert m.slip == pytest.approx(0.04)


# ---------------------------------------------------------------- thermal
def test_thermal_step_response_matches_analytic_solution():
    a = ThermalAsset("t", load=1.0, ambient_c=20.0, initial_c=20.0, noise_c=0.0,
                     rated_winding_loss_w=400.0, winding_r_k_per_w=0.15, winding_tau_s=600.0)
    rise = 400.0 * 0.15  # P·R at rated load
    for t_end in np.arange(60.0, 1801.0, 60.0):
        out = a.advance(60.0)
        expect = 20.0 + rise * (1 - np.exp(-t_end / 600.0))
        assert out["winding_temperature"][0] == pytest.approx(expect, abs=1e-9)


def test_thermal_follows_varying_ambient_like_an_ode_solver():
    a = ThermalAsset("t", load=0.6, ambient_c=15.0, noise_c=0.0, initial_c=30.0,
                     regimes=[RegimeEvent(100.0, {"ambient_c": 35.0}, ramp_s=600.0),
                              RegimeEvent(300.0, {"load": 1.2}, ramp_s=0.0)])
    r, c = a.winding_r_k_per_w, a.winding_tau_s / a.winding_r_k_per_w

    def rhs(t, y):
        amb = np.interp(t, [0, 100, 700], [15, 15, 35])
        load = 0.6 if t < 300 else 1.2
        loss = 400.0 * (0.3 + 0.7 * load**2)
        return [(loss - (y[0] - amb) / r) / c]

    ref = integrate.solve_ivp(rhs, (0, 1200), [30.0], t_eval=np.arange(10, 1201, 10), max_step=1.0, rtol=1e-8)
    sim = [a.advance(10.0)["winding_temperature"][0] for _ in range(120)]
    np.testing.assert_allclose(sim, ref.y[0], atol=0.05)


def test_cooling_failure_raises_the_steady_state():
    kw = dict(load=0.8, ambient_c=25.0, noise_c=0.0, winding_tau_s=300.0, bearing_tau_s=100.0)
    healthy = ThermalAsset("t", **kw)
    failed = ThermalAsset("t", faults=[FaultEvent("cooling_failure", 0.0, 1.0, ramp_s=0.0)], **kw)
    start = healthy.winding.temperature_c
    assert failed.winding.temperature_c == pytest.approx(start)  # it was healthy before t = 0
    for _ in range(60):  # 10 time constants of the slowed winding
        h, f = healthy.advance(100.0), failed.advance(100.0)
    rise_h = h["winding_temperature"][0] - 25.0
    rise_f = f["winding_temperature"][0] - 25.0
    assert rise_h == pytest.approx(400 * (0.3 + 0.7 * 0.64) * 0.15, rel=1e-6)
    assert rise_f == pytest.approx(2.0 * rise_h, rel=1e-3)  # R doubled


def test_first_order_model_matches_closed_form():
    node = FirstOrderThermal(r_k_per_w=0.4, c_j_per_k=500.0, temperature_c=80.0)
    node.step(150.0, loss_w=0.0, ambient_c=20.0)  # cooling down for 0.75 tau
    assert node.temperature_c == pytest.approx(20.0 + 60.0 * np.exp(-0.75))


def test_mechanical_faults_and_cooling_failure_heat_the_machine_and_motor():
    def run(machine, seconds):
        for _ in range(int(seconds)):
            out = machine.advance(1.0)
        return out

    healthy = RotatingMachine("m", seed=1)
    faulty = RotatingMachine("m", seed=1, faults=[FaultEvent("inner_race", 0.0, 0.5, ramp_s=0.0)])
    cooled = RotatingMachine("m", seed=1, faults=[FaultEvent("cooling_failure", 0.0, 0.5, ramp_s=0.0)])
    temps = [run(m, 300)["temperature"][0] for m in (healthy, faulty, cooled)]
    assert temps[1] > temps[0] + 8 and temps[2] > temps[0] + 5
    motor = InductionMotor("mot", fs=1000.0, thermal_tau_s=120.0,
                           faults=[FaultEvent("cooling_failure", 0.0, 0.5, ramp_s=0.0)])
    t0 = motor.temperature_c
    run(motor, 1500)  # 8 time constants of the slowed winding
    assert motor.temperature_c - motor.ambient_c == pytest.approx(1.5 * (t0 - motor.ambient_c), rel=0.01)


# ------------------------------------------------------ continuity, determinism
def test_same_seed_same_samples_any_block_size():
    def make(seed):
        return RotatingMachine("m", fs=25600, axes=3, seed=seed, speed_profile=[(0, 900), (1, 1800)],
                               faults=[FaultEvent(k, 0.2, 0.3, ramp_s=0.5) for k in
                                       ("outer_race", "inner_race", "ball", "imbalance", "misalignment", "looseness")])
    a, b, c = make(5), make(5), make(6)
    xa = np.concatenate([a.next_block(2560) for _ in range(10)], axis=1)
    xb = np.concatenate([b.next_block(2560) for _ in range(10)], axis=1)
    np.testing.assert_array_equal(xa, xb)
    sizes = [1, 999, 4097, 3000, 17000]
    d = make(5)
    xd = np.concatenate([d.next_block(k).reshape(3, -1) for k in sizes], axis=1)
    np.testing.assert_allclose(xd, xa[:, : sum(sizes)], rtol=0, atol=1e-12)
    assert not np.allclose(c.next_block(2560), xa[:, :2560])


def test_advance_yields_every_channel_with_exact_sample_counts():
    m = RotatingMachine("m", fs=25600, axes=3)
    got = [m.advance(0.033) for _ in range(30)]
    names = [c.name for c in m.channels()]
    assert names == ["vibration_x", "vibration_y", "vibration_z", "temperature", "shaft_speed", "load"]
    assert sum(g["vibration_z"].size for g in got) == int(25600 * 0.033 * 30 + 1e-6)
    motor = InductionMotor("mot", fs=10000.0)
    out = motor.advance(0.1)
    assert {c.name for c in motor.channels()} == set(out)
    assert out["current_a"].size == 1000


def test_faults_that_do_not_apply_are_refused():
    with pytest.raises(ValueError, match="'broken_rotor_bar' does not apply to rotating_machine 'm'"):
        RotatingMachine("m", faults=[FaultEvent("broken_rotor_bar", 0.0, 0.01)])
    with pytest.raises(ValueError, match="'ball' does not apply to motor"):
        InductionMotor("m", faults=[FaultEvent("ball", 0.0)])
    with pytest.raises(ValueError, match="parameter 'halves' unknown"):
        FaultEvent("looseness", 0.0, params={"halves": True})
    with pytest.raises(ValueError, match="axes must be 1, 2 or 3"):
        RotatingMachine("m", axes=4)
