"""Time-domain and spectral kernels against plain numpy/scipy computations of the same quantity."""

import numpy as np
import pytest
from scipy import signal, stats

from edge_agent.features import time_domain
from edge_agent.features.spectral import default_bands, spectral_features, spectral_names
from edge_agent.features.validation import as_phases, as_signal

FS = 25600.0
N = 4096


@pytest.fixture
def x():
    rng = np.random.default_rng(7)
    t = np.arange(N) / FS
    # skewed, heavy-tailed, with an offset: every statistic is non-trivial
    return 0.4 * np.sin(2 * np.pi * 29.9 * t) + rng.gamma(2.0, 0.1, N) + 0.05 * rng.standard_t(3, N) - 0.1


def test_time_features_match_numpy_and_scipy(x):
    f = time_domain.time_features(x)
    rms = np.sqrt(np.mean(x**2))
    peak = np.max(np.abs(x))
    mean_abs = np.mean(np.abs(x))
    expected = {
        "mean": np.mean(x),
        "rms": rms,
        "peak": peak,
        "peak_to_peak": np.ptp(x),
        "crest": peak / rms,
        "kurtosis": stats.kurtosis(x, fisher=False, bias=True),
        "skewness": stats.skew(x, bias=True),
        "shape_factor": rms / mean_abs,
        "impulse_factor": peak / mean_abs,
    }
    assert tuple(f) == time_domain.TIME_FEATURES
    for name, value in expected.items():
        assert f[name] == pytest.approx(value, rel=1e-10), name


def test_time_features_of_a_constant_are_defined():
    f = time_domain.time_features(np.zeros(64))
    assert all(v == 0.0 for v in f.values())


def test_band_energies_and_centroid_match_scipy_periodogram(x):
    bands = [(0.0, 100.0), (100.0, 1000.0), (1000.0, 3000.0), (3000.0, 12800.0)]
    f = spectral_features(x, FS, bands=bands)
    freqs, pxx = signal.periodogram(x, FS, window="hann", detrend="constant", scaling="density")
    df = freqs[1]
    for lo, hi in bands:
        keep = (freqs >= lo) & ((freqs < hi) | ((freqs == hi) & (hi == FS / 2)))
        name = spectral_names(FS, [(lo, hi)])[0]
        assert f[name] == pytest.approx(pxx[keep].sum() * df, rel=1e-9), name
    assert f["spectral_centroid"] == pytest.approx(np.sum(freqs * pxx) / np.sum(pxx), rel=1e-9)


def test_bands_covering_the_spectrum_add_up_to_the_windowed_power(x):
    f = spectral_features(x, FS, bands=[(0, 3000), (3000, 7000), (7000, FS / 2)])
    _, pxx = signal.periodogram(x, FS, window="hann")
    total = sum(v for k, v in f.items() if k.startswith("band_energy_"))
    assert total == pytest.approx(pxx.sum() * FS / N, rel=1e-9)


def test_default_bands_are_fixed_in_hz_and_cut_at_nyquist():
    assert default_bands(51200.0) == default_bands(25600.0)
    assert default_bands(12000.0)[-1] == (5000.0, 6000.0)
    assert default_bands(4000.0) == ((0.0, 1000.0), (1000.0, 2000.0))


@pytest.mark.parametrize("offset_bins", [0.0, 0.25, 0.5, 0.8])
@pytest.mark.parametrize("slip", [0.0, 0.012])
def test_orders_read_the_sine_amplitude_between_bins(offset_bins, slip):
    """A sine of amplitude A reads A within 1 % wherever it falls (Hann amplitude correction)."""
    df = FS / N
    fr = (5 + offset_bins) * df  # shaft frequency 5.x bins: ~32 Hz
    t = np.arange(N) / FS
    amps = {1: 1.3, 2: 0.4, 3: 0.2}
    x = sum(a * np.sin(2 * np.pi * k * fr * (1 - slip) * t + k) for k, a in amps.items())
    f = spectral_features(x, FS, shaft_hz=fr)
    for k, a in amps.items():
        assert f[f"order_{k}x"] == pytest.approx(a, rel=0.01), k


def test_orders_ignore_lines_outside_the_tolerance():
    t = np.arange(N) / FS
    x = np.sin(2 * np.pi * 60.0 * t)  # 1X searched at 30 Hz +- 2 %, ~5 bins away: only the Hann skirt
    f = spectral_features(x, FS, shaft_hz=30.0)
    peak = np.abs(np.fft.rfft(x * signal.get_window("hann", N))).max() * 2 / signal.get_window("hann", N).sum()
    assert f["order_1x"] < 0.1 * peak


def test_orders_only_with_shaft_speed():
    f = spectral_features(np.random.default_rng(0).normal(size=1024), FS)
    assert not any(k.startswith("order_") for k in f)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: time_domain.time_features(np.zeros((4, 4))), r"x must be 1-D, got shape \(4, 4\)"),
        (lambda: time_domain.time_features([1.0] * 3), "x needs at least 8 samples, got 3"),
        (lambda: time_domain.time_features([0.0, np.inf] + [0.0] * 10), "x must be finite; index 1 is inf"),
        (lambda: spectral_features(np.ones(1024), FS, bands=[(1000, 20000)]), r"bands\[0\] must satisfy"),
        (lambda: spectral_features(np.ones(1024), FS, bands=[1000]), r"bands\[0\] must be a \(low, high\) pair"),
        (lambda: spectral_features(np.ones(1024), FS, bands=[]), "at least one"),
        (lambda: spectral_features(np.ones(1024), -1.0), "fs must be a finite number > 0, got -1.0"),
        (lambda: spectral_features(np.ones(1024), FS, shaft_hz=0.0), "shaft_hz must be a finite number > 0"),
        (lambda: spectral_features(np.ones(1024), FS, shaft_hz=30.0, orders=(0,)), "orders must be integers >= 1"),
        (lambda: spectral_features(np.ones(1024), FS, tolerance=0.7), r"tolerance must lie in \[0, 0.5\)"),
        (lambda: as_phases(np.zeros((3, 10))), "at least 256 samples per phase, got 10"),
        (lambda: as_phases(np.full((3, 300), np.nan)), r"currents must be finite; index \(0, 0\) is nan"),
        (lambda: as_signal("abc"), "could not convert"),
    ],
)
def test_wrappers_reject_bad_input_with_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_non_contiguous_and_integer_input_is_converted():
    x = np.arange(2000, dtype=np.int64)[::2]
    assert time_domain.rms(x) == pytest.approx(np.sqrt(np.mean(x.astype(float) ** 2)))
    assert time_domain.skewness(x) == pytest.approx(stats.skew(x.astype(float)), abs=1e-12)
