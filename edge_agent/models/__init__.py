"""Online models that follow river's protocol (``learn_one``, ``score_one``).

Detectors, scalers and threshold policies are registered by name in explicit
registries; each entry is a :class:`~edge_agent.models.registry.Factory` that
takes keyword parameters and raises ``ValueError`` naming an unknown one.
``river.*`` entries import river only when called.

Examples
--------
>>> from edge_agent.models import MODELS, SCALERS, THRESHOLDS
>>> model = SCALERS["minmax"]() | MODELS["hst"](n_trees=5, height=4, window_size=50, seed=0)
>>> th = THRESHOLDS["quantile"](q=0.99, window=200, warmup=50)
>>> sorted(MODELS)
['ewma', 'hotelling', 'hst', 'river.hst', 'river.loda', 'zscore']
"""

from edge_agent.models.chain import Chain
from edge_agent.models.control_chart import EWMAChart, HotellingT2
from edge_agent.models.hst import HalfSpaceTrees
from edge_agent.models.registry import Factory, build
from edge_agent.models.scalers import MinMaxScaler, StandardScaler
from edge_agent.models.thresholds import FixedThreshold, QuantileThreshold
from edge_agent.models.zscore import LogZScoreDetector

MODELS: dict[str, Factory] = {
    "zscore": Factory(LogZScoreDetector),
    "hst": Factory(HalfSpaceTrees),
    "ewma": Factory(EWMAChart),
    "hotelling": Factory(HotellingT2),
    "river.hst": Factory("river.anomaly:HalfSpaceTrees"),
    "river.loda": Factory("river.anomaly:LODA"),
}

SCALERS: dict[str, Factory] = {
    "minmax": Factory(MinMaxScaler),
    "standard": Factory(StandardScaler),
    "river.minmax": Factory("river.preprocessing:MinMaxScaler"),
    "river.standard": Factory("river.preprocessing:StandardScaler"),
}

THRESHOLDS: dict[str, Factory] = {
    "fixed": Factory(FixedThreshold),
    "quantile": Factory(QuantileThreshold),
}

__all__ = [
    "MODELS", "SCALERS", "THRESHOLDS", "Chain", "EWMAChart", "Factory", "FixedThreshold", "HalfSpaceTrees",
    "HotellingT2", "LogZScoreDetector", "MinMaxScaler", "QuantileThreshold", "StandardScaler", "build",
]
