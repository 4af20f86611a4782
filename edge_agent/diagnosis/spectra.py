"""Validating wrappers around the diagnosis kernels: whitening, kurtogram, squared-envelope spectrum.

Each function checks its input (1-D, finite, long enough; bands inside
``(0, fs/2)``) and calls the compiled kernels of :mod:`.kernels`.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> fs = 12000.0
>>> t = np.arange(16384) / fs
>>> bursts = (np.sin(2 * np.pi * 107.0 * t) > 0.995) * np.sin(2 * np.pi * 4200.0 * t) * 3.0
>>> k = kurtogram(rng.normal(0, 0.3, t.size) + bursts, fs)
>>> k.band[0] < 4200.0 < k.band[1]
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

import numpy as np
from scipy import fft as _fft

from edge_agent.diagnosis import kernels as K
from edge_agent.features.validation import as_signal, check_positive

#: AR order of the pre-whitening model (enough poles for the few discrete lines and modes of a machine).
AR_ORDER = 32
#: False-alarm rate of the kurtogram's significance test over all its cells (Bonferroni).
KURTOSIS_ALPHA = 0.01
#: Share of a band's width over which its squared-envelope spectrum is kept.
SES_USABLE = 0.8


def spectrum(x, name: str = "x") -> tuple[np.ndarray, int]:
    """One-sided spectrum of ``x`` with its mean removed, and ``len(x)``."""
    sig = as_signal(x, name, min_len=256)
    return _fft.rfft(sig - sig.mean()), sig.size


def high_pass(spec: np.ndarray, n: int, fs: float, f_hz: float) -> np.ndarray:
    """Copy of a one-sided spectrum with the bins below ``f_hz`` set to zero (an ideal high-pass)."""
    out = np.array(spec, dtype=np.complex128)
    out[:max(0, min(out.size, int(math.ceil(f_hz * n / fs))))] = 0.0
    return out


def whiten_spectrum(spec: np.ndarray, n: int, order: int = AR_ORDER) -> np.ndarray:
    """Spectrum of the AR(``order``) residual of the signal whose spectrum is ``spec`` (see :func:`prewhiten`)."""
    spec = np.ascontiguousarray(spec, dtype=np.complex128)
    if spec.ndim != 1 or spec.size != n // 2 + 1:
        raise ValueError(f"spec must be the rfft of a length-{n} signal ({n // 2 + 1} bins), got {spec.shape}")
    if not 1 <= order < n // 4:
        raise ValueError(f"AR order must lie in 1..{n // 4 - 1} for {n} samples, got {order}")
    return K.whitened_spectrum(spec, n, int(order))


def prewhiten(x, order: int = AR_ORDER) -> np.ndarray:
    """Residual of an AR(``order``) model of ``x`` (circular): discrete lines removed, impulses kept.

    The AR coefficients follow from the autocorrelation by Levinson-Durbin;
    the residual is what the model cannot predict — random noise and the
    impulses of a defect — so a kurtogram of it is not fooled by shaft or
    gear harmonics (Sawalhi & Randall 2007).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(4096) / 12000.0
    >>> x = np.sin(2 * np.pi * 29.95 * t) + np.random.default_rng(0).normal(0, 0.01, t.size)
    >>> float(np.std(prewhiten(x))) < 0.05 * float(np.std(x))
    True
    """
    spec, n = spectrum(x)
    return np.fft.irfft(whiten_spectrum(spec, n, order), n)


@dataclass(frozen=True)
class Kurtogram:
    """Spectral kurtosis of the 1/3-binary band grid and the band it picks.

    Attributes
    ----------
    sk : numpy.ndarray
        ``(rows, cols)``; row 0 is level 0 (one band), row ``2l − 1``
        level ``l`` (``2**l`` bands), row ``2l`` level ``l + 0.6``
        (``3·2**(l−1)`` bands); ``nan`` where a row has fewer bands or the
        band is too narrow.
    band : (float, float)
        Band picked: the most significant kurtosis (:func:`pick_band`), Hz.
    level : float
        Its level (0, 1, 1.6, 2, 2.6, …).
    kurtosis : float
        Its spectral kurtosis.
    significance : float
        That kurtosis over its standard error in Gaussian noise
        (``2 / √bins``): how many standard errors it stands out.
    """

    sk: np.ndarray
    band: tuple[float, float]
    level: float
    kurtosis: float
    significance: float = 0.0


def kurtogram_levels(n: int, fs: float, min_width_hz: float) -> int:
    """Deepest dyadic level whose bands are at least ``min_width_hz`` wide (at least 1, at most 7)."""
    width = fs / 2.0
    level = 0
    while level < 7 and width / 2.0 >= min_width_hz and (n // 2) / 2 ** (level + 1) >= 16:
        width /= 2.0
        level += 1
    return max(level, 1)


def kurtogram_of_spectrum(spec: np.ndarray, n: int, fs: float, min_width_hz: float = 0.0,
                          levels: int | None = None, floor_hz: float = 0.0) -> Kurtogram:
    """Fast kurtogram from a (whitened) one-sided spectrum; see :func:`kurtogram`.

    ``floor_hz`` is where the spectrum's content starts (a high-pass
    applied before, :func:`high_pass`): see :func:`pick_band`.
    """
    fs = check_positive(fs, "fs")
    spec = np.ascontiguousarray(spec, dtype=np.complex128)
    levels = kurtogram_levels(n, fs, min_width_hz) if levels is None else int(levels)
    df = fs / n
    min_bins = max(8, int(math.ceil(min_width_hz / df)))
    sk, counts = K.kurtogram(spec, levels, min_bins)
    return pick_band(sk, counts, spec.size - 1, df, floor_hz, min_width_hz)


def pick_band(sk: np.ndarray, counts: np.ndarray, bins: int, df: float, floor_hz: float = 0.0,
              min_width_hz: float = 0.0, averages: int = 1) -> Kurtogram:
    """The cell of largest significant kurtosis of a kurtogram map (rows as :class:`Kurtogram`), as a band in Hz.

    The spectral kurtosis of Gaussian noise in a band of ``M`` bins
    scatters around 0 with a standard error of about ``2 / √M`` (Antoni
    2006; ``2 / √(M·averages)`` for a map averaged over windows), so the
    narrow cells of the deep levels reach high values by chance alone. A
    cell is significant when its kurtosis exceeds that noise with a
    false-alarm rate of :data:`KURTOSIS_ALPHA` over all cells; the band is
    the significant cell of largest kurtosis. When no cell is significant
    (a weak defect, or none), the cell that comes nearest is picked: the
    largest ``SK / standard error``, which prefers a wide band to a
    narrow one of the same kurtosis.

    A spectrum high-passed at ``floor_hz`` has nothing below it: a cell
    that keeps less than ``min_width_hz`` above the floor is left out (the
    few bins left would give a noisy kurtosis and an envelope too narrow for
    the defect lines), ``M`` counts only the bins above the floor, and the
    band returned starts at the floor at the earliest.
    """
    scale, threshold = _significance(sk.shape, tuple(np.asarray(counts).tolist()), int(bins), float(df),
                                     float(floor_hz), float(min_width_hz))
    sk = np.where(np.isnan(scale), np.nan, sk)
    z = sk * scale * math.sqrt(max(int(averages), 1))
    z[np.isnan(z)] = -np.inf
    significant = z >= threshold
    scores = np.where(significant, sk, -np.inf) if significant.any() else z
    best = int(np.argmax(scores))
    if not np.isfinite(scores.flat[best]):
        raise ValueError("no kurtogram band is wide enough: lower min_width_hz or use a longer window")
    r, b = divmod(best, sk.shape[1])
    width = bins / counts[r]
    level = 0.0 if r == 0 else ((r + 1) // 2 if r % 2 == 1 else r // 2 + 0.6)
    lo = max(float(round(b * width) * df), float(floor_hz))
    return Kurtogram(sk, (lo, float(round((b + 1) * width) * df)), float(level), float(sk[r, b]),
                     float(z.flat[best]))


@lru_cache(maxsize=64)
def _significance(shape: tuple[int, int], counts: tuple[int, ...], bins: int, df: float, floor_hz: float,
                  min_width_hz: float) -> tuple[np.ndarray, float]:
    """Per cell, ``√M / 2`` (``M`` its bins above ``floor_hz``; ``nan`` for a cell left out), and the z threshold.

    Cached per geometry; the threshold is Bonferroni's over the cells kept.
    """
    scale = np.full(shape, np.nan)
    for r, nb in enumerate(counts):
        width = bins / nb
        for b in range(nb):
            kept = round((b + 1) * width) - max(round(b * width), floor_hz / df)
            if kept * df >= max(min_width_hz, df):
                scale[r, b] = math.sqrt(kept) / 2.0
    scale.flags.writeable = False
    cells = max(int(np.count_nonzero(np.isfinite(scale))), 1)
    return scale, NormalDist().inv_cdf(1.0 - KURTOSIS_ALPHA / cells)


def kurtogram(x, fs: float, min_width_hz: float = 0.0, whiten: bool = True, levels: int | None = None) -> Kurtogram:
    """Antoni's fast kurtogram of ``x``: the band where the signal is most impulsive.

    Parameters
    ----------
    x : array_like
        Acceleration, one window.
    fs : float
        Sample rate, Hz.
    min_width_hz : float
        Narrowest band considered (so its envelope holds the defect
        harmonics that are looked for).
    whiten : bool
        Pre-whiten first (:func:`prewhiten`).
    levels : int or None
        Deepest dyadic level; default from ``min_width_hz``.
    """
    spec, n = spectrum(x)
    if whiten:
        spec = whiten_spectrum(spec, n)
    return kurtogram_of_spectrum(spec, n, fs, min_width_hz, levels)


def ses_window(k_lo: int, k_hi: int) -> np.ndarray:
    """Hann window of the squared envelope of a band of bins ``[k_lo, k_hi)`` (power of two ≥ twice its width)."""
    return _hann(1 << int(math.ceil(math.log2(max(2 * (k_hi - k_lo), 16)))))


@lru_cache(maxsize=32)
def _hann(m: int) -> np.ndarray:
    w = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(m) / m)
    w.flags.writeable = False
    return w


def band_bins(band: tuple[float, float], n: int, fs: float) -> tuple[int, int]:
    """Bins ``[k_lo, k_hi)`` of a band in Hz, or ``ValueError`` unless ``0 <= lo < hi <= fs/2``."""
    lo, hi = float(band[0]), float(band[1])
    if not 0.0 <= lo < hi <= fs / 2.0:
        raise ValueError(f"band must satisfy 0 <= low < high <= fs/2 = {fs / 2}, got {band}")
    k_lo = max(1, int(round(lo * n / fs)))
    k_hi = min(n // 2, int(round(hi * n / fs)))
    if k_hi - k_lo < 4:
        raise ValueError(f"band {band} holds fewer than 4 bins at fs={fs} and n={n}")
    return k_lo, k_hi


def ses_power_of_spectrum(spec: np.ndarray, n: int, fs: float, band: tuple[float, float]) -> np.ndarray:
    """Squared-envelope power spectrum of one band of a one-sided spectrum (bins of ``fs / n`` Hz)."""
    k_lo, k_hi = band_bins(band, n, fs)
    power = K.squared_envelope_power(np.ascontiguousarray(spec, dtype=np.complex128), k_lo, k_hi,
                                     ses_window(k_lo, k_hi))
    # the squared envelope of white noise in a band of W bins has a triangular spectrum (W − k):
    # divide it out so the background is flat, and keep the part where it is still well above zero
    width = k_hi - k_lo
    keep = max(8, int(SES_USABLE * width))
    return power[:keep] / (1.0 - np.arange(keep) / width)


def squared_envelope_spectrum(x, fs: float, band: tuple[float, float], whiten: bool = True
                              ) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (Hz) and power of the squared-envelope spectrum of ``x`` in ``band``.

    Band-pass and analytic signal are one masked inverse FFT of the band's
    bins; the squared magnitude is the squared envelope, whose spectrum
    shows a defect's repetition frequency and harmonics.

    Examples
    --------
    >>> import numpy as np
    >>> fs = 12000.0
    >>> t = np.arange(8192) / fs
    >>> x = (1 + np.cos(2 * np.pi * 100.0 * t)) * np.sin(2 * np.pi * 3000.0 * t)
    >>> f, p = squared_envelope_spectrum(x, fs, (2000.0, 4000.0), whiten=False)
    >>> round(float(f[np.argmax(p[5:]) + 5]))
    100
    """
    fs = check_positive(fs, "fs")
    spec, n = spectrum(x)
    if whiten:
        spec = whiten_spectrum(spec, n)
    p = ses_power_of_spectrum(spec, n, fs, band)
    return np.arange(p.size) * fs / n, p
