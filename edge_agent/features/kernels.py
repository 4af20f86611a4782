"""Compiled feature kernels (private: call the validating wrappers instead).

Every kernel takes contiguous float64 arrays already checked by its public
wrapper (:mod:`~edge_agent.features.time_domain`,
:mod:`~edge_agent.features.spectral`, :mod:`~edge_agent.features.motor`).
``numpy.fft`` works inside ``@njit`` through the ``rocket-fft`` package, so
a whole feature group runs as one compiled call. Compiled code is cached on
disk (``cache=True``) so an edge agent starts fast.

Spectra use the periodic Hann window, whose amplitude response at ``δ``
bins from a line is ``sin(πδ) / (πδ(1 − δ²))`` (Harris 1978). A line's
amplitude is read from its largest bin and corrected by that response, with
``δ`` estimated from the ratio of the two largest bins (Grandke 1983,
"Interpolation algorithms for discrete Fourier transforms of weighted
signals", IEEE Trans. Instrum. Meas. 32(2)): a sine of amplitude ``A`` reads
``A`` wherever it falls between bins.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# --------------------------------------------------------------- time domain


@njit(cache=True, nogil=True, fastmath=True)
def time_domain(x):
    """(mean, rms, peak, peak_to_peak, crest, kurtosis, skewness, shape, impulse) in two passes.

    ``fastmath`` lets the sums vectorise (reassociated: results differ from a
    sequential sum by rounding only); inputs are checked finite beforehand.
    """
    n = x.size
    s = 0.0
    for i in range(n):
        s += x[i]
    mean = s / n
    m2 = 0.0
    m3 = 0.0
    m4 = 0.0
    sq = 0.0
    sabs = 0.0
    lo = x[0]
    hi = x[0]
    for i in range(n):
        v = x[i]
        d = v - mean
        d2 = d * d
        m2 += d2
        m3 += d2 * d
        m4 += d2 * d2
        sq += v * v
        sabs += abs(v)
        lo = min(lo, v)
        hi = max(hi, v)
    peak = max(-lo, hi)
    rms = np.sqrt(sq / n)
    m2 /= n
    m3 /= n
    m4 /= n
    mabs = sabs / n
    crest = peak / rms if rms > 0.0 else 0.0
    kurt = m4 / (m2 * m2) if m2 > 0.0 else 0.0
    skew = m3 / m2**1.5 if m2 > 0.0 else 0.0
    shape = rms / mabs if mabs > 0.0 else 0.0
    impulse = peak / mabs if mabs > 0.0 else 0.0
    return mean, rms, peak, hi - lo, crest, kurt, skew, shape, impulse


# ------------------------------------------------------------------ spectra


@njit(cache=True, nogil=True, fastmath=True)
def hann_spectrum(x, window):
    """Complex one-sided spectrum of ``(x − mean) · window``."""
    return np.fft.rfft((x - x.mean()) * window)


@njit(cache=True, nogil=True)
def _hann_gain(delta):
    """Amplitude response of the periodic Hann window ``delta`` bins off a line (1 at 0)."""
    if delta < 1e-9:
        return 1.0
    pd = np.pi * delta
    return np.sin(pd) / (pd * (1.0 - delta * delta))


@njit(cache=True, nogil=True)
def line(p2, df, f_lo, f_hi, scale):
    """(amplitude, frequency) of the largest line in [f_lo, f_hi] of a Hann spectrum.

    ``p2`` holds the squared magnitudes ``|X[k]|²`` and ``scale`` turns a
    magnitude into an amplitude (``2 / sum(window)``). The search covers
    the bins bracketing the range, so a line anywhere in it has its nearest
    bin searched; the amplitude and frequency are corrected for where the
    line falls between bins.
    """
    last = p2.size - 1
    k_lo = min(last, max(0, int(np.floor(f_lo / df))))
    k_hi = min(last, max(k_lo, int(np.ceil(f_hi / df))))
    k = k_lo
    for j in range(k_lo, k_hi + 1):
        if p2[j] > p2[k]:
            k = j
    a = np.sqrt(p2[k])
    if a <= 0.0:
        return 0.0, k * df
    left = np.sqrt(p2[k - 1]) if k > 0 else 0.0
    right = np.sqrt(p2[k + 1]) if k < last else 0.0
    side = 1.0 if right >= left else -1.0
    alpha = max(left, right) / a
    delta = min(max((2.0 * alpha - 1.0) / (alpha + 1.0), 0.0), 0.5)
    return scale * a / _hann_gain(delta), (k + side * delta) * df


@njit(cache=True, nogil=True, fastmath=True)
def spectral(x, window, s1, s2, fs, bands, orders_hz, tol):
    """Band energies, centroid and order amplitudes of one window in one FFT.

    Returns ``(energies, centroid, order_amps)``: mean-square content of each
    ``[lo, hi)`` band of ``bands`` (a band ending at ``fs/2`` includes it) (one-sided periodogram density times bin
    width, as ``scipy.signal.periodogram(x, fs, "hann")``), the power-weighted
    mean frequency, and the amplitude of the largest line within
    ``f·(1 ± tol)`` of each frequency in ``orders_hz``.
    """
    n = x.size
    spec = hann_spectrum(x, window)
    m = spec.size
    scale = 2.0 / s1
    df = fs / n
    p2 = np.empty(m)
    for k in range(m):
        p2[k] = spec[k].real * spec[k].real + spec[k].imag * spec[k].imag
    # one-sided density: bins other than DC and (even n) Nyquist count twice
    p2_total = 2.0 * p2.sum() - p2[0] - (p2[m - 1] if n % 2 == 0 else 0.0)
    density = 1.0 / (fs * s2)
    energies = np.zeros(bands.shape[0])
    for b in range(bands.shape[0]):
        k_lo = max(0, int(np.ceil(bands[b, 0] / df - 1e-9)))
        k_hi = m if bands[b, 1] >= fs / 2.0 else int(np.ceil(bands[b, 1] / df - 1e-9))
        e = 0.0
        for k in range(k_lo, k_hi):
            e += p2[k]
        e *= 2.0
        if k_lo == 0:
            e -= p2[0]
        if k_hi == m and n % 2 == 0:
            e -= p2[m - 1]
        energies[b] = e * density * df
    moment = 0.0
    for k in range(m):
        moment += k * p2[k]
    moment = 2.0 * moment - ((m - 1) * p2[m - 1] if n % 2 == 0 else 0.0)
    centroid = moment * df / p2_total if p2_total > 0.0 else 0.0
    order_amps = np.zeros(orders_hz.size)
    for i in range(orders_hz.size):
        order_amps[i] = line(p2, df, orders_hz[i] * (1.0 - tol), orders_hz[i] * (1.0 + tol), scale)[0]
    return energies, centroid, order_amps


# ------------------------------------------------------------ motor current


@njit(cache=True, nogil=True)
def motor_current(i3, window, fs, supply_hz, tol, n_harmonics, sb_lo, sb_hi, sb_half):
    """Per-phase RMS, fundamental phasors, THD and sideband amplitudes of three phase currents.

    Returns ``(rms[3], phasors[3] (complex, Hann bin at the fundamental),
    f1, a1[3], thd[3], sidebands[3, 2])``; ``sb_lo``/``sb_hi`` are the
    sideband frequencies as fractions of the measured fundamental and
    ``sb_half`` the search half-width in Hz.
    """
    n = i3.shape[1]
    df = fs / n
    rms = np.zeros(3)
    specs = np.empty((3, n // 2 + 1), dtype=np.complex128)
    p2 = np.empty((3, n // 2 + 1))
    scale = 2.0 / window.sum()
    for p in range(3):
        x = i3[p]
        sq = 0.0
        for j in range(n):
            sq += x[j] * x[j]
        rms[p] = np.sqrt(sq / n)
        specs[p] = hann_spectrum(x, window)
        p2[p] = specs[p].real ** 2 + specs[p].imag ** 2
    # locate the fundamental on the power summed over phases (robust to a weak phase)
    _, f1 = line(p2[0] + p2[1] + p2[2], df, supply_hz * (1.0 - tol), supply_hz * (1.0 + tol), scale)
    k1 = int(np.round(f1 / df))
    phasors = np.empty(3, dtype=np.complex128)
    a1 = np.zeros(3)
    thd = np.zeros(3)
    sidebands = np.zeros((3, 2))
    nyquist = fs / 2.0
    for p in range(3):
        phasors[p] = specs[p, k1]
        a1[p] = line(p2[p], df, f1 - df, f1 + df, scale)[0]
        h2 = 0.0
        for h in range(2, n_harmonics + 1):
            fh = h * f1
            if fh + 2.0 * df >= nyquist:
                break
            ah = line(p2[p], df, fh - 2.0 * df, fh + 2.0 * df, scale)[0]
            h2 += ah * ah
        thd[p] = np.sqrt(h2) / a1[p] if a1[p] > 0.0 else 0.0
        for s in range(2):
            fs_b = (sb_lo if s == 0 else sb_hi) * f1
            sidebands[p, s] = line(p2[p], df, fs_b - sb_half, fs_b + sb_half, scale)[0]
    return rms, phasors, f1, a1, thd, sidebands


# --------------------------------------------------- legacy bearing features


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
    env = _magnitude(z)
    env -= env.mean()
    return _magnitude(np.fft.rfft(env)) * (2.0 / n)


@njit(cache=True, nogil=True, fastmath=True)
def _magnitude(z):
    """``|z|`` as ``sqrt(re² + im²)``: several times faster than ``np.abs`` (a careful hypot)."""
    out = np.empty(z.size)
    for k in range(z.size):
        out[k] = np.sqrt(z[k].real * z[k].real + z[k].imag * z[k].imag)
    return out


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
