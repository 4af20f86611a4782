"""Compiled diagnosis kernels (private: call the wrappers in :mod:`.spectra` and :mod:`.evidence`).

Every kernel takes contiguous float64 / complex128 arrays already checked
by its wrapper. ``numpy.fft`` works inside ``@njit`` through ``rocket-fft``,
so a whole window is diagnosed from one ``rfft`` and a few short inverse
transforms; compiled code is cached on disk (``cache=True``).

The chain works in the frequency domain throughout:

- pre-whitening by an autoregressive (AR) model: the autocorrelation comes
  from the power spectrum, the AR coefficients from Levinson-Durbin, and the
  residual's spectrum is the signal's spectrum times the AR polynomial's
  (Sawalhi & Randall 2007; Antoni & Randall 2006: whitening removes the
  discrete shaft and gear lines that would otherwise dominate the
  kurtogram);
- the fast kurtogram of Antoni (MSSP 21, 2007) on its 1/3-binary grid of
  bands (levels 0, 1, 1.6, 2, 2.6, ...), each band's complex envelope
  obtained with an ideal band-pass (its bins moved to baseband and inverted),
  spectral kurtosis ``SK = <|z|⁴> / <|z|²>² − 2`` (0 for Gaussian noise);
- the squared-envelope spectrum (SES) of the chosen band, which for a
  localised defect shows lines at the defect frequency and its harmonics
  (Randall & Antoni, MSSP 25, 2011).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def levinson(r, order):
    """AR polynomial ``a`` (``a[0] = 1``) and prediction-error power from autocorrelation ``r[0..order]``."""
    a = np.zeros(order + 1)
    a[0] = 1.0
    err = r[0]
    prev = np.zeros(order + 1)
    for i in range(1, order + 1):
        if err <= 0.0:
            break
        acc = r[i]
        for j in range(1, i):
            acc += a[j] * r[i - j]
        k = -acc / err
        for j in range(i):
            prev[j] = a[j]
        for j in range(1, i):
            a[j] = prev[j] + k * prev[i - j]
        a[i] = k
        err *= 1.0 - k * k
    return a, err


@njit(cache=True, nogil=True)
def whitened_spectrum(spec, n, order):
    """Spectrum of the AR(``order``) residual of a real signal, from its one-sided spectrum ``spec``.

    The autocorrelation is the inverse transform of the power spectrum
    (circular, biased — at lags ≪ n the same as the linear estimate); the
    residual ``e = a * x`` has spectrum ``A · X``, ``A`` the transform of the
    AR polynomial. The residual is circular: its first ``order`` samples wrap
    around, a negligible share of the window.
    """
    m = spec.size
    p = np.empty(m)
    for k in range(m):
        p[k] = spec[k].real * spec[k].real + spec[k].imag * spec[k].imag
    p[0] = 0.0  # mean removed
    r = np.fft.irfft(p, n)
    a, _ = levinson(r[:order + 1], order)
    apad = np.zeros(n)
    apad[:order + 1] = a
    big_a = np.fft.rfft(apad)
    out = np.empty(m, dtype=np.complex128)
    for k in range(m):
        out[k] = spec[k] * big_a[k]
    out[0] = 0.0
    return out


@njit(cache=True, nogil=True)
def _pow2_at_least(v):
    m = 1
    while m < v:
        m *= 2
    return m


@njit(cache=True, nogil=True)
def band_envelope(spec, k_lo, k_hi, m):
    """Complex envelope (length ``m``) of the band of bins ``[k_lo, k_hi)`` of a one-sided spectrum.

    Equals the analytic signal of the ideally band-passed signal shifted to
    baseband, decimated to ``m`` samples over the same duration, up to the
    factor ``m / n`` (callers use ratios, so it cancels).
    """
    base = np.zeros(m, dtype=np.complex128)
    for k in range(k_lo, k_hi):
        base[k - k_lo] = spec[k]
    return np.fft.ifft(base)


@njit(cache=True, nogil=True)
def spectral_kurtosis(z):
    """``<|z|⁴> / <|z|²>² − 2`` of a complex envelope (0 for complex Gaussian noise)."""
    s2 = 0.0
    s4 = 0.0
    for i in range(z.size):
        e = z[i].real * z[i].real + z[i].imag * z[i].imag
        s2 += e
        s4 += e * e
    if s2 <= 0.0:
        return 0.0
    s2 /= z.size
    s4 /= z.size
    return s4 / (s2 * s2) - 2.0


@njit(cache=True, nogil=True)
def kurtogram(spec, levels, min_bins):
    """Spectral kurtosis on the 1/3-binary grid: rows are levels 0, 1, 1.6, 2, 2.6, …, ``levels + 0.6``.

    Row ``2l - 1`` (level ``l``) splits the one-sided spectrum into ``2**l``
    bands, row ``2l`` (level ``l + 0.6``) into ``3 · 2**(l-1)``; a cell
    is ``nan`` where the row has fewer bands or the band is narrower than
    ``min_bins`` bins. Returns ``(sk, n_bands)``: an array of shape
    ``(2·levels + 1, 3·2**(levels-1))`` and the band count of each row.
    """
    m = spec.size - 1  # bins 0..m-1 tile [0, fs/2)
    rows = 2 * levels + 1
    cols = 3 * 2 ** max(levels - 1, 0) if levels > 0 else 1
    sk = np.full((rows, max(cols, 1)), np.nan)
    counts = np.zeros(rows, dtype=np.int64)
    for r in range(rows):
        if r == 0:
            nb = 1
        elif r % 2 == 1:
            nb = 2 ** ((r + 1) // 2)
        else:
            nb = 3 * 2 ** (r // 2 - 1)
        counts[r] = nb
        width = m / nb
        if width < min_bins:
            continue
        mm = _pow2_at_least(int(math.ceil(width)))
        for b in range(nb):
            k_lo = int(round(b * width))
            k_hi = int(round((b + 1) * width))
            if k_lo < 1:
                k_lo = 1
            z = band_envelope(spec, k_lo, k_hi, mm)
            sk[r, b] = spectral_kurtosis(z)
    return sk, counts


@njit(cache=True, nogil=True)
def squared_envelope_power(spec, k_lo, k_hi, window):
    """Power spectrum ``|SES|²`` of the band ``[k_lo, k_hi)``: bins of ``fs / n`` Hz, up to the band's width.

    The squared envelope ``|z|²`` of the band spans twice the band's width in
    frequency, so it is formed at ``len(window) ≥ 2 (k_hi − k_lo)`` points;
    its mean is removed and it is weighted by ``window`` before the
    transform. The scale is arbitrary (tests use ratios).
    """
    m = window.size
    z = band_envelope(spec, k_lo, k_hi, m)
    e = np.empty(m)
    mean = 0.0
    for i in range(m):
        e[i] = z[i].real * z[i].real + z[i].imag * z[i].imag
        mean += e[i]
    mean /= m
    for i in range(m):
        e[i] = (e[i] - mean) * window[i]
    s = np.fft.rfft(e)
    out = np.empty(s.size)
    for k in range(s.size):
        out[k] = s[k].real * s[k].real + s[k].imag * s[k].imag
    return out


# ---------------------------------------------------------------- statistics


@njit(cache=True, nogil=True)
def log_gamma_sf(y, shape):
    """``ln P(G > y)`` for ``G ~ Gamma(shape, 1)``, integer ``shape`` (Erlang tail, in log domain)."""
    if y <= 0.0:
        return 0.0
    ly = math.log(y)
    best = -np.inf
    terms = np.empty(shape)
    for j in range(shape):
        terms[j] = j * ly - math.lgamma(j + 1.0)
        if terms[j] > best:
            best = terms[j]
    s = 0.0
    for j in range(shape):
        s += math.exp(terms[j] - best)
    return min(0.0, -y + best + math.log(s))


@njit(cache=True, nogil=True)
def log_any_of(log_p, trials):
    """``ln(1 − (1 − p)^trials)``: chance that at least one of ``trials`` independent tests reaches ``p``."""
    if log_p < -30.0:
        return log_p + math.log(trials)
    p = math.exp(log_p)
    q = -math.expm1(trials * math.log1p(-min(p, 1.0 - 1e-16)))
    return math.log(max(q, 1e-300))


@njit(cache=True, nogil=True)
def _median(a):
    return np.median(a)


@njit(cache=True, nogil=True)
def background(power, k, half, guard):
    """Median of ``power`` over ``[k − half, k + half]`` without the ``±guard`` bins around ``k``."""
    last = power.size - 1
    lo = max(1, k - half)
    hi = min(last, k + half)
    buf = np.empty(hi - lo + 1)
    c = 0
    for j in range(lo, hi + 1):
        if abs(j - k) > guard:
            buf[c] = power[j]
            c += 1
    if c == 0:
        return 0.0
    return _median(buf[:c])


@njit(cache=True, nogil=True)
def peak_log_p(power, k, spread, bg, averages):
    """(largest power in ``k ± spread``, its bin, ``ln p``) under the noise model of an averaged SES bin.

    Noise bins of a power spectrum averaged over ``averages`` windows follow
    ``Gamma(averages) / averages`` times their mean; the mean is estimated
    from the local median ``bg`` (median of Gamma(M) ≈ M − 1/3). ``p`` is the
    chance that noise alone puts a bin that high anywhere in the
    ``2·spread + 1`` bins searched.
    """
    last = power.size - 1
    best = -1.0
    kb = k
    for j in range(max(1, k - spread), min(last, k + spread) + 1):
        if power[j] > best:
            best = power[j]
            kb = j
    if bg <= 0.0 or best <= 0.0:
        return max(best, 0.0), kb, 0.0
    med = averages - 1.0 / 3.0 + 0.02 / averages
    y = best / bg * med
    return best, kb, log_any_of(log_gamma_sf(y, averages), 2 * spread + 1)


@njit(cache=True, nogil=True)
def comb_search(power, df, f0, harmonics, r_lo, r_hi, averages, half_bg):
    """Best slip ratio of the harmonic comb ``h · r · f0`` (h = 1..harmonics) and its per-harmonic evidence.

    For each ratio ``r`` on a grid fine enough that the highest harmonic
    moves by at most one bin, the ``ln p`` of the harmonics (:func:`peak_log_p`,
    ±1 bin) are summed (Fisher); the best ratio wins. Returns
    ``(r, fisher, bins, powers, log_ps, backgrounds, trials)`` where
    ``fisher = −2 Σ ln p`` and ``trials`` the number of ratios tried.
    """
    last = power.size - 2
    hmax = 0
    for h in range(1, harmonics + 1):
        if h * r_hi * f0 / df + half_bg < last:
            hmax = h
    bins = np.zeros(harmonics, dtype=np.int64)
    pows = np.zeros(harmonics)
    lps = np.zeros(harmonics)
    bgs = np.zeros(harmonics)
    if hmax == 0:
        return 1.0, 0.0, bins, pows, lps, bgs, 1
    for h in range(1, hmax + 1):
        bgs[h - 1] = background(power, int(round(h * f0 / df)), half_bg + int(round(h * f0 * (r_hi - r_lo) / df)),
                                2 + int(round(h * f0 * (r_hi - r_lo) / df)))
    step = df / (hmax * f0)
    trials = max(1, int(math.ceil((r_hi - r_lo) / step)) + 1)
    best_s = -1.0
    best_r = 1.0
    for t in range(trials):
        r = r_lo + t * step if trials > 1 else 0.5 * (r_lo + r_hi)
        s = 0.0
        for h in range(1, hmax + 1):
            k = int(round(h * r * f0 / df))
            _, _, lp = peak_log_p(power, k, 1, bgs[h - 1], averages)
            s += -2.0 * lp
        if s > best_s:
            best_s = s
            best_r = r
    for h in range(1, hmax + 1):
        k = int(round(h * best_r * f0 / df))
        pw, kb, lp = peak_log_p(power, k, 1, bgs[h - 1], averages)
        bins[h - 1] = kb
        pows[h - 1] = pw
        lps[h - 1] = lp
    return best_r, best_s, bins, pows, lps, bgs, trials


@njit(cache=True, nogil=True)
def log_chi2_sf_even(s, dof_half):
    """``ln P(χ²(2·dof_half) > s)`` (Fisher's combined statistic; closed form for even degrees of freedom)."""
    return log_gamma_sf(0.5 * s, dof_half)
