"""Validated feature functions over compiled kernels.

Public functions check and convert their input (1-D, finite, contiguous
float64) and raise a ``ValueError`` naming what was wrong; the numba kernels
in :mod:`edge_agent.features.kernels` do the arithmetic.

Examples
--------
>>> import numpy as np
>>> x = np.sin(2 * np.pi * 50 * np.arange(1200) / 12000.0)
>>> round(rms(x), 4), round(crest_factor(x), 3)
(0.7071, 1.414)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_agent.features import kernels

#: Feature names produced by :func:`bearing_features`, in order.
BEARING_FEATURES = (
    "mean",
    "rms",
    "peak",
    "peak_to_peak",
    "crest",
    "kurtosis",
    "env_bpfo",
    "env_bpfi",
    "env_2bsf",
)


def as_signal(x, name: str = "x", min_len: int = 8) -> np.ndarray:
    """Return ``x`` as a contiguous 1-D float64 array or raise ``ValueError``.

    Examples
    --------
    >>> as_signal([1, 2, 3], min_len=2).dtype
    dtype('float64')
    """
    arr = np.ascontiguousarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size < min_len:
        raise ValueError(f"{name} needs at least {min_len} samples, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{name} must be finite; index {bad} is {arr[bad]}")
    return arr


def rms(x) -> float:
    """Root mean square of ``x``."""
    return float(kernels.time_stats(as_signal(x))[1])


def crest_factor(x) -> float:
    """Peak absolute value divided by RMS (0 for an all-zero signal)."""
    return float(kernels.time_stats(as_signal(x))[4])


def kurtosis(x) -> float:
    """Pearson kurtosis (4th standardised moment, 3 for a Gaussian)."""
    return float(kernels.time_stats(as_signal(x))[5])


def envelope_spectrum(x, fs: float, band: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Envelope amplitude spectrum of ``x`` after band-pass to ``band`` (Hz).

    Returns
    -------
    freqs, amps : numpy.ndarray
        Frequencies in Hz and envelope amplitudes in the units of ``x``.
    """
    sig = as_signal(x, min_len=64)
    f_lo, f_hi = _check_band(band, fs)
    amps = kernels.envelope_spectrum(sig, float(fs), f_lo, f_hi)
    return np.fft.rfftfreq(sig.size, 1.0 / fs), amps


@dataclass(frozen=True)
class BearingFrequencies:
    """Defect frequencies in Hz at the current shaft speed."""

    bpfo: float
    bpfi: float
    two_bsf: float


def bearing_features(
    x,
    fs: float,
    freqs: BearingFrequencies,
    band: tuple[float, float] | None = None,
    tolerance: float = 0.02,
) -> dict[str, float]:
    """Time-domain statistics and envelope amplitudes at the defect frequencies.

    Parameters
    ----------
    x : array_like
        One window of acceleration.
    fs : float
        Sample rate in Hz.
    freqs : BearingFrequencies
        Defect frequencies in Hz.
    band : (float, float), optional
        Demodulation band in Hz; default 15-40 % of ``fs``, where bearing
        impacts usually excite the structure on small machines.
    tolerance : float
        Relative search width around each defect frequency (slip).

    Returns
    -------
    dict
        One value per name in :data:`BEARING_FEATURES`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> f = bearing_features(rng.normal(size=8192), 12000.0, BearingFrequencies(107.4, 162.2, 141.2))
    >>> sorted(f) == sorted(BEARING_FEATURES), abs(f["kurtosis"] - 3.0) < 0.2
    (True, True)
    """
    sig = as_signal(x, min_len=256)
    if band is None:
        band = (0.15 * fs, 0.40 * fs)
    f_lo, f_hi = _check_band(band, fs)
    mean, r, peak, p2p, crest, kurt = kernels.time_stats(sig)
    amps = kernels.envelope_spectrum(sig, float(fs), f_lo, f_hi)
    df = fs / sig.size
    return {
        "mean": float(mean),
        "rms": float(r),
        "peak": float(peak),
        "peak_to_peak": float(p2p),
        "crest": float(crest),
        "kurtosis": float(kurt),
        "env_bpfo": float(kernels.peak_near(amps, df, freqs.bpfo, tolerance)),
        "env_bpfi": float(kernels.peak_near(amps, df, freqs.bpfi, tolerance)),
        "env_2bsf": float(kernels.peak_near(amps, df, freqs.two_bsf, tolerance)),
    }


def _check_band(band, fs: float) -> tuple[float, float]:
    f_lo, f_hi = float(band[0]), float(band[1])
    if not 0 < f_lo < f_hi < fs / 2:
        raise ValueError(f"band must satisfy 0 < low < high < fs/2 = {fs / 2}, got {band}")
    return f_lo, f_hi
