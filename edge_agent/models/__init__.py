"""Online models that follow river's protocol (``learn_one``, ``score_one``)."""

from edge_agent.models.zscore import LogZScoreDetector

__all__ = ["LogZScoreDetector"]
