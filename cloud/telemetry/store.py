"""SQLite telemetry store, the embedded default (WAL, one writer).

Features are kept narrow — one row per (time, asset, feature) — so new
features need no schema change and a chart reads one series with one
index seek. Every accepted message is recorded under (edge, boot, seq);
a redelivered message is recognised there and not counted twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

from cloud.ingest.schema import (AlertMsg, BirthMsg, CmdResultMsg, DriftMsg, FeaturesMsg, HealthMsg, Message, StatusMsg,
                                 WaveformMsg)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    edge TEXT NOT NULL, boot TEXT NOT NULL, seq INTEGER NOT NULL,
    kind TEXT NOT NULL, received_ns INTEGER NOT NULL,
    PRIMARY KEY (edge, boot, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS assets (
    site TEXT NOT NULL, asset TEXT NOT NULL, edge TEXT NOT NULL,
    first_seen_ns INTEGER NOT NULL, last_seen_ns INTEGER NOT NULL,
    PRIMARY KEY (site, asset)
);
CREATE TABLE IF NOT EXISTS features (
    ts INTEGER NOT NULL, site TEXT NOT NULL, asset TEXT NOT NULL,
    name TEXT NOT NULL, value REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS features_series ON features (site, asset, name, ts);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, site TEXT NOT NULL, edge TEXT NOT NULL,
    asset TEXT NOT NULL, score REAL NOT NULL, threshold REAL NOT NULL,
    severity TEXT NOT NULL, message TEXT NOT NULL, received_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_asset ON alerts (site, asset, ts);
CREATE TABLE IF NOT EXISTS edges (
    site TEXT NOT NULL, edge TEXT NOT NULL, state TEXT NOT NULL, boot TEXT NOT NULL,
    version TEXT, assets TEXT NOT NULL, status_ts INTEGER NOT NULL, last_seen_ns INTEGER NOT NULL,
    PRIMARY KEY (site, edge)
);
CREATE TABLE IF NOT EXISTS drift (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, site TEXT NOT NULL, edge TEXT NOT NULL, asset TEXT NOT NULL,
    target TEXT NOT NULL, detector TEXT NOT NULL, message TEXT NOT NULL, detail TEXT NOT NULL,
    received_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS drift_asset ON drift (site, asset, ts);
CREATE TABLE IF NOT EXISTS waveforms (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, site TEXT NOT NULL, edge TEXT NOT NULL, asset TEXT NOT NULL,
    channel TEXT NOT NULL, rate REAL NOT NULL, units TEXT NOT NULL, request TEXT, n INTEGER NOT NULL,
    values_json TEXT NOT NULL, received_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS edge_state (
    site TEXT NOT NULL, edge TEXT NOT NULL, kind TEXT NOT NULL, ts INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (site, edge, kind)
);
CREATE TABLE IF NOT EXISTS command_results (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, site TEXT NOT NULL, edge TEXT NOT NULL, cmd TEXT,
    bundle_id TEXT, status TEXT NOT NULL, reason TEXT, detail TEXT, received_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY, received_ns INTEGER NOT NULL, topic TEXT NOT NULL,
    reason TEXT NOT NULL, payload BLOB NOT NULL
);
"""


class SQLiteStore:
    """Telemetry, alerts, edge status and quarantine in one SQLite file.

    Parameters
    ----------
    path : str or Path
        Database file; ``":memory:"`` for a throw-away store.

    Examples
    --------
    >>> from cloud.ingest.schema import parse_message
    >>> store = SQLiteStore(":memory:")
    >>> msg = parse_message("tf/v1/lab/e1/m1/features",
    ...     b'{"v":1,"edge":"e1","boot":"b","seq":1,"records":[{"ts":1700000000000000000,"features":{"rms":0.1}}]}')
    >>> store.write(msg), store.write(msg)
    (True, False)
    >>> store.series("lab", "m1", "rms")
    [(1700000000000000000, 0.1)]
    """

    def __init__(self, path: str | Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def write(self, msg: Message) -> bool:
        """Store one validated message; return ``False`` if it was a duplicate."""
        now = time.time_ns()
        body = msg.body
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                if isinstance(body, StatusMsg):
                    self._write_status(msg, body, now)
                    db.execute("COMMIT")
                    return True
                if isinstance(body, (BirthMsg, HealthMsg)):  # retained state, last value wins
                    db.execute("INSERT INTO edge_state VALUES (?, ?, ?, ?, ?) ON CONFLICT (site, edge, kind) DO UPDATE "
                               "SET ts = excluded.ts, body = excluded.body WHERE excluded.ts >= edge_state.ts",
                               (msg.site, msg.edge, msg.kind, body.ts, body.model_dump_json()))
                    db.execute("COMMIT")
                    return True
                cur = db.execute(
                    "INSERT OR IGNORE INTO messages VALUES (?, ?, ?, ?, ?)",
                    (msg.edge, body.boot, body.seq, msg.kind, now),
                )
                if cur.rowcount == 0:
                    db.execute("ROLLBACK")
                    return False
                if msg.asset is not None:
                    db.execute(
                        "INSERT INTO assets VALUES (?, ?, ?, ?, ?) ON CONFLICT (site, asset) "
                        "DO UPDATE SET last_seen_ns = excluded.last_seen_ns, edge = excluded.edge",
                        (msg.site, msg.asset, msg.edge, now, now),
                    )
                db.execute("UPDATE edges SET last_seen_ns = ? WHERE site = ? AND edge = ?", (now, msg.site, msg.edge))
                if isinstance(body, FeaturesMsg):
                    db.executemany("INSERT INTO features VALUES (?, ?, ?, ?, ?)",
                                   list(_feature_rows(msg.site, msg.asset, body)))
                elif isinstance(body, AlertMsg):
                    db.execute(
                        "INSERT INTO alerts (ts, site, edge, asset, score, threshold, severity, message, received_ns)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (body.ts, msg.site, msg.edge, msg.asset, body.score, body.threshold,
                         body.severity, body.message, now),
                    )
                elif isinstance(body, DriftMsg):
                    db.execute("INSERT INTO drift (ts, site, edge, asset, target, detector, message, detail, "
                               "received_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               (body.ts, msg.site, msg.edge, msg.asset, body.target, body.detector, body.message,
                                json.dumps(body.detail), now))
                elif isinstance(body, WaveformMsg):
                    db.execute("INSERT INTO waveforms (ts, site, edge, asset, channel, rate, units, request, n, "
                               "values_json, received_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               (body.ts, msg.site, msg.edge, msg.asset, body.channel, body.rate, body.units,
                                body.request, len(body.values), json.dumps(body.values), now))
                elif isinstance(body, CmdResultMsg):
                    db.execute("INSERT INTO command_results (ts, site, edge, cmd, bundle_id, status, reason, detail, "
                               "received_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               (body.ts, msg.site, msg.edge, body.cmd, body.bundle_id, body.status, body.reason,
                                json.dumps(body.detail), now))
                db.execute("COMMIT")
                return True
            except BaseException:
                db.execute("ROLLBACK")
                raise

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

    def series(self, site: str, asset: str, name: str) -> list[tuple[int, float]]:
        """One feature's (ts, value) pairs, oldest first."""
        rows = self._rows("SELECT ts, value FROM features WHERE site = ? AND asset = ? AND name = ? ORDER BY ts",
                          (site, asset, name))
        return [(r["ts"], r["value"]) for r in rows]

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


def _feature_rows(site: str, asset: str, body: FeaturesMsg):
    for rec in body.records:
        for name, value in rec.features.items():
            yield rec.ts, site, asset, name, value
        if rec.score is not None:
            yield rec.ts, site, asset, "score", rec.score
        if rec.threshold is not None:
            yield rec.ts, site, asset, "threshold", rec.threshold
        yield rec.ts, site, asset, "learning", float(rec.learning)
