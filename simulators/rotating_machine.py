"""A rotating machine with a drive-end bearing, block by block.

Vibration is the sum of what an analyst expects on a real machine:

- shaft-synchronous lines from residual imbalance (1X) and alignment (2X),
  and from faults: **imbalance** (a strong 1X, radial, elliptical orbit:
  horizontal and vertical in quadrature), **misalignment** (2X, strongest on
  the axial axis, with some axial 1X), **mechanical looseness** (a family
  of 1X..10X harmonics, optionally with half-harmonics 0.5X, 1.5X...);
- bearing-defect bursts (outer race, inner race, ball; see
  :mod:`simulators.vibration`) ringing a structural resonance;
- broadband noise, and random excitation that keeps the resonance lightly
  ringing in health.

Shaft speed is constant or follows a piecewise-linear profile; the shaft
angle is the exact integral of speed, so every line and impact train
follows the instantaneous speed. Speed and load come from regime events
(:mod:`simulators.regimes`); imbalance force grows with speed squared, noise
and impact strength with load.

Axes: one accelerometer gives ``vibration_de`` (drive-end, radial
horizontal); two give ``vibration_x`` (radial horizontal) and
``vibration_y`` (radial vertical); three add ``vibration_z`` (axial). Each
axis sees its own structural mode and its own noise.

The ``temperature`` channel is the bearing's first-order thermal model
(:mod:`simulators.thermal`) whose friction loss rises with load, speed and
the faults; a ``cooling_failure`` fault raises its thermal resistance.

Every random stream (noise per axis, each fault's impact train) has its own
generator, so the output depends only on the seed, not on block sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge_agent.bearings import SKF_6205, BearingGeometry
from simulators.base import Channel, SampleClock
from simulators.faults import FAULT_KINDS, FaultEvent, check_applicable
from simulators.regimes import OperatingSchedule, RegimeEvent, profile_events
from simulators.thermal import FirstOrderThermal, integrate
from simulators.vibration import BEARING_FAULTS, ImpactTrain, Resonance

__all__ = ["FAULT_KINDS", "FaultEvent", "RotatingMachine", "MACHINE_FAULTS", "AXES"]

#: Faults a rotating machine can show.
MACHINE_FAULTS = ("outer_race", "inner_race", "ball", "imbalance", "misalignment", "looseness",
                  "cooling_failure", "friction")

#: Axis -> (channel, orientation, resonance multiplier, transmission of bearing impacts).
AXES = {
    "de": ("vibration_de", "horizontal", 1.00, 1.00),
    "x": ("vibration_x", "horizontal", 1.00, 1.00),
    "y": ("vibration_y", "vertical", 1.13, 0.80),
    "z": ("vibration_z", "axial", 0.81, 0.35),
}
_AXIS_SETS = {1: ("de",), 2: ("x", "y"), 3: ("x", "y", "z")}

# Line sources: orientation -> (gain, phase shift in rad). Radial axes see a
# rotating force in quadrature; the axial axis a small share of it.
_ORBIT = {"horizontal": (1.0, 0.0), "vertical": (0.8, -np.pi / 2), "axial": (0.1, 0.0)}
_MISALIGN_2X = {"horizontal": (0.45, 0.0), "vertical": (0.40, -np.pi / 2), "axial": (1.0, 0.0)}
_MISALIGN_1X = {"horizontal": (0.15, 0.0), "vertical": (0.15, -np.pi / 2), "axial": (0.5, 0.0)}
_HEALTH_2X = {"horizontal": (1.0, 0.0), "vertical": (0.8, -np.pi / 2), "axial": (0.6, 0.0)}
_LOOSE = {"horizontal": (0.8, 0.0), "vertical": (1.0, 0.7), "axial": (0.3, 0.0)}
#: Relative amplitudes of the looseness family 1X..10X and of 0.5X..5.5X.
_LOOSE_HARMONICS = np.array([0.6, 1.0, 0.8, 0.65, 0.5, 0.45, 0.35, 0.3, 0.25, 0.2])
_LOOSE_HALVES = 0.35 * np.array([0.8, 0.7, 0.6, 0.5, 0.4, 0.35, 0.3, 0.25, 0.2, 0.2, 0.15])
#: Friction loss in W per unit of fault amplitude (g), heating the bearing.
_FRICTION_W = {"outer_race": 40.0, "inner_race": 40.0, "ball": 40.0, "imbalance": 25.0,
               "misalignment": 25.0, "looseness": 10.0, "friction": 1.0}


@dataclass
class RotatingMachine:
    """Vibration, bearing temperature, speed and load of one simulated rotating asset.

    Samples are produced in consecutive blocks by :meth:`next_block` (or by
    :meth:`advance` for every channel); the stream is deterministic for a
    given ``seed`` whatever the block lengths.

    Parameters
    ----------
    asset : str
        Asset identifier used in topics and the OPC UA address space.
    fs : float
        Vibration sample rate in Hz (12 000 to 51 200).
    rpm : float
        Shaft speed in revolutions per minute at the start.
    bearing : BearingGeometry
        Drive-end bearing geometry (default SKF 6205).
    faults : list of FaultEvent
        The fault schedule (kinds in :data:`MACHINE_FAULTS`).
    resonance_hz : float
        Structural resonance excited by the defect impacts (first axis).
    damping : float
        Damping ratio of that resonance.
    noise_g : float
        Standard deviation of broadband noise in g at the starting load.
    ambient_c : float
        Ambient temperature in degrees Celsius at the start.
    seed : int
        Seed of the random generators.
    load : float
        Load in per unit of rated (0 to 1.5) at the start.
    axes : int
        Number of accelerometer axes, 1 to 3 (see :data:`AXES`).
    regimes : list of RegimeEvent
        Changes of ``rpm``, ``load``, ``ambient_c`` and ``noise_scale``
        (background vibration from neighbouring machines, a multiplier).
    speed_profile : list of (float, float) or None
        ``(t_s, rpm)`` points of a piecewise-linear speed profile, a
        shorthand for ``rpm`` regime events; its first point sets ``rpm``.

    Examples
    --------
    >>> m = RotatingMachine("pump-1", faults=[FaultEvent("outer_race", start_s=0.0)], seed=1)
    >>> block = m.next_block(1200)
    >>> block.shape, m.fs
    ((1200,), 12000.0)
    >>> m3 = RotatingMachine("fan-2", fs=25600, axes=3, speed_profile=[(0, 600), (10, 1800)])
    >>> [c.name for c in m3.channels()][:3], m3.next_block(256).shape
    (['vibration_x', 'vibration_y', 'vibration_z'], (3, 256))
    """

    VARIABLES = ("rpm", "load", "ambient_c", "noise_scale")
    LIMITS = {"rpm": (30.0, 60000.0), "load": (0.0, 1.5), "ambient_c": (-40.0, 80.0), "noise_scale": (0.0, 100.0)}

    asset: str
    fs: float = 12000.0
    rpm: float = 1797.0
    bearing: BearingGeometry = SKF_6205
    faults: list[FaultEvent] = field(default_factory=list)
    resonance_hz: float = 3000.0
    damping: float = 0.05
    noise_g: float = 0.03
    ambient_c: float = 22.0
    seed: int = 0
    load: float = 0.8
    axes: int = 1
    regimes: list[RegimeEvent] = field(default_factory=list)
    speed_profile: list[tuple[float, float]] | None = None

    def __post_init__(self) -> None:
        if not 12000 <= self.fs <= 51200:
            raise ValueError(f"fs must lie in 12000..51200 Hz for bearing work, got {self.fs}")
        if self.axes not in _AXIS_SETS:
            raise ValueError(f"axes must be 1, 2 or 3, got {self.axes!r}")
        if self.noise_g < 0:
            raise ValueError(f"noise_g must be >= 0, got {self.noise_g}")
        self.fs = float(self.fs)
        self.faults = check_applicable(self.faults, MACHINE_FAULTS, "rotating_machine", self.asset)
        events = list(self.regimes)
        if self.speed_profile is not None:
            pts = [(float(t), float(v)) for t, v in self.speed_profile]
            if not pts or pts[0][0] != 0.0:
                raise ValueError(f"speed_profile must start at t=0, got {self.speed_profile!r}")
            self.rpm = pts[0][1]
            events += profile_events("rpm", pts)
        base = {"rpm": float(self.rpm), "load": float(self.load), "ambient_c": float(self.ambient_c),
                "noise_scale": 1.0}
        for var, value in base.items():
            lo, hi = self.LIMITS[var]
            if not lo <= value <= hi:
                raise ValueError(f"{var}={value} outside [{lo}, {hi}] for asset {self.asset!r}")
        self.schedule = OperatingSchedule(base, events, self.LIMITS, self.asset)
        self._axes = [AXES[a] for a in _AXIS_SETS[self.axes]]
        # independent random streams: noise and resonance excitation per axis, one per fault, line phases
        seq = np.random.SeedSequence(self.seed)
        kids = seq.spawn(2 * len(self._axes) + len(self.faults) + 1)
        self._noise_rng = [np.random.default_rng(k) for k in kids[: 2 * len(self._axes)]]
        self._phases = np.random.default_rng(kids[-1]).uniform(0, 2 * np.pi, 32)
        self._modes = [Resonance(min(self.resonance_hz * mult, 0.45 * self.fs) if i else self.resonance_hz,
                                 self.damping, self.fs) for i, (_, _, mult, _) in enumerate(self._axes)]
        self._trains = [ImpactTrain(f, self.bearing, np.random.default_rng(kids[2 * len(self._axes) + i]),
                                    float(self.schedule.integral("rpm", f.start_s)) / 60.0)
                        for i, f in enumerate(self.faults) if f.kind in BEARING_FAULTS]
        self._carry = np.zeros(0)  # impacts that fell beyond the last block
        self._n = 0
        self._clock = SampleClock(self.fs)
        self._thermal = FirstOrderThermal(r_k_per_w=0.6, c_j_per_k=200.0, temperature_c=0.0)
        loss, amb, scale = self._thermal_inputs(0.0, healthy=True)[0]  # ran healthy before t = 0
        self._thermal.temperature_c = self._thermal.steady_state_c(loss, amb, scale)

    # ----------------------------------------------------------------- protocol
    def channels(self) -> list[Channel]:
        """Acceleration per axis, bearing temperature, shaft speed and load."""
        return [Channel(name, "waveform", self.fs, "g") for name, *_ in self._axes] + [
            Channel("temperature", "scalar", 0.0, "degC"),
            Channel("shaft_speed", "scalar", 0.0, "rpm"),
            Channel("load", "scalar", 0.0, "%"),
        ]

    def advance(self, dt_s: float) -> dict[str, np.ndarray]:
        """Advance ``dt_s`` seconds; return new samples of every channel."""
        n = self._clock.step(dt_s)
        x = np.atleast_2d(self.next_block(n)) if n > 0 else np.zeros((len(self._axes), 0))
        out = {name: x[i] for i, (name, *_) in enumerate(self._axes)}
        t = self.elapsed_s
        out["temperature"] = np.array([self.temperature_c])
        out["shaft_speed"] = np.array([float(self.schedule.value("rpm", t))])
        out["load"] = np.array([100.0 * float(self.schedule.value("load", t))])
        return out

    def ground_truth(self) -> list[dict]:
        """Faults and regime events, seconds relative to the simulation start."""
        return [f.ground_truth(self.asset) for f in self.faults] + self.schedule.ground_truth(self.asset)

    # --------------------------------------------------------------- properties
    @property
    def axis_channels(self) -> list[str]:
        """Names of the vibration channels, in the row order of :meth:`next_block`."""
        return [name for name, *_ in self._axes]

    @property
    def shaft_hz(self) -> float:
        """Shaft frequency in Hz at the end of the signal produced so far."""
        return float(self.schedule.value("rpm", self.elapsed_s)) / 60.0

    @property
    def elapsed_s(self) -> float:
        """Seconds of signal produced so far."""
        return self._n / self.fs

    @property
    def temperature_c(self) -> float:
        """Bearing temperature at the end of the last block, in degrees Celsius."""
        return self._thermal.temperature_c

    # -------------------------------------------------------------- generation
    def next_block(self, n: int) -> np.ndarray:
        """Return the next ``n`` samples in g and advance time.

        Shape ``(n,)`` with one axis, ``(axes, n)`` with two or three (rows
        in the order of :attr:`axis_channels`).
        """
        if n <= 0:
            raise ValueError(f"block length must be positive, got {n}")
        t = (self._n + np.arange(n + 1)) / self.fs  # one extra: the start of the next block
        rev = self.schedule.integral("rpm", t) / 60.0
        ts = t[:n]
        rpm0, load0 = self.schedule.base["rpm"], self.schedule.base["load"]
        speed = self.schedule.value("rpm", ts) / rpm0  # relative to the starting speed
        load_gain = (0.6 + 0.4 * self.schedule.value("load", ts)) / (0.6 + 0.4 * load0)
        noise_level = self.noise_g * self.schedule.value("noise_scale", ts) * load_gain
        impacts = self._impacts(t, rev, n)
        x = self._lines(2 * np.pi * rev[:n], ts, speed)
        for i, (_, _, _, transmission) in enumerate(self._axes):
            excitation = self._noise_rng[2 * i + 1].standard_normal(n) * (0.03 * noise_level)
            if impacts is not None:
                excitation += transmission * impacts
            x[i] += self._noise_rng[2 * i].standard_normal(n) * noise_level + self._modes[i].filter(excitation)
        self._advance_thermal(ts[0], t[n])
        self._n += n
        return x[0] if len(self._axes) == 1 else x

    def _impacts(self, t: np.ndarray, rev: np.ndarray, n: int) -> np.ndarray | None:
        """Impulses of every bearing fault in this block, carrying overflow to the next."""
        if not self._trains and not self._carry.size:
            return None
        rpm0, load0 = self.schedule.base["rpm"], self.schedule.base["load"]

        def gain(tt):  # impact strength grows with speed and load
            return (self.schedule.value("rpm", tt) / rpm0) * (0.5 + 0.5 * self.schedule.value("load", tt)) / (
                0.5 + 0.5 * load0)

        placed = [tr.place(t, rev, gain) for tr in self._trains]
        size = max([n, self._carry.size] + [int(idx.max()) + 1 for idx, _ in placed if idx.size])
        buf = np.zeros(size)
        buf[: self._carry.size] += self._carry
        for idx, amp in placed:
            np.add.at(buf, idx, amp)
        self._carry = buf[n:].copy()
        return buf[:n]

    def _lines(self, theta: np.ndarray, t: np.ndarray, speed: np.ndarray) -> np.ndarray:
        """Shaft-synchronous lines of health and of the line-producing faults, per axis.

        A line of order ``h`` adds ``g·e(t)·sin(h·θ + φ + shift)`` to an axis,
        ``e(t)`` being the envelope of its source (fault growth times speed or
        speed squared). ``sin``/``cos`` of every ``h·θ`` (h = 0.5, 1, 1.5...)
        come from the angle-addition recurrence on ``θ/2``; each source then
        costs one small matrix product, however many harmonics it has.
        """
        orient = [o for _, o, _, _ in self._axes]
        ph = self._phases
        sq = speed * speed
        sources: list[tuple[np.ndarray, list]] = []  # (envelope, [(2 × order, gains, phase, scale)])
        sources.append((sq, [(2, _ORBIT, 0.3, 0.04)]))  # health: residual imbalance
        sources.append((speed, [(4, _HEALTH_2X, 1.1, 0.015)]))  # and alignment
        for f in self.faults:
            if f.kind not in ("imbalance", "misalignment", "looseness"):
                continue
            a = f.amplitudes(t)
            if not a.any():
                continue
            if f.kind == "imbalance":
                sources.append((a * sq, [(2, _ORBIT, ph[1], 1.0)]))
            elif f.kind == "misalignment":
                sources.append((a * speed, [(4, _MISALIGN_2X, ph[2], 1.0), (2, _MISALIGN_1X, ph[3], 1.0)]))
            else:
                family = [(2 * h, _LOOSE, ph[4 + h], rel) for h, rel in enumerate(_LOOSE_HARMONICS, start=1)]
                if f.params.get("half_harmonics"):
                    family += [(2 * j + 1, _LOOSE, ph[15 + j], rel) for j, rel in enumerate(_LOOSE_HALVES)]
                sources.append((a * sq, family))
        top = max(key for _, lines in sources for key, *_ in lines)
        basis = np.empty((2 * top, t.size))  # rows 2k, 2k+1: sin, cos of (k+1)·θ/2
        s1, c1 = np.sin(0.5 * theta), np.cos(0.5 * theta)
        basis[0], basis[1] = s1, c1
        for k in range(1, top):
            s, c = basis[2 * k - 2], basis[2 * k - 1]
            np.multiply(s, c1, out=basis[2 * k])
            basis[2 * k] += c * s1
            np.multiply(c, c1, out=basis[2 * k + 1])
            basis[2 * k + 1] -= s * s1
        x = np.zeros((len(orient), t.size))
        for envelope, lines in sources:
            w = np.zeros((len(orient), 2 * top))
            for key, gains, phase, scale in lines:
                for i, o in enumerate(orient):
                    g, shift = gains[o]
                    w[i, 2 * key - 2] += scale * g * np.cos(phase + shift)  # sin(hθ+φ) = sin hθ cos φ + cos hθ sin φ
                    w[i, 2 * key - 1] += scale * g * np.sin(phase + shift)
            x += envelope * (w @ basis)
        return x

    # ---------------------------------------------------------------- thermal
    def _thermal_inputs(self, t: float, healthy: bool = False) -> list[tuple[float, float, float]]:
        """(loss W, ambient degC, resistance scale) of the bearing at time ``t``."""
        s = self.schedule
        speed = float(s.value("rpm", t)) / s.base["rpm"]
        load = float(s.value("load", t))
        loss = 30.0 * speed * (0.5 + 0.5 * load) / (0.5 + 0.5 * s.base["load"])
        scale = 1.0
        for f in [] if healthy else self.faults:
            a = f.amplitude(t)
            if f.kind == "cooling_failure":
                scale += a
            else:
                loss += _FRICTION_W[f.kind] * a
        return [(loss, float(s.value("ambient_c", t)), scale)]

    def _advance_thermal(self, t0: float, t1: float) -> None:
        integrate((self._thermal,), t0, t1, self._thermal_inputs)
