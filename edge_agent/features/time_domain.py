"""Time-domain statistics of one window, in one compiled two-pass kernel.

Definitions (population moments, as ``scipy.stats`` with ``bias=True``):
``rms = √mean(x²)`` (about zero, not AC-coupled), ``peak = max|x|``,
``crest = peak / rms``, ``kurtosis`` the fourth standardised moment (3 for
a Gaussian, Pearson), ``skewness`` the third, ``shape_factor = rms /
mean|x|`` and ``impulse_factor = peak / mean|x|`` (ratios are 0 when their
denominator is).
"""

from __future__ import annotations

from edge_agent.features import kernels
from edge_agent.features.validation import as_signal

#: Names produced by :func:`time_features`, in order.
TIME_FEATURES = (
    "mean",
    "rms",
    "peak",
    "peak_to_peak",
    "crest",
    "kurtosis",
    "skewness",
    "shape_factor",
    "impulse_factor",
)


def time_features(x) -> dict[str, float]:
    """Time-domain statistics of one window: one value per :data:`TIME_FEATURES` name.

    Parameters
    ----------
    x : array_like
        One window (1-D, finite, at least 8 samples).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.sin(2 * np.pi * np.arange(1000) / 100)
    >>> f = time_features(x)
    >>> round(f["rms"], 4), round(f["crest"], 4), round(f["shape_factor"], 3), round(f["kurtosis"], 3)
    (0.7071, 1.4142, 1.111, 1.5)
    """
    return _compute(as_signal(x))


def _compute(sig) -> dict[str, float]:
    """:func:`time_features` on an already validated array."""
    return dict(zip(TIME_FEATURES, map(float, kernels.time_domain(sig))))


def rms(x) -> float:
    """Root mean square of ``x``.

    Examples
    --------
    >>> rms([3.0, -3.0] * 4)
    3.0
    """
    return float(kernels.time_domain(as_signal(x))[1])


def crest_factor(x) -> float:
    """Peak absolute value divided by RMS (0 for an all-zero signal).

    Examples
    --------
    >>> crest_factor([0.0, 0.0, 0.0, 4.0] * 2)
    2.0
    """
    return float(kernels.time_domain(as_signal(x))[4])


def kurtosis(x) -> float:
    """Pearson kurtosis (4th standardised moment, 3 for a Gaussian).

    Examples
    --------
    >>> kurtosis([1.0, -1.0] * 4)
    1.0
    """
    return float(kernels.time_domain(as_signal(x))[5])


def skewness(x) -> float:
    """Third standardised moment (0 for a symmetric distribution).

    Examples
    --------
    >>> skewness([1.0, -1.0] * 4)
    0.0
    """
    return float(kernels.time_domain(as_signal(x))[6])
