"""Input checks shared by the public feature functions.

Each check converts to a contiguous float64 array and raises a
``ValueError`` that names the argument, what was wrong and what was
expected, so a misconfigured channel is found from the message alone.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def as_signal(x, name: str = "x", min_len: int = 8) -> np.ndarray:
    """Return ``x`` as a contiguous 1-D float64 array or raise ``ValueError``.

    Examples
    --------
    >>> as_signal([1, 2, 3], min_len=2).dtype
    dtype('float64')
    >>> as_signal([1.0, float("nan"), 3.0], min_len=2)
    Traceback (most recent call last):
    ...
    ValueError: x must be finite; index 1 is nan
    """
    arr = np.ascontiguousarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size < min_len:
        raise ValueError(f"{name} needs at least {min_len} samples, got {arr.size}")
    _check_finite(arr, name)
    return arr


def as_phases(x, name: str = "currents", min_len: int = 256) -> np.ndarray:
    """Return three phase signals as a contiguous ``(3, n)`` float64 array or raise ``ValueError``.

    Examples
    --------
    >>> as_phases([[0.0] * 300] * 3).shape
    (3, 300)
    >>> as_phases([[0.0] * 300] * 2)
    Traceback (most recent call last):
    ...
    ValueError: currents must have shape (3, n) (phases a, b, c in rows), got (2, 300)
    """
    arr = np.ascontiguousarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != 3:
        raise ValueError(f"{name} must have shape (3, n) (phases a, b, c in rows), got {arr.shape}")
    if arr.shape[1] < min_len:
        raise ValueError(f"{name} needs at least {min_len} samples per phase, got {arr.shape[1]}")
    _check_finite(arr, name)
    return arr


def check_positive(value, name: str) -> float:
    """Return ``value`` as a float or raise ``ValueError`` unless it is finite and > 0.

    Examples
    --------
    >>> check_positive(25600, "fs")
    25600.0
    >>> check_positive(0, "fs")
    Traceback (most recent call last):
    ...
    ValueError: fs must be a finite number > 0, got 0
    """
    v = float(value)
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def check_tolerance(value, name: str = "tolerance") -> float:
    """Return a relative search tolerance or raise ``ValueError`` unless ``0 <= value < 0.5``.

    Examples
    --------
    >>> check_tolerance(0.02)
    0.02
    """
    v = float(value)
    if not 0 <= v < 0.5:
        raise ValueError(f"{name} must lie in [0, 0.5) (a fraction of the frequency), got {value!r}")
    return v


@lru_cache(maxsize=16)
def hann(n: int) -> tuple[np.ndarray, float, float]:
    """Periodic Hann window of length ``n`` (``scipy.signal.get_window("hann", n)``), its sum and sum of squares.

    Cached (read-only): computing the cosines costs about as much as the FFT.

    Examples
    --------
    >>> w, s1, s2 = hann(8)
    >>> w[:3].round(4).tolist(), s1, s2
    ([0.0, 0.1464, 0.5], 4.0, 3.0)
    """
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
    w.flags.writeable = False
    return w, float(w.sum()), float(np.dot(w, w))


def _check_finite(arr: np.ndarray, name: str) -> None:
    if not np.isfinite(arr).all():
        flat = np.flatnonzero(~np.isfinite(arr.ravel()))[0]
        idx = np.unravel_index(flat, arr.shape)
        where = int(idx[0]) if arr.ndim == 1 else tuple(int(i) for i in idx)
        raise ValueError(f"{name} must be finite; index {where} is {arr[idx]}")
