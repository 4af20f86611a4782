"""First-order thermal models of bearings and windings.

Each temperature follows the lumped model ``C·dT/dt = P_loss − (T − T_amb)/R``
(one thermal capacity ``C`` in J/K behind one resistance ``R`` in K/W to
ambient; time constant ``τ = R·C``). Losses come from load (copper and
core losses of a winding, rolling friction of a bearing) and from faults
(friction); a cooling failure — a blocked fan, a clogged fin — raises ``R``,
so the machine runs hotter and reacts more slowly. Inputs are held over
sub-steps of at most one second and each sub-step is integrated exactly, so
a constant input gives the analytic exponential to rounding error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from simulators.base import Channel
from simulators.faults import FaultEvent, check_applicable
from simulators.regimes import OperatingSchedule, RegimeEvent

#: Longest interval integrated with inputs held constant.
MAX_SUBSTEP_S = 1.0


@dataclass
class FirstOrderThermal:
    """One lumped thermal node: ``C·dT/dt = P − (T − T_amb)/(R·r_scale)``.

    Parameters
    ----------
    r_k_per_w : float
        Thermal resistance to ambient in K/W with healthy cooling.
    c_j_per_k : float
        Thermal capacity in J/K.
    temperature_c : float
        Present temperature in degrees Celsius.

    Examples
    --------
    >>> m = FirstOrderThermal(r_k_per_w=0.5, c_j_per_k=240.0, temperature_c=20.0)
    >>> m.tau_s, m.steady_state_c(40.0, 20.0)
    (120.0, 40.0)
    >>> round(m.step(120.0, 40.0, 20.0), 3)  # one time constant: 63.2 % of the way
    32.642
    """

    r_k_per_w: float
    c_j_per_k: float
    temperature_c: float

    def __post_init__(self) -> None:
        if not (self.r_k_per_w > 0 and self.c_j_per_k > 0):
            raise ValueError(f"thermal model needs r_k_per_w > 0 and c_j_per_k > 0, "
                             f"got {self.r_k_per_w} and {self.c_j_per_k}")

    @property
    def tau_s(self) -> float:
        """Time constant ``R·C`` in seconds with healthy cooling."""
        return self.r_k_per_w * self.c_j_per_k

    def steady_state_c(self, loss_w: float, ambient_c: float, r_scale: float = 1.0) -> float:
        """Temperature reached if the inputs stayed as they are."""
        return ambient_c + loss_w * self.r_k_per_w * r_scale

    def step(self, dt_s: float, loss_w: float, ambient_c: float, r_scale: float = 1.0) -> float:
        """Integrate exactly over ``dt_s`` with constant inputs; return the new temperature."""
        if dt_s < 0:
            raise ValueError(f"time step must be >= 0, got {dt_s}")
        target = self.steady_state_c(loss_w, ambient_c, r_scale)
        tau = self.tau_s * r_scale
        self.temperature_c = target + (self.temperature_c - target) * float(np.exp(-dt_s / tau))
        return self.temperature_c


def integrate(nodes: Sequence[FirstOrderThermal], t0: float, t1: float,
              inputs: Callable[[float], Sequence[tuple[float, float, float]]]) -> None:
    """Advance several nodes from ``t0`` to ``t1`` s in sub-steps of at most one second.

    ``inputs(t_mid)`` returns one ``(loss_w, ambient_c, r_scale)`` per node,
    evaluated at the middle of each sub-step.
    """
    n = max(1, int(np.ceil((t1 - t0) / MAX_SUBSTEP_S - 1e-9)))
    dt = (t1 - t0) / n
    for k in range(n):
        for node, (loss, amb, scale) in zip(nodes, inputs(t0 + (k + 0.5) * dt)):
            node.step(dt, loss, amb, scale)


@dataclass
class ThermalAsset:
    """Winding and bearing temperatures of a motor housing, with load and ambient.

    Winding loss is ``rated_winding_loss_w·(0.3 + 0.7·load²)`` (core plus
    copper losses, copper ∝ current² ∝ load²); bearing loss is
    ``bearing_loss_w·(0.5 + 0.5·load)`` plus any ``friction`` fault (W).
    A ``cooling_failure`` of severity ``k`` multiplies both thermal
    resistances by ``1 + k`` (and so its time constant). The machine starts
    at its healthy steady state unless ``initial_c`` is given.

    Parameters
    ----------
    asset : str
        Asset identifier.
    load : float
        Load in per unit of rated (0–1.5) at the start.
    ambient_c : float
        Ambient temperature at the start, degrees Celsius.
    rated_winding_loss_w, winding_r_k_per_w, winding_tau_s : float
        Winding loss at rated load (W), thermal resistance (K/W), time constant (s).
    bearing_loss_w, bearing_r_k_per_w, bearing_tau_s : float
        Bearing friction loss at rated load (W), thermal resistance, time constant.
    noise_c : float
        Standard deviation of the measurement noise of each sensor, K.
    faults : list of FaultEvent
        ``cooling_failure`` and ``friction`` faults.
    regimes : list of RegimeEvent
        Changes of ``load`` and ``ambient_c``.
    initial_c : float or None
        Start temperature of both nodes (``None``: steady state).
    seed : int
        Seed of the measurement noise.

    Examples
    --------
    >>> a = ThermalAsset("motor-1", faults=[FaultEvent("cooling_failure", start_s=0.0, severity=1.0, ramp_s=0)])
    >>> before = a.winding.temperature_c
    >>> out = a.advance(1200.0)  # half the slowed time constant
    >>> float(out["winding_temperature"][0]) - before > 10
    True
    """

    VARIABLES = ("load", "ambient_c")
    FAULTS = ("cooling_failure", "friction")
    LIMITS = {"load": (0.0, 1.5), "ambient_c": (-40.0, 80.0)}

    asset: str
    load: float = 0.75
    ambient_c: float = 22.0
    rated_winding_loss_w: float = 400.0
    winding_r_k_per_w: float = 0.15
    winding_tau_s: float = 1200.0
    bearing_loss_w: float = 25.0
    bearing_r_k_per_w: float = 0.8
    bearing_tau_s: float = 300.0
    noise_c: float = 0.05
    faults: list[FaultEvent] = field(default_factory=list)
    regimes: list[RegimeEvent] = field(default_factory=list)
    initial_c: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        self.faults = check_applicable(self.faults, self.FAULTS, "thermal asset", self.asset)
        if self.noise_c < 0:
            raise ValueError(f"noise_c must be >= 0, got {self.noise_c}")
        self.schedule = OperatingSchedule({"load": self.load, "ambient_c": self.ambient_c}, self.regimes,
                                          self.LIMITS, self.asset)
        self.winding = FirstOrderThermal(self.winding_r_k_per_w, self.winding_tau_s / self.winding_r_k_per_w, 0.0)
        self.bearing = FirstOrderThermal(self.bearing_r_k_per_w, self.bearing_tau_s / self.bearing_r_k_per_w, 0.0)
        for node, (loss, amb, scale) in zip((self.winding, self.bearing), self._inputs(0.0, healthy=True)):
            node.temperature_c = node.steady_state_c(loss, amb, scale) if self.initial_c is None else self.initial_c
        self._rng = np.random.default_rng(self.seed)
        self._t = 0.0

    def _inputs(self, t: float, healthy: bool = False) -> list[tuple[float, float, float]]:
        load = float(self.schedule.value("load", t))
        amb = float(self.schedule.value("ambient_c", t))
        faults = [] if healthy else self.faults
        scale = 1.0 + sum(f.amplitude(t) for f in faults if f.kind == "cooling_failure")
        friction = sum(f.amplitude(t) for f in faults if f.kind == "friction")
        return [(self.rated_winding_loss_w * (0.3 + 0.7 * load * load), amb, scale),
                (self.bearing_loss_w * (0.5 + 0.5 * load) + friction, amb, scale)]

    def channels(self) -> list[Channel]:
        """Winding, bearing and ambient temperatures and the load, all scalars."""
        return [Channel("winding_temperature", "scalar", 0.0, "degC"),
                Channel("bearing_temperature", "scalar", 0.0, "degC"),
                Channel("ambient_temperature", "scalar", 0.0, "degC"),
                Channel("load", "scalar", 0.0, "%")]

    @property
    def elapsed_s(self) -> float:
        """Simulated seconds so far."""
        return self._t

    def advance(self, dt_s: float) -> dict[str, np.ndarray]:
        """Advance ``dt_s`` seconds; return each channel's value at the end of the step."""
        if dt_s < 0:
            raise ValueError(f"time step must be >= 0, got {dt_s}")
        integrate((self.winding, self.bearing), self._t, self._t + dt_s, self._inputs)
        self._t += dt_s
        noise = self._rng.normal(0.0, self.noise_c, 3) if self.noise_c > 0 else np.zeros(3)
        return {"winding_temperature": np.array([self.winding.temperature_c + noise[0]]),
                "bearing_temperature": np.array([self.bearing.temperature_c + noise[1]]),
                "ambient_temperature": np.array([float(self.schedule.value("ambient_c", self._t)) + noise[2]]),
                "load": np.array([100.0 * float(self.schedule.value("load", self._t))])}

    def ground_truth(self) -> list[dict]:
        """Faults and regime events of this asset, relative seconds."""
        return [f.ground_truth(self.asset) for f in self.faults] + self.schedule.ground_truth(self.asset)
