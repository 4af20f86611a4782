"""Defect-frequency evidence in a squared-envelope spectrum, and the call it supports.

Every hypothesis is a test against the same null: *the spectrum around the
line is noise*. A noise bin of a power spectrum averaged over ``M``
windows is ``Gamma(M)/M`` times its local mean, which the median of the
neighbourhood estimates; so a peak gets a p-value, a family of harmonics a
Fisher-combined p-value (χ² with ``2H`` degrees of freedom), corrected for
the slip ratios tried (Bonferroni-type ``1 − (1 − p)^trials``). Evidence is
``−log10 p``: 3 means "noise does this once in a thousand windows".

- outer race: the BPFO comb (a stationary defect: clean harmonics);
- inner race: the BPFI comb and its ±fr sidebands (the defect turns through
  the load zone once per revolution);
- ball: the 2×BSF comb and its ±FTF sidebands (the ball travels with the
  cage); ball defects are the weakest and the least regular.

The call (:func:`decide`): ``none`` when no family reaches :data:`PRESENT`
("no bearing defect found"); otherwise the strongest family, unless the
second is within :data:`AMBIGUOUS` decades of it — then ``unknown``.
A family counts only when at least two of its lines (harmonics or
sidebands) stand out, one of them a harmonic, and its lines without the
strongest harmonic are still present on their own
(:func:`without_strongest`): one stray peak, however tall, is not a defect
signature. Sidebands are searched only around a
harmonic that was found: around an empty carrier they would land on
whatever other line is near (a shaft harmonic, another family). Nothing is fitted to a data set: the scales are those of the
p-values.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> power = rng.exponential(1.0, 2000)
>>> power[[73, 146, 219]] += 60.0
>>> fam = family_evidence("outer_race", power, df=1.0, f0=73.4, averages=1)
>>> fam.evidence > 5, [h.harmonic for h in fam.harmonics if h.found]
(True, [1, 2, 3])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from edge_agent.diagnosis import kernels as K

#: Evidence (−log10 p) at which a family counts as present.
PRESENT = 3.0
#: A second family within this many decades of the first makes the call ``unknown``.
AMBIGUOUS = 0.5
#: Harmonics searched per family.
HARMONICS = 4
#: A harmonic or sideband counts as found at this per-line evidence.
FOUND = 2.0
#: Slip tolerance: observed lines from ``(1 − SLIP)`` to ``(1 + SLIP / 4)`` times the kinematic value.
SLIP = 0.025
#: Relative uncertainty of the shaft speed (its harmonics are notched this much wider per Hz).
SPEED_TOLERANCE = 0.002
#: Half-width of the local background, in bins, beyond the searched range.
BACKGROUND_BINS = 12
#: Fault names of a call.
FAULTS = ("outer_race", "inner_race", "ball", "none", "unknown")
#: Defect line of each bearing fault (key of ``BearingGeometry.frequencies``).
LINES = {"outer_race": "bpfo", "inner_race": "bpfi", "ball": "2bsf"}

_LN10 = math.log(10.0)


@dataclass(frozen=True)
class Line:
    """One searched line: harmonic ``h`` (0 for a sideband) of a family."""

    label: str
    harmonic: int
    expected_hz: float
    measured_hz: float
    prominence: float
    evidence: float

    @property
    def found(self) -> bool:
        """Whether the line stands out of its background beyond :data:`FOUND`."""
        return self.evidence >= FOUND

    def as_dict(self) -> dict:
        """JSON-ready form (rounded)."""
        return {"label": self.label, "expected_hz": round(self.expected_hz, 2),
                "measured_hz": round(self.measured_hz, 2), "prominence": round(min(self.prominence, 1e6), 2),
                "evidence": round(min(self.evidence, 999.0), 2)}


@dataclass(frozen=True)
class Family:
    """Evidence for one fault: its harmonic comb and sidebands."""

    fault: str
    line: str
    expected_hz: float
    measured_hz: float
    evidence: float
    harmonics: list[Line] = field(default_factory=list)
    sidebands: list[Line] = field(default_factory=list)

    @property
    def harmonics_found(self) -> int:
        """How many harmonics stand out."""
        return sum(h.found for h in self.harmonics)


def _line(label, h, expected, power, k, bg, df, averages):
    pw, kb, lp = K.peak_log_p(power, int(k), 1, float(bg), int(averages))
    prom = pw / bg if bg > 0 else 0.0
    return Line(label, h, float(expected), float(kb * df), float(prom), float(-lp / _LN10))


def family_evidence(fault: str, power: np.ndarray, df: float, f0: float, averages: int,
                    sideband_hz: float | None = None, slip: float = SLIP, label: str | None = None) -> Family:
    """Search one defect family in a squared-envelope power spectrum.

    Parameters
    ----------
    fault : str
        Name of the hypothesis.
    power : numpy.ndarray
        SES power (averaged over ``averages`` windows), bins of ``df`` Hz.
    f0 : float
        Kinematic line frequency, Hz.
    averages : int
        Windows averaged (the noise model's shape).
    sideband_hz : float or None
        Sideband spacing searched around harmonics 1 and 2 (fr for the inner
        race, FTF for a ball), or ``None``.
    slip : float
        Relative tolerance below the kinematic value.
    """
    power = np.ascontiguousarray(power, dtype=np.float64)
    if power.ndim != 1 or power.size < 32 or not np.all(np.isfinite(power)):
        raise ValueError(f"power must be a finite 1-D spectrum of at least 32 bins, got shape {power.shape}")
    if not (df > 0 and f0 > 0 and averages >= 1 and 0 < slip < 0.2):
        raise ValueError(f"need df > 0, f0 > 0, averages >= 1, 0 < slip < 0.2; got {df}, {f0}, {averages}, {slip}")
    label = label or LINES.get(fault, fault)
    r, fisher, bins, pows, lps, bgs, trials = K.comb_search(power, float(df), float(f0), HARMONICS, 1.0 - slip,
                                                           1.0 + slip / 4.0, int(averages), BACKGROUND_BINS)
    hmax = int(np.count_nonzero(bgs))
    if hmax == 0:
        return Family(fault, label, f0, f0, 0.0)
    log_p = K.log_any_of(K.log_chi2_sf_even(fisher, hmax), trials)
    bins_, pows_, bgs_, lps_ = bins.tolist(), pows.tolist(), bgs.tolist(), lps.tolist()  # Python floats: cheaper per line
    harmonics = [Line(f"{h + 1}×{label}", h + 1, (h + 1) * f0, bins_[h] * df,
                      pows_[h] / bgs_[h] if bgs_[h] > 0 else 0.0, -lps_[h] / _LN10) for h in range(hmax)]
    sidebands: list[Line] = []
    if sideband_hz:
        sb_fisher = 0.0
        for h in range(min(2, hmax)):
            if not harmonics[h].found:  # a sideband of no carrier is some other line
                continue
            for sign in (-1, 1):
                k = bins_[h] + sign * sideband_hz / df
                if 1 <= k < power.size - 2:
                    bg = K.background(power, int(round(k)), BACKGROUND_BINS, 2)
                    sb = _line(f"{h + 1}×{label}{'+' if sign > 0 else '−'}", 0, (h + 1) * f0 + sign * sideband_hz,
                               power, round(k), bg, df, averages)
                    sidebands.append(sb)
                    sb_fisher += 2.0 * sb.evidence * _LN10
        if sidebands:  # one Fisher test of comb and sidebands together
            log_p = K.log_chi2_sf_even(-2.0 * log_p + sb_fisher, 1 + len(sidebands))
    evidence = float(-log_p / _LN10)
    if not any(h.found for h in harmonics) or sum(line.found for line in harmonics + sidebands) < 2 \
            or without_strongest(harmonics, sidebands) < PRESENT:
        evidence = min(evidence, FOUND)  # a family around its own line, not one stray peak or others' sidebands
    return Family(fault, label, float(f0), float(r * f0), evidence, harmonics, sidebands)


@lru_cache(maxsize=64)
def line_bins(size: int, df: float, f0: float, sideband_hz: float | None = None) -> np.ndarray:
    """Mask of the bins of a family's kinematic lines: harmonics ``h · f0`` and, for h = 1, 2, their sidebands.

    Cached per geometry (the same speed and bearing on every alert of an asset); read-only.
    """
    mask = np.zeros(size, dtype=np.bool_)
    for h in range(1, HARMONICS + 1):
        for off in ((0.0,) if not sideband_hz or h > 2 else (0.0, -sideband_hz, sideband_hz)):
            k = int(round((h * f0 + off) / df))
            if 0 <= k < size:
                mask[k] = True
    mask.flags.writeable = False
    return mask


def shaft_notched(power: np.ndarray, df: float, shaft_hz: float, protect: np.ndarray | None = None,
                  tol_rel: float = SPEED_TOLERANCE) -> np.ndarray:
    """Squared-envelope power with the shaft harmonics ``k · fr`` notched to their local background.

    Shaft-synchronous modulation (imbalance, misalignment, looseness, and
    any band holding several shaft or gear lines, which beat at ``fr``)
    puts lines at every multiple of the shaft speed. They would otherwise
    feed the searches for defect lines, sidebands around stray peaks
    most of all. A harmonic whose notch touches a ``protect`` bin (the
    bins of the searched family's own kinematic lines, :func:`line_bins`)
    is kept: at that resolution the two cannot be told apart, and the
    family's other lines decide. (Protect the kinematic bins, not the
    slip ranges: over four harmonics those reach some multiple of fr.)

    Examples
    --------
    >>> import numpy as np
    >>> p = np.ones(400); p[[30, 60, 90]] = 50.0; p[107] = 50.0
    >>> q = shaft_notched(p, 1.0, 30.0)
    >>> float(q[60]), float(q[107])
    (1.0, 50.0)
    """
    power = _notch_input(power, df, shaft_hz, tol_rel)
    protect = np.zeros(power.size, dtype=np.bool_) if protect is None else np.ascontiguousarray(protect, np.bool_)
    return K.notch_harmonics(power, float(shaft_hz), float(df), float(tol_rel), BACKGROUND_BINS, protect)


def _notch_input(power, df: float, shaft_hz: float, tol_rel: float) -> np.ndarray:
    power = np.ascontiguousarray(power, dtype=np.float64)
    if power.ndim != 1 or not (df > 0 and shaft_hz > 0 and 0 <= tol_rel < 0.05):
        raise ValueError(f"need a 1-D power spectrum, df > 0, shaft_hz > 0, 0 <= tol_rel < 0.05; "
                         f"got shape {power.shape}, {df}, {shaft_hz}, {tol_rel}")
    return power


def without_strongest(harmonics: list[Line], sidebands: list[Line]) -> float:
    """Evidence (decades, Fisher-combined) of a family's lines once its strongest harmonic is left out.

    A machine's envelope spectrum holds discrete lines that are no bearing's
    (electrical, a neighbour's shaft, a gear mesh); one of them inside a
    family's search range, plus marginal lines elsewhere, would otherwise
    make a family. What the family's other lines say (harmonics, and
    sidebands, also those around the strongest: a stray line has no
    sidebands at the defect's modulation) must reach :data:`PRESENT` too.

    Examples
    --------
    >>> line = lambda h, e: Line(f"{h}×x", h, 100.0 * h, 100.0 * h, 1.0, e)
    >>> round(without_strongest([line(1, 2.5), line(2, 5.8)], []), 2)  # one line carries it
    2.5
    >>> without_strongest([line(1, 9.0), line(2, 6.0), line(3, 4.0)], []) > 8
    True
    """
    if not harmonics:
        return 0.0
    top = max(range(len(harmonics)), key=lambda i: harmonics[i].evidence)
    rest = [h.evidence for i, h in enumerate(harmonics) if i != top] + [sb.evidence for sb in sidebands]
    if not rest:
        return 0.0
    return float(-K.log_chi2_sf_even(2.0 * _LN10 * sum(rest), len(rest)) / _LN10)


def bearing_families(power: np.ndarray, df: float, shaft_hz: float, bearing, averages: int,
                     slip: float = SLIP) -> dict[str, Family]:
    """Evidence for each bearing fault (outer race, inner race, ball) at a shaft speed.

    Each family is searched in a copy where the shaft harmonics are
    notched (:func:`shaft_notched`), except those at its own kinematic lines;
    the notches' levels are computed once for the three.
    """
    f = bearing.frequencies(shaft_hz)
    power = _notch_input(power, df, shaft_hz, SPEED_TOLERANCE)
    notches = K.notch_levels(power, float(shaft_hz), float(df), SPEED_TOLERANCE, BACKGROUND_BINS)  # the same for all
    fams = {}
    for fault, f0, sb in (("outer_race", f["bpfo"], None), ("inner_race", f["bpfi"], shaft_hz),
                          ("ball", f["2bsf"], f["ftf"])):
        own = K.apply_notches(power, notches, line_bins(power.size, df, f0, sb))
        fams[fault] = family_evidence(fault, own, df, f0, averages, sb, slip)
    return fams


def probability_present(evidence: float) -> float:
    """Logistic in decades around :data:`PRESENT`: 0.5 at PRESENT, 0.99 two decades above."""
    return 1.0 / (1.0 + 10.0 ** min(PRESENT - evidence, 300.0))


def decide(families: dict[str, Family]) -> tuple[str, float, str]:
    """(fault, confidence, reason) from the families' evidence.

    Examples
    --------
    >>> fam = lambda name, e: Family(name, name, 100.0, 99.0, e)
    >>> decide({"outer_race": fam("outer_race", 12.0), "inner_race": fam("inner_race", 1.0)})[:2]
    ('outer_race', 1.0)
    >>> decide({"outer_race": fam("outer_race", 1.2), "inner_race": fam("inner_race", 0.8)})[0]
    'none'
    >>> decide({"outer_race": fam("outer_race", 9.0), "inner_race": fam("inner_race", 8.8)})[0]
    'unknown'
    """
    ranked = sorted(families.values(), key=lambda f: f.evidence, reverse=True)
    best = ranked[0]
    second = ranked[1].evidence if len(ranked) > 1 else 0.0
    present = probability_present(best.evidence)
    if best.evidence < PRESENT:
        return "none", 1.0 - present, (f"no bearing defect found: strongest family {best.line} at "
                                       f"{best.evidence:.1f} < {PRESENT:.0f} decades of evidence")
    margin = best.evidence - second
    separation = 1.0 / (1.0 + 10.0 ** (-min(margin, 300.0)))
    if margin < AMBIGUOUS:
        return "unknown", present * separation, (f"{best.line} and {ranked[1].line} equally supported "
                                                 f"({best.evidence:.1f} vs {second:.1f})")
    return best.fault, round(present * separation, 6), (
        f"{best.line} family {best.evidence:.1f} decades over noise, next {second:.1f}; "
        f"{best.harmonics_found}/{len(best.harmonics)} harmonics found")
