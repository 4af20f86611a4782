"""The telemetry-store interface every backend implements, and helpers they share.

A backend takes validated :class:`~contract.payloads.Message` objects,
keeps each one once under its (edge, boot, seq) key, keeps refused payloads
in a quarantine, and answers the hub's queries. Two backends exist:

- :class:`cloud.telemetry.store.SQLiteStore` — everything in one SQLite
  file (the embedded default);
- :class:`cloud.telemetry.influx.InfluxStore` — features, alerts and drift in
  InfluxDB, the rest (edges, de-duplication keys, quarantine, waveforms,
  edge state, command results) in a small SQLite side store.

Retention and downsampling (:meth:`TelemetryStore.apply_retention`)
----------------------------------------------------------------------
Raw feature points older than ``raw_keep_ns`` are folded into one rollup row
per (site, asset, feature, bucket of ``rollup_every_ns``) holding the mean,
minimum, maximum and count, and then deleted. Rollups older than
``rollup_keep_ns`` are deleted. The cut-off is aligned down to a bucket
boundary, so a bucket is never half rolled up. :meth:`TelemetryStore.series`
reads raw points and rollups together: a rolled-up bucket shows as one point
at the bucket's start (its mean, or min/max/count with ``agg``), and a
downsampled query (``every_ns``) combines both exactly (a count-weighted
mean). Alerts, drift events and everything relational are kept.

Failures a store reports
------------------------
A store that cannot write at all — full disk, unreachable InfluxDB, a file
that is not (or no longer) a database — raises :class:`StoreUnavailable`
with a message naming the file or server; ingest then holds the batch
unacknowledged, retries it and shows the reason on ``/healthz``. A message
whose key ``(site, edge, boot, seq)`` was stored before with *different*
bytes gets a :class:`Conflict` flag instead of ``True``/``False``: it is
quarantined with that reason, never silently taken for a redelivery.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol, runtime_checkable

from contract.payloads import FeaturesMsg, Message

class StoreUnavailable(RuntimeError):
    """The store cannot write now (disk full, server down, corrupt file); the message names which store."""


class StoreCorrupt(StoreUnavailable):
    """The store's file is not a database of this schema, or is damaged; the message names the file."""


class Conflict:
    """Write flag of a message whose key was stored before with different content (falsy: not stored).

    Examples
    --------
    >>> c = Conflict("features e1/b/7 was stored before with different content")
    >>> bool(c), c.reason.startswith("features")
    (False, True)
    """

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"Conflict({self.reason!r})"


#: Aggregates :meth:`TelemetryStore.series` accepts for ``agg``.
AGGREGATES = ("mean", "min", "max", "count", "sum")


@runtime_checkable
class TelemetryStore(Protocol):
    """What the hub needs from a telemetry store.

    Examples
    --------
    >>> from cloud.telemetry.store import SQLiteStore
    >>> isinstance(SQLiteStore(":memory:"), TelemetryStore)
    True
    """

    def write(self, msg: Message) -> bool:
        """Store one message; ``False`` if its (edge, boot, seq) was stored before."""

    def write_many(self, messages: Sequence[Message], rejected: Sequence[tuple[str, str, bytes]] = ()) -> list:
        """Store a batch and quarantine ``rejected`` (topic, reason, payload) atomically.

        One flag per message: ``True`` stored, ``False`` duplicate, a :class:`Conflict`.
        """

    def check(self) -> str | None:
        """Why the store could not take writes now (naming the file or server), or ``None``."""

    def quarantine(self, topic: str, reason: str, payload: bytes) -> None:
        """Keep a refused payload with its reason."""

    def series(self, site: str, asset: str, name: str, start_ns: int | None = None, end_ns: int | None = None,
               every_ns: int | None = None, agg: str = "mean") -> list[tuple[int, float]]:
        """One feature's ``(ts, value)`` pairs in ``[start_ns, end_ns)``, oldest first, bucketed by ``every_ns``."""

    def apply_retention(self, raw_keep_ns: int, rollup_every_ns: int, rollup_keep_ns: int,
                        now_ns: int | None = None) -> dict[str, int]:
        """Roll up and delete old raw points, delete old rollups (see the module docstring)."""

    def purge(self, kind: str, site: str | None, before_ns: int) -> int:
        """Delete one data kind's rows (telemetry, waveforms, quarantine) older than ``before_ns``."""

    def counts(self) -> dict[str, int]: ...
    def assets(self) -> list[dict]: ...
    def edges(self) -> list[dict]: ...
    def telemetry(self, site: str, asset: str, since_ns: int = 0, limit: int = 2000) -> list[dict]: ...
    def alerts(self, site: str | None = None, asset: str | None = None, limit: int = 500) -> list[dict]: ...
    def drift(self, site: str | None = None, asset: str | None = None, limit: int = 500) -> list[dict]: ...
    def waveforms(self, site: str, asset: str, limit: int = 20) -> list[dict]: ...
    def edge_state(self, site: str, edge: str) -> dict: ...
    def command_results(self, site: str, edge: str, limit: int = 100) -> list[dict]: ...
    def quarantined(self, limit: int = 200) -> list[dict]: ...
    def close(self) -> None: ...


def feature_values(body: FeaturesMsg) -> Iterator[tuple[int, dict[str, float]]]:
    """Each record as ``(ts, {name: value})``, with score, threshold and learning as features.

    Examples
    --------
    >>> from contract.payloads import FeaturesMsg
    >>> body = FeaturesMsg(v=1, edge="e", boot="b", seq=0,
    ...                    records=[{"ts": 1700000000000000000, "features": {"rms": 0.1}, "score": 0.5}])
    >>> list(feature_values(body))
    [(1700000000000000000, {'rms': 0.1, 'score': 0.5, 'learning': 0.0})]
    """
    for rec in body.records:
        values = {name: float(v) for name, v in rec.features.items()}
        if rec.score is not None:
            values["score"] = float(rec.score)
        if rec.threshold is not None:
            values["threshold"] = float(rec.threshold)
        values["learning"] = float(rec.learning)
        yield rec.ts, values


def check_query(start_ns: int | None, end_ns: int | None, every_ns: int | None, agg: str) -> None:
    """Refuse a time range or resolution that cannot be meant, naming the argument.

    Examples
    --------
    >>> check_query(None, None, 0, "mean")
    Traceback (most recent call last):
    ...
    ValueError: every_ns must be a positive number of nanoseconds, got 0
    """
    if every_ns is not None and (not isinstance(every_ns, int) or every_ns <= 0):
        raise ValueError(f"every_ns must be a positive number of nanoseconds, got {every_ns!r}")
    if agg not in AGGREGATES:
        raise ValueError(f"agg must be one of {', '.join(AGGREGATES)}, got {agg!r}")
    if start_ns is not None and end_ns is not None and end_ns < start_ns:
        raise ValueError(f"end_ns ({end_ns}) is before start_ns ({start_ns})")


def check_retention(raw_keep_ns: int, rollup_every_ns: int, rollup_keep_ns: int) -> None:
    """Refuse a retention policy that would lose data it promises to keep."""
    for name, value in (("raw_keep_ns", raw_keep_ns), ("rollup_every_ns", rollup_every_ns),
                        ("rollup_keep_ns", rollup_keep_ns)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive number of nanoseconds, got {value!r}")
    if rollup_keep_ns < raw_keep_ns:
        raise ValueError(f"rollup_keep_ns ({rollup_keep_ns}) must be at least raw_keep_ns ({raw_keep_ns})")


def combine_buckets(parts: Iterable[tuple[int, float, float, float, int]], every_ns: int | None,
                    agg: str) -> list[tuple[int, float]]:
    """Merge ``(ts, mean, min, max, count)`` parts (raw points have count 1) into one series.

    With ``every_ns`` the parts fall into buckets starting at multiples of
    ``every_ns`` (the same alignment as InfluxQL's ``GROUP BY time()``);
    without it each part stays a point. Means are weighted by count.

    Examples
    --------
    >>> combine_buckets([(0, 1.0, 1.0, 1.0, 1), (5, 3.0, 2.0, 4.0, 3), (10, 7.0, 7.0, 7.0, 1)], 10, "mean")
    [(0, 2.5), (10, 7.0)]
    >>> combine_buckets([(0, 1.0, 1.0, 1.0, 1), (5, 3.0, 2.0, 4.0, 3)], 10, "max")
    [(0, 4.0)]
    """
    acc: dict[int, list] = {}
    for ts, mean, lo, hi, n in parts:
        key = ts - ts % every_ns if every_ns else ts
        a = acc.get(key)
        if a is None:
            acc[key] = [mean * n, lo, hi, n]
        else:
            a[0] += mean * n
            a[1] = min(a[1], lo)
            a[2] = max(a[2], hi)
            a[3] += n
    out = []
    for key in sorted(acc):
        total, lo, hi, n = acc[key]
        value = {"mean": total / n if n else float("nan"), "min": lo, "max": hi, "count": float(n),
                 "sum": total}[agg]
        out.append((key, value))
    return out
