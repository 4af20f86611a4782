"""Drift monitors over river's ADWIN, Page-Hinkley and KSWIN.

Importing this package does not import river; building a
:class:`DriftMonitor` does (river with scipy costs ~130 MB of RSS, so the edge
agent pays it only when a pipeline configures drift monitoring).
"""

from edge_agent.drift.monitor import DRIFT_DETECTORS, DriftEvent, DriftMonitor, make_detector

__all__ = ["DRIFT_DETECTORS", "DriftEvent", "DriftMonitor", "make_detector"]
