"""Prometheus metrics of the hub, one registry per app.

Each hub app owns a :class:`prometheus_client.CollectorRegistry`, so several
hubs in one process (tests, the demo) never clash on metric names; the
``/metrics`` route serves that registry in the text exposition format.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

#: Ingest lag (now − message timestamp) buckets in seconds: 1 ms .. 10 min.
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600)
#: Store write latency buckets in seconds, per batch.
WRITE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)


def reason_class(reason: str) -> str:
    """A low-cardinality label for a quarantine reason (the full text is in the quarantine table).

    Examples
    --------
    >>> reason_class("topic 'x' is not tf/v1/...")
    'topic'
    >>> reason_class("features payload is not JSON: Expecting value")
    'not_json'
    >>> reason_class("features payload: records.0.ts: Input should be ...")
    'schema'
    """
    if reason.startswith("topic "):
        return "topic"
    if "is not JSON" in reason:
        return "not_json"
    if "must be a JSON object" in reason:
        return "not_object"
    if "does not match topic edge" in reason:
        return "edge_mismatch"
    if ": conflict: " in reason:
        return "conflict"
    if "ahead of the hub's clock" in reason:
        return "clock"
    if "could not be parsed" in reason or " bytes exceeds " in reason:
        return "unparsable"
    if "is not registered at site" in reason:
        return "unregistered_edge"
    if reason.startswith("internal error"):
        return "internal"
    return "schema"


class IngestMetrics:
    """The ingest pipeline's counters, gauges and histograms.

    Parameters
    ----------
    registry : CollectorRegistry or None
        Where the metrics are registered; a fresh registry when ``None``.

    Examples
    --------
    >>> m = IngestMetrics()
    >>> m.received.labels(kind="features").inc()
    >>> b"tf_ingest_received_total" in generate_latest(m.registry)
    True
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.received = Counter("tf_ingest_received", "MQTT messages received, by kind", ["kind"], registry=r)
        self.stored = Counter("tf_ingest_stored", "Messages stored (new), by kind", ["kind"], registry=r)
        self.duplicates = Counter("tf_ingest_duplicates", "Redelivered messages recognised by (edge, boot, seq)",
                                  ["kind"], registry=r)
        self.quarantined = Counter("tf_ingest_quarantined", "Invalid messages quarantined, by reason class",
                                   ["reason"], registry=r)
        self.gaps = Counter("tf_ingest_seq_gaps", "Sequence gaps opened (per edge and boot)", registry=r)
        self.gap_missing = Counter("tf_ingest_seq_missing", "Sequence numbers found missing", registry=r)
        self.gap_filled = Counter("tf_ingest_seq_filled", "Missing sequence numbers that arrived late", registry=r)
        self.open_gaps = Gauge("tf_ingest_seq_gaps_open", "Sequence gaps still open", registry=r)
        self.queue_depth = Gauge("tf_ingest_queue_depth", "Messages waiting for the store writer", registry=r)
        self.queue_capacity = Gauge("tf_ingest_queue_capacity", "Bound of the ingest queue", registry=r)
        self.blocked = Counter("tf_ingest_backpressure_seconds",
                               "Time the MQTT network thread spent blocked on a full queue", registry=r)
        self.lag = Histogram("tf_ingest_lag_seconds", "Now minus the message's edge timestamp, at store time",
                             ["kind"], buckets=LAG_BUCKETS, registry=r)
        self.write_latency = Histogram("tf_store_write_seconds", "Store write time per batch",
                                       buckets=WRITE_BUCKETS, registry=r)
        self.batch_size = Histogram("tf_ingest_batch_size", "Messages per store batch", buckets=BATCH_BUCKETS,
                                    registry=r)

    def bind_gauges(self, queue_depth: Callable[[], float], open_gaps: Callable[[], float]) -> None:
        """Have the gauges read live values at scrape time."""
        self.queue_depth.set_function(queue_depth)
        self.open_gaps.set_function(open_gaps)


def metrics_endpoint(registry: CollectorRegistry) -> Callable[[Request], Response]:
    """A route handler serving ``registry`` in Prometheus' text format."""

    def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return metrics
