"""Small learning units offered next to a live alert or drift event (``data/units.yaml``).

A unit is a page, a video link or a worked example, in the six portal
languages, tagged with the fault types, feature families and drift kinds
it teaches, the skills it trains (framework ids) and the catalogue
entries that go further. :func:`load_units` validates the file as a whole
(languages complete, every skill, entry, fault type and family known, a
video has an ``https`` URL); :func:`tags_of_alert` and :func:`tags_of_drift`
read the tags an event carries, :func:`best_unit` picks the unit to offer.

Examples
--------
>>> units = load_units()
>>> tags = tags_of_alert("anomaly score 31 above 9.8 for 2 windows; most deviating feature: env_bpfo_hsnr (z = +8.1)")
>>> tags
{'faults': {'outer_race'}, 'families': {'envelope'}, 'drift': set()}
>>> best_unit(units.values(), tags).id
'outer-race-envelope'
>>> best_unit(units.values(), tags_of_drift("ambient", "adwin")).id
'drift-regime-or-fault'
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from labs.skills.catalogue import load_catalogue
from labs.skills.common import DATA_DIR, DataError, Strict, Text, read_yaml, validation_errors
from labs.skills.framework import ID, load_framework
from simulators.faults import FAULT_KINDS

FAMILIES = ("time", "spectral", "envelope", "motor_current", "thermal")
#: What drifted: a feature's distribution, the anomaly score, or an input of the process (load, speed, ambient).
DRIFT_KINDS = ("feature", "score", "input")
INPUTS = ("ambient", "load", "speed", "rpm", "supply_hz")

# feature-name prefix -> (family, fault types it points to); first match wins
_FEATURES = (
    (re.compile(r"^env_bpfo"), "envelope", ("outer_race",)),
    (re.compile(r"^env_bpfi"), "envelope", ("inner_race",)),
    (re.compile(r"^env_(2bsf|ftf)"), "envelope", ("ball",)),
    (re.compile(r"^env_"), "envelope", ()),
    (re.compile(r"^order_1x$"), "spectral", ("imbalance",)),
    (re.compile(r"^order_2x$"), "spectral", ("misalignment",)),
    (re.compile(r"^order_\d+x$"), "spectral", ("looseness",)),
    (re.compile(r"^(band_energy|spectral_centroid)"), "spectral", ()),
    (re.compile(r"^sideband"), "motor_current", ("broken_rotor_bar",)),
    (re.compile(r"^(i2_i1|imbalance)$"), "motor_current", ("supply_imbalance",)),
    (re.compile(r"^(rms_[abc]|thd_|supply_hz)"), "motor_current", ()),
    (re.compile(r"^temperature"), "thermal", ("cooling_failure", "friction")),
    (re.compile(r"^(mean|rms|peak|crest|kurtosis|skewness|std|peak_to_peak|shape|impulse|clearance)"), "time", ()),
)
_DEVIATING = re.compile(r"most deviating feature: ([A-Za-z0-9_.\-]+)")


class Unit(Strict):
    """One learning unit: what it is, its texts, what it teaches, and where to go further."""

    id: str = Field(pattern=ID)
    kind: Literal["page", "video", "worked_example"]
    title: Text
    summary: Text
    body: Text | None = Field(None, description="the page or the worked example; a video may have none")
    url: str | None = Field(None, pattern=r"^https://[^\s]+$", description="the video (https)")
    minutes: int = Field(ge=1, le=60)
    faults: list[str] = Field(default_factory=list)
    families: list[str] = Field(default_factory=list)
    drift: list[str] = Field(default_factory=list)
    skills: list[str] = Field(min_length=1, description="framework skills trained; the first is the follow-up's")
    entries: list[str] = Field(default_factory=list, description="catalogue entries that go further")

    @model_validator(mode="after")
    def _content(self) -> "Unit":
        if self.kind == "video" and not self.url:
            raise ValueError("a video unit needs its url")
        if self.kind != "video" and self.body is None:
            raise ValueError(f"a {self.kind} unit needs its body")
        bad = ([f"fault {f!r}" for f in self.faults if f not in FAULT_KINDS]
               + [f"family {f!r}" for f in self.families if f not in FAMILIES]
               + [f"drift kind {d!r}" for d in self.drift if d not in DRIFT_KINDS])
        if bad:
            raise ValueError(f"unknown {', '.join(bad)}; faults {list(FAULT_KINDS)}, families {list(FAMILIES)}, "
                             f"drift kinds {list(DRIFT_KINDS)}")
        if not (self.faults or self.families or self.drift):
            raise ValueError("a unit needs at least one tag (faults, families or drift)")
        return self


def parse_units(doc: dict, fname: str = "units.yaml") -> dict[str, Unit]:
    """Validate a units document; :class:`DataError` lists every problem."""
    errors, out = [], {}
    fw, cat = load_framework(), load_catalogue()
    for i, raw in enumerate(doc.get("units") or []):
        try:
            u = Unit.model_validate(raw)
        except ValidationError as exc:
            errors += validation_errors(fname, exc, f"units[{i}].")
            continue
        if u.id in out:
            errors.append(f"{fname}: units[{i}].id = {u.id!r}: duplicate id")
        errors += [f"{fname}: units[{i}].skills: {s!r} is not a skill of the framework" for s in u.skills
                   if s not in fw.skills]
        errors += [f"{fname}: units[{i}].entries: {e!r} is not a catalogue entry" for e in u.entries if e not in cat]
        out[u.id] = u
    if not out and not errors:
        errors.append(f"{fname}: units: no unit")
    if errors:
        raise DataError(fname, errors)
    return out


@functools.cache
def load_units(path: Path | None = None) -> dict[str, Unit]:
    """The shipped units (or those of ``path``), validated."""
    path = path or DATA_DIR / "units.yaml"
    return parse_units(read_yaml(path), path.name)


def tags_of_feature(name: str) -> tuple[str | None, tuple[str, ...]]:
    """The family of a feature name and the fault types it points to.

    Examples
    --------
    >>> tags_of_feature("order_2x"), tags_of_feature("kurtosis"), tags_of_feature("xyz")
    (('spectral', ('misalignment',)), ('time', ()), (None, ()))
    """
    for pattern, family, faults in _FEATURES:
        if pattern.search(name):
            return family, faults
    return None, ()


def _tags(families=(), faults=(), drift=()) -> dict[str, set[str]]:
    return {"faults": set(faults), "families": {f for f in families if f}, "drift": set(drift)}


def tags_of_alert(message: str, feature_set: str | None = None) -> dict[str, set[str]]:
    """Tags of an alert: its most deviating feature (named in the edge's message), else the asset's feature set."""
    m = _DEVIATING.search(message or "")
    family, faults = tags_of_feature(m[1]) if m else (None, ())
    families = {family} if family else set()
    if not families and feature_set:
        combined = {"bearing": {"envelope", "time"}, "vibration_full": {"envelope", "spectral", "time"}}
        families = combined.get(feature_set, {feature_set} & set(FAMILIES))
    return _tags(families, faults)


def tags_of_drift(target: str, detector: str = "") -> dict[str, set[str]]:
    """Tags of a drift event: an input of the process, the score, or a feature (with the feature's family)."""
    if target == "score":
        return _tags(drift=("score",))
    if target in INPUTS:
        return _tags(drift=("input",))
    family, _ = tags_of_feature(target)
    return _tags((family,), drift=("feature",))


def match_score(unit: Unit, tags: dict[str, set[str]]) -> int:
    """How well a unit fits an event's tags: 3 per fault type, 2 per drift kind, 1 per feature family."""
    return (3 * len(tags["faults"] & set(unit.faults)) + 2 * len(tags["drift"] & set(unit.drift))
            + len(tags["families"] & set(unit.families)))


def best_unit(units, tags: dict[str, set[str]]) -> Unit | None:
    """The best-fitting unit (ties: fewer tags, i.e. the more specific, then id), or None when none fits."""
    scored = [(match_score(u, tags), u) for u in units]
    scored = [(s, u) for s, u in scored if s > 0]
    if not scored:
        return None
    return min(scored, key=lambda su: (-su[0], len(su[1].faults) + len(su[1].families) + len(su[1].drift),
                                       su[1].id))[1]
