"""Operating regimes: scheduled changes of speed, load and ambient.

A regime event moves one or more operating variables of an asset (shaft
speed, load, ambient temperature, supply frequency...) to new values with a
linear ramp. These changes move vibration, current and temperature features
without being faults — exactly what an edge agent's drift monitor must see
and must not confuse with a developing fault — so they are exported in the
ground truth with ``category: "regime"``.

Each variable becomes a piecewise-linear :class:`Profile` of time. Profiles
integrate exactly (piecewise quadratic), so an asset can turn a speed
profile into a shaft angle with no accumulated error over hours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

#: Event names by the single variable an event changes.
_EVENT_NAMES = {
    "rpm": "speed_change",
    "load": "load_change",
    "ambient_c": "ambient_change",
    "supply_hz": "supply_change",
    "noise_scale": "background_change",
}


class Profile:
    """A piecewise-linear function of time, constant before and after its knots.

    Parameters
    ----------
    times : sequence of float
        Knot times in seconds, non-decreasing (a repeated time is a step).
    values : sequence of float
        Value at each knot.

    Examples
    --------
    >>> p = Profile([0.0, 10.0], [600.0, 1800.0])
    >>> float(p(5.0)), float(p(20.0))
    (1200.0, 1800.0)
    >>> float(p.integral(10.0))  # area under the ramp
    12000.0
    """

    def __init__(self, times: Sequence[float], values: Sequence[float]) -> None:
        t = np.asarray(times, dtype=float)
        v = np.asarray(values, dtype=float)
        if t.ndim != 1 or t.size == 0 or t.shape != v.shape:
            raise ValueError(f"profile needs equal, non-empty 1-D times and values, got {t.shape} and {v.shape}")
        if np.any(np.diff(t) < 0) or not np.all(np.isfinite(t)) or not np.all(np.isfinite(v)):
            raise ValueError(f"profile times must be finite and non-decreasing, got {t.tolist()}")
        self.times, self.values = t, v
        dt = np.diff(t)
        self._slopes = np.divide(np.diff(v), dt, out=np.zeros_like(dt), where=dt > 0)
        self._cum = np.concatenate([[0.0], np.cumsum(0.5 * (v[1:] + v[:-1]) * dt)])

    @classmethod
    def constant(cls, value: float) -> "Profile":
        """A profile that holds ``value`` forever."""
        return cls([0.0], [value])

    @property
    def is_constant(self) -> bool:
        """True when the profile never changes."""
        return bool(np.all(self.values == self.values[0]))

    def __call__(self, t):
        """Value at time(s) ``t`` in seconds."""
        return np.interp(t, self.times, self.values)

    def integral(self, t):
        """Exact integral of the profile from ``times[0]`` to ``t`` (clamped below)."""
        ta = np.asarray(t, dtype=float)
        t0 = self.times[0]
        if self.times.size == 1:
            return self.values[0] * np.maximum(ta - t0, 0.0)
        i = np.clip(np.searchsorted(self.times, ta, side="right") - 1, 0, self.times.size - 1)
        tau = np.maximum(ta - self.times[i], 0.0)
        slope = np.where(i < self._slopes.size, self._slopes[np.minimum(i, self._slopes.size - 1)], 0.0)
        return self._cum[i] + self.values[i] * tau + 0.5 * slope * tau * tau

    def __repr__(self) -> str:
        return f"Profile(times={self.times.tolist()}, values={self.values.tolist()})"


@dataclass(frozen=True)
class RegimeEvent:
    """A scheduled change of operating conditions (not a fault).

    Parameters
    ----------
    start_s : float
        When the change begins, seconds after the simulation start.
    to : mapping of str to float
        New values, e.g. ``{"load": 0.4}`` or ``{"rpm": 1500, "load": 0.8}``.
        Which variables exist depends on the asset (see its ``VARIABLES``).
    ramp_s : float
        Duration of the linear transition to the new values.
    end_s : float or None
        When the variables ramp back (over ``ramp_s``) to the values they had
        just before ``start_s``; ``None`` keeps the new values.
    label : str
        Free text shown with the ground truth, e.g. ``"night shift"``.

    Examples
    --------
    >>> RegimeEvent(30.0, {"load": 0.4}, ramp_s=5.0).event
    'load_change'
    """

    start_s: float
    to: Mapping[str, float] = field(hash=False)
    ramp_s: float = 0.0
    end_s: float | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if not self.to:
            raise ValueError("regime event: 'to' must name at least one variable, got {}")
        if self.start_s < 0 or self.ramp_s < 0:
            raise ValueError(f"regime event: start_s and ramp_s must be >= 0, got start_s={self.start_s}, "
                             f"ramp_s={self.ramp_s}")
        if self.end_s is not None and self.end_s < self.start_s + self.ramp_s:
            raise ValueError(f"regime event: end_s={self.end_s} must be at or after start_s + ramp_s = "
                             f"{self.start_s + self.ramp_s}")
        object.__setattr__(self, "to", dict(self.to))

    @property
    def event(self) -> str:
        """Ground-truth event name: ``speed_change``, ``load_change``... or ``regime_change``."""
        if len(self.to) == 1:
            return _EVENT_NAMES.get(next(iter(self.to)), "regime_change")
        return "regime_change"

    def ground_truth(self, asset: str) -> dict:
        """This event as a ground-truth record of ``asset``."""
        return {"event": self.event, "category": "regime", "asset": asset, "start_s": float(self.start_s),
                "end_s": None if self.end_s is None else float(self.end_s), "severity": 0.0,
                "severity_units": "", "ramp_s": float(self.ramp_s), "to": dict(self.to), "label": self.label}


def profile_events(variable: str, points: Sequence[Sequence[float]]) -> list[RegimeEvent]:
    """Turn a list of ``(t_s, value)`` points into ramp events of ``variable``.

    The first point gives the value at its time (and before it); each later
    point is reached by a linear ramp from the previous one. Flat segments
    produce no event.

    Examples
    --------
    >>> [(e.start_s, e.ramp_s, e.to) for e in profile_events("rpm", [(0, 600), (10, 1800), (60, 1800)])]
    [(0.0, 10.0, {'rpm': 1800.0})]
    """
    pts = [(float(t), float(v)) for t, v in points]
    if len(pts) < 1:
        raise ValueError(f"{variable} profile needs at least one (t_s, value) point")
    events = []
    for (t0, v0), (t1, v1) in zip(pts, pts[1:]):
        if t1 < t0:
            raise ValueError(f"{variable} profile times must not decrease, got {t0} then {t1}")
        if v1 != v0:
            events.append(RegimeEvent(t0, {variable: v1}, ramp_s=t1 - t0, label=f"{variable} profile"))
    return events


class OperatingSchedule:
    """Piecewise-linear profiles of an asset's operating variables.

    Parameters
    ----------
    base : mapping of str to float
        Value of each variable at time 0 (also fixes which variables exist).
    events : sequence of RegimeEvent
        Scheduled changes. Transitions of one variable must not overlap.
    limits : mapping of str to (float, float), optional
        Allowed closed range of each variable; a violation is refused.
    asset : str
        Used in error messages.

    Examples
    --------
    >>> s = OperatingSchedule({"load": 1.0, "rpm": 1800.0}, [RegimeEvent(10.0, {"load": 0.5}, ramp_s=10.0)])
    >>> float(s.value("load", 15.0)), float(s.value("rpm", 15.0))
    (0.75, 1800.0)
    """

    def __init__(self, base: Mapping[str, float], events: Sequence[RegimeEvent] = (),
                 limits: Mapping[str, tuple[float, float]] | None = None, asset: str = "asset") -> None:
        self.base = dict(base)
        self.events = list(events)
        limits = dict(limits or {})
        transitions: dict[str, list[tuple[float, float, float | None, float | None]]] = {k: [] for k in base}
        for e in self.events:
            for var, value in e.to.items():
                if var not in self.base:
                    raise ValueError(f"asset {asset!r}: regime variable {var!r} unknown; "
                                     f"expected one of {sorted(self.base)}")
                lo, hi = limits.get(var, (-np.inf, np.inf))
                if not lo <= value <= hi:
                    raise ValueError(f"asset {asset!r}: regime value {var}={value} outside [{lo}, {hi}]")
                transitions[var].append((e.start_s, e.ramp_s, float(value), e.end_s))
        self.profiles = {var: self._build(asset, var, self.base[var], tr) for var, tr in transitions.items()}

    @staticmethod
    def _build(asset: str, var: str, base: float, transitions) -> Profile:
        # expand 'end_s' into a second ramp back to the value before the start
        ramps: list[tuple[float, float, float | None]] = []  # (start, ramp, target or None = revert)
        for start, ramp, target, end in transitions:
            ramps.append((start, ramp, target))
            if end is not None:
                ramps.append((end, ramp, None))
        ramps.sort(key=lambda r: r[0])
        times, values = [0.0], [float(base)]
        history: list[float] = []  # value before each applied ramp, for reverting
        for start, ramp, target in ramps:
            if start < times[-1]:
                raise ValueError(f"asset {asset!r}: {var} change at {start} s overlaps the previous "
                                 f"transition, which ends at {times[-1]} s")
            current = values[-1]
            if target is None:
                target = history.pop() if history else float(base)
            else:
                history.append(current)
            times += [start, start + ramp]
            values += [current, target]
        return Profile(times, values)

    def value(self, var: str, t):
        """Value of ``var`` at time(s) ``t``."""
        return self.profiles[var](t)

    def integral(self, var: str, t):
        """Exact integral of ``var`` from 0 to ``t``."""
        return self.profiles[var].integral(t)

    def ground_truth(self, asset: str) -> list[dict]:
        """The regime events as ground-truth records."""
        return [e.ground_truth(asset) for e in self.events]
