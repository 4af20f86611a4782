"""Motor current signature features from three phase currents.

Input is one window of the three line currents as a ``(3, n)`` array
(phases a, b, c in rows, positive sequence a → b → c), the supply frequency
``f`` and, for the rotor-bar sidebands, the slip ``s`` (given, or from the
shaft speed: ``s = 1 − rpm·p / (60 f)`` with ``p`` pole pairs; DOMAIN.md
"Motor current signature analysis"). Features:

- ``rms_a``, ``rms_b``, ``rms_c``: per-phase RMS in A;
- ``imbalance``: largest deviation of a phase RMS from the mean of the
  three, over that mean (the NEMA MG 1 definition of unbalance);
- ``i2_i1``: negative- over positive-sequence current of the fundamental
  phasors (Fortescue's symmetrical components), a supply-imbalance measure;
- ``supply_hz``: fundamental frequency measured within ``f·(1 ± tol)``;
- ``thd_2_<N>``: total harmonic distortion, ``√(Σ A_h²) / A_1`` over
  harmonics ``h = 2..N`` (below Nyquist), the mean of the three phases;
- ``sideband_lower_db``, ``sideband_upper_db``: broken-rotor-bar sidebands
  at ``(1 ∓ 2s)·f`` relative to the line, in dB, from amplitudes averaged
  in power over the phases; ``sideband_db`` both together (Thomson & Fenger
  2001: about −40 dB and above suggests a broken bar).

Line amplitudes come from a Hann-windowed spectrum with the window's
amplitude correction (see :mod:`.kernels`).
"""

from __future__ import annotations

import numpy as np

from edge_agent.features import kernels
from edge_agent.features.validation import as_phases, check_positive, check_tolerance, hann

#: Harmonic orders included in THD when none are chosen (IEC 61000-4-7 goes to 40 or 50).
DEFAULT_HARMONICS = 40
#: Sidebands closer to the line than this many bins cannot be told apart from its Hann skirt.
MIN_SIDEBAND_BINS = 4
_A = complex(np.exp(2j * np.pi / 3))
_DB_FLOOR = -200.0


def slip_from(supply_hz: float, slip: float | None = None, rpm: float | None = None,
              pole_pairs: int | None = None) -> float | None:
    """Slip given directly or from shaft speed and pole pairs; ``None`` if neither is known.

    Examples
    --------
    >>> round(slip_from(50.0, rpm=1455.0, pole_pairs=2), 4)
    0.03
    >>> slip_from(50.0, rpm=1455.0) is None
    True
    """
    if slip is None and rpm is not None and pole_pairs is not None:
        if int(pole_pairs) != pole_pairs or pole_pairs < 1:
            raise ValueError(f"pole_pairs must be an integer >= 1, got {pole_pairs!r}")
        slip = 1.0 - check_positive(rpm, "rpm") * pole_pairs / (60.0 * supply_hz)
    if slip is None:
        return None
    s = float(slip)
    if not 0 < s < 0.5:
        raise ValueError(f"slip must lie in (0, 0.5) for an induction motor, got {s} "
                         f"(from slip={slip!r}, rpm={rpm!r}, pole_pairs={pole_pairs!r})")
    return s


def motor_current_names(n_harmonics: int = DEFAULT_HARMONICS, with_sidebands: bool = True) -> tuple[str, ...]:
    """Feature names :func:`motor_current_features` returns, in order.

    Examples
    --------
    >>> motor_current_names(with_sidebands=False)
    ('rms_a', 'rms_b', 'rms_c', 'imbalance', 'i2_i1', 'supply_hz', 'thd_2_40')
    """
    names = ("rms_a", "rms_b", "rms_c", "imbalance", "i2_i1", "supply_hz", f"thd_2_{int(n_harmonics)}")
    if with_sidebands:
        names += ("sideband_lower_db", "sideband_upper_db", "sideband_db")
    return names


def symmetrical_components(phasors) -> tuple[complex, complex, complex]:
    """Zero-, positive- and negative-sequence phasors of three phase phasors (Fortescue 1918).

    Examples
    --------
    >>> import numpy as np
    >>> a = np.exp(2j * np.pi / 3)
    >>> i0, i1, i2 = symmetrical_components([1.0, a**2, a])  # balanced, a -> b -> c
    >>> round(abs(i1), 6), round(abs(i2), 6)
    (1.0, 0.0)
    """
    ia, ib, ic = (complex(p) for p in phasors)
    return (ia + ib + ic) / 3, (ia + _A * ib + _A**2 * ic) / 3, (ia + _A**2 * ib + _A * ic) / 3


def motor_current_features(currents, fs: float, supply_hz: float, slip: float | None = None,
                           rpm: float | None = None, pole_pairs: int | None = None,
                           tolerance: float = 0.02, n_harmonics: int = DEFAULT_HARMONICS) -> dict[str, float]:
    """Current-signature features of one window of three phase currents.

    Parameters
    ----------
    currents : array_like, shape (3, n)
        Phase currents a, b, c in A (at least 256 samples each).
    fs : float
        Sample rate in Hz.
    supply_hz : float
        Nominal supply frequency; the fundamental is searched within ``± tolerance``.
    slip, rpm, pole_pairs : optional
        Slip, or shaft speed and pole pairs to compute it; without either
        there are no sideband features.
    tolerance : float
        Relative search width around the supply frequency and the sidebands.
    n_harmonics : int
        Highest harmonic order in the THD.

    Returns
    -------
    dict
        One value per name of :func:`motor_current_names`.

    Examples
    --------
    >>> import numpy as np
    >>> fs, f, s = 5000.0, 50.0, 0.03
    >>> t = np.arange(25000) / fs
    >>> shifts = np.array([[0.0], [-2 * np.pi / 3], [2 * np.pi / 3]])
    >>> i = 14.1 * (np.cos(2 * np.pi * f * t + shifts) + 0.01 * np.cos(2 * np.pi * f * (1 - 2 * s) * t + shifts)
    ...             + 0.03 * np.cos(5 * (2 * np.pi * f * t + shifts)))
    >>> m = motor_current_features(i, fs, 50.0, slip=s)
    >>> round(m["rms_a"], 2), round(m["thd_2_40"], 3), round(m["sideband_lower_db"], 1), round(m["i2_i1"], 4)
    (9.98, 0.03, -40.0, 0.0)
    """
    i3 = as_phases(currents)
    fs = check_positive(fs, "fs")
    f = check_positive(supply_hz, "supply_hz")
    tol = check_tolerance(tolerance)
    if int(n_harmonics) != n_harmonics or n_harmonics < 2:
        raise ValueError(f"n_harmonics must be an integer >= 2, got {n_harmonics!r}")
    if not f * (1 + tol) < fs / 2:
        raise ValueError(f"supply_hz={f} (+{tol:.0%}) must lie below fs/2 = {fs / 2}")
    s = slip_from(f, slip, rpm, pole_pairs)
    return _compute(i3, fs, f, s, tol, int(n_harmonics))


def _compute(i3, fs, f, s, tol, n_harmonics) -> dict[str, float]:
    """:func:`motor_current_features` on validated arguments."""
    n = i3.shape[1]
    df = fs / n
    if s is not None:
        if 2 * s * f < MIN_SIDEBAND_BINS * df:
            need = int(np.ceil(MIN_SIDEBAND_BINS * fs / (2 * s * f)))
            raise ValueError(f"window of {n} samples at {fs} Hz resolves {df:.3g} Hz, too coarse for "
                             f"sidebands {2 * s * f:.3g} Hz from the line (slip {s:.4f}); "
                             f"use at least {need} samples")
        lo, hi, half = 1 - 2 * s, 1 + 2 * s, min(tol * f, s * f)
    else:
        lo, hi, half = 1.0, 1.0, 0.0
    rms, phasors, f1, a1, thd, sb = kernels.motor_current(i3, hann(n)[0], fs, f, tol, n_harmonics, lo, hi, half)
    mean_rms = rms.mean()
    _, i1, i2 = symmetrical_components(phasors)
    out = {"rms_a": float(rms[0]), "rms_b": float(rms[1]), "rms_c": float(rms[2]),
           "imbalance": float(np.abs(rms - mean_rms).max() / mean_rms) if mean_rms > 0 else 0.0,
           "i2_i1": float(abs(i2) / abs(i1)) if abs(i1) > 0 else 0.0,
           "supply_hz": float(f1),
           f"thd_2_{n_harmonics}": float(thd.mean())}
    if s is not None:
        line_pow = float(np.mean(a1**2))
        lower, upper = float(np.mean(sb[:, 0] ** 2)), float(np.mean(sb[:, 1] ** 2))
        out["sideband_lower_db"] = _db(lower, line_pow)
        out["sideband_upper_db"] = _db(upper, line_pow)
        out["sideband_db"] = _db(lower + upper, line_pow)
    return out


def _db(power: float, ref: float) -> float:
    """``10·log10(power / ref)``, floored at −200 dB (also for a zero line)."""
    if ref <= 0 or power <= 0:
        return _DB_FLOOR
    return max(_DB_FLOOR, 10.0 * float(np.log10(power / ref)))
