"""Simulator physics checked with an independent envelope analysis (scipy)."""

import numpy as np
import pytest
from scipy import signal

from edge_agent.bearings import SKF_6205, BearingGeometry, bearing_by_name
from simulators.rotating_machine import FaultEvent, RotatingMachine


def _envelope_peak(x, fs, band=(2000, 5000), search=(20, 500)):
    sos = signal.butter(4, band, btype="bandpass", fs=fs, output="sos")
    env = np.abs(signal.hilbert(signal.sosfiltfilt(sos, x)))
    spec = np.abs(np.fft.rfft(env - env.mean()))
    f = np.fft.rfftfreq(env.size, 1 / fs)
    sel = (f > search[0]) & (f < search[1])
    k = np.argmax(spec[sel])
    return f[sel][k], spec[sel][k] / np.median(spec[sel])


def test_6205_factors_from_dimensions_match_published():
    g = BearingGeometry.from_dimensions("6205", n_balls=9, ball_d=0.3126, pitch_d=1.537)
    assert g.bpfo == pytest.approx(SKF_6205.bpfo, rel=1e-3)
    assert g.bpfi == pytest.approx(SKF_6205.bpfi, rel=1e-3)
    assert g.ftf == pytest.approx(SKF_6205.ftf, rel=1e-3)
    assert g.bsf == pytest.approx(SKF_6205.bsf, rel=1e-3)
    assert bearing_by_name("SKF 6203").bpfo == 3.0530


def test_outer_race_fault_is_bursts_at_bpfo():
    m = RotatingMachine("m1", faults=[FaultEvent("outer_race", start_s=0.0, ramp_s=0.0)], seed=3)
    x = np.concatenate([m.next_block(1200) for _ in range(40)])  # 4 s
    peak_hz, prominence = _envelope_peak(x, m.fs)
    bpfo = SKF_6205.bpfo * m.shaft_hz
    assert peak_hz == pytest.approx(bpfo, rel=0.01)
    assert prominence > 20
    # bursts, not a sine: the raw signal has no line at BPFO but is impulsive
    spec = np.abs(np.fft.rfft(x))
    f = np.fft.rfftfreq(x.size, 1 / m.fs)
    near = (f > bpfo * 0.98) & (f < bpfo * 1.02)
    assert spec[near].max() < 5 * np.median(spec[(f > 50) & (f < 500)])
    from scipy.stats import kurtosis
    assert kurtosis(x, fisher=False) > 5


def test_healthy_machine_has_no_bpfo_line():
    m = RotatingMachine("m1", seed=3)
    x = np.concatenate([m.next_block(1200) for _ in range(40)])
    _, prominence = _envelope_peak(x, m.fs, search=(100, 115))
    assert prominence < 10


def test_blocks_are_continuous_and_deterministic():
    a = RotatingMachine("m", faults=[FaultEvent("outer_race", start_s=0.05)], seed=9)
    b = RotatingMachine("m", faults=[FaultEvent("outer_race", start_s=0.05)], seed=9)
    xa = np.concatenate([a.next_block(1200) for _ in range(5)])
    xb = np.concatenate([b.next_block(1200) for _ in range(5)])
    np.testing.assert_array_equal(xa, xb)
    assert a.elapsed_s == pytest.approx(0.5)


def test_fault_heats_the_bearing():
    m = RotatingMachine("m", faults=[FaultEvent("outer_race", start_s=0.0, ramp_s=0.0)], seed=1)
    t0 = m.temperature_c
    for _ in range(600):  # 60 s
        m.next_block(1200)
    assert m.temperature_c > t0 + 3


def test_bad_fault_is_refused():
    with pytest.raises(ValueError, match="fault kind 'cracked' unknown"):
        FaultEvent("cracked", start_s=1.0)
