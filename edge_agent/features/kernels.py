"""Feature kernels (private: call the validating wrappers instead).

Every function takes contiguous float64 arrays already checked by its
public wrapper (:mod:`~edge_agent.features.time_domain`,
:mod:`~edge_agent.features.spectral`, :mod:`~edge_agent.features.motor`).
The arithmetic runs in the compiled kernels of :mod:`edge_agent.kernels`
(ahead of time, or numba's JIT as a fallback); FFTs are numpy's, called
between kernels. The line-amplitude correction is described in
:mod:`edge_agent.kernels.source`.
"""

from __future__ import annotations

import numpy as np

from edge_agent.kernels import load

_k = load()


def time_domain(x):
    """(mean, rms, peak, peak_to_peak, crest, kurtosis, skewness, shape, impulse) of a float64 signal."""
    return _k.time_domain(x)


def hann_spectrum(x, window):
    """Complex one-sided spectrum of ``(x − mean) · window``."""
    return np.fft.rfft(_k.detrend_window(x, window))


def spectral(x, window, s1, s2, fs, bands, orders_hz, tol):
    """Band energies, centroid and order amplitudes of one window in one FFT (see ``source.spectral``)."""
    return _k.spectral(hann_spectrum(x, window), x.size, s1, s2, float(fs), np.ascontiguousarray(bands),
                       orders_hz, float(tol))


def motor_current(i3, window, fs, supply_hz, tol, n_harmonics, sb_lo, sb_hi, sb_half):
    """Per-phase RMS, phasors, fundamental, THD and sidebands (see ``source.motor_current``)."""
    specs = np.fft.rfft((i3 - i3.mean(axis=1, keepdims=True)) * window, axis=1)
    return _k.motor_current(i3, specs, 2.0 / float(window.sum()), float(fs), float(supply_hz), float(tol),
                            int(n_harmonics), float(sb_lo), float(sb_hi), float(sb_half))


def envelope_spectrum(x, fs, f_lo, f_hi):
    """Amplitude spectrum of the envelope of ``x`` band-passed to [f_lo, f_hi].

    Band-pass and analytic signal in one step: keep the positive-frequency
    bins of the band, doubled, and invert — the magnitude of that complex
    signal is the envelope (Hilbert transform done in the frequency domain).
    """
    n = x.size
    z = np.fft.ifft(_k.analytic_band(np.fft.rfft(x), n, float(fs), float(f_lo), float(f_hi)))
    env = _k.magnitude(z, 1.0)
    env -= env.mean()
    return _k.magnitude(np.fft.rfft(env), 2.0 / n)


def peak_near(amps, df, f, tol):
    """Largest amplitude within ``f * (1 ± tol)`` of a spectrum with bin width ``df``."""
    return _k.peak_near(amps, float(df), float(f), float(tol))
