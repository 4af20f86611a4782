"""Diagnosis kernels (private: call the wrappers in :mod:`.spectra` and :mod:`.evidence`).

The loops (AR fit, noise statistics, comb search, notches, band
kurtoses) are compiled with the edge's other kernels
(:mod:`edge_agent.kernels.source_diagnosis`: ahead of time at install, so
diagnosing an alert does not import numba; numba's JIT as the fallback).
The FFTs between them are ``scipy.fft``'s (pocketfft, as numpy's, but
faster here; scipy is loaded for the speed estimate anyway), batched where
the kurtogram needs many.
Every function takes contiguous float64 / complex128 arrays already
checked by its wrapper.

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
from functools import lru_cache

import numpy as np
from scipy import fft as _fft

from edge_agent.kernels import load

_k = load()
levinson = _k.levinson
log_gamma_sf = _k.log_gamma_sf
log_chi2_sf_even = _k.log_chi2_sf_even
log_any_of = _k.log_any_of
background = _k.local_median
peak_log_p = _k.peak_log_p
comb_search = _k.comb_search
notch_harmonics = _k.notch_harmonics
notch_levels = _k.notch_levels
apply_notches = _k.apply_notches


def whitened_spectrum(spec: np.ndarray, n: int, order: int) -> np.ndarray:
    """Spectrum of the AR(``order``) residual of a real signal, from its one-sided spectrum ``spec``.

    The autocorrelation is the inverse transform of the power spectrum
    (circular, biased — at lags ≪ n the same as the linear estimate); the
    residual ``e = a * x`` has spectrum ``A · X``, ``A`` the transform of the
    AR polynomial. The residual is circular: its first ``order`` samples wrap
    around, a negligible share of the window.
    """
    p = _k.power(spec)
    p[0] = 0.0  # mean removed
    r = np.ascontiguousarray(_fft.irfft(p, n)[:order + 1])
    a, _ = levinson(r, int(order))
    out = spec * _fft.rfft(a, n)
    out[0] = 0.0
    return out


def _pow2_at_least(v: int) -> int:
    return 1 << max(0, int(math.ceil(math.log2(max(v, 1)))))


def band_envelope(spec: np.ndarray, k_lo: int, k_hi: int, m: int) -> np.ndarray:
    """Complex envelope (length ``m``) of the band of bins ``[k_lo, k_hi)`` of a one-sided spectrum.

    Equals the analytic signal of the ideally band-passed signal shifted to
    baseband, decimated to ``m`` samples over the same duration, up to the
    factor ``m / n`` (callers use ratios, so it cancels).
    """
    base = np.zeros(m, dtype=np.complex128)
    base[:k_hi - k_lo] = spec[k_lo:k_hi]
    return _fft.ifft(base)


def spectral_kurtosis(z: np.ndarray) -> float:
    """``<|z|⁴> / <|z|²>² − 2`` of a complex envelope (0 for complex Gaussian noise)."""
    return float(_k.band_kurtoses(np.ascontiguousarray(z, dtype=np.complex128).reshape(1, -1))[0])


@lru_cache(maxsize=16)
def _grid(bins: int, levels: int, min_bins: int) -> tuple:
    """The kurtogram's bands grouped by envelope length: ``(length, [(row, first col, bands)], [(slot, lo, hi)])``; cached.

    Rows whose bands share an envelope length are inverted in one batched
    ``ifft`` (levels ``l`` and ``l + 0.6`` do: ``2**l`` and ``3·2**(l−1)``
    bands round up to the same power of two); band ``[lo, hi)`` goes to the
    start of row ``slot`` of that batch.
    """
    groups: dict[int, tuple[list, list]] = {}
    for r in range(2 * levels + 1):
        nb = 1 if r == 0 else (2 ** ((r + 1) // 2) if r % 2 == 1 else 3 * 2 ** (r // 2 - 1))
        width = (bins - 1) / nb
        if width < min_bins:
            continue
        mm = _pow2_at_least(int(math.ceil(width)))
        cells, bands = groups.setdefault(mm, ([], []))
        first = sum(n for _, _, n in cells)
        cells.append((r, first, nb))
        bands += [(first + b, max(1, int(round(b * width))), int(round((b + 1) * width))) for b in range(nb)]
    return tuple((mm, tuple(cells), tuple(bands)) for mm, (cells, bands) in groups.items())


def _counts(levels: int) -> np.ndarray:
    return np.array([1 if r == 0 else (2 ** ((r + 1) // 2) if r % 2 == 1 else 3 * 2 ** (r // 2 - 1))
                     for r in range(2 * levels + 1)], dtype=np.int64)


def kurtogram(spec: np.ndarray, levels: int, min_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Spectral kurtosis on the 1/3-binary grid: rows are levels 0, 1, 1.6, 2, 2.6, …, ``levels + 0.6``.

    Row ``2l - 1`` (level ``l``) splits the one-sided spectrum into ``2**l``
    bands, row ``2l`` (level ``l + 0.6``) into ``3 · 2**(l-1)``; a cell
    is ``nan`` where the row has fewer bands or the band is narrower than
    ``min_bins`` bins. Returns ``(sk, n_bands)``: an array of shape
    ``(2·levels + 1, 3·2**(levels-1))`` and the band count of each row.
    """
    cols = 3 * 2 ** max(levels - 1, 0) if levels > 0 else 1
    sk = np.full((2 * levels + 1, max(cols, 1)), np.nan)
    for mm, cells, bands in _grid(spec.size, int(levels), int(min_bins)):
        base = np.zeros((len(bands), mm), dtype=np.complex128)
        for slot, lo, hi in bands:  # slices: half the cost of one fancy-indexed scatter
            base[slot, :hi - lo] = spec[lo:hi]
        k = _k.band_kurtoses(_fft.ifft(base, axis=1))
        for r, first, nb in cells:
            sk[r, :nb] = k[first:first + nb]
    return sk, _counts(int(levels))


def squared_envelope_power(spec: np.ndarray, k_lo: int, k_hi: int, window: np.ndarray) -> np.ndarray:
    """Power spectrum ``|SES|²`` of the band ``[k_lo, k_hi)``: bins of ``fs / n`` Hz, up to the band's width.

    The squared envelope ``|z|²`` of the band spans twice the band's width in
    frequency, so it is formed at ``len(window) ≥ 2 (k_hi − k_lo)`` points;
    its mean is removed and it is weighted by ``window`` before the
    transform. The scale is arbitrary (tests use ratios).
    """
    z = band_envelope(spec, k_lo, k_hi, window.size)
    return _k.power(_fft.rfft(_k.centred_power(z, window)))
