"""Each diagnosis kernel against an independent numpy/scipy computation."""

import numpy as np
import pytest
from scipy import integrate, linalg, signal, stats

from edge_agent.diagnosis import kernels as K
from edge_agent.diagnosis import spectra
from edge_agent.diagnosis.severity import iso_zone, velocity_rms
from edge_agent.diagnosis.speed import estimate_shaft_hz
from simulators.rotating_machine import RotatingMachine

FS = 12000.0


def _noise(n=8192, seed=0):
    return np.random.default_rng(seed).normal(0, 1, n)


def test_levinson_solves_the_yule_walker_equations():
    x = signal.lfilter([1.0], [1.0, -1.2, 0.7, -0.1], _noise())
    r = np.correlate(x, x, "full")[x.size - 1:][:9] / x.size
    a, err = K.levinson(r, 8)
    ref = linalg.solve_toeplitz(r[:8], r[1:9])
    assert a[0] == 1.0
    np.testing.assert_allclose(-a[1:], ref, rtol=1e-9, atol=1e-12)
    assert err == pytest.approx(r[0] - ref @ r[1:9], rel=1e-9)


def test_whitened_spectrum_is_the_circular_ar_residual():
    x = signal.lfilter([1.0], [1.0, -1.5, 0.8], _noise(4096, 1)) + np.sin(2 * np.pi * 30 * np.arange(4096) / FS)
    x = x - x.mean()
    spec = np.fft.rfft(x)
    white = np.fft.irfft(spectra.whiten_spectrum(spec, x.size, 6), x.size)
    r = np.fft.irfft(np.abs(spec) ** 2, x.size)[:7]
    a = np.r_[1.0, -linalg.solve_toeplitz(r[:6], r[1:7])]
    ref = sum(a[k] * np.roll(x, k) for k in range(7))  # circular FIR filter by the AR polynomial
    np.testing.assert_allclose(white, ref - ref.mean(), atol=1e-9 * np.abs(x).max())
    assert white.std() < 0.5 * x.std()  # the AR part is removed


def _scipy_envelope(x, lo, hi):
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(x.size, 1 / FS)
    spec[(f < lo) | (f >= hi)] = 0.0
    return np.abs(signal.hilbert(np.fft.irfft(spec, x.size)))


def test_band_envelope_and_kurtosis_match_scipy_hilbert():
    x = _noise(4096, 2) + 5 * (np.arange(4096) % 400 == 0)
    spec = np.fft.rfft(x)
    k_lo, k_hi = 1024, 1536  # 3000-4500 Hz
    z = K.band_envelope(spec, k_lo, k_hi, 4096)
    env = _scipy_envelope(x, k_lo * FS / 4096, k_hi * FS / 4096)
    np.testing.assert_allclose(2 * np.abs(z), env, rtol=1e-8, atol=1e-9)  # same length: the analytic signal is 2 × the band ifft
    e2 = env ** 2
    assert K.spectral_kurtosis(z) == pytest.approx(np.mean(e2 ** 2) / np.mean(e2) ** 2 - 2, rel=1e-9)


def test_spectral_kurtosis_of_gaussian_noise_is_near_zero():
    spec = np.fft.rfft(_noise(1 << 15, 3))
    assert abs(K.spectral_kurtosis(K.band_envelope(spec, 2000, 6000, 4096))) < 0.1


def test_kurtogram_cells_are_band_kurtoses():
    x = _noise(8192, 4)
    spec = np.fft.rfft(x)
    sk, counts = K.kurtogram(spec, 3, 8)
    assert list(counts) == [1, 2, 3, 4, 6, 8, 12]
    width = 4096 / 6  # row 4 = level 2.6, 6 bands (row 3 = level 2, 4 bands)
    lo, hi = round(2 * width), round(3 * width)
    e2 = _scipy_envelope(x, lo * FS / 8192, hi * FS / 8192) ** 2
    assert sk[4, 2] == pytest.approx(np.mean(e2 ** 2) / np.mean(e2) ** 2 - 2, abs=0.02)  # zero-padded: same to rounding
    assert np.isnan(sk[0, 1]) and np.isfinite(sk[6, 11])


@pytest.mark.parametrize("resonance_hz", [1800.0, 3300.0, 4700.0])
def test_kurtogram_picks_the_band_of_the_simulated_resonance(resonance_hz):
    from simulators.faults import FaultEvent
    m = RotatingMachine("k", fs=FS, resonance_hz=resonance_hz, noise_g=0.05, seed=7,
                        faults=[FaultEvent("outer_race", 0.0, 0.2, ramp_s=0.0)])
    k = spectra.kurtogram(m.next_block(16384), FS, min_width_hz=400.0)
    assert k.band[0] <= resonance_hz <= k.band[1], (k.band, k.level)
    assert k.band[1] - k.band[0] < 3000.0  # a band around the resonance, not the whole spectrum


def test_the_kurtogram_keeps_to_what_the_high_pass_left():
    n, floor = 8192, 480.0
    spec = spectra.high_pass(np.fft.rfft(_noise(n, seed=3)), n, FS, floor)
    sk, counts = K.kurtogram(spec, 3, 8)
    sk[5, 0] = 50.0  # level 3, the cell 0-750 Hz: two thirds of it is zeros, its few bins left make a noisy kurtosis
    k = spectra.pick_band(sk, counts, n // 2, FS / n, floor, floor)
    assert k.kurtosis < 50.0 and k.band[0] >= floor and k.band[1] - k.band[0] >= floor
    k = spectra.pick_band(sk, counts, n // 2, FS / n)  # without the floor that cell would win
    assert k.kurtosis == 50.0 and k.band == (0.0, 750.0)


def test_kurtosis_of_noise_scatters_by_two_over_root_bins():
    # the standard error pick_band ranks cells by: 2/sqrt(M) for a band of M bins of Gaussian noise
    maps = np.array([K.kurtogram(np.fft.rfft(_noise(8192, seed)), 3, 8)[0] for seed in range(200)])
    for row, bands in ((1, 2), (5, 8), (6, 12)):  # levels 1, 3 and 3.6
        bins = 4096 / bands
        assert np.nanstd(maps[:, row, :bands]) == pytest.approx(2.0 / np.sqrt(bins), rel=0.25), row


def _map_of_noise(seed=3):
    n = 8192
    sk, counts = K.kurtogram(np.fft.rfft(_noise(n, seed)), 3, 8)
    return np.zeros_like(sk) + np.where(np.isnan(sk), np.nan, 0.0), counts, n


def test_pick_band_takes_the_largest_significant_kurtosis():
    sk, counts, n = _map_of_noise()
    sk[6, 4] = 1.0  # level 3.6 (341 bins): z = 1.0 * sqrt(341) / 2 = 9.2, significant
    sk[1, 1] = 0.25  # level 1 (2048 bins): z = 5.7, significant too, but less kurtosis
    k = spectra.pick_band(sk, counts, n // 2, FS / n)
    assert (k.level, k.kurtosis) == (3.6, 1.0) and k.significance == pytest.approx(np.sqrt(341) / 2, rel=0.01)


def test_pick_band_prefers_the_wider_band_when_nothing_is_significant():
    sk, counts, n = _map_of_noise()
    sk[6, 4] = 0.3  # z = 0.3 * sqrt(341) / 2 = 2.77, below the threshold for 36 cells (3.45)
    sk[1, 1] = 0.125  # z = 0.125 * sqrt(2048) / 2 = 2.83: less kurtosis, but further from chance
    k = spectra.pick_band(sk, counts, n // 2, FS / n)
    assert k.level == 1.0 and k.band == (3000.0, 6000.0)
    # twenty windows averaged: the same kurtosis is now far beyond chance, and the larger one wins
    k = spectra.pick_band(sk, counts, n // 2, FS / n, averages=20)
    assert k.level == 3.6 and k.kurtosis == 0.3


def test_squared_envelope_spectrum_matches_scipy():
    t = np.arange(8192) / FS
    x = (1 + 0.5 * np.cos(2 * np.pi * 87.0 * t)) * np.sin(2 * np.pi * 3000.0 * t) + 0.1 * _noise(8192, 5)
    f, p = spectra.squared_envelope_spectrum(x, FS, (2000.0, 4000.0), whiten=False)
    e2 = _scipy_envelope(x - x.mean(), 2000.0, 4000.0) ** 2
    # reference: full-length squared envelope, Hann-weighted, its power spectrum; kernel is decimated, same bins
    ref = np.abs(np.fft.rfft((e2 - e2.mean()) * signal.get_window("hann", e2.size))) ** 2
    ratio = ref[1:p.size] / (p[1:] * (1.0 - np.arange(1, p.size) / (p.size / spectra.SES_USABLE)))
    k87 = int(round(87.0 / (FS / 8192)))
    assert f[1] == pytest.approx(FS / 8192)
    assert np.argmax(p[5:]) + 5 == np.argmax(ref[5:p.size]) + 5 == k87
    # same shape up to one scale factor wherever there is content
    big = ref[1:p.size] > 1e-6 * ref[1:p.size].max()
    dev = np.abs(np.log(ratio[big] / np.median(ratio[big])))
    assert np.mean(dev < 0.05) > 0.95  # (the last few bins differ: the two Hann windows have different lengths)


def test_tail_probabilities_match_scipy():
    for y, k in [(0.5, 1), (3.0, 1), (20.0, 4), (400.0, 10)]:
        assert K.log_gamma_sf(y, k) == pytest.approx(stats.gamma.logsf(y, k), rel=1e-9, abs=1e-12)
    for s, h in [(4.0, 2), (30.0, 4), (900.0, 6)]:
        assert K.log_chi2_sf_even(s, h) == pytest.approx(stats.chi2.logsf(s, 2 * h), rel=1e-9)
    assert K.log_any_of(np.log(0.01), 5) == pytest.approx(np.log(1 - 0.99 ** 5), rel=1e-9)


def test_peak_p_values_are_calibrated_on_noise():
    rng = np.random.default_rng(6)
    lps = []
    for _ in range(400):
        power = rng.gamma(4, 1.0, 400) / 4  # averaged over 4 windows
        bg = K.background(power, 200, 12, 2)
        lps.append(K.peak_log_p(power, 200, 1, bg, 4)[2])
    p = np.exp(lps)
    assert 0.05 < np.mean(p < 0.1) < 0.16 and np.mean(p < 0.01) < 0.03  # roughly uniform under the null


def test_shaft_harmonics_are_notched_to_their_local_median():
    rng = np.random.default_rng(11)
    power = rng.exponential(1.0, 600)
    df, fr, tol = 0.75, 29.9, 0.002
    power[np.rint(np.arange(1, 15) * fr / df).astype(int)] += 80.0
    protect = np.zeros(power.size, dtype=bool)
    protect[int(round(7 * fr / df)) + 1] = True  # a bin a family expects its own line in
    out = K.notch_harmonics(power, fr, df, tol, 12, protect)
    # the same notch written plainly: every multiple, a width growing with the harmonic, the median around it
    want = power.copy()
    for k in range(1, int((power.size - 1) * df / fr) + 1):
        c, w = int(round(k * fr / df)), 1 + int(np.floor(k * fr * tol / df))
        if protect[c - w:c + w + 1].any():
            continue
        around = [j for j in range(max(1, c - 12 - w), min(power.size - 1, c + 12 + w) + 1) if abs(j - c) > w]
        want[max(1, c - w):min(power.size - 1, c + w) + 1] = np.median(power[around])
    assert np.allclose(out, want)
    assert out[int(round(7 * fr / df))] > 80.0  # kept where protected
    assert np.sort(out)[-2] < 10.0 and np.array_equal(power[5:30], out[5:30])  # between the notches nothing moves


def test_velocity_rms_matches_time_domain_integration():
    t = np.arange(int(4 * FS)) / FS
    a_g = 0.2 * np.sin(2 * np.pi * 29.95 * t) + 0.05 * np.sin(2 * np.pi * 180.0 * t) + 0.3 * np.sin(2 * np.pi * 3000 * t)
    v = velocity_rms(a_g, FS)
    sos = signal.butter(4, [10.0, 1000.0], "bandpass", fs=FS, output="sos")
    vel = integrate.cumulative_trapezoid(signal.sosfiltfilt(sos, a_g * 9.80665), dx=1 / FS, initial=0.0)
    vel = signal.sosfiltfilt(sos, vel)[int(FS):-int(FS)] * 1000.0
    assert v == pytest.approx(np.sqrt(np.mean(vel ** 2)), rel=0.02)
    assert iso_zone(v, 2, "rigid") == "D" and iso_zone(1.0) == "A" and iso_zone(3.0, 1, "flexible") == "A"
    with pytest.raises(ValueError, match="no ISO 20816-3 zone limits"):
        iso_zone(1.0, group=3)


@pytest.mark.parametrize("rpm", [900.0, 1797.0, 2900.0])
def test_shaft_speed_estimated_from_the_spectrum(rpm):
    m = RotatingMachine("s", fs=FS, rpm=rpm, seed=8)
    assert estimate_shaft_hz(m.next_block(1 << 16), FS) == pytest.approx(rpm / 60.0, rel=0.005)


def test_wrappers_reject_bad_input():
    with pytest.raises(ValueError, match="finite"):
        spectra.kurtogram(np.r_[np.zeros(2000), np.nan], FS)
    with pytest.raises(ValueError, match="band must satisfy"):
        spectra.squared_envelope_spectrum(_noise(4096), FS, (5000.0, 7000.0))
    with pytest.raises(ValueError, match="AR order"):
        spectra.whiten_spectrum(np.fft.rfft(_noise(1024)), 1024, 300)
