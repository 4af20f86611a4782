"""Shaft speed from the acceleration spectrum when neither the file nor the configuration gives it.

A rotating shaft leaves a family of lines at 1X, 2X, 3X… in the raw
spectrum (residual imbalance, alignment). The speed is the candidate whose
first :data:`HARMONICS` harmonics stand out most over a running-median
background (a harmonic-sum estimator; the fundamental must itself be
present, which rules out sub-harmonics).

Examples
--------
>>> import numpy as np
>>> fs, n = 12000.0, 1 << 16
>>> t = np.arange(n) / fs
>>> x = sum(np.sin(2 * np.pi * h * 29.95 * t) / h for h in (1, 2, 3)) + np.random.default_rng(0).normal(0, 0.5, n)
>>> round(estimate_shaft_hz(x, fs), 1)
29.9
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter

from edge_agent.features.validation import as_signal, check_positive

HARMONICS = 4


def estimate_shaft_hz(x, fs: float, lo_hz: float = 5.0, hi_hz: float = 100.0) -> float:
    """Shaft frequency in Hz (rpm / 60) estimated from a recording, searched in ``[lo_hz, hi_hz]``.

    Raises ``ValueError`` when no candidate shows a fundamental clearly over
    its background (then give the speed).
    """
    sig = as_signal(x, min_len=4096)
    fs = check_positive(fs, "fs")
    if not 0 < lo_hz < hi_hz < fs / (2 * HARMONICS):
        raise ValueError(f"need 0 < lo_hz < hi_hz < fs/{2 * HARMONICS}, got {lo_hz}, {hi_hz}")
    n = sig.size
    p = np.abs(np.fft.rfft((sig - sig.mean()) * np.hanning(n))) ** 2
    df = fs / n
    bg = median_filter(p, size=max(31, int(6.0 / df) | 1), mode="nearest")
    lp = np.log(np.maximum(p, 1e-300) / np.maximum(bg, 1e-300))
    # best of 3 bins around each bin: tolerates a line between bins
    lp3 = np.maximum(np.maximum(lp, np.roll(lp, 1)), np.roll(lp, -1))
    cand = np.arange(lo_hz, hi_hz, df / HARMONICS)
    idx = np.rint(np.outer(np.arange(1, HARMONICS + 1), cand) / df).astype(int)
    terms = np.clip(lp3[idx], 0.0, 12.0)
    score = np.where(terms[0] > np.log(10.0), terms.sum(axis=0), 0.0)
    if not score.max() > 0:
        raise ValueError("no shaft line stands out of the spectrum; give the speed (rpm)")
    best = cand[int(np.argmax(score))]
    k = int(round(best / df))  # refine on the fundamental's bin, parabolic interpolation
    a, b, c = lp[k - 1], lp[k], lp[k + 1]
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) < 0 else 0.0
    return float((k + np.clip(shift, -0.5, 0.5)) * df)
