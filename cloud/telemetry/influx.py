"""InfluxDB telemetry store: telemetry in InfluxDB, the rest in SQLite.

Implements :class:`cloud.telemetry.base.TelemetryStore`. Layout in InfluxDB
(one database, or one bucket on 2.x/3.x):

========================  =============================  ==========================================
measurement               tags                           fields
========================  =============================  ==========================================
``features``              site, asset, edge              each feature, ``score``, ``threshold``,
                                                         ``learning`` (floats)
``features_rollup``       site, asset, edge              ``mean_<f>``, ``min_<f>``, ``max_<f>``,
                                                         ``count_<f>`` per feature ``<f>``
``alerts``                site, asset, edge, severity    score, threshold, message, received_ns
``drift``                 site, asset, edge, target,     message, detail (JSON), received_ns
                          detector
========================  =============================  ==========================================

Every point's time is the edge's epoch-nanosecond ``ts``, written with
precision ``ns``. Edges, de-duplication keys, quarantine, waveforms, edge
state and command results are relational and stay in a SQLite side store
(:class:`~cloud.telemetry.store.SQLiteStore`); the keys of a batch are
committed only after InfluxDB accepted its points, so a failed write is
stored on redelivery instead of being taken for a duplicate.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

from influxdb_client import Point

from cloud.telemetry.base import StoreUnavailable, check_query, check_retention, combine_buckets, feature_values
from cloud.telemetry.influx_http import PRECISION, InfluxError, V1Transport, V2Transport, ident, literal, rows
from cloud.telemetry.store import SQLiteStore
from contract.bounds import MAX_TS_NS, MIN_TS_NS
from contract.payloads import AlertMsg, DriftMsg, FeaturesMsg, Message

_TAGS = ("site", "asset", "edge")


class InfluxStore:
    """Features, alerts and drift in InfluxDB; relational state in a SQLite side store.

    Parameters
    ----------
    url : str
        ``http://host:8086``.
    database : str or None
        InfluxDB 1.x database (v1 ``/write`` path); created if missing.
    bucket, org, token : str or None
        InfluxDB 2.x/3.x bucket, organisation and token (v2 write API).
        Give either ``database`` or all three.
    username, password : str or None
        InfluxDB 1.x credentials when authentication is on.
    side_path : str or Path
        SQLite file of the side store; ``":memory:"`` for a throw-away one.
    timeout : float
        Seconds per HTTP request.

    Raises
    ------
    InfluxError
        If the server does not answer (set-up fails early).
    """

    def __init__(self, url: str, *, database: str | None = None, bucket: str | None = None, org: str | None = None,
                 token: str | None = None, username: str | None = None, password: str | None = None,
                 side_path: str | Path = ":memory:", timeout: float = 10.0) -> None:
        self.url, self.database, self.bucket, self.org = url, database, bucket, org
        self.side_path, self.timeout = side_path, timeout
        if (database is None) == (bucket is None):
            raise ValueError("InfluxStore needs either database= (InfluxDB 1.x) or bucket=, org=, token= (2.x/3.x)")
        if database is not None:
            self._influx = V1Transport(url, database, username, password, timeout)
        else:
            if not org or not token:
                raise ValueError(f"InfluxStore bucket={bucket!r} needs org= and token= (InfluxDB 2.x/3.x)")
            self._influx = V2Transport(url, bucket, org, token, timeout)
        self._influx.ping()
        self._influx.setup()
        self._side = SQLiteStore(side_path)

    def close(self) -> None:
        """Close the side store and the client."""
        self._side.close()
        self._influx.close()

    # -- writing -----------------------------------------------------------------------------------------

    def write(self, msg: Message) -> bool:
        """Store one validated message; ``False`` if it was a duplicate."""
        return self.write_many([msg])[0]

    def write_many(self, messages: Sequence[Message], rejected: Sequence[tuple[str, str, bytes]] = ()) -> list:
        """Store a batch: one InfluxDB write for its telemetry, one side-store transaction for the rest.

        Raises :class:`~cloud.telemetry.base.StoreUnavailable` when InfluxDB is
        unreachable or failing (5xx); the side store's keys are rolled back
        with it, so the batch is stored whole when it comes again.
        """
        try:
            return self._side._write_batch(messages, self._write_points, rejected)
        except InfluxError as exc:
            if exc.transient:
                raise StoreUnavailable(f"telemetry store {self.url}: {exc}") from exc
            raise

    def check(self) -> str | None:
        """Why the store could not take writes now (InfluxDB down, side store failing), or ``None``."""
        try:
            self._influx.ping()
        except InfluxError as exc:
            return f"telemetry store {self.url}: {exc}"
        return self._side.check()

    def prune(self, keep_ns: dict[str, int], max_quarantine: int = 100_000, now_ns: int | None = None) -> dict:
        """Age out quarantine, waveforms and command answers (side store; see :meth:`SQLiteStore.prune`)."""
        return self._side.prune(keep_ns, max_quarantine, now_ns)

    def _write_points(self, accepted: list[Message], now: int) -> None:
        points: list[Point] = []
        for msg in accepted:
            body = msg.body
            if isinstance(body, FeaturesMsg):
                for ts, values in feature_values(body):
                    p = Point("features").tag("site", msg.site).tag("asset", msg.asset).tag("edge", msg.edge)
                    for name, value in values.items():
                        p.field(name, value)
                    points.append(p.time(ts, PRECISION))
            elif isinstance(body, AlertMsg):
                points.append(Point("alerts").tag("site", msg.site).tag("asset", msg.asset).tag("edge", msg.edge)
                              .tag("severity", body.severity).field("score", float(body.score))
                              .field("threshold", float(body.threshold)).field("message", body.message)
                              .field("explanation", body.explanation.model_dump_json(exclude_none=True)
                                     if body.explanation is not None else "")
                              .field("received_ns", now).time(body.ts, PRECISION))
            elif isinstance(body, DriftMsg):
                points.append(Point("drift").tag("site", msg.site).tag("asset", msg.asset).tag("edge", msg.edge)
                              .tag("target", body.target).tag("detector", body.detector)
                              .field("message", body.message).field("detail", json.dumps(body.detail))
                              .field("received_ns", now).time(body.ts, PRECISION))
        if points:
            self._influx.write(points)

    def quarantine(self, topic: str, reason: str, payload: bytes) -> None:
        """Keep a refused payload with its reason (side store)."""
        self._side.quarantine(topic, reason, payload)

    # -- queries -----------------------------------------------------------------------------------------

    def _select(self, q: str) -> list[dict]:
        return rows(self._influx.query(q)[0])

    @staticmethod
    def _where(site: str | None, asset: str | None, start_ns: int | None = None, end_ns: int | None = None) -> str:
        parts = []
        if site is not None:
            parts.append(f"site = {literal(site)}")
        if asset is not None:
            parts.append(f"asset = {literal(asset)}")
        if start_ns is not None:
            parts.append(f"time >= {int(start_ns)}")
        if end_ns is not None:
            parts.append(f"time < {int(end_ns)}")
        return (" WHERE " + " AND ".join(parts)) if parts else ""

    def series(self, site: str, asset: str, name: str, start_ns: int | None = None, end_ns: int | None = None,
               every_ns: int | None = None, agg: str = "mean") -> list[tuple[int, float]]:
        """One feature's ``(ts, value)`` pairs; same contract as :meth:`SQLiteStore.series`.

        With ``every_ns`` the raw part is aggregated by InfluxDB
        (``GROUP BY time(<every_ns>ns) fill(none)``, buckets aligned to
        multiples of ``every_ns`` like the SQLite backend) and merged with
        the rollups by count.
        """
        check_query(start_ns, end_ns, every_ns, agg)
        f = ident(name)
        stats = ", ".join(ident(f"{a}_{name}") for a in ("mean", "min", "max", "count"))
        rolled = self._select(f"SELECT {stats} FROM features_rollup{self._where(site, asset, start_ns, end_ns)}")
        rolled = [r for r in rolled if r[f"count_{name}"] is not None]
        if every_ns is None:
            raw = self._select(f"SELECT {f} FROM features{self._where(site, asset, start_ns, end_ns)}")
            out = [(r["time"], float(r[name])) for r in raw if r[name] is not None]
            column = {"mean": "mean", "min": "min", "max": "max", "count": "count", "sum": "mean"}[agg]
            for r in rolled:
                value = float(r[f"{column}_{name}"]) * (r[f"count_{name}"] if agg == "sum" else 1)
                out.append((r["time"], value))
            return sorted(out, key=lambda p: p[0])
        lo = MIN_TS_NS if start_ns is None else start_ns  # GROUP BY time() needs both bounds (upper: now())
        hi = MAX_TS_NS + 1 if end_ns is None else end_ns
        raw = self._select(f"SELECT mean({f}) AS m, min({f}) AS lo, max({f}) AS hi, count({f}) AS n FROM features"
                           f"{self._where(site, asset, lo, hi)} GROUP BY time({int(every_ns)}ns) fill(none)")
        parts = [(r["time"], r["m"], r["lo"], r["hi"], r["n"]) for r in raw if r["n"]]
        parts += [(r["time"], r[f"mean_{name}"], r[f"min_{name}"], r[f"max_{name}"], r[f"count_{name}"])
                  for r in rolled]
        return combine_buckets(parts, every_ns, agg)

    def apply_retention(self, raw_keep_ns: int, rollup_every_ns: int, rollup_keep_ns: int,
                        now_ns: int | None = None) -> dict[str, int]:
        """Same policy as :meth:`SQLiteStore.apply_retention`, done with InfluxQL.

        The rollup is computed by InfluxDB (``SELECT mean(*), min(*), max(*),
        count(*) ... GROUP BY time(), site, asset, edge``), written back as
        ``features_rollup`` points, then the raw points and old rollups are
        deleted. Unlike SQLite, a late point for a bucket already rolled up
        replaces that bucket's rollup on the next run instead of merging.
        """
        check_retention(raw_keep_ns, rollup_every_ns, rollup_keep_ns)
        now = time.time_ns() if now_ns is None else now_ns
        cutoff = (now - raw_keep_ns) // rollup_every_ns * rollup_every_ns
        raw = self._select(f"SELECT mean(*), min(*), max(*), count(*) FROM features WHERE time >= {MIN_TS_NS} "
                           f"AND time < {cutoff} GROUP BY time({int(rollup_every_ns)}ns), site, asset, edge "
                           f"fill(none)")
        points, raw_deleted, buckets = [], 0, 0
        for r in raw:
            p = Point("features_rollup")
            for tag in _TAGS:
                p.tag(tag, r[tag])
            n_fields = 0
            for key, value in r.items():
                if key in _TAGS or key == "time" or value is None:
                    continue
                if key.startswith("count_"):
                    if not value:
                        continue
                    raw_deleted += value
                    buckets += 1
                    p.field(key, int(value))
                else:
                    p.field(key, float(value))
                n_fields += 1
            if n_fields:
                points.append(p.time(r["time"], PRECISION))
        if points:
            self._influx.write(points)
        if raw_deleted:
            self._influx.delete_before("features", cutoff)
        old_cut = now - rollup_keep_ns
        old = self._select(f"SELECT count(*) FROM features_rollup WHERE time < {int(old_cut)}")
        rollups_deleted = sum(v for r in old for k, v in r.items() if k.startswith("count_count_") and v)
        if rollups_deleted:
            self._influx.delete_before("features_rollup", old_cut)
        return {"raw_deleted": raw_deleted, "buckets_written": buckets, "rollups_deleted": rollups_deleted}

    def purge(self, kind: str, site: str | None, before_ns: int) -> int:
        """:meth:`SQLiteStore.purge` on InfluxDB: telemetry measurements are deleted there, the rest in
        the side store. The count of telemetry is of feature windows, alerts and drift events (rollup
        points are deleted too but not counted)."""
        if kind != "telemetry":
            return self._side.purge(kind, site, before_ns)
        where = f" WHERE time < {int(before_ns)}" + (f" AND site = {literal(site)}" if site is not None else "")
        n = sum(r["n"] for r in self._select(f"SELECT count(learning) AS n FROM features{where}"))
        n += sum(r["n"] for r in self._select(f"SELECT count(score) AS n FROM alerts{where}"))
        n += sum(r["n"] for r in self._select(f"SELECT count(message) AS n FROM drift{where}"))
        for measurement in ("features", "features_rollup", "alerts", "drift"):
            self._influx.delete_before(measurement, before_ns, site)
        return n

    def telemetry(self, site: str, asset: str, since_ns: int = 0, limit: int = 2000) -> list[dict]:
        """The latest ``limit`` windows after ``since_ns``, one dict per window, oldest first."""
        got = self._select(f"SELECT * FROM features{self._where(site, asset)} AND time > {int(since_ns)} "
                           f"ORDER BY time DESC LIMIT {int(limit)}")
        out = []
        for r in reversed(got):
            window = {"ts": r["time"]}
            window.update({k: v for k, v in r.items() if k not in _TAGS and k != "time" and v is not None})
            out.append(window)
        return out

    def _events(self, measurement: str, site: str | None, asset: str | None, limit: int) -> list[dict]:
        where = self._where(site, asset) if site is not None and asset is not None else ""
        got = self._select(f"SELECT * FROM {measurement}{where} ORDER BY time DESC LIMIT {int(limit)}")
        for r in got:
            r["ts"] = r.pop("time")
        return got

    def alerts(self, site: str | None = None, asset: str | None = None, limit: int = 500) -> list[dict]:
        """Alerts, newest first, optionally for one asset (keys as SQLite's, without ``id``)."""
        got = self._events("alerts", site, asset, limit)
        for r in got:
            r["explanation"] = json.loads(r["explanation"]) if r.get("explanation") else None
        return got

    def drift(self, site: str | None = None, asset: str | None = None, limit: int = 500) -> list[dict]:
        """Drift events, newest first, optionally for one asset (keys as SQLite's, without ``id``)."""
        got = self._events("drift", site, asset, limit)
        for r in got:
            r["detail"] = json.loads(r["detail"])
        return got

    def _count(self, measurement: str, field: str, group: str = "") -> list[dict]:
        return self._select(f"SELECT count({ident(field)}) AS n FROM {measurement}{group}")

    def last_sequences(self, limit: int = 10_000) -> list[tuple[str, str, int]]:
        """:meth:`SQLiteStore.last_sequences`: the message keys are in the side store."""
        return self._side.last_sequences(limit)

    def counts(self) -> dict[str, int]:
        """Messages ingested (by kind), alerts, drift events and quarantined payloads."""
        out = self._side.counts()
        out["alerts"] = sum(r["n"] for r in self._count("alerts", "score"))
        out["drift_events"] = sum(r["n"] for r in self._count("drift", "message"))
        return out

    def assets(self) -> list[dict]:
        """Known assets with their edge, its state and alert count."""
        per = {(r["site"], r["asset"]): r["n"] for r in self._count("alerts", "score", " GROUP BY site, asset")}
        out = self._side.assets()
        for a in out:
            a["alerts"] = per.get((a["site"], a["asset"]), 0)
        return out

    # -- relational, from the side store -----------------------------------------------------------------

    def edges(self) -> list[dict]:
        """Edges with their last reported status."""
        return self._side.edges()

    def waveforms(self, site: str, asset: str, limit: int = 20) -> list[dict]:
        """Waveform snapshots of one asset, newest first."""
        return self._side.waveforms(site, asset, limit)

    def edge_state(self, site: str, edge: str) -> dict:
        """The edge's last retained ``birth`` and ``health`` documents."""
        return self._side.edge_state(site, edge)

    def command_results(self, site: str, edge: str, limit: int = 100) -> list[dict]:
        """Answers of one edge to hub commands, newest first."""
        return self._side.command_results(site, edge, limit)

    def quarantined(self, limit: int = 200) -> list[dict]:
        """Refused payloads with their reasons, newest first."""
        return self._side.quarantined(limit)
