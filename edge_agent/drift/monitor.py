"""Drift monitors: one river drift detector watching one feature (or the anomaly score)."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import math
import sys
import time
from collections import deque
from dataclasses import dataclass, field

# name -> "module:Class"; river is imported only when a monitor is built, and only the detector's
# own module (see _import_detector_module)
DRIFT_DETECTORS: dict[str, str] = {
    "adwin": "river.drift.adwin:ADWIN",
    "page_hinkley": "river.drift.page_hinkley:PageHinkley",
    "kswin": "river.drift.kswin:KSWIN",
}


def _import_detector_module(name: str):
    """Import ``river.drift.<x>`` without running ``river/drift/__init__.py``.

    That ``__init__`` imports every detector and river's data sets, which
    pull in ``scipy.stats`` (and SQLAlchemy where installed): ~80 MB and
    seconds on an edge gateway, for ADWIN or Page-Hinkley that need neither.
    The package is stood in for by a module made from its own spec while the
    detector's module loads, then removed, so a later ``import river.drift``
    runs the real ``__init__`` (which reuses the module loaded here: the
    classes are the same objects).
    """
    package, _, _ = name.rpartition(".")
    if package in sys.modules:
        return importlib.import_module(name)
    spec = importlib.util.find_spec(package)
    sys.modules[package] = importlib.util.module_from_spec(spec)
    try:
        return importlib.import_module(name)
    finally:
        del sys.modules[package]


def make_detector(name: str, **params):
    """Build a river drift detector by registry name, checking its parameters.

    Examples
    --------
    >>> det = make_detector("page_hinkley", threshold=20.0)
    >>> type(det).__name__, det.threshold
    ('PageHinkley', 20.0)
    >>> make_detector("adwin", delt=0.01)
    Traceback (most recent call last):
    ...
    ValueError: drift detector 'adwin': unknown parameter 'delt'; expected one of ['delta', 'clock', 'max_buckets', 'min_window_length', 'grace_period']
    """
    if name not in DRIFT_DETECTORS:
        raise ValueError(f"unknown drift detector {name!r}; known: {sorted(DRIFT_DETECTORS)}")
    module, _, attr = DRIFT_DETECTORS[name].partition(":")
    cls = getattr(_import_detector_module(module), attr)
    known = [n for n, p in inspect.signature(cls).parameters.items()
             if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    for k in params:
        if k not in known:
            raise ValueError(f"drift detector {name!r}: unknown parameter {k!r}; expected one of {known}")
    try:
        return cls(**params)
    except (TypeError, ValueError, AssertionError) as exc:
        raise ValueError(f"drift detector {name!r}: invalid parameters {params!r}: {exc}") from exc


@dataclass(frozen=True)
class DriftEvent:
    """A detected change in the distribution of one monitored quantity.

    Parameters
    ----------
    ts : int
        Time of the observation that triggered it (ns since the epoch, as samples).
    target : str
        Monitored feature name, or ``"score"``.
    detector : str
        Registry name of the drift detector.
    detail : dict
        ``n_since_last`` (observations in the segment that ended),
        ``mean_before`` (its mean without the last ``recent`` values),
        ``mean_recent`` (mean of those), ``recent`` (how many), and what the
        detector reports (ADWIN ``width``/``estimation``, KSWIN ``p_value``).
    asset : str or None
        Asset the monitor belongs to.

    Examples
    --------
    >>> DriftEvent(5, "rms", "adwin", {"mean_before": 1.0}).as_dict()
    {'ts': 5, 'kind': 'drift', 'asset': None, 'target': 'rms', 'detector': 'adwin', 'detail': {'mean_before': 1.0}, 'message': 'drift in rms (adwin)'}
    """

    ts: int
    target: str
    detector: str
    detail: dict = field(default_factory=dict)
    asset: str | None = None

    @property
    def message(self) -> str:
        """One-line description for people."""
        return f"drift in {self.target} ({self.detector})"

    def as_dict(self) -> dict:
        """JSON-ready form, published like an alert."""
        return {"ts": self.ts, "kind": "drift", "asset": self.asset, "target": self.target,
                "detector": self.detector, "detail": dict(self.detail), "message": self.message}


class DriftMonitor:
    """Feed one quantity to a river drift detector; report a :class:`DriftEvent` on drift.

    river is imported when the monitor is built, never by importing this
    module. Non-finite values are skipped and counted (``n_skipped``), never
    fed to the detector. The monitor and its detector pickle.

    Parameters
    ----------
    target : str
        Feature name to read from a features dict, or ``"score"``.
    detector : str
        Name in :data:`DRIFT_DETECTORS`.
    params : dict or None
        Parameters of the detector.
    recent : int
        Values averaged for ``mean_recent`` in the event detail.
    standardise : int
        If > 0, the detector is fed ``(value - mean) / std`` with the mean
        and standard deviation of the first ``standardise`` values (buffered,
        then replayed). ADWIN's cut bound and Page-Hinkley's ``delta`` and
        ``threshold`` are absolute, tuned for values of order one; condition
        indicators like an RMS of 0.04 g need this so that the same
        parameters work for any feature. The event detail stays in raw units.
    asset : str or None
        Asset named in the events.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(0)
    >>> mon = DriftMonitor("rms", "adwin", {"delta": 0.002})
    >>> stream = [rng.gauss(1.0, 0.05) for _ in range(500)] + [rng.gauss(1.3, 0.05) for _ in range(200)]
    >>> hits = [i for i, v in enumerate(stream) if mon.update(v, ts=i)]
    >>> hits[0] >= 500, hits[0] < 560, mon.update(float("nan")), mon.n_skipped
    (True, True, False, 1)
    >>> ev = mon.last_event
    >>> ev.target, round(ev.detail["mean_before"], 1), ev.detail["mean_recent"] > 1.1
    ('rms', 1.0, True)
    """

    def __init__(self, target: str, detector: str = "adwin", params: dict | None = None,
                 recent: int = 30, standardise: int = 0, asset: str | None = None) -> None:
        if not isinstance(target, str) or not target:
            raise ValueError(f"target must be a feature name or 'score', got {target!r}")
        if not isinstance(recent, int) or recent < 1:
            raise ValueError(f"recent must be an integer >= 1, got {recent!r}")
        self.target = target
        self.detector = detector
        self.params = dict(params or {})
        if not isinstance(standardise, int) or standardise < 0 or standardise == 1:
            raise ValueError(f"standardise must be 0 (off) or an integer >= 2, got {standardise!r}")
        self.recent = recent
        self.standardise = standardise
        self.asset = asset
        self._det = make_detector(detector, **self.params)
        self.n_seen = 0
        self.n_skipped = 0
        self.n_drifts = 0
        self.last_event: DriftEvent | None = None
        self._seg_n = 0
        self._seg_sum = 0.0
        self._recent: deque = deque(maxlen=recent)
        self._buffer: list | None = [] if standardise else None
        self._loc, self._scale = 0.0, 1.0

    @property
    def drift_detected(self) -> bool:
        """Whether the last update detected a drift (river's drift-detector protocol)."""
        return bool(self._det.drift_detected)

    def update(self, value: float, ts: int | None = None) -> bool:
        """Feed one value; ``True`` (and :attr:`last_event` set) when drift is detected."""
        self.n_seen += 1
        try:
            v = float(value)
        except (TypeError, ValueError):
            v = math.nan
        if not math.isfinite(v):
            self.n_skipped += 1
            return False
        self._seg_n += 1
        self._seg_sum += v
        self._recent.append(v)
        if not self._feed(v):
            return False
        self.n_drifts += 1
        self.last_event = DriftEvent(ts if ts is not None else time.time_ns(), self.target, self.detector,
                                     self._detail(), self.asset)
        self._seg_n, self._seg_sum = 0, 0.0
        self._recent.clear()
        return True

    def _feed(self, v: float) -> bool:
        if self._buffer is None:
            self._det.update((v - self._loc) / self._scale)
            return bool(self._det.drift_detected)
        self._buffer.append(v)
        if len(self._buffer) < self.standardise:
            return False
        buf, self._buffer = self._buffer, None
        self._loc = math.fsum(buf) / len(buf)
        var = math.fsum((b - self._loc) ** 2 for b in buf) / (len(buf) - 1)
        self._scale = math.sqrt(var) if var > 0 else max(abs(self._loc), 1.0) * 1e-9
        hit = False
        for b in buf:
            hit = self._feed(b) or hit
        return hit

    def update_record(self, features: dict, score: float | None = None, ts: int | None = None) -> bool:
        """Pick the target out of a features dict (or the score) and :meth:`update` with it.

        A record without the target counts as skipped.
        """
        value = score if self.target == "score" else features.get(self.target)
        return self.update(math.nan if value is None else value, ts)

    def _detail(self) -> dict:
        k = len(self._recent)
        recent_sum = sum(self._recent)
        before_n = self._seg_n - k
        detail = {
            "n_since_last": self._seg_n,
            "mean_before": (self._seg_sum - recent_sum) / before_n if before_n > 0 else None,
            "mean_recent": recent_sum / k if k else None,
            "recent": k,
        }
        width, estimation, p_value = (getattr(self._det, n, None) for n in ("width", "estimation", "p_value"))
        if isinstance(width, (int, float)):  # ADWIN: the window kept after the cut, in raw units
            detail["width"] = int(width)
            detail["estimation"] = self._loc + self._scale * float(estimation)
        if isinstance(p_value, (int, float)):  # KSWIN
            detail["p_value"] = float(p_value)
        return detail

    def __repr__(self) -> str:
        return (f"DriftMonitor(target={self.target!r}, detector={self.detector!r}, params={self.params!r}, "
                f"recent={self.recent!r}, standardise={self.standardise!r}, asset={self.asset!r})")
