"""Scenarios: simulated assets, their faults and operating regimes, from YAML.

A scenario file declares the assets of a (remote) lab session, their
sensors and rates, the faults to inject and the regime changes to make,
with one seed for everything. :func:`load_scenario` validates it (every
problem is reported with the field that holds it) and builds the assets;
:meth:`Scenario.ground_truth` exports every scripted event so the hub can
score what the learners' models detected. ``docs/scenarios.md`` describes
every field; ``simulators/scenarios/`` holds worked examples.

Examples
--------
>>> sc = load_scenario({
...     "name": "demo", "seed": 7, "duration_s": 60,
...     "assets": [{"type": "rotating_machine", "id": "pump-1", "rpm": 1500}],
...     "faults": [{"asset": "pump-1", "type": "outer_race", "start_s": 20, "severity": 0.4}],
...     "regimes": [{"asset": "pump-1", "start_s": 40, "ramp_s": 5, "to": {"load": 0.5}}]})
>>> [(e["event"], e["category"], e["start_s"]) for e in sc.ground_truth()]
[('outer_race', 'fault', 20.0), ('load_change', 'regime', 40.0)]
>>> sorted(sc.asset("pump-1").advance(0.1))
['load', 'shaft_speed', 'temperature', 'vibration_de']
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contract.bounds import NAME_PATTERN
from edge_agent.bearings import BearingGeometry, bearing_by_name
from simulators.base import SimAsset
from simulators.faults import FAULT_KINDS, FaultEvent
from simulators.motor_current import MOTOR_FAULTS, InductionMotor
from simulators.regimes import RegimeEvent
from simulators.rotating_machine import MACHINE_FAULTS, RotatingMachine
from simulators.thermal import ThermalAsset

#: Folder of the example scenarios shipped with TeachFab.
EXAMPLES_DIR = Path(__file__).with_name("scenarios")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BearingSpec(_Strict):
    """A bearing given by its dimensions (any consistent length unit)."""

    name: str = "custom"
    n_balls: int = Field(ge=3)
    ball_d: float = Field(gt=0)
    pitch_d: float = Field(gt=0)
    contact_angle_deg: float = Field(0.0, ge=0, lt=90)


class VibrationSensorSpec(_Strict):
    """Accelerometer(s) on the drive-end bearing housing."""

    rate_hz: float = Field(25600.0, ge=12000, le=51200)
    axes: Literal[1, 2, 3] = 1
    noise_g: float = Field(0.03, ge=0)


class MachineSensors(_Strict):
    """Sensors of a rotating machine."""

    vibration: VibrationSensorSpec = Field(default_factory=VibrationSensorSpec)


class RotatingMachineSpec(_Strict):
    """A pump, fan or motor end with a rolling-element bearing."""

    type: Literal["rotating_machine"]
    id: str = Field(pattern=NAME_PATTERN)
    rpm: float = Field(1797.0, ge=30, le=60000)
    speed_profile: list[tuple[float, float]] | None = None
    load: float = Field(0.8, ge=0, le=1.5)
    bearing: str | BearingSpec = "6205"
    resonance_hz: float = Field(3000.0, gt=0)
    damping: float = Field(0.05, gt=0, lt=1)
    ambient_c: float = Field(22.0, ge=-40, le=80)
    seed: int | None = Field(None, ge=0)
    sensors: MachineSensors = Field(default_factory=MachineSensors)


class CurrentSensorSpec(_Strict):
    """Current transformers or Hall sensors on the three phases."""

    rate_hz: float = Field(5000.0, ge=1000, le=51200)
    noise_a: float = Field(0.01, ge=0)


class MotorSensors(_Strict):
    """Sensors of an induction motor."""

    current: CurrentSensorSpec = Field(default_factory=CurrentSensorSpec)


class MotorSpec(_Strict):
    """A three-phase induction motor, watched through its currents."""

    type: Literal["motor"]
    id: str = Field(pattern=NAME_PATTERN)
    supply_hz: float = Field(50.0, ge=5, le=120)
    pole_pairs: int = Field(2, ge=1, le=12)
    rated_current_a: float = Field(10.0, gt=0)
    no_load_current_a: float | None = Field(None, gt=0)
    rated_slip: float = Field(0.03, gt=0, lt=0.2)
    load: float = Field(0.75, ge=0, le=1.5)
    ambient_c: float = Field(25.0, ge=-40, le=80)
    rated_loss_w: float = Field(450.0, gt=0)
    thermal_r_k_per_w: float = Field(0.15, gt=0)
    thermal_tau_s: float = Field(1200.0, gt=0)
    seed: int | None = Field(None, ge=0)
    sensors: MotorSensors = Field(default_factory=MotorSensors)


class ThermalSpec(_Strict):
    """Winding and bearing temperatures only (e.g. a thermistor board)."""

    type: Literal["thermal"]
    id: str = Field(pattern=NAME_PATTERN)
    load: float = Field(0.75, ge=0, le=1.5)
    ambient_c: float = Field(22.0, ge=-40, le=80)
    rated_winding_loss_w: float = Field(400.0, gt=0)
    winding_r_k_per_w: float = Field(0.15, gt=0)
    winding_tau_s: float = Field(1200.0, gt=0)
    bearing_loss_w: float = Field(25.0, ge=0)
    bearing_r_k_per_w: float = Field(0.8, gt=0)
    bearing_tau_s: float = Field(300.0, gt=0)
    noise_c: float = Field(0.05, ge=0)
    initial_c: float | None = None
    seed: int | None = Field(None, ge=0)


AssetSpec = Annotated[Union[RotatingMachineSpec, MotorSpec, ThermalSpec], Field(discriminator="type")]

#: Faults and regime variables each asset type accepts.
ASSET_FAULTS = {"rotating_machine": MACHINE_FAULTS, "motor": MOTOR_FAULTS, "thermal": ThermalAsset.FAULTS}
ASSET_VARIABLES = {"rotating_machine": RotatingMachine.VARIABLES, "motor": InductionMotor.VARIABLES,
                   "thermal": ThermalAsset.VARIABLES}


class FaultSpec(_Strict):
    """One fault injected into one asset."""

    asset: str
    type: Literal[FAULT_KINDS]  # type: ignore[valid-type]
    start_s: float = Field(ge=0)
    severity: float = Field(gt=0)
    ramp_s: float = Field(0.0, ge=0)
    end_s: float | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class RegimeSpec(_Strict):
    """One change of operating conditions of one asset."""

    asset: str
    start_s: float = Field(ge=0)
    to: dict[str, float] = Field(min_length=1)
    ramp_s: float = Field(0.0, ge=0)
    end_s: float | None = None
    label: str = ""


class ScenarioSpec(_Strict):
    """The whole scenario file."""

    name: str = Field(min_length=1)
    description: str = ""
    seed: int = Field(ge=0)
    duration_s: float | None = Field(None, gt=0)
    assets: list[AssetSpec] = Field(min_length=1)
    faults: list[FaultSpec] = Field(default_factory=list)
    regimes: list[RegimeSpec] = Field(default_factory=list)


class ScenarioError(ValueError):
    """A scenario that cannot be used; ``errors`` lists every problem with its field."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.source, self.errors = source, errors
        super().__init__(f"scenario {source}: {len(errors)} problem(s):\n" + "\n".join(f"  - {e}" for e in errors))


def _loc(loc: tuple) -> str:
    """Render a pydantic error location as ``assets[0].sensors.vibration.rate_hz``."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i > 0 and isinstance(loc[i - 1], int) and part in ASSET_FAULTS and loc[0] == "assets":
            continue  # the discriminator tag pydantic inserts after the list index
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _pydantic_errors(exc: ValidationError) -> list[str]:
    msgs = []
    for err in exc.errors():
        where = _loc(err["loc"])
        if err["type"] in ("missing", "extra_forbidden") or err["type"].startswith("union_tag"):
            msgs.append(f"{where}: {err['msg']}")
        else:
            msgs.append(f"{where} = {err['input']!r}: {err['msg']}")
    return msgs


def _asset_seed(seed: int, asset_id: str) -> int:
    """A per-asset seed that does not change when other assets are added."""
    return int(np.random.SeedSequence([seed, zlib.crc32(asset_id.encode())]).generate_state(1)[0])


def _bearing(spec: str | BearingSpec) -> BearingGeometry:
    if isinstance(spec, str):
        return bearing_by_name(spec)
    return BearingGeometry.from_dimensions(spec.name, spec.n_balls, spec.ball_d, spec.pitch_d,
                                           spec.contact_angle_deg)


def _build_asset(spec, seed: int, faults: list[FaultEvent], regimes: list[RegimeEvent]) -> SimAsset:
    seed = spec.seed if spec.seed is not None else _asset_seed(seed, spec.id)
    if spec.type == "rotating_machine":
        v = spec.sensors.vibration
        return RotatingMachine(spec.id, fs=v.rate_hz, rpm=spec.rpm, bearing=_bearing(spec.bearing), faults=faults,
                               resonance_hz=spec.resonance_hz, damping=spec.damping, noise_g=v.noise_g,
                               ambient_c=spec.ambient_c, seed=seed, load=spec.load, axes=v.axes, regimes=regimes,
                               speed_profile=spec.speed_profile)
    if spec.type == "motor":
        c = spec.sensors.current
        return InductionMotor(spec.id, fs=c.rate_hz, supply_hz=spec.supply_hz, pole_pairs=spec.pole_pairs,
                              rated_current_a=spec.rated_current_a, no_load_current_a=spec.no_load_current_a,
                              rated_slip=spec.rated_slip, load=spec.load, noise_a=c.noise_a,
                              ambient_c=spec.ambient_c, rated_loss_w=spec.rated_loss_w,
                              thermal_r_k_per_w=spec.thermal_r_k_per_w, thermal_tau_s=spec.thermal_tau_s,
                              faults=faults, regimes=regimes, seed=seed)
    params = spec.model_dump(exclude={"type", "id", "seed"})
    return ThermalAsset(spec.id, faults=faults, regimes=regimes, seed=seed, **params)


class Scenario:
    """A validated scenario with its simulated assets, ready to run.

    Build one with :func:`load_scenario`. The assets keep their state, so a
    scenario runs once; :meth:`restart` gives a fresh copy that produces the
    very same samples again.

    Parameters
    ----------
    spec : ScenarioSpec
        The validated scenario.
    source : str
        Where it came from (file name), for messages.
    """

    def __init__(self, spec: ScenarioSpec, source: str = "<dict>") -> None:
        self.spec, self.source = spec, source
        errors = _cross_check(spec)
        if errors:
            raise ScenarioError(source, errors)
        self.assets: list[SimAsset] = []
        problems: list[str] = []
        faults: dict[str, list[FaultEvent]] = {a.id: [] for a in spec.assets}
        regimes: dict[str, list[RegimeEvent]] = {a.id: [] for a in spec.assets}
        for j, f in enumerate(spec.faults):
            try:
                faults[f.asset].append(FaultEvent(f.type, f.start_s, f.severity, f.ramp_s, f.end_s, f.params))
            except ValueError as exc:
                problems.append(f"faults[{j}]: {exc}")
        for j, r in enumerate(spec.regimes):
            try:
                regimes[r.asset].append(RegimeEvent(r.start_s, r.to, r.ramp_s, r.end_s, r.label))
            except ValueError as exc:
                problems.append(f"regimes[{j}]: {exc}")
        for i, a in enumerate(spec.assets):
            try:
                self.assets.append(_build_asset(a, spec.seed, faults[a.id], regimes[a.id]))
            except ValueError as exc:
                problems.append(f"assets[{i}] ({a.id}): {exc}")
        if problems:
            raise ScenarioError(source, problems)

    @property
    def name(self) -> str:
        """Scenario name."""
        return self.spec.name

    @property
    def seed(self) -> int:
        """Scenario seed."""
        return self.spec.seed

    @property
    def duration_s(self) -> float | None:
        """Planned duration in seconds, if the file gives one."""
        return self.spec.duration_s

    def asset(self, asset_id: str) -> SimAsset:
        """The simulated asset with id ``asset_id``."""
        for a in self.assets:
            if a.asset == asset_id:
                return a
        raise KeyError(f"scenario {self.name!r} has no asset {asset_id!r}; have {[a.asset for a in self.assets]}")

    def restart(self) -> "Scenario":
        """A fresh scenario from the same spec, back at time zero."""
        return Scenario(self.spec, self.source)

    def ground_truth(self) -> list[dict]:
        """Every fault and regime event of every asset, seconds from the scenario start.

        Each record has ``event``, ``category`` (``"fault"`` or ``"regime"``),
        ``asset``, ``start_s``, ``end_s`` (``None``: until the end),
        ``severity`` (0 for regime events), ``severity_units`` and ``ramp_s``;
        faults add ``params``, regime events ``to`` and ``label``.
        """
        events = [e for a in self.assets for e in a.ground_truth()]
        return sorted(events, key=lambda e: (e["start_s"], e["asset"], e["event"]))

    def ground_truth_ns(self, start_ns: int) -> list[dict]:
        """:meth:`ground_truth` on the epoch clock of a run that started at ``start_ns``."""
        return to_epoch_ns(self.ground_truth(), start_ns)

    def run(self, step_s: float = 0.1, duration_s: float | None = None
            ) -> Iterator[tuple[float, dict[str, dict[str, np.ndarray]]]]:
        """Advance every asset in steps; yield ``(t_end_s, {asset: {channel: values}})``.

        Runs for ``duration_s`` (default: the scenario's own duration) as
        fast as the host computes; a server paces it to the wall clock.
        """
        total = duration_s if duration_s is not None else self.duration_s
        if total is None:
            raise ValueError(f"scenario {self.name!r} has no duration_s; pass duration_s to run()")
        if step_s <= 0:
            raise ValueError(f"step_s must be > 0, got {step_s}")
        n_steps = int(np.ceil(total / step_s - 1e-9))
        for k in range(1, n_steps + 1):
            dt = min(step_s, total - (k - 1) * step_s)
            yield min(k * step_s, total), {a.asset: a.advance(dt) for a in self.assets}


def to_epoch_ns(events: list[dict], start_ns: int) -> list[dict]:
    """Convert ground-truth records from relative seconds to UTC epoch nanoseconds.

    ``start_s``/``end_s`` become ``start_ns``/``end_ns``; other keys are kept.

    Examples
    --------
    >>> to_epoch_ns([{"event": "ball", "start_s": 1.5, "end_s": None}], 10**18)
    [{'event': 'ball', 'start_ns': 1000000001500000000, 'end_ns': None}]
    """
    out = []
    for e in events:
        rec = {k: v for k, v in e.items() if k not in ("start_s", "end_s")}
        rec["start_ns"] = int(start_ns) + int(round(e["start_s"] * 1e9))
        rec["end_ns"] = None if e.get("end_s") is None else int(start_ns) + int(round(e["end_s"] * 1e9))
        out.append(rec)
    return out


def _cross_check(spec: ScenarioSpec) -> list[str]:
    """Problems that span several fields: unknown assets, inapplicable faults, times."""
    errors = []
    types = {}
    for i, a in enumerate(spec.assets):
        if a.id in types:
            errors.append(f"assets[{i}].id = {a.id!r}: duplicate asset id")
        types[a.id] = a.type
    horizon = spec.duration_s
    for kind, items in (("faults", spec.faults), ("regimes", spec.regimes)):
        for j, ev in enumerate(items):
            where = f"{kind}[{j}]"
            if ev.asset not in types:
                errors.append(f"{where}.asset = {ev.asset!r}: no such asset; have {sorted(types)}")
                continue
            atype = types[ev.asset]
            if kind == "faults" and ev.type not in ASSET_FAULTS[atype]:
                errors.append(f"{where}.type = {ev.type!r}: does not apply to {atype} {ev.asset!r}; "
                              f"expected one of {list(ASSET_FAULTS[atype])}")
            if kind == "regimes":
                for var in ev.to:
                    if var not in ASSET_VARIABLES[atype]:
                        errors.append(f"{where}.to.{var}: unknown for {atype} {ev.asset!r}; "
                                      f"expected one of {list(ASSET_VARIABLES[atype])}")
            if ev.end_s is not None and ev.end_s <= ev.start_s:
                errors.append(f"{where}.end_s = {ev.end_s}: must be after start_s = {ev.start_s}")
            if horizon is not None and ev.start_s >= horizon:
                errors.append(f"{where}.start_s = {ev.start_s}: at or after the scenario's duration_s = {horizon}")
    return errors


def scenario_document(source: str | Path | Mapping[str, Any]) -> tuple[dict, str]:
    """The parsed scenario document of ``source`` (a YAML file, a shipped example's name or a mapping) and
    where it came from; :class:`ScenarioError` when it cannot be read."""
    if isinstance(source, Mapping):
        return dict(source), "<dict>"
    if not isinstance(source, (str, Path)):
        raise TypeError(f"load_scenario needs a path or a mapping, got {type(source).__name__}")
    path = Path(source)
    if not path.exists() and (EXAMPLES_DIR / f"{source}.yaml").exists():
        path = EXAMPLES_DIR / f"{source}.yaml"
    where = str(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(where, [f"file not found; shipped examples: {list_examples()}"]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(where, [f"not valid YAML: {exc}"]) from None
    if not isinstance(doc, Mapping):
        raise ScenarioError(where, [f"top level must be a mapping of fields, got {type(doc).__name__}"])
    return dict(doc), where


def load_scenario(source: str | Path | Mapping[str, Any]) -> Scenario:
    """Load, validate and build a scenario from a YAML file or a dict.

    Parameters
    ----------
    source : str, pathlib.Path or mapping
        Path of a YAML file, or the already-parsed document. A bare name
        such as ``"outer_race_early_detection"`` finds a shipped example.

    Raises
    ------
    ScenarioError
        With every problem found, each naming its field, value and what was expected.
    """
    doc, where = scenario_document(source)
    try:
        spec = ScenarioSpec.model_validate(doc)
    except ValidationError as exc:
        raise ScenarioError(where, _pydantic_errors(exc)) from None
    return Scenario(spec, where)


def list_examples() -> list[str]:
    """Names of the example scenarios shipped in :data:`EXAMPLES_DIR`."""
    return sorted(p.stem for p in EXAMPLES_DIR.glob("*.yaml"))
