"""Scripted faults: what, when, how strong, and what the severity means.

A fault has an onset, a growth ramp and an optional end (a repair). Its
severity is in the physical unit of the symptom it produces (see
:data:`SEVERITY_UNITS`), so a scenario author can reason about what a
sensor will show:

==================  =========  ====================================================
kind                units      severity is
==================  =========  ====================================================
outer_race          g          peak acceleration of one defect impact
inner_race          g          peak impact acceleration with the defect in the load zone
ball                g          peak impact acceleration on the outer race, load zone
imbalance           g          added 1X acceleration amplitude, radial, at base speed
misalignment        g          added 2X acceleration amplitude, axial, at base speed
looseness           g          amplitude of the 1X..10X harmonic family (2X line)
broken_rotor_bar    ratio      (1 - 2s)·f sideband / supply line, at rated load
eccentricity        ratio      f ± fr sideband / supply line
supply_imbalance    ratio      negative- / positive-sequence current (I2 / I1)
cooling_failure     ratio      relative rise of the thermal resistance (1.0 doubles R)
friction            W          extra friction loss heating the bearing
==================  =========  ====================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

#: Units of ``severity`` for each fault kind.
SEVERITY_UNITS: dict[str, str] = {
    "outer_race": "g", "inner_race": "g", "ball": "g",
    "imbalance": "g", "misalignment": "g", "looseness": "g",
    "broken_rotor_bar": "ratio", "eccentricity": "ratio", "supply_imbalance": "ratio",
    "cooling_failure": "ratio", "friction": "W",
}
FAULT_KINDS = tuple(SEVERITY_UNITS)

#: Kind-specific options a fault accepts in ``params`` (name -> type).
FAULT_PARAMS: dict[str, dict[str, type]] = {
    "looseness": {"half_harmonics": bool},
}


@dataclass(frozen=True)
class FaultEvent:
    """One scripted fault: what, when (seconds after start) and how strong.

    Parameters
    ----------
    kind : str
        Fault type, one of :data:`FAULT_KINDS`.
    start_s : float
        Onset in seconds after the simulation start.
    severity : float
        Full-grown strength, in the units of :data:`SEVERITY_UNITS`.
    ramp_s : float
        Seconds over which the fault grows from half to full severity (a
        spall grows; it does not appear at full size).
    end_s : float or None
        When the fault is removed (``None``: never, as on a real machine).
    params : mapping
        Kind-specific options, e.g. ``{"half_harmonics": True}`` for looseness.

    Examples
    --------
    >>> f = FaultEvent("inner_race", start_s=10.0, severity=0.8, ramp_s=4.0)
    >>> f.amplitude(9.0), round(f.amplitude(12.0), 3), f.amplitude(20.0)
    (0.0, 0.6, 0.8)
    """

    kind: str
    start_s: float
    severity: float = 0.6
    ramp_s: float = 5.0
    end_s: float | None = None
    params: Mapping[str, object] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind {self.kind!r} unknown; expected one of {FAULT_KINDS}")
        if self.start_s < 0 or self.severity <= 0 or self.ramp_s < 0 or not np.isfinite(self.severity):
            raise ValueError(
                f"fault {self.kind}: start_s, ramp_s must be >= 0 and severity > 0, "
                f"got start_s={self.start_s}, severity={self.severity}, ramp_s={self.ramp_s}"
            )
        if self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError(f"fault {self.kind}: end_s={self.end_s} must be after start_s={self.start_s}")
        allowed = FAULT_PARAMS.get(self.kind, {})
        for name, value in dict(self.params).items():
            if name not in allowed:
                raise ValueError(f"fault {self.kind}: parameter {name!r} unknown; expected one of {sorted(allowed)}")
            if not isinstance(value, allowed[name]):
                raise ValueError(f"fault {self.kind}: parameter {name}={value!r} must be {allowed[name].__name__}")
        object.__setattr__(self, "params", dict(self.params))

    def amplitude(self, t_s: float) -> float:
        """Strength in severity units at ``t_s`` seconds after simulation start."""
        if t_s < self.start_s or (self.end_s is not None and t_s >= self.end_s):
            return 0.0
        if self.ramp_s == 0:
            return self.severity
        growth = min(1.0, (t_s - self.start_s) / self.ramp_s)
        return self.severity * (0.5 + 0.5 * growth)

    def amplitudes(self, t_s: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`amplitude` over an array of times."""
        t = np.asarray(t_s, dtype=float)
        growth = np.ones_like(t) if self.ramp_s == 0 else np.clip((t - self.start_s) / self.ramp_s, 0.0, 1.0)
        on = t >= self.start_s
        if self.end_s is not None:
            on &= t < self.end_s
        return np.where(on, self.severity * (0.5 + 0.5 * growth), 0.0)

    def ground_truth(self, asset: str) -> dict:
        """This fault as a ground-truth record of ``asset``."""
        return {"event": self.kind, "category": "fault", "asset": asset, "start_s": float(self.start_s),
                "end_s": None if self.end_s is None else float(self.end_s), "severity": float(self.severity),
                "severity_units": SEVERITY_UNITS[self.kind], "ramp_s": float(self.ramp_s),
                "params": dict(self.params)}


def check_applicable(faults, allowed: tuple[str, ...], asset_type: str, asset: str) -> list[FaultEvent]:
    """Refuse faults that the asset type cannot show; return them as a list."""
    faults = list(faults)
    for f in faults:
        if not isinstance(f, FaultEvent):
            raise TypeError(f"{asset_type} {asset!r}: faults must be FaultEvent, got {type(f).__name__}")
        if f.kind not in allowed:
            raise ValueError(f"fault {f.kind!r} does not apply to {asset_type} {asset!r}; "
                             f"expected one of {allowed}")
    return faults
