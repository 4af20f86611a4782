"""SQLite telemetry store, the embedded default (WAL, one writer, batched).

Implements :class:`cloud.telemetry.base.TelemetryStore`. Features are kept
narrow — one row per (time, asset, feature) — so new features need no
schema change and a chart reads one series with one index seek (tables in
:mod:`cloud.telemetry.sqlite_schema`). Every accepted message is recorded
under (edge, boot, seq); a redelivered message is recognised there and not
counted twice. A batch (:meth:`SQLiteStore.write_many`) is one transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from cloud.telemetry.base import check_query, check_retention, combine_buckets, feature_values
from cloud.telemetry.sqlite_schema import SCHEMA
from contract.payloads import (AlertMsg, BirthMsg, CmdResultMsg, DriftMsg, FeaturesMsg, HealthMsg, Message, StatusMsg,
                               WaveformMsg)

#: Called inside the batch transaction with the newly accepted messages; raising rolls the batch back.
TelemetrySink = Callable[[list[Message], int], None]

class SQLiteStore:
    """Telemetry, alerts, edge status and quarantine in one SQLite file.

    Parameters
    ----------
    path : str or Path
        Database file; ``":memory:"`` for a throw-away store.

    Examples
    --------
    >>> from contract.payloads import parse_message
    >>> store = SQLiteStore(":memory:")
    >>> msg = parse_message("tf/v1/lab/e1/m1/features",
    ...     b'{"v":1,"edge":"e1","boot":"b","seq":1,"records":[{"ts":1700000000000000000,"features":{"rms":0.1}}]}')
    >>> store.write(msg), store.write(msg)
    (True, False)
    >>> store.series("lab", "m1", "rms")
    [(1700000000000000000, 0.1)]
    """

    def __init__(self, path: str | Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def write(self, msg: Message) -> bool:
        """Store one validated message; return ``False`` if it was a duplicate."""
        return self.write_many([msg])[0]

    def write_many(self, messages: Sequence[Message]) -> list[bool]:
        """Store a batch of validated messages in one transaction.

        Returns one flag per message: ``False`` for a message whose (edge,
        boot, seq) was stored before, or earlier in the same batch. Status,
        birth and health are retained state (last value wins) and always
        ``True``. If anything fails, nothing of the batch is stored.

        Examples
        --------
        >>> from contract.payloads import parse_message
        >>> store = SQLiteStore(":memory:")
        >>> msgs = [parse_message("tf/v1/lab/e1/m1/features", b'{"v":1,"edge":"e1","boot":"b","seq":%d,'
        ...     b'"records":[{"ts":%d,"features":{"rms":0.5}}]}' % (s, 1700000000000000000 + s)) for s in (1, 2, 1)]
        >>> store.write_many(msgs)
        [True, True, False]
        """
        return self._write_batch(messages, None)

    def _write_batch(self, messages: Sequence[Message], sink: TelemetrySink | None) -> list[bool]:
        """Record (edge, boot, seq) keys and relational state; telemetry goes to SQLite or to ``sink``.

        With a ``sink`` (the InfluxDB backend) features, alerts and drift
        are not written here: the sink receives the accepted messages while
        the transaction is open, so a failed sink write rolls back the keys
        and a redelivery is stored instead of being taken for a duplicate.
        """
        now = time.time_ns()
        flags: list[bool] = []
        accepted: list[Message] = []
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                for msg in messages:
                    ok = self._record(msg, now)
                    flags.append(ok)
                    if ok:
                        accepted.append(msg)
                if sink is None:
                    for msg in accepted:
                        self._write_telemetry(msg, now)
                elif accepted:
                    sink(accepted, now)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return flags

    def _record(self, msg: Message, now: int) -> bool:
        """De-duplicate and keep relational state (status, edge state, waveforms, command results)."""
        db, body = self._db, msg.body
        if isinstance(body, StatusMsg):
            self._write_status(msg, body, now)
            return True
        if isinstance(body, (BirthMsg, HealthMsg)):  # retained state, last value wins
            db.execute("INSERT INTO edge_state VALUES (?, ?, ?, ?, ?) ON CONFLICT (site, edge, kind) DO UPDATE "
                       "SET ts = excluded.ts, body = excluded.body WHERE excluded.ts >= edge_state.ts",
                       (msg.site, msg.edge, msg.kind, body.ts, body.model_dump_json()))
            return True
        cur = db.execute("INSERT OR IGNORE INTO messages VALUES (?, ?, ?, ?, ?)",
                         (msg.edge, body.boot, body.seq, msg.kind, now))
        if cur.rowcount == 0:
            return False
        if msg.asset is not None:
            db.execute(
                "INSERT INTO assets VALUES (?, ?, ?, ?, ?) ON CONFLICT (site, asset) "
                "DO UPDATE SET last_seen_ns = excluded.last_seen_ns, edge = excluded.edge",
                (msg.site, msg.asset, msg.edge, now, now),
            )
        db.execute("UPDATE edges SET last_seen_ns = ? WHERE site = ? AND edge = ?", (now, msg.site, msg.edge))
        if isinstance(body, WaveformMsg):
            db.execute("INSERT INTO waveforms (ts, site, edge, asset, channel, rate, units, request, n, "
                       "values_json, received_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (body.ts, msg.site, msg.edge, msg.asset, body.channel, body.rate, body.units,
                        body.request, len(body.values), json.dumps(body.values), now))
        elif isinstance(body, CmdResultMsg):
            db.execute("INSERT INTO command_results (ts, site, edge, cmd, bundle_id, status, reason, detail, "
                       "received_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (body.ts, msg.site, msg.edge, body.cmd, body.bundle_id, body.status, body.reason,
                        json.dumps(body.detail), now))
        return True

    def _write_telemetry(self, msg: Message, now: int) -> None:
        """Features, alerts and drift events (the part the InfluxDB backend keeps in InfluxDB)."""
        db, body = self._db, msg.body
        if isinstance(body, FeaturesMsg):
            db.executemany("INSERT INTO features VALUES (?, ?, ?, ?, ?)",
                           [(ts, msg.site, msg.asset, name, value)
                            for ts, values in feature_values(body) for name, value in values.items()])
        elif isinstance(body, AlertMsg):
            db.execute(
                "INSERT INTO alerts (ts, site, edge, asset, score, threshold, severity, message, received_ns)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (body.ts, msg.site, msg.edge, msg.asset, body.score, body.threshold, body.severity, body.message,
                 now),
            )
        elif isinstance(body, DriftMsg):
            db.execute("INSERT INTO drift (ts, site, edge, asset, target, detector, message, detail, "
                       "received_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (body.ts, msg.site, msg.edge, msg.asset, body.target, body.detector, body.message,
                        json.dumps(body.detail), now))

    def _write_status(self, msg: Message, body: StatusMsg, now: int) -> None:
        # last value wins, but an older retained status never overwrites a newer one
        self._db.execute(
            "INSERT INTO edges VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site, edge) DO UPDATE SET "
            "state = excluded.state, boot = excluded.boot, version = excluded.version, "
            "assets = excluded.assets, status_ts = excluded.status_ts, last_seen_ns = excluded.last_seen_ns "
            "WHERE excluded.status_ts >= edges.status_ts",
            (msg.site, msg.edge, body.state, body.boot, body.version, json.dumps(body.assets), body.ts, now),
        )

    def quarantine(self, topic: str, reason: str, payload: bytes) -> None:
        """Keep an invalid payload with the reason it was refused."""
        with self._lock:
            self._db.execute("INSERT INTO quarantine (received_ns, topic, reason, payload) VALUES (?, ?, ?, ?)",
                             (time.time_ns(), topic, reason, bytes(payload[:65536])))

    def _rows(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            cur = self._db.execute(sql, args)
            cols = [c[0] for c in cur.description]
            return [dict(zip(cols, row)) for row in cur.fetchall()]

    def counts(self) -> dict[str, int]:
        """Messages ingested (by kind), alerts and quarantined payloads."""
        out = {r["kind"]: r["n"] for r in self._rows("SELECT kind, COUNT(*) AS n FROM messages GROUP BY kind")}
        out["messages"] = sum(out.values())
        out["alerts"] = self._rows("SELECT COUNT(*) AS n FROM alerts")[0]["n"]
        out["drift_events"] = self._rows("SELECT COUNT(*) AS n FROM drift")[0]["n"]
        out["quarantined"] = self._rows("SELECT COUNT(*) AS n FROM quarantine")[0]["n"]
        return out

    def assets(self) -> list[dict]:
        """Known assets with their edge, its state and alert count."""
        return self._rows(
            "SELECT a.site, a.asset, a.edge, a.first_seen_ns, a.last_seen_ns, "
            "COALESCE(e.state, 'unknown') AS edge_state, "
            "(SELECT COUNT(*) FROM alerts al WHERE al.site = a.site AND al.asset = a.asset) AS alerts "
            "FROM assets a LEFT JOIN edges e ON e.site = a.site AND e.edge = a.edge ORDER BY a.site, a.asset"
        )

    def edges(self) -> list[dict]:
        """Edges with their last reported status."""
        rows = self._rows("SELECT * FROM edges ORDER BY site, edge")
        for r in rows:
            r["assets"] = json.loads(r["assets"])
        return rows

    def telemetry(self, site: str, asset: str, since_ns: int = 0, limit: int = 2000) -> list[dict]:
        """The latest ``limit`` windows after ``since_ns``, one dict per window, oldest first."""
        rows = self._rows(
            "SELECT ts, name, value FROM features WHERE site = ? AND asset = ? AND ts > ? AND ts IN "
            "(SELECT DISTINCT ts FROM features WHERE site = ? AND asset = ? AND ts > ? ORDER BY ts DESC LIMIT ?) "
            "ORDER BY ts",
            (site, asset, since_ns, site, asset, since_ns, limit),
        )
        windows: dict[int, dict] = {}
        for r in rows:
            windows.setdefault(r["ts"], {"ts": r["ts"]})[r["name"]] = r["value"]
        return list(windows.values())

    def series(self, site: str, asset: str, name: str, start_ns: int | None = None, end_ns: int | None = None,
               every_ns: int | None = None, agg: str = "mean") -> list[tuple[int, float]]:
        """One feature's ``(ts, value)`` pairs, oldest first, over a time range and at a resolution.

        Parameters
        ----------
        site, asset, name : str
            The series.
        start_ns, end_ns : int or None
            Half-open range ``[start_ns, end_ns)`` in epoch nanoseconds; ``None`` is unbounded.
        every_ns : int or None
            Bucket width: one point per non-empty bucket, at the bucket's start
            (a multiple of ``every_ns``). ``None`` returns raw points.
        agg : {"mean", "min", "max", "count", "sum"}
            How a bucket (or a rolled-up bucket read raw) becomes one value.

        Examples
        --------
        >>> from contract.payloads import parse_message
        >>> store = SQLiteStore(":memory:")
        >>> T = 1700000000000000000
        >>> _ = store.write_many([parse_message("tf/v1/lab/e1/m1/features", b'{"v":1,"edge":"e1","boot":"b",'
        ...     b'"seq":%d,"records":[{"ts":%d,"features":{"rms":%d}}]}' % (s, T + s * 10**9, s)) for s in range(4)])
        >>> store.series("lab", "m1", "rms", start_ns=T + 10**9)
        [(1700000001000000000, 1.0), (1700000002000000000, 2.0), (1700000003000000000, 3.0)]
        >>> store.series("lab", "m1", "rms", every_ns=2 * 10**9, agg="max")
        [(1700000000000000000, 1.0), (1700000002000000000, 3.0)]
        """
        check_query(start_ns, end_ns, every_ns, agg)
        where, args = "site = ? AND asset = ? AND name = ?", [site, asset, name]
        if start_ns is not None:
            where, args = where + " AND ts >= ?", [*args, start_ns]
        if end_ns is not None:
            where, args = where + " AND ts < ?", [*args, end_ns]
        if every_ns is None:
            column = {"mean": "vmean", "min": "vmin", "max": "vmax", "count": "n", "sum": "vmean * n"}[agg]
            raw = "1.0" if agg == "count" else "value"
            rows = self._rows(f"SELECT ts, {raw} AS v FROM features WHERE {where} UNION ALL "
                              f"SELECT ts, {column} AS v FROM feature_rollups WHERE {where} ORDER BY ts",
                              (*args, *args))
            return [(r["ts"], float(r["v"])) for r in rows]
        raw = self._rows(f"SELECT (ts / ?) * ? AS b, AVG(value) AS m, MIN(value) AS lo, MAX(value) AS hi, "
                         f"COUNT(*) AS n FROM features WHERE {where} GROUP BY b", (every_ns, every_ns, *args))
        rolled = self._rows(f"SELECT ts, vmean, vmin, vmax, n FROM feature_rollups WHERE {where}", tuple(args))
        parts = [(r["b"], r["m"], r["lo"], r["hi"], r["n"]) for r in raw]
        parts += [(r["ts"], r["vmean"], r["vmin"], r["vmax"], r["n"]) for r in rolled]
        return combine_buckets(parts, every_ns, agg)

    def apply_retention(self, raw_keep_ns: int, rollup_every_ns: int, rollup_keep_ns: int,
                        now_ns: int | None = None) -> dict[str, int]:
        """Roll raw feature rows older than ``raw_keep_ns`` into per-bucket rollups; drop old rollups.

        Raw rows before ``now - raw_keep_ns`` (aligned down to a multiple of
        ``rollup_every_ns``) become one row per (site, asset, feature,
        bucket) with mean, min, max and count, then are deleted; rollups
        before ``now - rollup_keep_ns`` are deleted. A late row for a bucket
        already rolled up is merged into it (count-weighted mean). One
        transaction. See :mod:`cloud.telemetry.base`.

        Returns
        -------
        dict
            ``raw_deleted``, ``buckets_written`` and ``rollups_deleted``.

        Examples
        --------
        >>> from contract.payloads import parse_message
        >>> store, T, S = SQLiteStore(":memory:"), 1700000000000000000, 10**9
        >>> _ = store.write_many([parse_message("tf/v1/lab/e1/m1/features", b'{"v":1,"edge":"e1","boot":"b",'
        ...     b'"seq":%d,"records":[{"ts":%d,"features":{"rms":%d}}]}' % (s, T + s * S, s)) for s in range(4)])
        >>> store.apply_retention(raw_keep_ns=S, rollup_every_ns=2 * S, rollup_keep_ns=3600 * S, now_ns=T + 5 * S)
        {'raw_deleted': 8, 'buckets_written': 4, 'rollups_deleted': 0}
        >>> store.series("lab", "m1", "rms")
        [(1700000000000000000, 0.5), (1700000002000000000, 2.5)]
        """
        check_retention(raw_keep_ns, rollup_every_ns, rollup_keep_ns)
        now = time.time_ns() if now_ns is None else now_ns
        cutoff = (now - raw_keep_ns) // rollup_every_ns * rollup_every_ns
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                buckets = db.execute(
                    "INSERT INTO feature_rollups (ts, site, asset, name, every_ns, vmean, vmin, vmax, n) "
                    "SELECT (ts / ?1) * ?1 AS b, site, asset, name, ?1, AVG(value), MIN(value), MAX(value), COUNT(*) "
                    "FROM features WHERE ts < ?2 GROUP BY site, asset, name, b "
                    "ON CONFLICT (site, asset, name, ts) DO UPDATE SET "
                    "vmean = (vmean * n + excluded.vmean * excluded.n) / (n + excluded.n), "
                    "vmin = MIN(vmin, excluded.vmin), vmax = MAX(vmax, excluded.vmax), n = n + excluded.n",
                    (rollup_every_ns, cutoff)).rowcount
                raw = db.execute("DELETE FROM features WHERE ts < ?", (cutoff,)).rowcount
                old = db.execute("DELETE FROM feature_rollups WHERE ts < ?", (now - rollup_keep_ns,)).rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return {"raw_deleted": raw, "buckets_written": buckets, "rollups_deleted": old}

    def alerts(self, site: str | None = None, asset: str | None = None, limit: int = 500) -> list[dict]:
        """Alerts, newest first, optionally for one asset."""
        sql, args = "SELECT * FROM alerts", []
        if site is not None and asset is not None:
            sql += " WHERE site = ? AND asset = ?"
            args = [site, asset]
        return self._rows(sql + " ORDER BY ts DESC LIMIT ?", (*args, limit))

    def drift(self, site: str | None = None, asset: str | None = None, limit: int = 500) -> list[dict]:
        """Drift events, newest first, optionally for one asset."""
        sql, args = "SELECT * FROM drift", []
        if site is not None and asset is not None:
            sql, args = sql + " WHERE site = ? AND asset = ?", [site, asset]
        rows = self._rows(sql + " ORDER BY ts DESC LIMIT ?", (*args, limit))
        for r in rows:
            r["detail"] = json.loads(r["detail"])
        return rows

    def waveforms(self, site: str, asset: str, limit: int = 20) -> list[dict]:
        """Waveform snapshots of one asset, newest first, with their samples."""
        rows = self._rows("SELECT * FROM waveforms WHERE site = ? AND asset = ? ORDER BY ts DESC LIMIT ?",
                          (site, asset, limit))
        for r in rows:
            r["values"] = json.loads(r.pop("values_json"))
        return rows

    def edge_state(self, site: str, edge: str) -> dict:
        """The edge's last retained ``birth`` and ``health`` documents (absent ones are ``None``)."""
        rows = self._rows("SELECT kind, body FROM edge_state WHERE site = ? AND edge = ?", (site, edge))
        out = {"birth": None, "health": None}
        out.update({r["kind"]: json.loads(r["body"]) for r in rows})
        return out

    def command_results(self, site: str, edge: str, limit: int = 100) -> list[dict]:
        """Answers of one edge to hub commands, newest first."""
        rows = self._rows("SELECT * FROM command_results WHERE site = ? AND edge = ? ORDER BY ts DESC LIMIT ?",
                          (site, edge, limit))
        for r in rows:
            r["detail"] = json.loads(r["detail"]) if r["detail"] else None
        return rows

    def quarantined(self, limit: int = 200) -> list[dict]:
        """Refused payloads with their reasons, newest first."""
        rows = self._rows("SELECT id, received_ns, topic, reason, payload FROM quarantine ORDER BY id DESC LIMIT ?",
                          (limit,))
        for r in rows:
            r["payload"] = bytes(r["payload"]).decode("utf-8", "replace")
        return rows

