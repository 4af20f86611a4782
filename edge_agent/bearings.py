"""Rolling-element bearing geometry and characteristic defect frequencies.

The formulas are the standard kinematic ones (see ``shared/DOMAIN.md``;
e.g. Randall & Antoni, "Rolling element bearing diagnostics — a tutorial",
MSSP 25, 2011). Factors are multiples of the shaft frequency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class BearingGeometry:
    """Characteristic frequencies of a bearing as multiples of shaft speed.

    Parameters
    ----------
    name : str
        Designation, e.g. ``"SKF 6205"``.
    bpfo, bpfi, bsf, ftf : float
        Ball-pass frequency outer/inner race, ball spin frequency and
        fundamental train (cage) frequency, each per unit shaft frequency.

    Examples
    --------
    >>> g = BearingGeometry.from_dimensions("demo", n_balls=9, ball_d=0.3126, pitch_d=1.537)
    >>> round(g.bpfo, 3)
    3.585
    >>> round(SKF_6205.frequencies(30.0)["bpfo"], 2)
    107.54
    """

    name: str
    bpfo: float
    bpfi: float
    bsf: float
    ftf: float

    @classmethod
    def from_dimensions(
        cls,
        name: str,
        n_balls: int,
        ball_d: float,
        pitch_d: float,
        contact_angle_deg: float = 0.0,
    ) -> "BearingGeometry":
        """Build the factors from ball count, diameters and contact angle."""
        if n_balls < 3 or ball_d <= 0 or pitch_d <= ball_d:
            raise ValueError(
                f"bearing {name!r}: need n_balls >= 3 and 0 < ball_d < pitch_d, "
                f"got n_balls={n_balls}, ball_d={ball_d}, pitch_d={pitch_d}"
            )
        r = ball_d / pitch_d * math.cos(math.radians(contact_angle_deg))
        return cls(
            name=name,
            bpfo=n_balls / 2 * (1 - r),
            bpfi=n_balls / 2 * (1 + r),
            bsf=pitch_d / (2 * ball_d) * (1 - r * r),
            ftf=0.5 * (1 - r),
        )

    def frequencies(self, shaft_hz: float) -> dict[str, float]:
        """Return the defect frequencies in Hz for a shaft frequency in Hz."""
        return {
            "shaft": shaft_hz,
            "bpfo": self.bpfo * shaft_hz,
            "bpfi": self.bpfi * shaft_hz,
            "bsf": self.bsf * shaft_hz,
            "2bsf": 2 * self.bsf * shaft_hz,
            "ftf": self.ftf * shaft_hz,
        }


#: Drive-end bearing of the CWRU rig (factors as published with the data set).
SKF_6205 = BearingGeometry("SKF 6205", bpfo=3.5848, bpfi=5.4152, bsf=2.3567, ftf=0.39828)
#: Fan-end bearing of the CWRU rig.
SKF_6203 = BearingGeometry("SKF 6203", bpfo=3.0530, bpfi=4.9469, bsf=1.9937, ftf=0.3817)

BEARINGS: dict[str, BearingGeometry] = {"6205": SKF_6205, "6203": SKF_6203}


def bearing_by_name(name: str) -> BearingGeometry:
    """Look up a preset bearing by designation (``"6205"`` or ``"SKF 6205"``)."""
    key = name.upper().replace("SKF", "").strip()
    try:
        return BEARINGS[key]
    except KeyError:
        raise ValueError(f"unknown bearing {name!r}; known: {sorted(BEARINGS)}") from None
