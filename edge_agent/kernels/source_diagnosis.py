"""Kernel source of the bearing diagnosis: AR fit, noise statistics, defect-comb search, shaft notches.

Plain Python over numpy arrays like :mod:`edge_agent.kernels.source`,
which lists these functions among its :data:`~edge_agent.kernels.source.EXPORTS`
so that they are compiled with it (ahead of time at install, numba's JIT as
the fallback). No FFT here: :mod:`edge_agent.diagnosis.kernels` calls
``numpy.fft`` between them, so an edge that diagnoses an alert does not
import numba either.

Noise model: a bin of a power spectrum averaged over ``M`` windows is
``Gamma(M) / M`` times its local mean; the mean is estimated from the local
median (median of ``Gamma(M)`` ≈ ``M − 1/3``).
"""

from __future__ import annotations

import math

import numpy as np


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


def log_chi2_sf_even(s, dof_half):
    """``ln P(χ²(2·dof_half) > s)`` (Fisher's combined statistic; closed form for even degrees of freedom)."""
    return log_gamma_sf(0.5 * s, dof_half)


def log_any_of(log_p, trials):
    """``ln(1 − (1 − p)^trials)``: chance that at least one of ``trials`` independent tests reaches ``p``."""
    if log_p < -30.0:
        return log_p + math.log(trials)
    p = math.exp(log_p)
    q = -math.expm1(trials * math.log1p(-min(p, 1.0 - 1e-16)))
    return math.log(max(q, 1e-300))


def local_median(power, k, half, guard):
    """Median of ``power`` over ``[k − half, k + half]`` without the ``±guard`` bins around ``k``."""
    last = power.size - 1
    lo = max(1, k - half)
    hi = min(last, k + half)
    if hi < lo:
        return 0.0
    buf = np.empty(hi - lo + 1)
    c = 0
    for j in range(lo, hi + 1):
        if abs(j - k) > guard:
            buf[c] = power[j]
            c += 1
    if c == 0:
        return 0.0
    return np.median(buf[:c])


def peak_log_p(power, k, spread, bg, averages):
    """(largest power in ``k ± spread``, its bin, ``ln p``) under the noise model of an averaged SES bin.

    ``p`` is the chance that noise alone puts a bin that high anywhere in
    the ``2·spread + 1`` bins searched.
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
        spread = int(round(h * f0 * (r_hi - r_lo) / df))
        bgs[h - 1] = local_median(power, int(round(h * f0 / df)), half_bg + spread, 2 + spread)
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


def notch_levels(power, f0, df, tol_rel, half_bg):
    """The notches of every harmonic ``k · f0`` in ``power``: rows ``(first bin, last bin, level)``.

    The notch around ``k · f0`` is ``±(1 + floor(k · f0 · tol_rel / df))``
    bins (the speed's uncertainty grows with the harmonic); its level is
    :func:`local_median` of ``power``, so a notch is as high as the noise
    around it and carries no evidence either way.
    """
    last = power.size - 1
    count = 0
    while (count + 1) * f0 / df < last:
        count += 1
    out = np.empty((count, 3))
    for i in range(count):
        k = i + 1
        c = int(round(k * f0 / df))
        w = 1 + int(math.floor(k * f0 * tol_rel / df))
        out[i, 0] = max(1, c - w)
        out[i, 1] = min(last, c + w)
        out[i, 2] = local_median(power, c, half_bg + w, w)
    return out


def apply_notches(power, notches, protect):
    """Copy of ``power`` with each notch of :func:`notch_levels` applied, unless it touches a ``protect`` bin."""
    out = power.copy()
    for i in range(notches.shape[0]):
        lo = int(notches[i, 0])
        hi = int(notches[i, 1])
        hit = False
        for j in range(lo, hi + 1):
            hit = hit or protect[j]
        if not hit:
            for j in range(lo, hi + 1):
                out[j] = notches[i, 2]
    return out


def notch_harmonics(power, f0, df, tol_rel, half_bg, protect):
    """Copy of ``power`` with the bins of every harmonic ``k · f0`` replaced by their local median.

    :func:`apply_notches` of :func:`notch_levels`: a notch that would touch
    a bin where ``protect`` is true is left out.
    """
    return apply_notches(power, notch_levels(power, f0, df, tol_rel, half_bg), protect)


def band_kurtoses(env):
    """Spectral kurtosis ``<|z|⁴> / <|z|²>² − 2`` of each row of complex envelopes (0 for Gaussian noise)."""
    rows, m = env.shape
    out = np.zeros(rows)
    for r in range(rows):
        s2 = 0.0
        s4 = 0.0
        for i in range(m):
            e = env[r, i].real * env[r, i].real + env[r, i].imag * env[r, i].imag
            s2 += e
            s4 += e * e
        if s2 > 0.0:
            s2 /= m
            s4 /= m
            out[r] = s4 / (s2 * s2) - 2.0
    return out


def centred_power(z, w):
    """``(|z|² − mean) · w``: the windowed, mean-free squared envelope of a complex signal."""
    m = z.size
    out = np.empty(m)
    total = 0.0
    for i in range(m):
        out[i] = z[i].real * z[i].real + z[i].imag * z[i].imag
        total += out[i]
    mean = total / m
    for i in range(m):
        out[i] = (out[i] - mean) * w[i]
    return out


#: Functions the exports call, in the order they are compiled.
HELPERS = ("log_gamma_sf", "log_any_of", "local_median", "peak_log_p", "notch_levels", "apply_notches")

_C1 = "float64[::1]"
#: Entry points and their signatures (the wrappers in :mod:`edge_agent.diagnosis.kernels` pass C-contiguous arrays).
EXPORTS = {
    "levinson": f"Tuple(({_C1}, float64))({_C1}, int64)",
    "log_gamma_sf": "float64(float64, int64)",
    "log_chi2_sf_even": "float64(float64, int64)",
    "log_any_of": "float64(float64, int64)",
    "local_median": f"float64({_C1}, int64, int64, int64)",
    "peak_log_p": f"Tuple((float64, int64, float64))({_C1}, int64, int64, float64, int64)",
    "comb_search": f"Tuple((float64, float64, int64[::1], {_C1}, {_C1}, {_C1}, int64))({_C1}, float64, float64, "
                   f"int64, float64, float64, int64, int64)",
    "notch_levels": f"float64[:, ::1]({_C1}, float64, float64, float64, int64)",
    "apply_notches": f"{_C1}({_C1}, float64[:, ::1], boolean[::1])",
    "notch_harmonics": f"{_C1}({_C1}, float64, float64, float64, int64, boolean[::1])",
    "band_kurtoses": f"{_C1}(complex128[:, ::1])",
    "centred_power": f"{_C1}(complex128[::1], {_C1})",
}
