"""Assessed variants of a pack's scenario: the hub draws one per session, so the public script cannot be tuned to.

A pack's scenario file is public, and rehearsal (``teachfab lab rehearse``)
runs it as written: learners know when its fault starts. An assessed session
runs a **variant** instead: the hub draws a seed (kept hidden until the
session closes, like the ground truth), and from it the onset, severity and
growth of each fault, the start and length of each regime change — so the
order of events can change too — and the simulator's noise seed, each within
the ranges the pack declares in its ``scenario.yaml``::

    variants:
      faults:
        - {fault: 0, start_s: [220, 380], severity: [0.2, 0.3], ramp_s: [240, 360]}
      regimes:
        - {regime: 0, start_s: [100, 260], length_s: [40, 90]}

``fault`` and ``regime`` are indices into the scenario's lists; a value
without a range stays as scripted. The same seed always gives the same
variant, so a closed session can be replayed and audited.

Examples
--------
>>> base = {"name": "demo", "seed": 1, "duration_s": 600,
...         "assets": [{"type": "rotating_machine", "id": "pump-1"}],
...         "faults": [{"asset": "pump-1", "type": "outer_race", "start_s": 240, "severity": 0.25}],
...         "regimes": [{"asset": "pump-1", "start_s": 120, "end_s": 180, "to": {"load": 0.5}}]}
>>> ranges = VariantRanges(faults=[{"fault": 0, "start_s": [200, 360]}], regimes=[{"regime": 0, "length_s": [30, 60]}])
>>> doc, drawn = draw_variant(base, ranges, seed=7)
>>> 200 <= doc["faults"][0]["start_s"] <= 360 and 30 <= doc["regimes"][0]["end_s"] - 120 <= 60
True
>>> draw_variant(base, ranges, seed=7) == (doc, drawn)
True
"""

from __future__ import annotations

import copy
import random
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

Range = tuple[float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _ordered(v: Range | None) -> Range | None:
    if v is not None and not v[0] <= v[1]:
        raise ValueError(f"a range is [low, high] with low <= high, got {list(v)}")
    return v


class FaultVariant(_Strict):
    """How one scripted fault may vary: onset, severity and growth time."""

    fault: int = Field(ge=0, description="index in the scenario's faults")
    start_s: Range | None = None
    severity: Range | None = None
    ramp_s: Range | None = None

    _check = field_validator("start_s", "severity", "ramp_s")(_ordered)


class RegimeVariant(_Strict):
    """How one scripted regime change may vary: its start and, for one that ends, how long it lasts."""

    regime: int = Field(ge=0, description="index in the scenario's regimes")
    start_s: Range | None = None
    length_s: Range | None = None

    _check = field_validator("start_s", "length_s")(_ordered)


class VariantRanges(_Strict):
    """The ranges an assessed session's variant is drawn from (``variants:`` of a pack's ``scenario.yaml``)."""

    faults: list[FaultVariant] = Field(default_factory=list)
    regimes: list[RegimeVariant] = Field(default_factory=list)
    reseed: bool = Field(True, description="draw the simulator's noise seed too")


def problems(base: dict[str, Any], ranges: VariantRanges) -> list[str]:
    """What is wrong with ``ranges`` for the scenario document ``base`` (empty when they fit).

    Every index must exist, every drawn time must stay inside the scenario's
    duration, a fault's severity must stay positive and a regime's length
    applies only to a regime that ends.
    """
    out = []
    faults, regimes, horizon = base.get("faults") or [], base.get("regimes") or [], base.get("duration_s")
    for i, f in enumerate(ranges.faults):
        where = f"variants.faults[{i}]"
        if f.fault >= len(faults):
            out.append(f"{where}.fault = {f.fault}: the scenario has {len(faults)} fault(s)")
            continue
        if f.start_s and horizon and f.start_s[1] >= horizon:
            out.append(f"{where}.start_s = {list(f.start_s)}: must start before the duration_s = {horizon}")
        if f.start_s and f.start_s[0] < 0:
            out.append(f"{where}.start_s = {list(f.start_s)}: times are >= 0")
        if f.severity and f.severity[0] <= 0:
            out.append(f"{where}.severity = {list(f.severity)}: severities are > 0")
        if f.ramp_s and f.ramp_s[0] < 0:
            out.append(f"{where}.ramp_s = {list(f.ramp_s)}: ramps are >= 0")
    for i, r in enumerate(ranges.regimes):
        where = f"variants.regimes[{i}]"
        if r.regime >= len(regimes):
            out.append(f"{where}.regime = {r.regime}: the scenario has {len(regimes)} regime change(s)")
            continue
        scripted = regimes[r.regime]
        if r.length_s and scripted.get("end_s") is None:
            out.append(f"{where}.length_s: regime {r.regime} does not end (no end_s), so it has no length")
        latest = (r.start_s or (scripted["start_s"],) * 2)[1] + (r.length_s[1] if r.length_s else 0)
        if horizon and latest >= horizon:
            out.append(f"{where}: may end at {latest:g} s, at or after the duration_s = {horizon}")
        if r.start_s and r.start_s[0] < 0:
            out.append(f"{where}.start_s = {list(r.start_s)}: times are >= 0")
        if r.length_s and r.length_s[0] <= 0:
            out.append(f"{where}.length_s = {list(r.length_s)}: lengths are > 0")
    return out


def draw_variant(base: dict[str, Any], ranges: VariantRanges, seed: int) -> tuple[dict, dict]:
    """The variant of scenario document ``base`` that ``seed`` draws, and what was drawn.

    Times are rounded to 0.1 s and severities to 4 significant digits, so
    the drawn values read well in the revealed ground truth.
    """
    rng = random.Random(seed)
    doc = copy.deepcopy(base)
    drawn: dict[str, Any] = {"seed": seed, "faults": {}, "regimes": {}}
    for f in ranges.faults:
        fault, got = doc["faults"][f.fault], {}
        for key in ("start_s", "severity", "ramp_s"):
            span = getattr(f, key)
            if span is not None:
                value = rng.uniform(*span)
                fault[key] = got[key] = round(value, 1) if key != "severity" else float(f"{value:.4g}")
        drawn["faults"][str(f.fault)] = got
    for r in ranges.regimes:
        regime, got = doc["regimes"][r.regime], {}
        length = regime["end_s"] - regime["start_s"] if regime.get("end_s") is not None else None
        if r.start_s is not None:
            regime["start_s"] = got["start_s"] = round(rng.uniform(*r.start_s), 1)
        if r.length_s is not None:
            length = got["length_s"] = round(rng.uniform(*r.length_s), 1)
        if length is not None:
            regime["end_s"] = round(regime["start_s"] + length, 1)
        drawn["regimes"][str(r.regime)] = got
    if ranges.reseed:
        doc["seed"] = drawn["noise_seed"] = rng.randrange(2**31)
    doc["name"] = f"{base['name']} (assessed variant)"
    return doc, drawn


def corners(ranges: VariantRanges) -> list[VariantRanges]:
    """Degenerate ranges at every low and every high end: the extreme variants a pack must still allow."""
    def pinned(at: int) -> VariantRanges:
        fix = lambda span: None if span is None else (span[at], span[at])  # noqa: E731
        return VariantRanges(faults=[FaultVariant(fault=f.fault, start_s=fix(f.start_s), severity=fix(f.severity),
                                                  ramp_s=fix(f.ramp_s)) for f in ranges.faults],
                             regimes=[RegimeVariant(regime=r.regime, start_s=fix(r.start_s), length_s=fix(r.length_s))
                                      for r in ranges.regimes], reseed=ranges.reseed)
    return [pinned(0), pinned(1)]
