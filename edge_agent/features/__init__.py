"""Validated feature functions over compiled kernels, grouped into named sets.

Public functions check and convert their input (1-D or ``(3, n)``, finite,
contiguous float64) and raise a ``ValueError`` naming what was wrong; the
numba kernels in :mod:`edge_agent.features.kernels` do the arithmetic.

- :mod:`.time_domain`: mean, RMS, peak, crest, kurtosis, skewness, shape and impulse factors;
- :mod:`.spectral`: band energies, spectral centroid, 1X/2X/3X amplitudes;
- :mod:`.envelope`: envelope-spectrum bearing indicators;
- :mod:`.motor`: current signature (RMS, imbalance, I2/I1, THD, rotor-bar sidebands);
- :mod:`.thermal`: level, rate and model residual of a temperature;
- :mod:`.sets`: :data:`FEATURE_SETS`, the named sets a pipeline chooses from.

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
from edge_agent.features.sets import FEATURE_SETS, FeatureContext, parse_feature_name
from edge_agent.features.time_domain import TIME_FEATURES, crest_factor, kurtosis, rms, skewness
from edge_agent.features.validation import as_phases, as_signal

__all__ = [
    "BEARING_FEATURES", "FEATURE_SETS", "TIME_FEATURES", "BearingFrequencies", "FeatureContext",
    "as_phases", "as_signal", "bearing_features", "crest_factor", "envelope_spectrum", "kurtosis",
    "parse_feature_name", "rms", "skewness",
]

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


def envelope_spectrum(x, fs: float, band: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Envelope amplitude spectrum of ``x`` after band-pass to ``band`` (Hz), rectangular window.

    Returns
    -------
    freqs, amps : numpy.ndarray
        Frequencies in Hz and envelope amplitudes in the units of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(4096) / 12000.0
    >>> x = (1 + 0.5 * np.cos(2 * np.pi * 100 * t)) * np.sin(2 * np.pi * 3000 * t)
    >>> freqs, amps = envelope_spectrum(x, 12000.0, (2000.0, 4000.0))
    >>> round(float(freqs[np.argmax(amps)]))
    100
    """
    sig = as_signal(x, min_len=64)
    f_lo, f_hi = _check_band(band, fs)
    amps = kernels.envelope_spectrum(sig, float(fs), f_lo, f_hi)
    return np.fft.rfftfreq(sig.size, 1.0 / fs), amps


@dataclass(frozen=True)
class BearingFrequencies:
    """Defect frequencies in Hz at the current shaft speed (for :func:`bearing_features`).

    Examples
    --------
    >>> BearingFrequencies(bpfo=107.4, bpfi=162.2, two_bsf=141.2).bpfo
    107.4
    """

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

    The original pipeline features (:data:`BEARING_FEATURES`); the named set
    ``FEATURE_SETS["bearing"]`` is its successor with more indicators.

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
    stats = kernels.time_domain(sig)[:6]
    amps = kernels.envelope_spectrum(sig, float(fs), f_lo, f_hi)
    df = fs / sig.size
    out = {name: float(v) for name, v in zip(BEARING_FEATURES[:6], stats)}
    out["env_bpfo"] = float(kernels.peak_near(amps, df, freqs.bpfo, tolerance))
    out["env_bpfi"] = float(kernels.peak_near(amps, df, freqs.bpfi, tolerance))
    out["env_2bsf"] = float(kernels.peak_near(amps, df, freqs.two_bsf, tolerance))
    return out


def _check_band(band, fs: float) -> tuple[float, float]:
    f_lo, f_hi = float(band[0]), float(band[1])
    if not 0 < f_lo < f_hi < fs / 2:
        raise ValueError(f"band must satisfy 0 < low < high < fs/2 = {fs / 2}, got {band}")
    return f_lo, f_hi
