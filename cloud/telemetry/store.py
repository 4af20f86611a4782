"""SQLite telemetry store, the embedded default (WAL, one writer, batched).

Implements :class:`cloud.telemetry.base.TelemetryStore`. Each feature
window is one row (its values as a JSON object: new features need no schema
change) and a chart reads one feature with one index seek on (site, asset,
ts) and SQLite's ``json_each`` (tables in :mod:`cloud.telemetry.sqlite_schema`). Every accepted message is recorded
under (site, edge, boot, seq) with a digest of its bytes: a redelivery (same
bytes) is recognised and not counted twice, a different message under a key
already taken is a :class:`~cloud.telemetry.base.Conflict`. A batch
(:meth:`SQLiteStore.write_many`) is one transaction.

Retained edge state is ordered by the edge's boot, not by a timestamp an
attacker may set: within one boot a newer ``ts`` wins (and an ``offline``
will, stamped when the edge connected, always lands); a status or state of
another boot replaces the stored one — the edge restarted — except a stale
``offline`` will of an older boot arriving after the new boot came online.
So no single message can freeze what the hub shows of an edge.

Errors that stop every write (full disk, read-only or damaged file) are
raised as :class:`~cloud.telemetry.base.StoreUnavailable` (or
:class:`~cloud.telemetry.base.StoreCorrupt`) naming the file.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic_core import to_json

from cloud.telemetry.base import (Conflict, StoreCorrupt, StoreUnavailable, check_query, check_retention,
                                  combine_buckets)
from cloud.telemetry.sqlite_schema import SCHEMA, UPGRADES, VERSION
from contract.payloads import (AlertMsg, BirthMsg, CmdResultMsg, DriftMsg, FeaturesMsg, HealthMsg, Message, StatusMsg,
                               WaveformMsg)

#: Called inside the batch transaction with the newly accepted messages; raising rolls the batch back.
TelemetrySink = Callable[[list[Message], int], None]

#: Free space below which :meth:`SQLiteStore.check` reports the disk as (nearly) full.
MIN_FREE_BYTES = 32 * 1024 * 1024


def status_supersedes(stored: tuple[str, str, int], body: StatusMsg) -> bool:
    """Whether status ``body`` replaces the stored ``(state, boot, status_ts)`` (see the module docstring).

    Examples
    --------
    >>> s = lambda state, boot, ts: StatusMsg(v=1, edge="e", boot=boot, seq=0, state=state, ts=ts)
    >>> T = 1_700_000_000_000_000_000
    >>> status_supersedes(("online", "b1", T), s("online", "b1", T - 1))  # older, same boot
    False
    >>> status_supersedes(("online", "b1", T), s("offline", "b1", T - 5))  # its will, stamped at connect
    True
    >>> status_supersedes(("online", "x", 4_000_000_000 * 10**9), s("online", "b1", T))  # a new boot
    True
    >>> status_supersedes(("online", "b2", T), s("offline", "b1", T - 5))  # stale will of the old boot
    False
    """
    state, boot, ts = stored
    if boot == body.boot:
        return body.state == "offline" or body.ts >= ts
    return not (body.state == "offline" and state == "online" and body.ts < ts)
#: What :meth:`SQLiteStore.purge` deletes per data kind: (table, time column).
PURGED = {"telemetry": (("windows", "ts"), ("feature_rollups", "ts"), ("alert_explanations", None), ("alerts", "ts"),
                        ("drift", "ts")),
          "waveforms": (("waveforms", "ts"),), "quarantine": (("quarantine", "received_ns"),)}


class SQLiteStore:
    """Telemetry, alerts, edge status and quarantine in one SQLite file.

    Parameters
    ----------
    path : str or Path
        Database file; ``":memory:"`` for a throw-away store.

    Raises
    ------
    StoreCorrupt
        If the file is not an SQLite database, is damaged or is of a newer schema (the message names it).

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
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"telemetry store {path}: cannot open: {exc}") from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            # a 64 MiB page cache keeps the series index's hot pages in memory while batches arrive
            self._db.execute("PRAGMA cache_size=-65536")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreCorrupt(f"telemetry store {path}: {exc}: not a TeachFab SQLite store or damaged; "
                               "move it aside (the hub then starts an empty one) or restore a backup") from None

    def _migrate(self) -> None:
        db = self._db
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > VERSION:
            raise sqlite3.DatabaseError(f"schema version {version} is newer than this hub's ({VERSION})")
        if version == 0:  # a new file, or one written before versioning (version 1)
            cols = {r[1] for r in db.execute("PRAGMA table_info(messages)")}
            version = 1 if cols and "site" not in cols else VERSION
        db.execute("BEGIN")
        try:
            while version < VERSION:
                for stmt in UPGRADES[version].split(";"):
                    if stmt.strip():
                        db.execute(stmt)
                version += 1
            for stmt in SCHEMA.split(";"):
                if stmt.strip():
                    db.execute(stmt)
            db.execute(f"PRAGMA user_version = {VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _unavailable(self, exc: sqlite3.Error) -> StoreUnavailable:
        kind = StoreCorrupt if isinstance(exc, sqlite3.DatabaseError) and any(
            w in str(exc) for w in ("malformed", "not a database")) else StoreUnavailable
        return kind(f"telemetry store {self.path}: {exc}")

    def check(self) -> str | None:
        """Why this store could not take writes now, naming the file; ``None`` when it can.

        Reads the schema (a damaged or replaced file fails here) and looks at
        the free space of the file's disk (below :data:`MIN_FREE_BYTES`
        writes are about to fail).
        """
        try:
            with self._lock:
                self._db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
                self._db.execute("SELECT 1 FROM messages LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            return str(self._unavailable(exc))
        if str(self.path) != ":memory:":
            try:
                free = shutil.disk_usage(Path(self.path).resolve().parent).free
            except OSError as exc:
                return f"telemetry store {self.path}: cannot read the disk's free space: {exc}"
            if free < MIN_FREE_BYTES:
                return (f"telemetry store {self.path}: disk nearly full ({free // 2**20} MiB free, "
                        f"needs {MIN_FREE_BYTES // 2**20} MiB)")
        return None

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def write(self, msg: Message) -> bool:
        """Store one validated message; return ``False`` if it was a duplicate."""
        return self.write_many([msg])[0]

    def write_many(self, messages: Sequence[Message], rejected: Sequence[tuple[str, str, bytes]] = ()) -> list:
        """Store a batch of validated messages, and quarantine ``rejected``, in one transaction.

        Returns one flag per message: ``False`` for a message whose (site,
        edge, boot, seq) was stored before with the same bytes, or earlier in
        the same batch; a :class:`~cloud.telemetry.base.Conflict` when that
        key holds different content. Status, birth and health are retained
        state (see the module docstring) and always ``True``. ``rejected``
        holds ``(topic, reason, payload)`` of invalid messages of the same
        batch. If anything fails, nothing of the batch is stored.

        Examples
        --------
        >>> from contract.payloads import parse_message
        >>> store = SQLiteStore(":memory:")
        >>> msgs = [parse_message("tf/v1/lab/e1/m1/features", b'{"v":1,"edge":"e1","boot":"b","seq":%d,'
        ...     b'"records":[{"ts":%d,"features":{"rms":0.5}}]}' % (s, 1700000000000000000 + s)) for s in (1, 2, 1)]
        >>> store.write_many(msgs)
        [True, True, False]
        """
        return self._write_batch(messages, None, rejected)

    def _write_batch(self, messages: Sequence[Message], sink: TelemetrySink | None,
                     rejected: Sequence[tuple[str, str, bytes]] = ()) -> list:
        """Record (edge, boot, seq) keys and relational state; telemetry goes to SQLite or to ``sink``.

        With a ``sink`` (the InfluxDB backend) features, alerts and drift
        are not written here: the sink receives the accepted messages while
        the transaction is open, so a failed sink write rolls back the keys
        and a redelivery is stored instead of being taken for a duplicate.
        """
        now = time.time_ns()
        flags: list = []
        accepted: list[Message] = []
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN")
                try:
                    seen_assets: dict[tuple[str, str], str] = {}
                    seen_edges: set[tuple[str, str]] = set()
                    for msg in messages:
                        ok = self._record(msg, now, seen_assets, seen_edges)
                        flags.append(ok)
                        if ok is True:
                            accepted.append(msg)
                    if seen_assets:
                        db.executemany("INSERT INTO assets VALUES (?, ?, ?, ?, ?) ON CONFLICT (site, asset) "
                                       "DO UPDATE SET last_seen_ns = excluded.last_seen_ns, edge = excluded.edge",
                                       [(site, asset, edge, now, now) for (site, asset), edge in seen_assets.items()])
                    if seen_edges:
                        db.executemany("UPDATE edges SET last_seen_ns = ? WHERE site = ? AND edge = ?",
                                       [(now, site, edge) for site, edge in seen_edges])
                    if sink is None:
                        rows: list[tuple] = []
                        for msg in accepted:
                            self._write_telemetry(msg, now, rows)
                        if rows:  # every window of the batch in one statement
                            db.executemany("INSERT INTO windows VALUES (?, ?, ?, ?)", rows)
                    elif accepted:
                        sink(accepted, now)
                    for topic, reason, payload in rejected:
                        self._quarantine_row(now, topic, reason, payload)
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            except sqlite3.DatabaseError as exc:
                if type(exc) not in (sqlite3.OperationalError, sqlite3.DatabaseError):
                    raise  # integrity, programming, data errors: this batch's fault, not the store's
                raise self._unavailable(exc) from exc
        return flags

    def _record(self, msg: Message, now: int, seen_assets: dict, seen_edges: set) -> bool:
        """De-duplicate and keep relational state (status, edge state, waveforms, command results).

        The assets and edges a new message shows alive go into ``seen_assets``
        and ``seen_edges``, updated once per batch.
        """
        db, body = self._db, msg.body
        if isinstance(body, StatusMsg):
            self._write_status(msg, body, now)
            return True
        if isinstance(body, (BirthMsg, HealthMsg)):  # retained state: newer within a boot, or a new boot
            db.execute("INSERT INTO edge_state (site, edge, kind, ts, body, boot) VALUES (?, ?, ?, ?, ?, ?) "
                       "ON CONFLICT (site, edge, kind) DO UPDATE SET ts = excluded.ts, body = excluded.body, "
                       "boot = excluded.boot WHERE excluded.boot != edge_state.boot OR excluded.ts >= edge_state.ts",
                       (msg.site, msg.edge, msg.kind, body.ts, body.model_dump_json(), body.boot))
            return True
        digest = msg.digest or hashlib.blake2b(body.model_dump_json().encode(), digest_size=16).hexdigest()
        cur = db.execute("INSERT OR IGNORE INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (msg.site, msg.edge, body.boot, body.seq, msg.kind, digest, now))
        if cur.rowcount == 0:
            kind, stored = db.execute("SELECT kind, digest FROM messages WHERE site = ? AND edge = ? AND boot = ? "
                                      "AND seq = ?", (msg.site, msg.edge, body.boot, body.seq)).fetchone()
            if stored in ("", digest):  # a redelivery ('' : keys from before digests were kept)
                return False
            return Conflict(f"{msg.kind} {msg.site}/{msg.edge} boot {body.boot!r} seq {body.seq}: this key was "
                            f"stored before (as {kind}) with different content; kept the first, this one "
                            "quarantined (a forged or replayed sequence number, or an edge reusing its boot id)")
        if msg.asset is not None:
            seen_assets[(msg.site, msg.asset)] = msg.edge
        seen_edges.add((msg.site, msg.edge))
        if isinstance(body, WaveformMsg):
            db.execute("INSERT INTO waveforms (ts, site, edge, asset, channel, rate, units, request, n, "
                       "values_json, received_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (body.ts, msg.site, msg.edge, msg.asset, body.channel, body.rate, body.units,
                        body.request, len(body.values), json.dumps(body.values), now))
        elif isinstance(body, CmdResultMsg):
            db.execute("INSERT INTO command_results (ts, site, edge, cmd, bundle_id, status, reason, detail, "
                       "received_ns, boot, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (body.ts, msg.site, msg.edge, body.cmd, body.bundle_id, body.status, body.reason,
                        json.dumps(body.detail), now, body.boot, body.seq))
        return True

    def _write_telemetry(self, msg: Message, now: int, rows: list[tuple]) -> None:
        """Features (appended to ``rows``), alerts and drift events: what the InfluxDB backend keeps there."""
        db, body = self._db, msg.body
        if isinstance(body, FeaturesMsg):
            site, asset = msg.site, msg.asset
            for rec in body.records:
                values = {name: float(v) for name, v in rec.features.items()}
                if rec.score is not None:
                    values["score"] = float(rec.score)
                if rec.threshold is not None:
                    values["threshold"] = float(rec.threshold)
                values["learning"] = 1.0 if rec.learning else 0.0
                rows.append((rec.ts, site, asset, to_json(values).decode()))
        elif isinstance(body, AlertMsg):
            cur = db.execute(
                "INSERT INTO alerts (ts, site, edge, asset, score, threshold, severity, message, received_ns)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (body.ts, msg.site, msg.edge, msg.asset, body.score, body.threshold, body.severity, body.message,
                 now),
            )
            if body.explanation is not None:  # validated and bounded by the contract
                db.execute("INSERT INTO alert_explanations (alert_id, body) VALUES (?, ?)",
                           (cur.lastrowid, body.explanation.model_dump_json(exclude_none=True)))
        elif isinstance(body, DriftMsg):
            db.execute("INSERT INTO drift (ts, site, edge, asset, target, detector, message, detail, "
                       "received_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (body.ts, msg.site, msg.edge, msg.asset, body.target, body.detector, body.message,
                        json.dumps(body.detail), now))

    def _write_status(self, msg: Message, body: StatusMsg, now: int) -> None:
        row = self._db.execute("SELECT state, boot, status_ts FROM edges WHERE site = ? AND edge = ?",
                               (msg.site, msg.edge)).fetchone()
        if row is not None and not status_supersedes(row, body):
            return
        self._db.execute(
            "INSERT INTO edges VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site, edge) DO UPDATE SET "
            "state = excluded.state, boot = excluded.boot, version = excluded.version, "
            "assets = excluded.assets, status_ts = excluded.status_ts, last_seen_ns = excluded.last_seen_ns",
            (msg.site, msg.edge, body.state, body.boot, body.version, json.dumps(body.assets), body.ts, now),
        )

    def _quarantine_row(self, now: int, topic: str, reason: str, payload: bytes) -> None:
        self._db.execute("INSERT INTO quarantine (received_ns, topic, reason, payload) VALUES (?, ?, ?, ?)",
                         (now, topic, reason, bytes(payload[:65536])))

    def quarantine(self, topic: str, reason: str, payload: bytes) -> None:
        """Keep an invalid payload with the reason it was refused (at most its first 64 KiB)."""
        self.write_many([], [(topic, reason, payload)])

    def prune(self, keep_ns: dict[str, int], max_quarantine: int = 100_000, now_ns: int | None = None) -> dict[str, int]:
        """Delete quarantined payloads, waveforms and command answers older than their ``keep_ns``.

        Parameters
        ----------
        keep_ns : dict
            Ages in nanoseconds by ``"quarantine"``, ``"waveforms"``, ``"command_results"`` (missing: kept).
        max_quarantine : int
            Newest quarantined payloads kept whatever their age (a flood cannot fill the disk).

        Examples
        --------
        >>> store = SQLiteStore(":memory:")
        >>> store.quarantine("t", "bad", b"x")
        >>> store.prune({"quarantine": 1}, now_ns=time.time_ns() + 10**9)["quarantine"]
        1
        """
        now = time.time_ns() if now_ns is None else now_ns
        out = {}
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                for table in ("quarantine", "waveforms", "command_results"):
                    keep = keep_ns.get(table)
                    out[table] = 0 if keep is None else db.execute(
                        f"DELETE FROM {table} WHERE received_ns < ?", (now - keep,)).rowcount
                out["quarantine"] += db.execute(
                    "DELETE FROM quarantine WHERE id <= (SELECT id FROM quarantine ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (max_quarantine,)).rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return out

    def _rows(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                cur = self._db.execute(sql, args)
                cols = [c[0] for c in cur.description]
                return [dict(zip(cols, row)) for row in cur.fetchall()]
            except sqlite3.DatabaseError as exc:
                if type(exc) not in (sqlite3.OperationalError, sqlite3.DatabaseError):
                    raise
                raise self._unavailable(exc) from exc

    def last_sequences(self, limit: int = 10_000) -> list[tuple[str, str, int]]:
        """``(edge, boot, highest seq)`` of the ``limit`` most recently active boots (ingest resumes its gap
        tracking from them after a restart)."""
        return [tuple(r) for r in self._db.execute(
            "SELECT edge, boot, MAX(seq) FROM messages GROUP BY edge, boot ORDER BY MAX(received_ns) DESC LIMIT ?",
            (int(limit),))]

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
        rows = self._rows("SELECT ts, features FROM windows WHERE site = ? AND asset = ? AND ts > ? "
                          "ORDER BY ts DESC LIMIT ?", (site, asset, since_ns, limit))
        windows: dict[int, dict] = {}
        for r in reversed(rows):
            windows.setdefault(r["ts"], {"ts": r["ts"]}).update(json.loads(r["features"]))
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
        wwhere, wargs = "w.site = ? AND w.asset = ? AND j.key = ?", [site, asset, name]
        if start_ns is not None:
            where, args = where + " AND ts >= ?", [*args, start_ns]
            wwhere, wargs = wwhere + " AND w.ts >= ?", [*wargs, start_ns]
        if end_ns is not None:
            where, args = where + " AND ts < ?", [*args, end_ns]
            wwhere, wargs = wwhere + " AND w.ts < ?", [*wargs, end_ns]
        windows = "windows w, json_each(w.features) j"
        if every_ns is None:
            column = {"mean": "vmean", "min": "vmin", "max": "vmax", "count": "n", "sum": "vmean * n"}[agg]
            raw = "1.0" if agg == "count" else "j.value"
            rows = self._rows(f"SELECT w.ts AS ts, {raw} AS v FROM {windows} WHERE {wwhere} UNION ALL "
                              f"SELECT ts, {column} AS v FROM feature_rollups WHERE {where} ORDER BY ts",
                              (*wargs, *args))
            return [(r["ts"], float(r["v"])) for r in rows]
        raw = self._rows(f"SELECT (w.ts / ?) * ? AS b, AVG(j.value) AS m, MIN(j.value) AS lo, MAX(j.value) AS hi, "
                         f"COUNT(*) AS n FROM {windows} WHERE {wwhere} GROUP BY b", (every_ns, every_ns, *wargs))
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
                raw = db.execute("SELECT COUNT(*) FROM windows w, json_each(w.features) j WHERE w.ts < ?",
                                 (cutoff,)).fetchone()[0]
                buckets = db.execute(
                    "INSERT INTO feature_rollups (ts, site, asset, name, every_ns, vmean, vmin, vmax, n) "
                    "SELECT (w.ts / ?1) * ?1 AS b, w.site, w.asset, j.key, ?1, AVG(j.value), MIN(j.value), "
                    "MAX(j.value), COUNT(*) FROM windows w, json_each(w.features) j WHERE w.ts < ?2 "
                    "GROUP BY w.site, w.asset, j.key, b "
                    "ON CONFLICT (site, asset, name, ts) DO UPDATE SET "
                    "vmean = (vmean * n + excluded.vmean * excluded.n) / (n + excluded.n), "
                    "vmin = MIN(vmin, excluded.vmin), vmax = MAX(vmax, excluded.vmax), n = n + excluded.n",
                    (rollup_every_ns, cutoff)).rowcount
                db.execute("DELETE FROM windows WHERE ts < ?", (cutoff,))
                old = db.execute("DELETE FROM feature_rollups WHERE ts < ?", (now - rollup_keep_ns,)).rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return {"raw_deleted": raw, "buckets_written": buckets, "rollups_deleted": old}

    def purge(self, kind: str, site: str | None, before_ns: int) -> int:
        """Delete the rows of one data kind older than ``before_ns``; return how many went.

        ``kind`` is ``telemetry`` (features, their rollups, alerts and drift
        events), ``waveforms`` or ``quarantine``; ``site`` limits it to one
        site (``None``: every site; quarantined payloads have no site). The
        governance area's retention calls this (docs/governance.md).

        Examples
        --------
        >>> from contract.payloads import parse_message
        >>> store, T = SQLiteStore(":memory:"), 1700000000000000000
        >>> _ = store.write(parse_message("tf/v1/lab/e1/m1/alert", b'{"v":1,"edge":"e1","boot":"b","seq":1,'
        ...     b'"ts":%d,"score":9,"threshold":8,"message":"high"}' % T))
        >>> store.purge("telemetry", "other", T + 1), store.purge("telemetry", "lab", T), store.purge("telemetry", "lab", T + 1)
        (0, 0, 1)
        """
        tables = PURGED.get(kind)
        if tables is None:
            raise ValueError(f"kind must be one of {', '.join(PURGED)}, got {kind!r}")
        if kind == "quarantine" and site is not None:
            raise ValueError("quarantined payloads have no site: purge them with site=None")
        n = 0
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                for table, column in tables:
                    where, args = f"{column} < ?", [int(before_ns)]
                    if site is not None:
                        where, args = where + " AND site = ?", [*args, site]
                    if column is None:  # the explanations of the alerts about to go (no cascade without foreign_keys)
                        db.execute("DELETE FROM alert_explanations WHERE alert_id IN "
                                   f"(SELECT id FROM alerts WHERE {where.replace('None', 'ts')})", args)
                        continue
                    n += db.execute(f"DELETE FROM {table} WHERE {where}", args).rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return n

    def alerts(self, site: str | None = None, asset: str | None = None, limit: int = 500) -> list[dict]:
        """Alerts, newest first, optionally for one asset, each with its ``explanation`` (or ``None``)."""
        sql = "SELECT a.*, x.body AS explanation FROM alerts a LEFT JOIN alert_explanations x ON x.alert_id = a.id"
        args: list = []
        if site is not None and asset is not None:
            sql += " WHERE a.site = ? AND a.asset = ?"
            args = [site, asset]
        rows = self._rows(sql + " ORDER BY a.ts DESC LIMIT ?", (*args, limit))
        for r in rows:
            r["explanation"] = json.loads(r["explanation"]) if r["explanation"] else None
        return rows

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

