"""Declared per-asset pipelines: windows → feature set → scaler → detector → threshold → events.

A window is cut from one waveform channel (vibration sets), from three
aligned phase currents (``motor_current``) or, for ``thermal``, from scalar
temperature, load and ambient readings over ``thermal.period_s`` (see
:mod:`edge_agent.thermal_input`).

A pipeline is data (YAML or JSON), chosen from registries — feature sets
(:data:`edge_agent.features.sets.FEATURE_SETS`), scalers, detectors and
threshold policies (:mod:`edge_agent.models`), drift detectors
(:mod:`edge_agent.drift`) — never arbitrary code, so a hub can deploy it to
an edge it does not control. Its lineage (content hash, parent, author,
creation time) travels with every deployment.

Example ``pipeline.yaml``::

    name: bearing-hst
    channel: vibration_de
    window: 4096
    rpm: 1797
    bearing: "6205"
    feature_set: bearing
    features: [rms, kurtosis, crest, env_bpfo_hsnr, env_bpfi_hsnr, env_2bsf_hsnr]
    scaler: {name: minmax}
    detector: {name: hst, params: {n_trees: 25, height: 12, window_size: 100, seed: 1}}
    threshold: {name: quantile, params: {q: 0.995, window: 500, warmup: 30, margin: 1.2}}
    warmup: 60
    drift:
      - {target: rms, detector: adwin, params: {delta: 0.002}}
      - {target: score, detector: page_hinkley}
    lineage: {author: ana, parent: 3f9c0d1e2a4b5c6d}

A thermal pipeline (the cooling-failure lab pack's starter)::

    name: winding-thermal
    feature_set: thermal
    thermal: {temperature: winding_temperature, load: load, load_scale: 0.01, ambient_c: 20, learn_s: 900}
    features: [temperature_residual]
    detector: {name: zscore}
    threshold: 8.0
    warmup: 30
    learn_after_warmup: false
    drift:
      - {target: load, detector: page_hinkley, params: {min_instances: 6}}
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import pickle
import time
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edge_agent.bearings import bearing_by_name
from edge_agent.diagnosis.explain import (explain_bearing, explain_current, explain_features, explain_thermal,
                                          moved_features)
from edge_agent.drift import DRIFT_DETECTORS, DriftMonitor
from edge_agent.features.sets import FEATURE_SETS, FeatureContext, linear_features
from edge_agent.models import MODELS, SCALERS, THRESHOLDS
from edge_agent.thermal_input import ThermalInputs, ThermalWindows
from firmware_adapters.sample import Sample

log = logging.getLogger(__name__)
DEFAULT_FEATURES = ["rms", "peak", "crest", "kurtosis", "env_bpfo", "env_bpfi", "env_2bsf"]


#: Upper bounds of step parameters, checked before anything is built: a deploy is a
#: learner's input, and the edge (a lab session's edge runs on the hub host) must not
#: build ~10^10 tree nodes because someone asked for them.
PARAM_LIMITS = {"n_trees": 100, "height": 16, "window_size": 100_000, "window": 100_000, "warmup": 1_000_000,
                "n_random_projections": 1_000, "n_bins": 10_000, "min_instances": 1_000_000,
                "grace_period": 1_000_000, "clock": 1_000_000, "max_buckets": 1_000}
#: Any other integer parameter: at most this.
MAX_INT_PARAM = 10_000_000
#: Half-Space Trees: nodes of all trees together (``n_trees * 2**(height + 1)``), about 24 bytes each (~50 MB);
#: 25 trees of height 15 (bench_hst.py) fit.
MAX_TREE_NODES = 1 << 21
#: Drift monitors in one pipeline.
MAX_DRIFT_MONITORS = 32


def check_params(what: str, params: dict) -> None:
    """Refuse parameters over :data:`PARAM_LIMITS` (``ValueError`` naming ``what.params.NAME``).

    Examples
    --------
    >>> check_params("detector", {"n_trees": 25, "height": 10})
    >>> check_params("detector", {"n_trees": 1000, "height": 24})
    Traceback (most recent call last):
    ...
    ValueError: detector.params.n_trees must be at most 100, got 1000
    >>> check_params("detector", {"n_trees": 100, "height": 16})
    Traceback (most recent call last):
    ...
    ValueError: detector.params: n_trees * 2**(height + 1) = 13107200 tree nodes, at most 2097152 (fewer or lower trees)
    """
    for name, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        limit = PARAM_LIMITS.get(name, MAX_INT_PARAM if isinstance(value, int) else None)
        if limit is not None and abs(value) > limit:
            raise ValueError(f"{what}.params.{name} must be at most {limit}, got {value}")
    trees, height = params.get("n_trees", 10), params.get("height", 8)
    if ("n_trees" in params or "height" in params) and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (trees, height)):
        nodes = trees * 2 ** (height + 1)
        if nodes > MAX_TREE_NODES:
            raise ValueError(f"{what}.params: n_trees * 2**(height + 1) = {nodes} tree nodes, "
                             f"at most {MAX_TREE_NODES} (fewer or lower trees)")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StepSpec(_Strict):
    """A registry entry and its parameters, e.g. ``{name: hst, params: {n_trees: 25}}``."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class DriftSpec(_Strict):
    """A drift monitor on one feature, on ``score`` or (thermal pipelines) on an input channel.

    ``standardise``: scale values by the mean and standard deviation of the
    first N windows before the detector sees them (ADWIN's and
    Page-Hinkley's defaults assume values of order one); 0 turns it off.
    """

    target: str
    detector: str = "adwin"
    params: dict[str, Any] = Field(default_factory=dict)
    standardise: int = Field(30, ge=0)


class Lineage(_Strict):
    """Where a pipeline came from: the hash of its parent, who made it, when (epoch ns)."""

    parent: str | None = None
    author: str | None = None
    created_ns: int | None = None
    note: str = ""


class IsoClass(_Strict):
    """ISO 20816-3 machine class of a vibration asset: group 1 (300 kW-50 MW) or 2 (15-300 kW), foundation."""

    group: Literal[1, 2] = 2
    foundation: Literal["rigid", "flexible"] = "rigid"


class PipelineConfig(_Strict):
    """What one asset's pipeline computes and when it alerts.

    Parameters
    ----------
    name : str
        Human name of the pipeline.
    channel : str
        Waveform channel analysed by a vibration set.
    channels : list of str or None
        The three phase-current channels (a, b, c) of a ``motor_current`` set.
    thermal : ThermalInputs or None
        Channels (temperature, load, ambient) and model settings of a
        ``thermal`` set; see :mod:`edge_agent.thermal_input`.
    window : int
        Samples per analysis window (non-overlapping); a thermal window is
        ``thermal.period_s`` long instead.
    rpm, bearing, band : float, str, (float, float) or None
        Shaft speed, bearing designation and demodulation band (default 15-40 % of fs).
    feature_set : str
        Name in ``FEATURE_SETS``: a vibration set, ``motor_current`` or ``thermal``.
    supply_hz, pole_pairs : float, int or None
        Motor supply frequency (required by ``motor_current``) and pole
        pairs (with ``rpm``, gives the slip for the rotor-bar sidebands).
    features : list of str or None
        Features the detector sees (``None``: all of the set).
    scaler, detector : StepSpec
        From ``edge_agent.models.SCALERS`` / ``MODELS``.
    threshold : float or StepSpec
        A number is a fixed threshold; else an entry of ``THRESHOLDS``.
    warmup : int
        Windows learnt before the detector may alert (the learning period).
    learn_after_warmup : bool
        Keep learning windows judged normal after the learning period (the
        model follows slow, harmless change) or freeze it (a slowly growing
        fault cannot be learnt as normal; drift monitors report the change).
    confirm, clear : int
        Consecutive anomalous windows that open an alert episode / normal ones that close it.
    drift : list of DriftSpec
        Drift monitors: on a feature of the set (selected in ``features`` or
        not), on ``score``, or on an input channel of a thermal pipeline
        (e.g. the load: a change of operating regime).
    iso_class : IsoClass or None
        Machine group and foundation for the ISO 20816-3 zone of a vibration
        alert's explanation (``None``: group 2, rigid, marked as assumed).
    explain : bool
        Diagnose the alerting windows and attach the explanation to the
        alert (:mod:`edge_agent.diagnosis.explain`).
    lineage : Lineage
        Not part of the hash.
    """

    name: str = "bearing-zscore"
    channel: str = "vibration_de"
    channels: list[str] | None = None
    thermal: ThermalInputs | None = None
    window: int = Field(8192, ge=256, le=1 << 20)
    rpm: float = Field(1797.0, gt=0)
    bearing: str = "6205"
    band: tuple[float, float] | None = None
    feature_set: str = "bearing"
    supply_hz: float | None = Field(None, gt=0)
    pole_pairs: int | None = Field(None, ge=1, le=12)
    features: list[str] | None = Field(default_factory=lambda: list(DEFAULT_FEATURES))
    scaler: StepSpec | None = None
    detector: StepSpec = Field(default_factory=lambda: StepSpec(name="zscore"))
    threshold: float | StepSpec = 8.0
    warmup: int = Field(30, ge=2)
    learn_after_warmup: bool = True
    confirm: int = Field(2, ge=1)
    clear: int = Field(5, ge=1)
    drift: list[DriftSpec] = Field(default_factory=list, max_length=MAX_DRIFT_MONITORS)
    iso_class: IsoClass | None = None
    explain: bool = True
    lineage: Lineage = Field(default_factory=Lineage)

    @field_validator("bearing")
    @classmethod
    def _known_bearing(cls, v: str) -> str:
        bearing_by_name(v)
        return v

    @model_validator(mode="after")
    def _known_names(self) -> "PipelineConfig":
        fset = FEATURE_SETS.get(self.feature_set)
        if fset is None or fset.inputs not in ("vibration", "current", "thermal"):
            known = [n for n, s in FEATURE_SETS.items() if s.inputs in ("vibration", "current", "thermal")]
            raise ValueError(f"feature_set {self.feature_set!r} unknown for a pipeline; known: {known}")
        if fset.inputs == "current":
            if not self.channels or len(self.channels) != 3 or self.supply_hz is None:
                raise ValueError(f"feature_set {self.feature_set!r} needs channels: [phase a, b, c] and supply_hz")
        if fset.inputs == "thermal" and self.thermal is None:
            raise ValueError(f"feature_set {self.feature_set!r} needs thermal: {{temperature: <channel>, "
                             f"load: <channel>, ambient: <channel> or ambient_c: <degC>}}")
        if fset.inputs != "thermal" and self.thermal is not None:
            raise ValueError(f"thermal settings apply to feature_set 'thermal' only, not {self.feature_set!r}")
        if fset.inputs != "vibration" and self.features == DEFAULT_FEATURES:
            self.features = None  # the vibration default does not apply
        names = set(fset.names(self.context(51200.0)))
        unknown = sorted(set(self.features or []) - names)
        if unknown:
            raise ValueError(f"features {unknown} are not in feature set {self.feature_set!r}: {sorted(names)}")
        for what, spec, registry in (("scaler", self.scaler, SCALERS), ("detector", self.detector, MODELS),
                                     ("threshold", self.threshold, THRESHOLDS)):
            if isinstance(spec, StepSpec) and spec.name not in registry:
                raise ValueError(f"{what} {spec.name!r} unknown; known: {sorted(registry)}")
            if isinstance(spec, StepSpec):
                check_params(what, spec.params)
        inputs = set(self.thermal.channels) if self.thermal is not None else set()
        for d in self.drift:
            if d.detector not in DRIFT_DETECTORS:
                raise ValueError(f"drift detector {d.detector!r} unknown; known: {sorted(DRIFT_DETECTORS)}")
            check_params("drift", d.params)
            if d.target != "score" and d.target not in names | inputs:
                also = f" nor one of its input channels {sorted(inputs)}" if inputs else ""
                raise ValueError(f"drift target {d.target!r} is neither 'score' nor a feature of "
                                 f"{self.feature_set!r}{also}")
        return self

    def context(self, fs: float) -> FeatureContext:
        """The feature context of this pipeline at sample rate ``fs``."""
        th = self.thermal
        return FeatureContext(fs=fs, rpm=self.rpm, bearing=bearing_by_name(self.bearing), band=self.band,
                              supply_hz=self.supply_hz, pole_pairs=self.pole_pairs,
                              thermal_r_k_per_w=th.r_k_per_w if th else None, thermal_tau_s=th.tau_s if th else None,
                              rated_loss_w=th.rated_loss_w if th else None)

    @property
    def inputs(self) -> list[str]:
        """Channels one window is cut from, in order (thermal: scalar temperature, load, ambient)."""
        kind = FEATURE_SETS[self.feature_set].inputs
        if kind == "thermal":
            return self.thermal.channels
        return list(self.channels) if kind == "current" else [self.channel]

    def config_hash(self) -> str:
        """Content hash (16 hex digits) of everything but the lineage.

        Examples
        --------
        >>> a, b = PipelineConfig(), PipelineConfig(lineage={"author": "ana"})
        >>> a.config_hash() == b.config_hash() != PipelineConfig(warmup=40).config_hash()
        True
        >>> th = {"feature_set": "thermal", "thermal": {"temperature": "t", "load": "load", "ambient_c": 20}}
        >>> PipelineConfig(**th).config_hash() != PipelineConfig(**{**th, "thermal": {
        ...     "temperature": "t", "load": "load", "ambient_c": 20, "learn_s": 900}}).config_hash()
        True
        """
        # a pipeline without thermal settings hashes as it did before they existed
        unset = {k for k, default in (("thermal", None), ("iso_class", None), ("explain", True))
                 if getattr(self, k) == default}  # fields added later hash as before they existed when unset
        doc = self.model_dump(mode="json", exclude={"lineage"} | unset)
        return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]

    def describe(self) -> dict:
        """Name, hash and lineage, as announced in the edge's birth message."""
        return {"name": self.name, "hash": self.config_hash(), "detector": self.detector.name,
                "feature_set": self.feature_set, **self.lineage.model_dump()}


@dataclass
class FeatureRecord:
    """Features and score of one window; ``ts`` is the window end (epoch ns)."""

    ts: int
    features: dict[str, float]
    score: float
    threshold: float
    learning: bool

    def as_dict(self) -> dict:
        """JSON-ready form used in the ``features`` payload."""
        return {"ts": self.ts, "features": self.features, "score": self.score,
                "threshold": self.threshold, "learning": self.learning}


@dataclass
class AlertRecord:
    """Opening of an alert episode.

    ``explain_later`` is set instead of ``explanation`` by a pipeline that
    defers its diagnosis (``AssetPipeline(defer_explanation=True)``): a
    call without arguments, safe in another thread, that returns the
    explanation. The edge agent runs it off its event loop.
    """

    ts: int
    score: float
    threshold: float
    features: dict[str, float]
    message: str
    severity: str = "warning"
    explanation: dict | None = None
    explain_later: Callable[[], dict] | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        """JSON-ready form used in the ``alert`` payload."""
        out = {"ts": self.ts, "score": self.score, "threshold": self.threshold,
               "features": self.features, "message": self.message, "severity": self.severity}
        if self.explanation is not None:
            out["explanation"] = self.explanation
        return out


@dataclass
class DriftRecord:
    """A drift monitor fired; ``event`` is an :class:`edge_agent.drift.DriftEvent`."""

    event: Any

    def as_dict(self) -> dict:
        """JSON-ready form used in the ``drift`` payload."""
        return self.event.as_dict()


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


@dataclass
class AssetPipeline:
    """Turn a stream of :class:`Sample` blocks of one asset into records.

    Examples
    --------
    >>> import numpy as np
    >>> from firmware_adapters.sample import Sample
    >>> p = AssetPipeline("m1", PipelineConfig(window=1024, warmup=2))
    >>> rng = np.random.default_rng(0)
    >>> out = p.push(Sample("m1", "vibration_de", 0, 12000.0, rng.normal(size=2048), "g"))
    >>> [type(r).__name__ for r in out]
    ['FeatureRecord', 'FeatureRecord']

    ``windows`` counts every window; ``judged`` those the detector saw (a
    thermal window before its model is known is not shown to it).
    ``defer_explanation``: an opened alert carries ``explain_later``
    instead of its explanation (the first diagnosis compiles its numba
    kernels, seconds on a Raspberry Pi, which must not stall a stream).
    """

    asset: str
    config: PipelineConfig
    detector: object = None
    defer_explanation: bool = False
    threshold: object = field(default=None, init=False)
    monitors: list = field(default_factory=list, init=False)
    windows: int = field(default=0, init=False)
    judged: int = field(default=0, init=False)
    in_alert: bool = field(default=False, init=False)
    gaps: int = field(default=0, init=False)
    scalars: dict[str, float] = field(default_factory=dict, init=False)
    last_window: tuple[int, float, np.ndarray] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        cfg = self.config
        if self.detector is None:
            params = dict(cfg.detector.params)
            if cfg.detector.name == "zscore":
                params.setdefault("features", tuple(cfg.features) if cfg.features else None)
                params.setdefault("warmup", cfg.warmup)
                names = cfg.features or FEATURE_SETS[cfg.feature_set].names(cfg.context(51200.0))
                params.setdefault("linear", linear_features(names) or None)
            self.detector = MODELS[cfg.detector.name](**params)
            if cfg.scaler is not None:
                self.detector = SCALERS[cfg.scaler.name](**cfg.scaler.params) | self.detector
        th = cfg.threshold
        self.threshold = THRESHOLDS["fixed"](value=th) if isinstance(th, (int, float)) else \
            THRESHOLDS[th.name](**th.params)
        self.monitors = [DriftMonitor(d.target, d.detector, d.params, standardise=d.standardise, asset=self.asset)
                         for d in cfg.drift]
        self._fset = FEATURE_SETS[cfg.feature_set]
        self._thermal = ThermalWindows(cfg.thermal) if cfg.thermal is not None else None
        self._ctx: FeatureContext | None = None
        self._inputs = cfg.inputs
        self._buffers: dict[str, list[np.ndarray]] = {c: [] for c in self._inputs}
        self._buffered = dict.fromkeys(self._inputs, 0)
        self._start_ns: int | None = None  # time of the first buffered sample (all channels aligned)
        self._expected_ns: dict[str, int] = {}
        self._above = self._below = 0
        self._alerting: list[np.ndarray] = []  # raw windows of the current run of anomalous windows

    # ------------------------------------------------------------- streaming
    def push(self, sample: Sample) -> list[FeatureRecord | AlertRecord | DriftRecord]:
        """Take one block; return the records of every window it completed."""
        if sample.rate <= 0 and sample.values.size:
            self.scalars[sample.channel] = float(sample.values[-1])
        if self._thermal is not None:
            return [rec for end_ns, feats, ready in self._thermal.push(sample)
                    for rec in self._judge(feats, end_ns, ready)]
        if sample.rate <= 0:
            return []
        if sample.channel not in self._buffers:
            return []
        expected = self._expected_ns.get(sample.channel)
        if expected is not None and abs(sample.start_ns - expected) > 1e9 / sample.rate:
            self.gaps += 1
            log.warning("%s: gap of %.3f s in %s; restarting the window",
                        self.asset, (sample.start_ns - expected) / 1e9, sample.channel)
            self._reset()
        self._expected_ns[sample.channel] = sample.end_ns
        if self._start_ns is None or not any(self._buffered.values()):
            self._start_ns = sample.start_ns
        self._buffers[sample.channel].append(sample.values)
        self._buffered[sample.channel] += sample.values.size
        out: list = []
        n = self.config.window
        while min(self._buffered.values()) >= n:
            rows = []
            for c in self._inputs:
                data = np.concatenate(self._buffers[c])
                rows.append(data[:n])
                self._buffers[c], self._buffered[c] = [data[n:]], data.size - n
            end_ns = self._start_ns + int(round(n / sample.rate * 1e9))
            self._start_ns = end_ns
            window = rows[0] if len(rows) == 1 else np.vstack(rows)
            out.extend(self._window(window, sample.rate, end_ns))
        return out

    def _reset(self) -> None:
        for c in self._inputs:
            self._buffers[c], self._buffered[c] = [], 0
        self._expected_ns.clear()
        self._start_ns = None

    def _window(self, x: np.ndarray, fs: float, end_ns: int) -> list:
        self.last_window = (end_ns, fs, x)
        if self._ctx is None or self._ctx.fs != fs:
            self._ctx = self.config.context(fs)
        return self._judge(self._fset.compute(x, self._ctx), end_ns)

    def _judge(self, computed: dict[str, float], end_ns: int, ready: bool = True) -> list:
        """Score, learn, monitor and alert on the features of one window.

        ``ready`` is False while the features are not all defined yet (a
        thermal model still being fitted): the detector neither sees nor
        learns such a window, and it counts as learning.
        """
        cfg = self.config
        self.windows += 1
        learning = not ready or self.judged < cfg.warmup
        feats = {k: computed[k] for k in cfg.features if k in computed} if cfg.features else computed
        score, anomalous = 0.0, False
        if ready:
            self.judged += 1
            score = float(self.detector.score_one(feats))
            judged = self.threshold.update(score)  # an adaptive threshold learns healthy scores
            anomalous = judged and not learning
            if not anomalous and (learning or cfg.learn_after_warmup):
                self.detector.learn_one(feats)  # never learn the fault as normal
        record = {**feats, **self.scalars}
        out: list = [FeatureRecord(end_ns, record, score, _finite(self.threshold.value), learning)]
        watched = {**self.scalars, **(self._thermal.readings if self._thermal else {}), **computed}
        for mon in self.monitors:
            if (mon.target != "score" or not learning) and mon.update_record(watched, score, ts=end_ns):
                out.append(DriftRecord(mon.last_event))
        self._above = self._above + 1 if anomalous else 0
        self._below = 0 if anomalous else self._below + 1
        if anomalous and self._fset.inputs == "vibration" and self.last_window is not None:
            self._alerting = [*self._alerting, self.last_window[2]][-max(cfg.confirm, 1):][-4:]
        elif not anomalous:
            self._alerting = []
        if not self.in_alert and self._above >= cfg.confirm:
            self.in_alert = True
            job = self._explanation_job(feats, computed) if cfg.explain else None
            later = job is not None and self.defer_explanation
            out.append(AlertRecord(end_ns, score, float(self.threshold.value), record, self._message(score, feats),
                                   explanation=job() if job is not None and not later else None,
                                   explain_later=job if later else None))
        elif self.in_alert and self._below >= cfg.clear:
            self.in_alert = False
        return out

    def _explanation_job(self, feats: dict, computed: dict) -> Callable[[], dict]:
        """The explanation of the alert being opened, as a call that needs none of the pipeline's later state.

        What it reads is taken now (the moved features, the alerting
        windows, the speed), so it may run in another thread while the
        pipeline goes on; a failed diagnosis still names the moved features.
        """
        moved = moved_features(self.detector, feats)
        kind, cfg, asset = self._fset.inputs, self.config, self.asset
        windows = list(self._alerting) if self.last_window is not None else []
        fs = self.last_window[1] if self.last_window is not None else 0.0
        rpm = self.scalars.get("shaft_speed") or cfg.rpm  # a live speed channel beats the configured one
        computed = dict(computed)

        def explain() -> dict:
            try:
                if kind == "vibration" and windows:
                    iso = cfg.iso_class
                    return explain_bearing(windows, fs, rpm, bearing_by_name(cfg.bearing), moved,
                                           iso.group if iso else None, iso.foundation if iso else None)
                if kind == "current":
                    return explain_current(computed, moved)
                if kind == "thermal":
                    return explain_thermal(computed, moved)
            except (ValueError, ArithmeticError) as exc:
                log.warning("%s: no diagnosis of the alerting windows: %s", asset, exc)
                return explain_features(moved, f"diagnosis not possible: {str(exc)[:200]}")
            return explain_features(moved)

        return explain

    def _message(self, score: float, feats: dict) -> str:
        msg = f"anomaly score {score:.3g} above {self.threshold.value:.3g} for {self._above} windows"
        if hasattr(self.detector, "z_scores"):
            z = self.detector.z_scores(feats)
            worst = max(z, key=lambda k: abs(z[k]))
            msg += f"; most deviating feature: {worst} (z = {z[worst]:+.1f})"
        return msg

    # ------------------------------------------------------------- state
    def snapshot(self) -> bytes:
        """The learnt state (detector, threshold, drift monitors, thermal model, counters) as bytes.

        Snapshots are local agent state written by the agent itself; never
        restore one received over the network (it is a pickle).
        """
        state = {"hash": self.config.config_hash(), "saved_ns": time.time_ns(), "detector": self.detector,
                 "threshold": self.threshold, "monitors": self.monitors, "windows": self.windows,
                 "judged": self.judged, "in_alert": self.in_alert, "thermal": self._thermal}
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    def restore(self, blob: bytes) -> None:
        """Load a :meth:`snapshot` of the same pipeline (same config hash), else ``ValueError``."""
        state = pickle.loads(blob)
        if state.get("hash") != self.config.config_hash():
            raise ValueError(f"snapshot is of pipeline {state.get('hash')}, not {self.config.config_hash()}")
        self.detector, self.threshold, self.monitors = state["detector"], state["threshold"], state["monitors"]
        self.windows, self.in_alert = state["windows"], state["in_alert"]
        self.judged = state.get("judged", self.windows)  # snapshots from before thermal windows
        if self._thermal is not None and state.get("thermal") is not None:
            self._thermal = state["thermal"]
