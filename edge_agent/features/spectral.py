"""Spectral features of one window: band energies, centroid, shaft orders.

One Hann-windowed FFT (mean removed) per window, in one compiled kernel:

- ``band_energy_<lo>_<hi>``: mean-square content of ``[lo, hi)`` Hz, the
  one-sided periodogram density summed over the band times the bin width
  (Parseval: bands covering 0 to ``fs/2`` add up to the variance);
- ``spectral_centroid``: power-weighted mean frequency in Hz;
- ``order_<k>x``: amplitude of the largest line within ``k·fr·(1 ± tol)``
  (``fr`` the shaft frequency; slip puts lines slightly off the nominal
  value), corrected for the Hann window so a sine of amplitude ``A`` reads
  ``A`` wherever it falls between bins (see :mod:`.kernels`).

Frequencies in names are written with :func:`hz_label` so that a name parses
back to its band (:func:`edge_agent.features.sets.parse_feature_name`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from edge_agent.features import kernels
from edge_agent.features.validation import as_signal, check_positive, check_tolerance, hann

#: Shaft orders reported when none are chosen.
DEFAULT_ORDERS = (1, 2, 3)


def hz_label(f: float) -> str:
    """Write a frequency for a feature name: shortest exact form, no exponent.

    Examples
    --------
    >>> hz_label(1000.0), hz_label(1562.5)
    ('1000', '1562.5')
    """
    return np.format_float_positional(float(f), trim="-")


#: Default energy bands in Hz: shaft and low orders, gear mesh and blade pass, bearing resonances.
DEFAULT_BANDS = ((0.0, 1000.0), (1000.0, 2500.0), (2500.0, 5000.0), (5000.0, 10000.0))


def default_bands(fs: float) -> tuple[tuple[float, float], ...]:
    """:data:`DEFAULT_BANDS` below ``fs/2``: a band reaching past it is cut there, one beyond it dropped.

    Fixed in Hz so feature names are the same at every sample rate of 20.48
    kHz and more (a pipeline checks names before it knows the rate).

    Examples
    --------
    >>> default_bands(25600.0)
    ((0.0, 1000.0), (1000.0, 2500.0), (2500.0, 5000.0), (5000.0, 10000.0))
    >>> default_bands(12000.0)[-1]
    (5000.0, 6000.0)
    """
    return tuple((lo, min(hi, fs / 2)) for lo, hi in DEFAULT_BANDS if lo < fs / 2)


def check_bands(bands, fs: float) -> np.ndarray:
    """Return ``bands`` as an ``(m, 2)`` float64 array or raise ``ValueError``.

    Each band must satisfy ``0 <= low < high <= fs/2``.

    Examples
    --------
    >>> check_bands([(0, 100), (100, 200)], 1000.0).shape
    (2, 2)
    >>> check_bands([(300, 200)], 1000.0)
    Traceback (most recent call last):
    ...
    ValueError: bands[0] must satisfy 0 <= low < high <= fs/2 = 500.0, got (300, 200)
    """
    out = []
    for i, band in enumerate(bands):
        try:
            lo, hi = (float(v) for v in band)
        except (TypeError, ValueError):
            raise ValueError(f"bands[{i}] must be a (low, high) pair in Hz, got {band!r}") from None
        if not 0 <= lo < hi <= fs / 2:
            raise ValueError(f"bands[{i}] must satisfy 0 <= low < high <= fs/2 = {fs / 2}, got {band!r}")
        out.append((lo, hi))
    if not out:
        raise ValueError("bands must name at least one (low, high) band")
    return np.ascontiguousarray(out, dtype=np.float64)


def spectral_names(fs: float, bands=None, shaft_hz: float | None = None,
                   orders=DEFAULT_ORDERS) -> tuple[str, ...]:
    """Feature names :func:`spectral_features` returns for these arguments, in order.

    Examples
    --------
    >>> spectral_names(8000.0, bands=[(1000, 3000)], shaft_hz=25.0, orders=(1, 2))
    ('band_energy_1000_3000', 'spectral_centroid', 'order_1x', 'order_2x')
    """
    arr = check_bands(default_bands(fs) if bands is None else bands, fs)
    return _names(tuple(map(tuple, arr.tolist())), tuple(int(k) for k in orders) if shaft_hz is not None else ())


def spectral_features(x, fs: float, bands=None, shaft_hz: float | None = None,
                      orders=DEFAULT_ORDERS, tolerance: float = 0.02) -> dict[str, float]:
    """Band energies, spectral centroid and shaft-order amplitudes of one window.

    Parameters
    ----------
    x : array_like
        One window (1-D, finite, at least 64 samples).
    fs : float
        Sample rate in Hz.
    bands : sequence of (float, float), optional
        Bands in Hz, each ``[low, high)`` (``high = fs/2`` included);
        default :func:`default_bands`.
    shaft_hz : float, optional
        Shaft frequency (rpm / 60); without it no order amplitudes.
    orders : sequence of int
        Shaft orders whose amplitudes are reported.
    tolerance : float
        Relative search width around each order (slip).

    Returns
    -------
    dict
        One value per name of :func:`spectral_names`.

    Examples
    --------
    >>> import numpy as np
    >>> fs, fr = 25600.0, 29.3
    >>> t = np.arange(4096) / fs
    >>> x = 2.0 * np.sin(2 * np.pi * fr * 0.99 * t) + 0.5 * np.sin(2 * np.pi * 2 * fr * t)
    >>> f = spectral_features(x, fs, bands=[(0, 100), (100, 12800)], shaft_hz=fr)
    >>> round(f["order_1x"], 2), round(f["order_2x"], 2), round(f["band_energy_0_100"], 2)
    (2.0, 0.5, 2.14)
    """
    sig = as_signal(x, min_len=64)
    fs = check_positive(fs, "fs")
    arr = check_bands(default_bands(fs) if bands is None else bands, fs)
    tol = check_tolerance(tolerance)
    if shaft_hz is not None:
        shaft_hz = check_positive(shaft_hz, "shaft_hz")
        orders = tuple(int(k) for k in orders)
        if any(k < 1 for k in orders):
            raise ValueError(f"orders must be integers >= 1, got {orders}")
    return _compute(sig, fs, arr, shaft_hz, orders, tol)


def _compute(sig, fs, bands_arr, shaft_hz, orders, tol) -> dict[str, float]:
    """:func:`spectral_features` on validated arguments (``bands_arr`` from :func:`check_bands`)."""
    hz = np.array([k * shaft_hz for k in orders], dtype=np.float64) if shaft_hz else _NO_ORDERS
    energies, centroid, amps = kernels.spectral(sig, *hann(sig.size), fs, bands_arr, hz, tol)
    names = _names(tuple(map(tuple, bands_arr.tolist())), tuple(orders) if shaft_hz else ())
    return dict(zip(names, map(float, (*energies, centroid, *amps))))


_NO_ORDERS = np.empty(0)


@lru_cache(maxsize=64)
def _names(bands: tuple, orders: tuple) -> tuple[str, ...]:
    """Feature names for checked bands and orders (cached: formatting costs more than the kernel)."""
    return (tuple(f"band_energy_{hz_label(lo)}_{hz_label(hi)}" for lo, hi in bands) + ("spectral_centroid",)
            + tuple(f"order_{k}x" for k in orders))
