"""Three-phase stator currents of an induction motor, for current signature analysis (MCSA).

Supply frequency ``f``, pole pairs ``p``, synchronous speed ``ns = 60 f/p``
rpm and slip ``s``. Slip grows with load (the linear part of the torque
curve: the slip frequency ``s·f`` is ``rated_slip·f_rated`` at rated load
and proportional to load, also under a V/f drive), so the rotor turns at
``fr = f·(1 − s)/p``. The line current has a magnetising part and a part
proportional to load: ``I = √(I0² + (load·Ia)²)`` with
``Ia = √(I_rated² − I0²)``.

Faults add the textbook lines (Thomson & Fenger, "Current signature analysis
to detect induction motor faults", IEEE Ind. Appl. Mag. 7(4), 2001):

- broken rotor bar: sidebands at ``(1 ± 2ks)·f``, k = 1, 2; the lower one
  at ``severity`` times the supply line at rated load (−40 dB is about one
  broken bar in many bars), the upper one weaker (speed ripple), both
  fading with load because the rotor current does;
- air-gap eccentricity: sidebands at ``f ± k·fr``, k = 1, 2;
- supply imbalance: a negative-sequence current set with ``I2/I1 = severity``;
- cooling failure: the winding's thermal resistance rises by ``severity``.

The healthy motor also carries the 5th and 7th supply harmonics and
broadband measurement noise. All phase angles are exact integrals of the
supply-frequency and load profiles, so the lines follow regime changes
(load steps, a variable-speed drive changing ``supply_hz``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulators.base import Channel, SampleClock
from simulators.faults import FaultEvent, check_applicable
from simulators.regimes import OperatingSchedule, RegimeEvent
from simulators.thermal import FirstOrderThermal, integrate

#: Faults an induction motor can show in this model.
MOTOR_FAULTS = ("broken_rotor_bar", "eccentricity", "supply_imbalance", "cooling_failure")
_PHASE_NAMES = ("current_a", "current_b", "current_c")
_SHIFTS = np.array([0.0, -2 * np.pi / 3, 2 * np.pi / 3])  # positive sequence a, b, c
#: Supply harmonics of the healthy motor: order -> fraction of the fundamental.
_HARMONICS = {5: 0.02, 7: 0.012}


@dataclass
class InductionMotor:
    """Stator currents, speed, load and winding temperature of an induction motor.

    Parameters
    ----------
    asset : str
        Asset identifier.
    fs : float
        Current sample rate in Hz (1 000 to 51 200).
    supply_hz : float
        Supply frequency at the start (50 or 60 Hz mains, other values under a drive).
    pole_pairs : int
        Pole pairs ``p`` (2 for a four-pole motor).
    rated_current_a : float
        RMS line current at rated load, A.
    no_load_current_a : float or None
        RMS magnetising current, A (``None``: 35 % of rated).
    rated_slip : float
        Slip at rated load and rated supply frequency.
    load : float
        Load in per unit of rated (0 to 1.5) at the start.
    noise_a : float
        Standard deviation of broadband measurement noise, A.
    ambient_c : float
        Ambient temperature at the start, degrees Celsius.
    rated_loss_w : float
        Winding and core losses at rated load, W (30 % of them fixed).
    thermal_r_k_per_w, thermal_tau_s : float
        Thermal resistance (K/W) and time constant (s) of the winding.
    faults : list of FaultEvent
        Kinds in :data:`MOTOR_FAULTS`.
    regimes : list of RegimeEvent
        Changes of ``load``, ``supply_hz`` and ``ambient_c``.
    seed : int
        Seed of the random generators.

    Examples
    --------
    >>> m = InductionMotor("motor-1", load=1.0, faults=[FaultEvent("broken_rotor_bar", 0.0, severity=0.01)])
    >>> i = m.next_block(5000)
    >>> i.shape, round(float(np.sqrt(np.mean(i[0] ** 2))), 1)  # RMS close to the rated 10 A
    ((3, 5000), 10.0)
    >>> round(m.slip, 3), round(m.shaft_hz, 2)
    (0.03, 24.25)
    """

    VARIABLES = ("load", "supply_hz", "ambient_c")
    LIMITS = {"load": (0.0, 1.5), "supply_hz": (5.0, 120.0), "ambient_c": (-40.0, 80.0)}

    asset: str
    fs: float = 5000.0
    supply_hz: float = 50.0
    pole_pairs: int = 2
    rated_current_a: float = 10.0
    no_load_current_a: float | None = None
    rated_slip: float = 0.03
    load: float = 0.75
    noise_a: float = 0.01
    ambient_c: float = 25.0
    rated_loss_w: float = 450.0
    thermal_r_k_per_w: float = 0.15
    thermal_tau_s: float = 1200.0
    faults: list[FaultEvent] = field(default_factory=list)
    regimes: list[RegimeEvent] = field(default_factory=list)
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1000 <= self.fs <= 51200:
            raise ValueError(f"fs must lie in 1000..51200 Hz for current analysis, got {self.fs}")
        if int(self.pole_pairs) != self.pole_pairs or not 1 <= self.pole_pairs <= 12:
            raise ValueError(f"pole_pairs must be an integer in 1..12, got {self.pole_pairs!r}")
        if not 0 < self.rated_slip < 0.2:
            raise ValueError(f"rated_slip must lie in (0, 0.2), got {self.rated_slip}")
        if self.no_load_current_a is None:
            self.no_load_current_a = 0.35 * self.rated_current_a
        if not 0 < self.no_load_current_a < self.rated_current_a:
            raise ValueError(f"need 0 < no_load_current_a < rated_current_a, got {self.no_load_current_a} "
                             f"and {self.rated_current_a}")
        if self.noise_a < 0:
            raise ValueError(f"noise_a must be >= 0, got {self.noise_a}")
        self.fs = float(self.fs)
        self.faults = check_applicable(self.faults, MOTOR_FAULTS, "motor", self.asset)
        base = {"load": float(self.load), "supply_hz": float(self.supply_hz), "ambient_c": float(self.ambient_c)}
        for var, value in base.items():
            lo, hi = self.LIMITS[var]
            if not lo <= value <= hi:
                raise ValueError(f"{var}={value} outside [{lo}, {hi}] for motor {self.asset!r}")
        self.schedule = OperatingSchedule(base, self.regimes, self.LIMITS, self.asset)
        self._active_rated = float(np.sqrt(self.rated_current_a**2 - self.no_load_current_a**2))
        kids = np.random.SeedSequence(self.seed).spawn(5)
        self._noise_rng = [np.random.default_rng(k) for k in kids[:3]]
        self._temp_rng = np.random.default_rng(kids[3])
        self._phases = np.random.default_rng(kids[4]).uniform(0, 2 * np.pi, 16)
        self._n = 0
        self._clock = SampleClock(self.fs)
        self._winding = FirstOrderThermal(self.thermal_r_k_per_w, self.thermal_tau_s / self.thermal_r_k_per_w, 0.0)
        loss, amb, scale = self._thermal_inputs(0.0, healthy=True)[0]
        self._winding.temperature_c = self._winding.steady_state_c(loss, amb, scale)

    # ----------------------------------------------------------------- physics
    def _slip_hz(self, t):
        """Slip frequency ``s·f`` at time(s) ``t``: proportional to load."""
        return self.rated_slip * self.schedule.base["supply_hz"] * self.schedule.value("load", t)

    def current_rms(self, load: float) -> float:
        """RMS line current in A at a load in per unit (healthy, balanced supply).

        Examples
        --------
        >>> m = InductionMotor("m")
        >>> round(m.current_rms(0.0), 2), round(m.current_rms(1.0), 2)
        (3.5, 10.0)
        """
        return float(np.hypot(self.no_load_current_a, load * self._active_rated))

    @property
    def elapsed_s(self) -> float:
        """Seconds of signal produced so far."""
        return self._n / self.fs

    @property
    def slip(self) -> float:
        """Slip at the end of the signal produced so far."""
        t = self.elapsed_s
        return float(self._slip_hz(t) / self.schedule.value("supply_hz", t))

    @property
    def shaft_hz(self) -> float:
        """Rotor frequency ``f·(1 − s)/p`` in Hz at the end of the signal so far."""
        t = self.elapsed_s
        return float((self.schedule.value("supply_hz", t) - self._slip_hz(t)) / self.pole_pairs)

    @property
    def temperature_c(self) -> float:
        """Winding temperature in degrees Celsius (model state, without sensor noise)."""
        return self._winding.temperature_c

    def next_block(self, n: int) -> np.ndarray:
        """Return the next ``n`` samples of the three phase currents in A, shape ``(3, n)``."""
        if n <= 0:
            raise ValueError(f"block length must be positive, got {n}")
        t = (self._n + np.arange(n)) / self.fs
        s = self.schedule
        theta_s = 2 * np.pi * s.integral("supply_hz", t)  # supply angle
        theta_slip = 2 * np.pi * self.rated_slip * s.base["supply_hz"] * s.integral("load", t)  # ∫ s·f
        theta_r = (theta_s - theta_slip) / self.pole_pairs  # rotor angle
        load = s.value("load", t)
        active = load * self._active_rated
        amp = np.sqrt(2.0) * np.hypot(self.no_load_current_a, active)
        rotor_share = (active / (amp / np.sqrt(2.0))) / (self._active_rated / self.rated_current_a)
        ph = self._phases
        # (relative amplitude, angle relative to theta_s, sequence +1 / -1)
        lines: list[tuple[np.ndarray | float, np.ndarray | float, int]] = []
        for h, rel in _HARMONICS.items():
            if h * float(s.profiles["supply_hz"].values.max()) < 0.45 * self.fs:
                lines.append((rel, (h - 1) * theta_s + ph[h], h))
        for f in self.faults:
            a = f.amplitudes(t)
            if not a.any():
                continue
            if f.kind == "broken_rotor_bar":
                for k, weight in ((1, 1.0), (2, 0.3)):
                    lines.append((weight * a * rotor_share, -2 * k * theta_slip + ph[k], 1))
                    lines.append((0.7 * weight * a * rotor_share, 2 * k * theta_slip + ph[2 + k], 1))
            elif f.kind == "eccentricity":
                for k, weight in ((1, 1.0), (2, 0.3)):
                    lines.append((weight * a, -k * theta_r + ph[5 + k], 1))
                    lines.append((weight * a, k * theta_r + ph[7 + k], 1))
            elif f.kind == "supply_imbalance":
                lines.append((a, ph[10], -1))
        out = np.empty((3, n))
        for p, shift in enumerate(_SHIFTS):
            x = np.cos(theta_s + shift)
            for rel, offset, seq in lines:
                if seq == -1:  # negative sequence: same frequency, phases in reverse order
                    x += rel * np.cos(theta_s - shift + offset)
                else:  # a component of order h rotates with h times the phase shift
                    x += rel * np.cos(theta_s + offset + seq * shift)
            out[p] = amp * x + self._noise_rng[p].standard_normal(n) * self.noise_a
        integrate((self._winding,), t[0], t[0] + n / self.fs, self._thermal_inputs)
        self._n += n
        return out

    def _thermal_inputs(self, t: float, healthy: bool = False) -> list[tuple[float, float, float]]:
        """(loss W, ambient degC, resistance scale) of the winding at time ``t``."""
        s = self.schedule
        i_pu = self.current_rms(float(s.value("load", t))) / self.rated_current_a
        faults = [] if healthy else self.faults
        neg = sum(f.amplitude(t) for f in faults if f.kind == "supply_imbalance")
        scale = 1.0 + sum(f.amplitude(t) for f in faults if f.kind == "cooling_failure")
        loss = self.rated_loss_w * (0.3 + 0.7 * i_pu * i_pu * (1.0 + neg * neg))
        return [(loss, float(s.value("ambient_c", t)), scale)]

    # ---------------------------------------------------------------- protocol
    def channels(self) -> list[Channel]:
        """Three phase currents, shaft speed, load, supply frequency and winding temperature."""
        return [Channel(name, "waveform", self.fs, "A") for name in _PHASE_NAMES] + [
            Channel("shaft_speed", "scalar", 0.0, "rpm"),
            Channel("load", "scalar", 0.0, "%"),
            Channel("supply_frequency", "scalar", 0.0, "Hz"),
            Channel("winding_temperature", "scalar", 0.0, "degC"),
        ]

    def advance(self, dt_s: float) -> dict[str, np.ndarray]:
        """Advance ``dt_s`` seconds; return new samples of every channel."""
        n = self._clock.step(dt_s)
        x = self.next_block(n) if n > 0 else np.zeros((3, 0))
        out = {name: x[i] for i, name in enumerate(_PHASE_NAMES)}
        t = self.elapsed_s
        out["shaft_speed"] = np.array([60.0 * self.shaft_hz])
        out["load"] = np.array([100.0 * float(self.schedule.value("load", t))])
        out["supply_frequency"] = np.array([float(self.schedule.value("supply_hz", t))])
        out["winding_temperature"] = np.array([self._winding.temperature_c + self._temp_rng.normal(0.0, 0.05)])
        return out

    def ground_truth(self) -> list[dict]:
        """Faults and regime events, seconds relative to the simulation start."""
        return [f.ground_truth(self.asset) for f in self.faults] + self.schedule.ground_truth(self.asset)
