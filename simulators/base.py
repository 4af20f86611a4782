"""What every simulated asset offers to the servers (OPC UA, serial, MQTT).

An asset declares its channels and produces their data in steps of
simulated time. Waveform channels return exactly the samples that fall in
the step (the count is carried across steps, so ``rate * t`` samples exist
after ``t`` seconds whatever the step sizes); scalar channels return one
value, the state at the end of the step.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Channel:
    """One signal of a simulated asset.

    Parameters
    ----------
    name : str
        Channel name, e.g. ``"vibration_de"``, ``"current_a"``, ``"temperature"``.
    kind : {"waveform", "scalar"}
        Sampled waveform, or a slowly varying value read once per step.
    rate : float
        Sample rate in Hz for waveforms; 0 for scalars.
    units : str
        Engineering units (``"g"``, ``"A"``, ``"degC"``, ``"rpm"``...).
    """

    name: str
    kind: Literal["waveform", "scalar"]
    rate: float
    units: str


@runtime_checkable
class SimAsset(Protocol):
    """A simulated asset: channels, time steps and its ground truth."""

    asset: str

    def channels(self) -> list[Channel]:
        """The channels this asset produces."""

    def advance(self, dt_s: float) -> dict[str, np.ndarray]:
        """Advance simulated time by ``dt_s`` seconds; return each channel's new data."""

    def ground_truth(self) -> list[dict]:
        """Scripted events: ``event``, ``asset``, ``start_s``, ``end_s``, ``severity``."""


class SampleClock:
    """Counts how many samples of a given rate fall in each time step.

    Examples
    --------
    >>> c = SampleClock(12000.0)
    >>> [c.step(0.1) for _ in range(3)], c.step(1 / 48000)
    ([1200, 1200, 1200], 0)
    """

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.t_s = 0.0
        self._carry = 0.0  # Kahan compensation: 2400 steps of 0.1 s must make exactly 240 s
        self.n = 0

    def step(self, dt_s: float) -> int:
        """Advance by ``dt_s``; return the number of new samples.

        Examples
        --------
        >>> c = SampleClock(5000.0)
        >>> sum(c.step(0.1) for _ in range(2400))
        1200000
        """
        if dt_s < 0:
            raise ValueError(f"time step must be >= 0, got {dt_s}")
        y = dt_s - self._carry
        t = self.t_s + y
        self._carry = (t - self.t_s) - y
        self.t_s = t
        total = int(np.floor(self.t_s * self.rate + 1e-4))
        new, self.n = total - self.n, total
        return new


async def cancel_task(task: asyncio.Task | None) -> None:
    """Cancel a server's streaming task (if any) and wait until it has stopped."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
