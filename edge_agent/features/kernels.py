"""Compiled feature kernels (private: call the wrappers in ``features``).

Every kernel takes a contiguous 1-D float64 array already validated by its
public wrapper. ``numpy.fft`` works inside ``@njit`` through the
``rocket-fft`` package, so the envelope chain runs as one compiled call.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def time_stats(x):
    """Return (mean, rms, peak, peak_to_peak, crest, kurtosis) in two passes."""
    n = x.size
    s = 0.0
    for i in range(n):
        s += x[i]
    mean = s / n
    m2 = 0.0
    m4 = 0.0
    sq = 0.0
    peak = 0.0
    lo = x[0]
    hi = x[0]
    for i in range(n):
        v = x[i]
        d = v - mean
        d2 = d * d
        m2 += d2
        m4 += d2 * d2
        sq += v * v
        a = abs(v)
        if a > peak:
            peak = a
        if v < lo:
            lo = v
        if v > hi:
            hi = v
    rms = np.sqrt(sq / n)
    m2 /= n
    m4 /= n
    crest = peak / rms if rms > 0.0 else 0.0
    kurt = m4 / (m2 * m2) if m2 > 0.0 else 0.0
    return mean, rms, peak, hi - lo, crest, kurt


@njit(cache=True, nogil=True)
def envelope_spectrum(x, fs, f_lo, f_hi):
    """Amplitude spectrum of the envelope of ``x`` band-passed to [f_lo, f_hi].

    Band-pass and analytic signal in one step: keep the positive-frequency
    bins of the band, doubled, and invert — the magnitude of that complex
    signal is the envelope (Hilbert transform done in the frequency domain).
    """
    n = x.size
    spec = np.fft.rfft(x)
    k_lo = int(np.ceil(f_lo * n / fs))
    k_hi = int(np.floor(f_hi * n / fs))
    if k_lo < 1:
        k_lo = 1
    if k_hi > n // 2 - 1:
        k_hi = n // 2 - 1
    analytic = np.zeros(n, dtype=np.complex128)
    for k in range(k_lo, k_hi + 1):
        analytic[k] = 2.0 * spec[k]
    z = np.fft.ifft(analytic)
    env = np.abs(z)
    env -= env.mean()
    return np.abs(np.fft.rfft(env)) * (2.0 / n)


@njit(cache=True, nogil=True)
def peak_near(amps, df, f, tol):
    """Largest amplitude within ``f * (1 ± tol)`` of a spectrum with bin width ``df``."""
    k_lo = int(np.floor(f * (1.0 - tol) / df))
    k_hi = int(np.ceil(f * (1.0 + tol) / df))
    if k_lo < 1:
        k_lo = 1
    if k_hi > amps.size - 1:
        k_hi = amps.size - 1
    best = 0.0
    for k in range(k_lo, k_hi + 1):
        if amps[k] > best:
            best = amps[k]
    return best
