"""A rotating machine with a drive-end bearing, block by block.

The vibration model follows the usual physical picture of a localised
bearing defect (McFadden & Smith 1984; Randall & Antoni 2011): every time a
rolling element passes the defect it strikes it, and the impact rings a
structural resonance that decays within a few milliseconds. An outer-race
defect therefore shows as *bursts* of resonance repeating at BPFO, with
1-2 % random jitter in the spacing (slip), not as a sine at BPFO. The
healthy machine carries shaft harmonics (residual imbalance and
misalignment), a lightly excited structural resonance and broadband noise.

The temperature channel is a first-order thermal model
``C dT/dt = P_loss - (T - T_amb) / R`` whose friction loss rises with the
fault severity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulators.base import Channel, SampleClock
from simulators.bearing import SKF_6205, BearingGeometry

FAULT_KINDS = ("outer_race",)


@dataclass(frozen=True)
class FaultEvent:
    """One scripted fault: what, when (seconds after start) and how strong.

    Parameters
    ----------
    kind : str
        Fault type; the spine simulator knows ``"outer_race"``.
    start_s : float
        Onset in seconds after the simulation start.
    severity : float
        Peak acceleration of one defect impact, in g.
    ramp_s : float
        Seconds over which the impact amplitude grows from half to full
        severity (a spall grows; it does not appear at full size).
    end_s : float or None
        When the fault is removed (``None``: never, as on a real machine).
    """

    kind: str
    start_s: float
    severity: float = 0.6
    ramp_s: float = 5.0
    end_s: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind {self.kind!r} unknown; expected one of {FAULT_KINDS}")
        if self.start_s < 0 or self.severity <= 0 or self.ramp_s < 0:
            raise ValueError(
                f"fault {self.kind}: start_s, ramp_s must be >= 0 and severity > 0, "
                f"got start_s={self.start_s}, severity={self.severity}, ramp_s={self.ramp_s}"
            )

    def amplitude(self, t_s: float) -> float:
        """Impact amplitude in g at ``t_s`` seconds after simulation start."""
        if t_s < self.start_s or (self.end_s is not None and t_s >= self.end_s):
            return 0.0
        if self.ramp_s == 0:
            return self.severity
        growth = min(1.0, (t_s - self.start_s) / self.ramp_s)
        return self.severity * (0.5 + 0.5 * growth)


@dataclass
class RotatingMachine:
    """Vibration and temperature of one simulated rotating asset.

    Samples are produced in consecutive blocks by :meth:`next_block`; the
    stream is deterministic for a given ``seed`` and block length.

    Parameters
    ----------
    asset : str
        Asset identifier used in topics and the OPC UA address space.
    fs : float
        Vibration sample rate in Hz (12 kHz or more).
    rpm : float
        Shaft speed in revolutions per minute.
    bearing : BearingGeometry
        Drive-end bearing geometry (default SKF 6205).
    faults : list of FaultEvent
        The fault schedule.
    resonance_hz : float
        Structural resonance excited by the defect impacts.
    damping : float
        Damping ratio of that resonance.
    noise_g : float
        Standard deviation of broadband noise in g.
    ambient_c : float
        Ambient temperature in degrees Celsius.
    seed : int
        Seed of the random generator.

    Examples
    --------
    >>> m = RotatingMachine("pump-1", faults=[FaultEvent("outer_race", start_s=0.0)], seed=1)
    >>> block = m.next_block(1200)
    >>> block.shape, m.fs
    ((1200,), 12000.0)
    """

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

    def __post_init__(self) -> None:
        if self.fs < 12000:
            raise ValueError(f"fs must be at least 12000 Hz for bearing work, got {self.fs}")
        if not 0 < self.resonance_hz < self.fs / 2:
            raise ValueError(f"resonance_hz {self.resonance_hz} must lie below Nyquist {self.fs / 2}")
        self.fs = float(self.fs)
        self._rng = np.random.default_rng(self.seed)
        self._n = 0  # samples produced so far
        self._next_impact_s: dict[int, float] = {}
        self._temperature = self.ambient_c + self._thermal_rise(0.0)
        # impulse response of the resonance, truncated where it decayed to 0.1 %
        decay = 2 * np.pi * self.damping * self.resonance_hz
        n_ir = int(np.ceil(np.log(1000.0) / decay * self.fs))
        t_ir = np.arange(n_ir) / self.fs
        wd = 2 * np.pi * self.resonance_hz * np.sqrt(1 - self.damping**2)
        # acceleration response of a single-degree-of-freedom mode to a force
        # impulse: d²/dt² of e^(-at)·sin(wd t). An accelerometer sees almost
        # nothing of it at low frequency, so the bursts put no line at BPFO
        # in the raw spectrum — only in the envelope.
        ir = np.exp(-decay * t_ir) * ((decay**2 - wd**2) * np.sin(wd * t_ir) - 2 * decay * wd * np.cos(wd * t_ir))
        ir[0] -= ir.sum()  # the impulsive term at t=0 that makes the net area zero
        self._ir = ir / np.abs(ir).max()
        self._tail = np.zeros(n_ir)  # ring-down carried into the next block
        self._clock = SampleClock(self.fs)

    def channels(self) -> list[Channel]:
        """Drive-end acceleration, bearing temperature and shaft speed."""
        return [
            Channel("vibration_de", "waveform", self.fs, "g"),
            Channel("temperature", "scalar", 0.0, "degC"),
            Channel("shaft_speed", "scalar", 0.0, "rpm"),
        ]

    def advance(self, dt_s: float) -> dict[str, np.ndarray]:
        """Advance ``dt_s`` seconds; return new samples of every channel."""
        n = self._clock.step(dt_s)
        x = self.next_block(n) if n > 0 else np.zeros(0)
        return {"vibration_de": x, "temperature": np.array([self.temperature_c]),
                "shaft_speed": np.array([self.rpm])}

    def ground_truth(self) -> list[dict]:
        """The fault schedule as events relative to the simulation start."""
        return [{"event": f.kind, "asset": self.asset, "start_s": f.start_s, "end_s": f.end_s,
                 "severity": f.severity} for f in self.faults]

    @property
    def shaft_hz(self) -> float:
        """Shaft frequency in Hz."""
        return self.rpm / 60.0

    @property
    def elapsed_s(self) -> float:
        """Seconds of signal produced so far."""
        return self._n / self.fs

    @property
    def temperature_c(self) -> float:
        """Bearing temperature at the end of the last block, in degrees Celsius."""
        return self._temperature

    def next_block(self, n: int) -> np.ndarray:
        """Return the next ``n`` vibration samples in g and advance time."""
        if n <= 0:
            raise ValueError(f"block length must be positive, got {n}")
        t = (self._n + np.arange(n)) / self.fs
        fr = self.shaft_hz
        x = (
            0.04 * np.sin(2 * np.pi * fr * t + 0.3)  # residual imbalance, 1X
            + 0.015 * np.sin(2 * np.pi * 2 * fr * t + 1.1)  # alignment, 2X
            + self._rng.normal(0.0, self.noise_g, n)
        )
        # random excitation rings the structural resonance lightly in health;
        # defect impacts ring it hard
        excitation = self._rng.normal(0.0, 0.03 * self.noise_g, n)
        for i, fault in enumerate(self.faults):
            self._add_impacts(i, fault, excitation)
        x += self._resonate(excitation)
        self._advance_thermal(n / self.fs)
        self._n += n
        return x

    def _resonate(self, excitation: np.ndarray) -> np.ndarray:
        """Convolve with the resonance, carrying the ring-down across blocks."""
        n = excitation.size
        full = np.convolve(excitation, self._ir)
        full[: self._tail.size] += self._tail
        out = full[:n].copy()
        rest = full[n:]
        self._tail = np.zeros(self._ir.size)
        self._tail[: rest.size] = rest
        return out

    def _add_impacts(self, index: int, fault: FaultEvent, impulses: np.ndarray) -> None:
        """Place the defect impacts of one fault that fall in this block."""
        t0 = self._n / self.fs
        t1 = (self._n + impulses.size) / self.fs
        period = 1.0 / (self.bearing.bpfo * self.shaft_hz)
        t_hit = self._next_impact_s.get(index, fault.start_s)
        while t_hit < t1:
            amp = fault.amplitude(t_hit)
            if amp > 0 and t_hit >= t0:
                k = int(round((t_hit - t0) * self.fs))
                if k < impulses.size:
                    impulses[k] += amp * self._rng.uniform(0.8, 1.2)
            # 1 % random slip in the spacing of rolling-element passes
            t_hit += period * (1.0 + self._rng.normal(0.0, 0.01))
        self._next_impact_s[index] = t_hit

    def _thermal_rise(self, fault_power: float) -> float:
        """Steady-state rise above ambient for the current friction loss."""
        base_loss_w, r_k_per_w = 30.0, 0.6
        return (base_loss_w + fault_power) * r_k_per_w

    def _advance_thermal(self, dt: float) -> None:
        """Integrate the first-order thermal model over ``dt`` seconds."""
        now = self.elapsed_s + dt
        fault_power = sum(40.0 * f.amplitude(now) for f in self.faults)
        target = self.ambient_c + self._thermal_rise(fault_power)
        tau_s = 120.0
        self._temperature += (target - self._temperature) * (1 - np.exp(-dt / tau_s))
