"""The one block type every adapter yields."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Sample:
    """A block of consecutive samples of one channel of one asset.

    Parameters
    ----------
    asset : str
        Asset identifier.
    channel : str
        Channel name, e.g. ``"vibration_de"`` or ``"temperature"``.
    start_ns : int
        UTC epoch nanoseconds of the first value.
    rate : float
        Sample rate in Hz; 0 for a single scalar reading.
    values : numpy.ndarray
        1-D float64 values in ``units``.
    units : str
        Engineering units, e.g. ``"g"`` or ``"degC"``.

    Examples
    --------
    >>> import numpy as np
    >>> s = Sample("m1", "vibration_de", 0, 12000.0, np.zeros(1200), "g")
    >>> s.end_ns
    100000000
    """

    asset: str
    channel: str
    start_ns: int
    rate: float
    values: np.ndarray
    units: str

    @property
    def end_ns(self) -> int:
        """Epoch nanoseconds just after the last value (``start_ns`` for scalars)."""
        if self.rate <= 0:
            return self.start_ns
        return self.start_ns + int(round(self.values.size / self.rate * 1e9))
