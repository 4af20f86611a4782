"""Kernel source: plain Python over numpy arrays, compiled by numba ahead of time or just in time.

Nothing here imports numba: :mod:`edge_agent.kernels.build` compiles these
functions into an extension module (no numba at run time), and
:mod:`edge_agent.kernels.jit` compiles them with ``numba.njit`` when that
module is missing. :data:`EXPORTS` names the entry points and their numba
signatures; :data:`HELPERS` the functions they call (compiled first, in
that order, so that a kernel's callees are compiled functions too).

No kernel calls an FFT: the feature wrappers (:mod:`edge_agent.features`)
call ``numpy.fft`` between kernels, so compiled code never needs an FFT
of its own (rocket-fft's ``numpy.fft`` in an AOT module crashed here).

Spectra use the periodic Hann window, whose amplitude response at ``δ``
bins from a line is ``sin(πδ) / (πδ(1 − δ²))`` (Harris 1978). A line's
amplitude is read from its largest bin and corrected by that response, with
``δ`` estimated from the ratio of the two largest bins (Grandke 1983,
"Interpolation algorithms for discrete Fourier transforms of weighted
signals", IEEE Trans. Instrum. Meas. 32(2)): a sine of amplitude ``A`` reads
``A`` wherever it falls between bins.

Half-Space Trees use heap layout: node ``i`` has children ``2i+1`` and
``2i+2``; the first ``2**height - 1`` nodes are branches, the rest leaves.
``split[t, i]`` holds (threshold, feature index) of branch ``i`` of tree
``t``, ``mass[t, i]`` the two mass counts of node ``i``: the latest window's
(``l_mass``) in plane ``lat`` and the reference (``r_mass``) in the other. A NaN feature value means "missing".
"""

from __future__ import annotations

import math

import numpy as np

HST_PADDING = 0.15  # river.tree.padded: splits avoid the outer 15 % of a node's range

# ------------------------------------------------------------- time domain


def time_domain(x):
    """(mean, rms, peak, peak_to_peak, crest, kurtosis, skewness, shape, impulse) in two passes."""
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


def detrend_window(x, window):
    """``(x − mean(x)) · window``, the input of a Hann spectrum."""
    n = x.size
    s = 0.0
    for i in range(n):
        s += x[i]
    mean = s / n
    out = np.empty(n)
    for i in range(n):
        out[i] = (x[i] - mean) * window[i]
    return out


# ------------------------------------------------------------------ spectra


def power(spec):
    """``|X[k]|²`` of a complex spectrum."""
    out = np.empty(spec.size)
    for k in range(spec.size):
        out[k] = spec[k].real * spec[k].real + spec[k].imag * spec[k].imag
    return out


def magnitude(z, scale):
    """``scale · |z|`` as ``sqrt(re² + im²)`` (faster than ``np.abs``'s overflow-safe hypot)."""
    out = np.empty(z.size)
    for k in range(z.size):
        out[k] = np.sqrt(z[k].real * z[k].real + z[k].imag * z[k].imag) * scale
    return out


def hann_gain(delta):
    """Amplitude response of the periodic Hann window ``delta`` bins off a line (1 at 0)."""
    if delta < 1e-9:
        return 1.0
    pd = np.pi * delta
    return np.sin(pd) / (pd * (1.0 - delta * delta))


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
    return scale * a / hann_gain(delta), (k + side * delta) * df


def spectral(spec, n, s1, s2, fs, bands, orders_hz, tol):
    """Band energies, centroid and order amplitudes from the Hann spectrum ``spec`` of ``n`` samples.

    Returns ``(energies, centroid, order_amps)``: mean-square content of each
    ``[lo, hi)`` band of ``bands`` (a band ending at ``fs/2`` includes it)
    (one-sided periodogram density times bin width, as
    ``scipy.signal.periodogram(x, fs, "hann")``), the power-weighted mean
    frequency, and the amplitude of the largest line within ``f·(1 ± tol)``
    of each frequency in ``orders_hz``.
    """
    m = spec.size
    scale = 2.0 / s1
    df = fs / n
    p2 = power(spec)
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


def motor_current(i3, specs, scale, fs, supply_hz, tol, n_harmonics, sb_lo, sb_hi, sb_half):
    """Per-phase RMS, fundamental phasors, THD and sideband amplitudes of three phase currents.

    ``specs`` are the phases' Hann spectra and ``scale`` is ``2 / sum(window)``.
    Returns ``(rms[3], phasors[3] (complex, Hann bin at the fundamental),
    f1, a1[3], thd[3], sidebands[3, 2])``; ``sb_lo``/``sb_hi`` are the
    sideband frequencies as fractions of the measured fundamental and
    ``sb_half`` the search half-width in Hz.
    """
    n = i3.shape[1]
    m = specs.shape[1]
    df = fs / n
    rms = np.zeros(3)
    p2 = np.empty((3, m))
    for p in range(3):
        sq = 0.0
        for j in range(n):
            sq += i3[p, j] * i3[p, j]
        rms[p] = np.sqrt(sq / n)
        for k in range(m):
            p2[p, k] = specs[p, k].real * specs[p, k].real + specs[p, k].imag * specs[p, k].imag
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


# ------------------------------------------------------------------ envelope


def analytic_band(spec, n, fs, f_lo, f_hi):
    """Full-length spectrum of the analytic signal of the [f_lo, f_hi] band (bins doubled, the rest 0)."""
    k_lo = int(np.ceil(f_lo * n / fs))
    k_hi = int(np.floor(f_hi * n / fs))
    if k_lo < 1:
        k_lo = 1
    if k_hi > n // 2 - 1:
        k_hi = n // 2 - 1
    out = np.zeros(n, dtype=np.complex128)
    for k in range(k_lo, k_hi + 1):
        out[k] = 2.0 * spec[k]
    return out


def baseband(spec, n, fs, f_lo, f_hi, m):
    """The [f_lo, f_hi] band's bins (doubled) moved to bin 0 of an ``m``-point spectrum."""
    k_lo = max(1, int(np.ceil(f_lo * n / fs)))
    k_hi = min(n // 2 - 1, int(np.floor(f_hi * n / fs)), k_lo + m - 1)
    out = np.zeros(m, dtype=np.complex128)
    for k in range(k_lo, k_hi + 1):
        out[k - k_lo] = 2.0 * spec[k]
    return out


def centred_envelope(z, scale, w):
    """``(scale·|z| − mean) · w``: the windowed, mean-free envelope of a complex signal."""
    m = z.size
    env = magnitude(z, scale)
    total = 0.0
    for i in range(m):
        total += env[i]
    mean = total / m
    for i in range(m):
        env[i] = (env[i] - mean) * w[i]
    return env


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


def env_line(amps, df, f, tol):
    """(amplitude, SNR) of the largest bin in ``f·(1 ± tol)`` over the median of ``f·(1 ± 0.25)``."""
    last = amps.size - 1
    k_lo = min(last, max(1, int(np.floor(f * (1.0 - tol) / df))))
    k_hi = min(last, max(k_lo, int(np.ceil(f * (1.0 + tol) / df))))
    best = 0.0
    for k in range(k_lo, k_hi + 1):
        if amps[k] > best:
            best = amps[k]
    b_lo = min(last, max(1, int(np.floor(f * 0.75 / df))))
    b_hi = min(last, max(b_lo + 4, int(np.ceil(f * 1.25 / df))))
    background = np.median(amps[b_lo:b_hi + 1])
    snr = best / background if background > 0.0 else 0.0
    return best, snr


def env_indicators(amps, df, lines, fr, tol, harmonics):
    """Per line: amplitude, SNR, harmonic-family SNR; then the two sideband SNRs."""
    out = np.zeros(3 * lines.size + 2)
    for i in range(lines.size):
        a, s = env_line(amps, df, lines[i], tol)
        log_sum = 0.0
        for h in range(1, harmonics + 1):
            _, sh = env_line(amps, df, h * lines[i], tol)
            log_sum += np.log(max(sh, 1e-3))
        out[3 * i] = a
        out[3 * i + 1] = s
        out[3 * i + 2] = np.exp(log_sum / harmonics)
    # inner race: BPFI ± 1X sidebands; ball: 2×BSF ± FTF sidebands (mean of both sides)
    lo = env_line(amps, df, lines[1] - fr, tol)[1]
    hi = env_line(amps, df, lines[1] + fr, tol)[1]
    out[3 * lines.size] = 0.5 * (lo + hi)
    lo = env_line(amps, df, lines[2] - lines[3], tol)[1]
    hi = env_line(amps, df, lines[2] + lines[3], tol)[1]
    out[3 * lines.size + 1] = 0.5 * (lo + hi)
    return out


# -------------------------------------------------------- Half-Space Trees


def hst_build(u, lo0, hi0, height, feat, thr):
    """Grow every tree from river's random numbers, consumed in the same order.

    river's ``make_padded_tree`` visits branches in pre-order and for each
    draws ``rng.choices(features, weights=widths)`` (one ``random()``) then
    ``rng.uniform(a, b)`` (another), so ``u[t, 2k]`` and ``u[t, 2k + 1]`` are
    the draws of the ``k``-th branch visited in pre-order.
    """
    n_trees, n_branch = feat.shape
    nf = lo0.shape[0]
    lo = np.empty((max(n_branch, 1), nf))
    hi = np.empty((max(n_branch, 1), nf))
    cum = np.empty(nf)
    stack = np.empty(height + 2, dtype=np.int64)
    for t in range(n_trees):
        if n_branch == 0:
            continue
        lo[0, :] = lo0
        hi[0, :] = hi0
        top = 0
        stack[0] = 0
        k = 0
        while top >= 0:
            node = stack[top]
            top -= 1
            # random.choices: cumulative weights, bisect_right(cum, r * total, 0, nf - 1)
            acc = 0.0
            for j in range(nf):
                acc += hi[node, j] - lo[node, j]
                cum[j] = acc
            r = u[t, 2 * k] * (cum[nf - 1] + 0.0)
            a, b = 0, nf - 1
            while a < b:
                mid = (a + b) // 2
                if r < cum[mid]:
                    b = mid
                else:
                    a = mid + 1
            on = a
            # random.uniform(a + p (b - a), b - p (b - a))
            la, lb = lo[node, on], hi[node, on]
            ua = la + HST_PADDING * (lb - la)
            ub = lb - HST_PADDING * (lb - la)
            at = ua + (ub - ua) * u[t, 2 * k + 1]
            feat[t, node] = on
            thr[t, node] = at
            k += 1
            left, right = 2 * node + 1, 2 * node + 2
            if left < n_branch:
                lo[left, :] = lo[node, :]
                hi[left, :] = hi[node, :]
                hi[left, on] = at
                lo[right, :] = lo[node, :]
                hi[right, :] = hi[node, :]
                lo[right, on] = at
                top += 1
                stack[top] = right  # pushed first, visited after the whole left subtree
                top += 1
                stack[top] = left


def hst_route(split, mass, t, node, x, lat):
    """Child of branch ``node`` of tree ``t`` on the way of ``x`` (``lat``: plane of the latest masses)."""
    v = x[int(split[t, node, 1])]
    left = 2 * node + 1
    if math.isnan(v):  # missing: follow the child with more mass in the latest window, as river does
        return left + 1 if mass[t, left, lat] < mass[t, left + 1, lat] else left
    return left if v < split[t, node, 0] else left + 1


# The walks go level by level across all trees rather than tree by tree: the
# trees' memory accesses are independent, so the CPU overlaps their cache
# misses (deep levels of height-15 trees are far apart in memory). Masses
# are integers, so the order of summation does not change the score. The
# two mass planes swap roles at each window's end (``lat`` is the latest
# window's plane, ``1 - lat`` the reference): no copy, one plane zeroed.
# Zeroing a whole plane of 25 height-15 trees writes 6.5 MB every window
# (2.3 us per observation at window 250, as much as the walks), so each
# plane keeps a list of the nodes a learn made non-zero: ``touched[plane,
# tree, 0]`` counts them (-1 once the list is full: clear the whole plane)
# and ``touched[plane, tree, 1:]`` holds them; a pivot clears just those.


def hst_touch(touched, plane, t, nd):
    """Note that node ``nd`` of tree ``t`` became non-zero in mass plane ``plane``."""
    c = touched[plane, t, 0]
    if c >= 0:
        if c + 1 < touched.shape[2]:
            touched[plane, t, c + 1] = nd
            touched[plane, t, 0] = c + 1
        else:
            touched[plane, t, 0] = -1


def hst_walk(split, mass, height, size_limit, x, score, learn, lat, touched):
    """Score (reference masses) and/or learn (latest masses) ``x`` in one descent; the raw mass total."""
    n_trees = split.shape[0]
    ref = 1 - lat
    node = np.zeros(n_trees, dtype=np.int64)
    active = np.ones(n_trees, dtype=np.bool_)
    total = 0.0
    depth_pow = 1
    for _ in range(height):
        for t in range(n_trees):
            nd = node[t]
            if score and active[t]:
                r = mass[t, nd, ref]
                total += r * depth_pow
                if r < size_limit:
                    active[t] = False
            if learn:
                if mass[t, nd, lat] == 0:
                    hst_touch(touched, lat, t, nd)
                mass[t, nd, lat] += 1
            if learn or active[t]:
                node[t] = hst_route(split, mass, t, nd, x, lat)
        depth_pow <<= 1
    for t in range(n_trees):
        if score and active[t]:
            total += mass[t, node[t], ref] * depth_pow
        if learn:
            if mass[t, node[t], lat] == 0:
                hst_touch(touched, lat, t, node[t])
            mass[t, node[t], lat] += 1
    return total


def hst_score_path(split, mass, height, size_limit, x, lat, path):
    """Score ``x`` like :func:`hst_walk` and record its whole way down every tree in ``path[t, depth]``.

    The way is the one a learn of ``x`` takes right now, so
    :func:`hst_learn_path` can then learn ``x`` without routing it again.
    """
    n_trees = split.shape[0]
    ref = 1 - lat
    total = 0.0
    for t in range(n_trees):
        nd = 0
        depth_pow = 1
        active = True
        for d in range(height):
            path[t, d] = nd
            if active:
                r = mass[t, nd, ref]
                total += r * depth_pow
                if r < size_limit:
                    active = False
            nd = hst_route(split, mass, t, nd, x, lat)
            depth_pow <<= 1
        path[t, height] = nd
        if active:
            total += mass[t, nd, ref] * depth_pow
    return total


def hst_learn_path(mass, path, lat, touched):
    """Learn along recorded ways (from :func:`hst_score_path`): one count more on each node."""
    for t in range(path.shape[0]):
        for d in range(path.shape[1]):
            nd = path[t, d]
            if mass[t, nd, lat] == 0:
                hst_touch(touched, lat, t, nd)
            mass[t, nd, lat] += 1


def hst_pivot(mass, lat, touched):
    """Start a new latest window in plane ``lat`` (the other plane, just filled, is the reference).

    Clears the nodes ``touched`` lists for the plane, or the whole plane if its list overflowed.
    """
    for t in range(mass.shape[0]):
        c = touched[lat, t, 0]
        if c < 0:
            for i in range(mass.shape[1]):
                mass[t, i, lat] = 0
        else:
            for i in range(1, c + 1):
                mass[t, touched[lat, t, i], lat] = 0
        touched[lat, t, 0] = 0


def hst_score_learn_many(split, mass, height, size_limit, max_score, window_size, counter, first_window, X, lat,
                         touched):
    """Score then learn each row of ``X``; (scores, counter, first_window, lat) afterwards."""
    out = np.zeros(X.shape[0])
    for i in range(X.shape[0]):
        total = hst_walk(split, mass, height, size_limit, X[i], not first_window, True, lat, touched)
        if not first_window:
            out[i] = 1.0 - total / max_score
        counter += 1
        if counter == window_size:
            lat = 1 - lat
            hst_pivot(mass, lat, touched)
            first_window = False
            counter = 0
    return out, counter, first_window, lat


#: Functions only other kernels call, in the order they are compiled.
HELPERS = ("hann_gain", "line", "power", "magnitude", "env_line", "hst_route", "hst_touch", "hst_walk", "hst_pivot")

_C1, _C1C = "float64[::1]", "complex128[::1]"
_SPLIT, _MASS = "float64[:, :, ::1]", "int32[:, :, ::1]"
_TOUCHED = "int32[:, :, ::1]"
#: Entry points and their signatures (arrays C-contiguous; the wrappers in
#: :mod:`edge_agent.features` and :mod:`edge_agent.models.hst` pass them so).
EXPORTS = {
    "time_domain": f"UniTuple(float64, 9)({_C1})",
    "detrend_window": f"{_C1}({_C1}, {_C1})",
    "power": f"{_C1}({_C1C})",
    "magnitude": f"{_C1}({_C1C}, float64)",
    "spectral": f"Tuple(({_C1}, float64, {_C1}))({_C1C}, int64, float64, float64, float64, float64[:, ::1], "
                f"{_C1}, float64)",
    "motor_current": "Tuple((float64[::1], complex128[::1], float64, float64[::1], float64[::1], "
                     "float64[:, ::1]))(float64[:, ::1], complex128[:, ::1], float64, float64, float64, "
                     "float64, int64, float64, float64, float64)",
    "analytic_band": f"{_C1C}({_C1C}, int64, float64, float64, float64)",
    "baseband": f"{_C1C}({_C1C}, int64, float64, float64, float64, int64)",
    "centred_envelope": f"{_C1}({_C1C}, float64, {_C1})",
    "peak_near": f"float64({_C1}, float64, float64, float64)",
    "env_indicators": f"{_C1}({_C1}, float64, {_C1}, float64, float64, int64)",
    "hst_build": f"void({'float64[:, ::1]'}, {_C1}, {_C1}, int64, int64[:, ::1], float64[:, ::1])",
    "hst_walk": f"float64({_SPLIT}, {_MASS}, int64, float64, {_C1}, boolean, boolean, int64, {_TOUCHED})",
    "hst_score_path": f"float64({_SPLIT}, {_MASS}, int64, float64, {_C1}, int64, int64[:, ::1])",
    "hst_learn_path": f"void({_MASS}, int64[:, ::1], int64, {_TOUCHED})",
    "hst_pivot": f"void({_MASS}, int64, {_TOUCHED})",
    "hst_score_learn_many": f"Tuple(({_C1}, int64, boolean, int64))({_SPLIT}, {_MASS}, int64, float64, float64, "
                            f"int64, int64, boolean, float64[:, ::1], int64, {_TOUCHED})",
}
# the bearing diagnosis's kernels live in their own module and are compiled with these
from edge_agent.kernels import source_diagnosis as _diagnosis  # noqa: E402
from edge_agent.kernels.source_diagnosis import (apply_notches, band_kurtoses, centred_power,  # noqa: E402,F401
                                                 comb_search, levinson, local_median, log_any_of, log_chi2_sf_even,
                                                 log_gamma_sf, notch_harmonics, notch_levels, peak_log_p)

HELPERS = HELPERS + _diagnosis.HELPERS
EXPORTS.update(_diagnosis.EXPORTS)
#: Kernels compiled with ``fastmath`` (reassociated sums that vectorise; inputs are checked finite).
FASTMATH = frozenset({"time_domain", "detrend_window", "power", "magnitude", "spectral"})
