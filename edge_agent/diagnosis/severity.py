"""Vibration severity: velocity RMS 10-1000 Hz and the ISO 20816-3 zone (A-D).

Velocity comes from acceleration by integration in the frequency domain
(divide each bin by ``j·2πf``) with the band 10-1000 Hz applied as an ideal
filter. Zone boundaries are the widely quoted values of ISO 10816-3 /
ISO 20816-3 (annex tables; secondary sources disagree, so they live in one
table, :data:`ZONE_LIMITS`, and a site may pass its own).

Zones: A newly commissioned; B unrestricted long-term operation; C
restricted operation; D vibration may damage the machine.

Examples
--------
>>> import numpy as np
>>> fs = 12000.0
>>> t = np.arange(12000) / fs
>>> a_g = 0.5 * np.sin(2 * np.pi * 50.0 * t)   # 0.5 g at 50 Hz
>>> v = velocity_rms(a_g, fs)
>>> round(v, 1), iso_zone(v, group=2, foundation="rigid")
(11.0, 'D')
"""

from __future__ import annotations

import numpy as np

from edge_agent.features.validation import as_signal, check_positive

G = 9.80665
#: (group, foundation) -> velocity RMS boundaries A/B, B/C, C/D in mm/s. Source: ISO 10816-3:2009 annex A
#: as widely quoted (group 1: 300 kW-50 MW, group 2: 15-300 kW); ISO 20816-3:2022 keeps these zones.
ZONE_LIMITS: dict[tuple[int, str], tuple[float, float, float]] = {
    (2, "rigid"): (1.4, 2.8, 4.5),
    (2, "flexible"): (2.3, 4.5, 7.1),
    (1, "rigid"): (2.3, 4.5, 7.1),
    (1, "flexible"): (3.5, 7.1, 11.0),
}
ZONE_MEANING = {"A": "newly commissioned", "B": "unrestricted operation", "C": "restricted operation",
                "D": "damage possible"}


def velocity_rms(x, fs: float, lo_hz: float = 10.0, hi_hz: float = 1000.0, units: str = "g") -> float:
    """Velocity RMS in mm/s over ``[lo_hz, hi_hz]`` of an acceleration signal in ``units`` (``g`` or ``m/s2``)."""
    sig = as_signal(x, min_len=64)
    fs = check_positive(fs, "fs")
    if not 0 < lo_hz < hi_hz <= fs / 2:
        raise ValueError(f"need 0 < lo_hz < hi_hz <= fs/2 = {fs / 2}, got {lo_hz}, {hi_hz}")
    if units not in ("g", "m/s2"):
        raise ValueError(f"units must be 'g' or 'm/s2', got {units!r}")
    n = sig.size
    spec = np.fft.rfft(sig - sig.mean()) * (G if units == "g" else 1.0)
    f = np.arange(spec.size) * fs / n
    sel = (f >= lo_hz) & (f <= hi_hz)
    v = spec[sel] / (2j * np.pi * f[sel])
    weight = np.where((f[sel] == fs / 2) & (n % 2 == 0), 1.0, 2.0)  # one-sided: every bin but Nyquist twice
    return float(np.sqrt(np.sum(weight * np.abs(v) ** 2)) / n * 1000.0)


def iso_zone(v_rms_mm_s: float, group: int = 2, foundation: str = "rigid",
             limits: tuple[float, float, float] | None = None) -> str:
    """ISO 20816-3 zone letter of a velocity RMS (mm/s) for a machine group and foundation, or site ``limits``."""
    if limits is None:
        try:
            limits = ZONE_LIMITS[(int(group), foundation)]
        except KeyError:
            raise ValueError(f"no ISO 20816-3 zone limits for group {group!r}, foundation {foundation!r}; "
                             f"known: {sorted(ZONE_LIMITS)}") from None
    if not (len(limits) == 3 and 0 < limits[0] < limits[1] < limits[2]):
        raise ValueError(f"zone limits must be three increasing positive numbers, got {limits}")
    if not np.isfinite(v_rms_mm_s) or v_rms_mm_s < 0:
        raise ValueError(f"velocity RMS must be finite and >= 0, got {v_rms_mm_s}")
    return "ABCD"[int(np.searchsorted(np.asarray(limits), v_rms_mm_s, side="right"))]
