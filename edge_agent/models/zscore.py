"""A standardised-feature anomaly detector in river's protocol."""

from __future__ import annotations

import math

from edge_agent.models.base import Estimator


class LogZScoreDetector(Estimator):
    """Largest absolute z-score of the (log-)features against what was learnt.

    Condition indicators such as RMS, kurtosis or envelope amplitudes are
    positive and skewed; their logarithms are close to normal, so a z-score
    on the log scale treats a doubling the same at any level. Features that
    are already logarithmic (levels in dB) or may be zero or negative (a
    mean, a skewness, a temperature residual) are named in ``linear`` and
    taken as they are. The mean and variance of each feature are learnt
    online (Welford's algorithm), so the model follows river's protocol:
    ``learn_one(x)`` updates, ``score_one(x)`` returns a float, higher
    meaning more anomalous.

    Parameters
    ----------
    features : tuple of str or None
        Features to use; ``None`` uses every key of the first learnt dict.
    log : bool
        Take ``log`` of the features not named in ``linear`` (a value <= 0
        is taken as 1e-12, e.g. an amplitude that is exactly zero).
    warmup : int
        Observations to learn before scores are non-zero.
    min_rel_std : float
        Floor of each standard deviation relative to the mean magnitude, so
        a feature that happened not to vary during learning cannot make a
        tiny change look huge.
    linear : tuple of str or None
        Features never log-transformed: values in dB, signed values.
        Declared pipelines fill it from the feature set
        (:func:`edge_agent.features.sets.linear_features`).

    Examples
    --------
    >>> import random
    >>> rng = random.Random(7)
    >>> det = LogZScoreDetector(warmup=20)
    >>> for _ in range(50):
    ...     det.learn_one({"rms": rng.gauss(1.0, 0.05), "kurtosis": rng.gauss(3.0, 0.1)})
    >>> det.score_one({"rms": 1.0, "kurtosis": 3.0}) < 2
    True
    >>> det.score_one({"rms": 1.0, "kurtosis": 9.0}) > 8
    True

    A sideband level in dB is negative; taken as it is, a rise of 40 dB stands out:

    >>> det = LogZScoreDetector(warmup=20, linear=("sideband_db",))
    >>> for _ in range(50):
    ...     det.learn_one({"sideband_db": rng.gauss(-90.0, 1.0)})
    >>> det.score_one({"sideband_db": -50.0}) > 30
    True
    """

    def __init__(
        self,
        features: tuple[str, ...] | None = None,
        log: bool = True,
        warmup: int = 30,
        min_rel_std: float = 0.01,
        linear: tuple[str, ...] | None = None,
    ) -> None:
        if warmup < 2:
            raise ValueError(f"warmup must be at least 2, got {warmup}")
        self.features = tuple(features) if features is not None else None
        self.log = log
        self.warmup = warmup
        self.min_rel_std = min_rel_std
        if isinstance(linear, str):
            raise ValueError(f"linear must be a sequence of feature names, got the string {linear!r}")
        self.linear = tuple(linear) if linear is not None else None
        self._linear = frozenset(self.linear or ())
        self._names = self.features  # the parameter stays as given, so clone() is unfitted
        self._n = 0
        self._mean: dict[str, float] = {}
        self._m2: dict[str, float] = {}

    def __setstate__(self, state: dict) -> None:
        # a snapshot pickled before ``linear`` existed logs every feature, as it did then
        state.setdefault("linear", None)
        state.setdefault("_linear", frozenset(state["linear"] or ()))
        self.__dict__.update(state)

    @property
    def n_learnt(self) -> int:
        """Number of observations learnt."""
        return self._n

    def _values(self, x: dict) -> dict[str, float]:
        names = self._names if self._names is not None else tuple(sorted(x))
        out = {}
        for name in names:
            if name not in x:
                raise ValueError(f"feature {name!r} missing from observation with keys {sorted(x)}")
            v = float(x[name])
            if self.log and name not in self._linear:
                if v <= 0.0:
                    v = 1e-12
                v = math.log(v)
            out[name] = v
        return out

    def learn_one(self, x: dict) -> None:
        """Update the running mean and variance with one observation."""
        if self._names is None:
            self._names = tuple(sorted(x))
        self._n += 1
        for name, v in self._values(x).items():
            mean = self._mean.get(name, 0.0)
            delta = v - mean
            mean += delta / self._n
            self._mean[name] = mean
            self._m2[name] = self._m2.get(name, 0.0) + delta * (v - mean)

    def z_scores(self, x: dict) -> dict[str, float]:
        """Signed z-score of each feature (empty during warm-up)."""
        if self._n < self.warmup:
            return {}
        out = {}
        for name, v in self._values(x).items():
            mean = self._mean[name]
            std = math.sqrt(self._m2[name] / (self._n - 1))
            # on the log scale an absolute floor is a relative one on the raw scale
            floor = self.min_rel_std if self.log and name not in self._linear else self.min_rel_std * abs(mean)
            out[name] = (v - mean) / max(std, floor, 1e-12)
        return out

    def score_one(self, x: dict) -> float:
        """Largest absolute z-score over the features (0 during warm-up)."""
        return max((abs(z) for z in self.z_scores(x).values()), default=0.0)
