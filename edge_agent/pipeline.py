"""Per-asset pipeline: windows → features → score → threshold → events."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, Field, field_validator

from edge_agent.features import BEARING_FEATURES, BearingFrequencies, bearing_features
from edge_agent.models import LogZScoreDetector
from firmware_adapters.sample import Sample
from simulators.bearing import bearing_by_name

log = logging.getLogger(__name__)


class PipelineConfig(BaseModel):
    """What one asset's pipeline computes and when it alerts.

    Parameters
    ----------
    channel : str
        Vibration channel to analyse.
    window : int
        Samples per analysis window (non-overlapping).
    rpm : float
        Shaft speed for the defect frequencies.
    bearing : str
        Bearing designation (``"6205"``, ``"6203"``).
    band : (float, float) or None
        Demodulation band in Hz; ``None`` picks 15-40 % of the sample rate.
    features : list of str
        Features the detector scores.
    warmup : int
        Windows learnt before the detector may alert (the learning period).
    threshold : float
        Score above which a window counts as anomalous.
    confirm : int
        Consecutive anomalous windows that open an alert episode.
    clear : int
        Consecutive normal windows that close it.
    """

    channel: str = "vibration_de"
    window: int = Field(8192, ge=256, le=1 << 20)
    rpm: float = Field(1797.0, gt=0)
    bearing: str = "6205"
    band: tuple[float, float] | None = None
    features: list[str] = Field(default_factory=lambda: ["rms", "peak", "crest", "kurtosis", "env_bpfo", "env_bpfi", "env_2bsf"])
    warmup: int = Field(30, ge=2)
    threshold: float = Field(8.0, gt=0)
    confirm: int = Field(2, ge=1)
    clear: int = Field(5, ge=1)

    @field_validator("features")
    @classmethod
    def _known_features(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - set(BEARING_FEATURES))
        if unknown:
            raise ValueError(f"unknown features {unknown}; known: {list(BEARING_FEATURES)}")
        return v

    @field_validator("bearing")
    @classmethod
    def _known_bearing(cls, v: str) -> str:
        bearing_by_name(v)
        return v


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
    """Opening of an alert episode."""

    ts: int
    score: float
    threshold: float
    features: dict[str, float]
    message: str
    severity: str = "warning"

    def as_dict(self) -> dict:
        """JSON-ready form used in the ``alert`` payload."""
        return {"ts": self.ts, "score": self.score, "threshold": self.threshold,
                "features": self.features, "message": self.message, "severity": self.severity}


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
    """

    asset: str
    config: PipelineConfig
    detector: object = None
    _buffer: list[np.ndarray] = field(default_factory=list, init=False)
    _buffered: int = field(default=0, init=False)
    _buffer_start_ns: int | None = field(default=None, init=False)
    _expected_ns: int | None = field(default=None, init=False)
    _above: int = field(default=0, init=False)
    _below: int = field(default=0, init=False)
    in_alert: bool = field(default=False, init=False)
    gaps: int = field(default=0, init=False)
    scalars: dict[str, float] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        if self.detector is None:
            self.detector = LogZScoreDetector(features=tuple(self.config.features), warmup=self.config.warmup)
        geometry = bearing_by_name(self.config.bearing)
        f = geometry.frequencies(self.config.rpm / 60.0)
        self._freqs = BearingFrequencies(f["bpfo"], f["bpfi"], f["2bsf"])

    def push(self, sample: Sample) -> list[FeatureRecord | AlertRecord]:
        """Take one block; return the records of every window it completed."""
        if sample.rate <= 0:
            self.scalars[sample.channel] = float(sample.values[-1])
            return []
        if sample.channel != self.config.channel:
            return []
        if self._expected_ns is not None and abs(sample.start_ns - self._expected_ns) > 1e9 / sample.rate:
            self.gaps += 1
            log.warning("%s: gap of %.3f s in %s; restarting the window",
                        self.asset, (sample.start_ns - self._expected_ns) / 1e9, sample.channel)
            self._buffer, self._buffered, self._buffer_start_ns = [], 0, None
        self._expected_ns = sample.end_ns
        if self._buffer_start_ns is None:
            self._buffer_start_ns = sample.start_ns
        self._buffer.append(sample.values)
        self._buffered += sample.values.size
        out: list[FeatureRecord | AlertRecord] = []
        n = self.config.window
        while self._buffered >= n:
            data = np.concatenate(self._buffer)
            window, rest = data[:n], data[n:]
            end_ns = self._buffer_start_ns + int(round(n / sample.rate * 1e9))
            self._buffer, self._buffered, self._buffer_start_ns = [rest], rest.size, end_ns
            out.extend(self._window(window, sample.rate, end_ns))
        return out

    def _window(self, x: np.ndarray, fs: float, end_ns: int) -> list[FeatureRecord | AlertRecord]:
        feats = bearing_features(x, fs, self._freqs, band=self.config.band)
        feats.update(self.scalars)
        learning = self.detector.n_learnt < self.config.warmup if hasattr(self.detector, "n_learnt") else False
        score = float(self.detector.score_one(feats))
        anomalous = not learning and score > self.config.threshold
        if not anomalous:
            self.detector.learn_one(feats)  # never learn the fault as normal
        out: list[FeatureRecord | AlertRecord] = [
            FeatureRecord(end_ns, feats, score, self.config.threshold, learning)
        ]
        self._above = self._above + 1 if anomalous else 0
        self._below = 0 if anomalous else self._below + 1
        if not self.in_alert and self._above >= self.config.confirm:
            self.in_alert = True
            message = f"anomaly score {score:.1f} above {self.config.threshold:g} for {self._above} windows"
            if hasattr(self.detector, "z_scores"):
                z = self.detector.z_scores(feats)
                worst = max(z, key=lambda k: abs(z[k]))
                message += f"; most deviating feature: {worst} (z = {z[worst]:+.1f})"
            out.append(AlertRecord(end_ns, score, self.config.threshold, feats, message))
        elif self.in_alert and self._below >= self.config.clear:
            self.in_alert = False
        return out
