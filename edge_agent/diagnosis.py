"""Bearing diagnosis: name the likely defect from envelope-spectrum evidence.

Each defect has a kinematic signature (DOMAIN.md, "Rolling-element bearing
frequencies"): an outer-race defect a clean BPFO harmonic family; an
inner-race defect a BPFI family with ±1X sidebands (it rotates in and out
of the load zone); a ball defect a 2×BSF line with ±FTF sidebands. The
evidence for each is the harmonic-family SNR of its line in an averaged
envelope spectrum (``env_<line>_hsnr``, see :mod:`edge_agent.features.envelope`),
which compares across machines and gains because it is relative to the
local background. Sidebands add support where the physics predicts them.

No threshold here is fitted to a data set: a family of random peaks over a
flat background has a geometric-mean SNR of about 2 (max of a few
Rayleigh-distributed bins over their median), so evidence starts to count
above :data:`PRESENT` and is decisive a few units higher.

Examples
--------
>>> import numpy as np
>>> from simulators.rotating_machine import RotatingMachine
>>> from simulators.faults import FaultEvent
>>> m = RotatingMachine("m", fs=12000.0, faults=[FaultEvent("inner_race", 0.0, 0.5, ramp_s=0.0)], seed=3)
>>> x = m.next_block(12000 * 8)
>>> d = diagnose(x, 12000.0, rpm=m.rpm, bearing=m.bearing)
>>> d.fault, d.confidence > 0.8
('inner_race', True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from edge_agent.features.envelope import check_band, envelope_amplitudes, line_indicators

FAULTS = ("outer_race", "inner_race", "ball", "none")
#: Family SNR at which a defect signature starts to count as present.
PRESENT = 5.0
#: Family SNR over :data:`PRESENT` that makes the call near-certain (logistic scale).
SCALE = 1.5


@dataclass
class Diagnosis:
    """The likely bearing fault and why.

    Attributes
    ----------
    fault : str
        One of :data:`FAULTS`.
    confidence : float
        0-1: how sure the call is (for ``none``, how sure nothing is there).
    indicators : dict
        Envelope indicators of the chosen band, plus the evidence per fault.
    band : (float, float)
        Demodulation band used, Hz.
    """

    fault: str
    confidence: float
    indicators: dict[str, float] = field(default_factory=dict)
    band: tuple[float, float] = (0.0, 0.0)

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"fault": self.fault, "confidence": round(self.confidence, 3),
                "indicators": {k: round(v, 4) for k, v in self.indicators.items()},
                "band_hz": [round(self.band[0], 1), round(self.band[1], 1)]}


def evidence(ind: dict[str, float]) -> dict[str, float]:
    """Evidence per defect type from envelope indicators (family SNR, sideband support).

    Examples
    --------
    >>> ind = {"env_bpfo_hsnr": 9.0, "env_bpfi_hsnr": 2.0, "env_2bsf_hsnr": 2.0,
    ...        "env_bpfi_sb": 1.5, "env_2bsf_sb": 1.2}
    >>> max(evidence(ind).items(), key=lambda kv: kv[1])[0]
    'outer_race'
    """
    support = lambda sb: 1.0 + 0.25 * max(0.0, min(sb, 6.0) - 2.0)  # sidebands above noise help, capped
    return {
        "outer_race": ind["env_bpfo_hsnr"],
        "inner_race": ind["env_bpfi_hsnr"] * support(ind["env_bpfi_sb"]),
        "ball": ind["env_2bsf_hsnr"] * support(ind["env_2bsf_sb"]),
    }


def classify(ind: dict[str, float]) -> tuple[str, float, dict[str, float]]:
    """(fault, confidence, evidence) from envelope indicators."""
    ev = evidence(ind)
    ranked = sorted(ev.items(), key=lambda kv: kv[1], reverse=True)
    (best, e1), (_, e2) = ranked[0], ranked[1]
    present = 1.0 / (1.0 + math.exp(-(e1 - PRESENT) / SCALE * 2.0))
    if e1 < PRESENT:
        return "none", 1.0 - present, ev
    separation = 1.0 - e2 / e1  # a near tie between two families is a less certain call
    return best, present * (0.5 + 0.5 * separation), ev


def candidate_bands(fs: float, shaft_hz: float, bearing) -> list[tuple[float, float]]:
    """Demodulation bands to try: widths that hold the highest line's third harmonic on both sides.

    Starts above the shaft harmonics (≥ 10 × max(BPFI, 2×BSF), ≥ 500 Hz) and
    ends below the anti-alias roll-off (0.45 fs), in widths from half of
    that range down to ``6 ×`` the highest defect line, half-overlapping.
    """
    f = bearing.frequencies(shaft_hz)
    top = max(f["bpfi"], f["2bsf"])
    lo_edge, hi_edge = max(500.0, 10.0 * top), 0.45 * fs
    min_width = 6.0 * top
    if hi_edge - lo_edge < min_width:
        raise ValueError(f"sample rate {fs} Hz too low to demodulate defect lines near {top:.0f} Hz")
    bands, width = [], (hi_edge - lo_edge) / 2.0
    while width >= min_width:
        lo = lo_edge
        while lo + width <= hi_edge + 1e-9:
            bands.append((lo, lo + width))
            lo += width / 2.0
        width /= 1.5
    return bands or [(lo_edge, hi_edge)]


def diagnose(x, fs: float, rpm: float, bearing, window: int | None = None, band: tuple[float, float] | None = None,
             tolerance: float = 0.02) -> Diagnosis:
    """Diagnose a bearing from a recording of its housing acceleration.

    Envelope spectra of half-overlapping windows are averaged per candidate
    band (:func:`candidate_bands`, or the given ``band``); the band whose
    strongest defect family stands out most is used.

    Parameters
    ----------
    x : array_like
        Acceleration, at least a few seconds for a clear call.
    fs : float
        Sample rate, Hz.
    rpm : float
        Shaft speed.
    bearing : edge_agent.bearings.BearingGeometry
        Bearing geometry (``bearing_by_name("6205")``).
    window : int or None
        Window length; default the power of two nearest to 0.7 s (≈1.4 Hz bins).
    band : (float, float) or None
        Fixed demodulation band instead of the search.
    tolerance : float
        Relative search width for slip.
    """
    sig = np.ascontiguousarray(x, dtype=np.float64)
    if sig.ndim != 1 or not np.all(np.isfinite(sig)):
        raise ValueError(f"x must be a finite 1-D signal, got shape {sig.shape}")
    if not rpm > 0:
        raise ValueError(f"rpm must be > 0, got {rpm}")
    shaft_hz = rpm / 60.0
    n = window or int(2 ** round(math.log2(0.7 * fs)))
    if sig.size < n:
        raise ValueError(f"need at least {n} samples ({n / fs:.2f} s) to diagnose, got {sig.size}")
    starts = range(0, sig.size - n + 1, n // 2)
    bands = [check_band(band, fs)] if band is not None else candidate_bands(fs, shaft_hz, bearing)
    best = None
    for b in bands:
        amps = np.mean([envelope_amplitudes(sig[i:i + n], fs, b) for i in starts], axis=0)
        ind = line_indicators(amps, fs / n, shaft_hz, bearing, tolerance)
        fault, conf, ev = classify(ind)
        strength = max(ev.values())
        if best is None or strength > best[0]:
            best = (strength, Diagnosis(fault, conf, {**ind, **{f"evidence_{k}": v for k, v in ev.items()}}, b))
    return best[1]
