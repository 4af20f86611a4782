"""Durable outbox of the edge: SQLite (WAL) store-and-forward for MQTT records.

Every record is written here *before* it is published and deleted only
after the broker acknowledged it (QoS 1 PUBACK). The file survives agent
restarts and broker outages; a new agent process on the same file resends
what is left, in insertion order, with its original payload bytes — so the
original ``(edge, boot, seq)`` travels again and the hub de-duplicates.

Bounds and overflow policy
--------------------------
The outbox holds at most ``max_rows`` records and ``max_bytes`` payload
bytes. When a new record would exceed a bound, the *oldest droppable*
records (kinds in ``droppable``, by default ``features`` and ``waveform``
batches) are deleted first, as many as needed. Alerts, drift events and
command results are never dropped by the outbox: if only such records are
left, a new droppable record is itself dropped, and a new critical record is
stored over the bound (counted as ``over_bound``; they are rare by nature).
Every drop is counted per kind in the file itself, so the count survives a
restart and is reported in the publisher's stats.

Durability
----------
``synchronous="NORMAL"`` (default) in WAL mode survives a killed process
with nothing lost; on power loss the last few commits may roll back (the
file stays consistent). ``"FULL"`` fsyncs every record, which costs
milliseconds per record on an SD card.

Examples
--------
>>> box = Outbox(":memory:", max_rows=3)
>>> for i in range(3):
...     _ = box.put("tf/v1/s/e/a/features", b"f%d" % i, kind="features")
>>> _ = box.put("tf/v1/s/e/a/alert", b"alarm", kind="alert")
>>> [r.payload for r in box.after(0, 10)]
[b'f1', b'f2', b'alarm']
>>> box.dropped
{'features': 1}
>>> box.ack([r.id for r in box.after(0, 2)])
2
>>> len(box)
1
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,   -- never reused: the send cursor relies on it
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    kind TEXT NOT NULL,
    droppable INTEGER NOT NULL,
    created_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_droppable ON outbox (droppable, id);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class OutboxFull(OSError):
    """The disk under the outbox is full and nothing droppable is left to make room."""


@dataclass(frozen=True)
class OutboxRecord:
    """One stored record, ready to publish."""

    id: int
    topic: str
    payload: bytes
    qos: int
    kind: str
    created_ns: int


class Outbox:
    """Bounded, durable, ordered store of records waiting for a broker acknowledgement.

    Parameters
    ----------
    path : str or Path
        SQLite file (created if missing); ``":memory:"`` for a non-durable one.
    max_rows : int
        Most records kept.
    max_bytes : int
        Most payload bytes kept.
    droppable : tuple of str
        Kinds the overflow policy may drop, oldest first.
    synchronous : str
        SQLite ``synchronous`` pragma: ``"NORMAL"`` or ``"FULL"``.

    Notes
    -----
    Thread-safe: one connection behind a lock, so the agent's thread can
    :meth:`put` while the publisher's thread reads and acknowledges.
    """

    def __init__(self, path: str | Path = ":memory:", max_rows: int = 100_000, max_bytes: int = 64 * 2**20,
                 droppable: tuple[str, ...] = ("features", "waveform"), synchronous: str = "NORMAL") -> None:
        if max_rows < 1 or max_bytes < 1:
            raise ValueError(f"outbox bounds must be positive, got max_rows={max_rows}, max_bytes={max_bytes}")
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}")
        self.path = str(path)
        self.max_rows, self.max_bytes = max_rows, max_bytes
        self.droppable = tuple(droppable)
        self._lock = threading.Lock()
        self._db = self._open(synchronous)
        self._recount()
        self.over_bound = 0
        self.disk_full = 0  # inserts the disk refused (SQLITE_FULL), over this process's life
        if self._rows:
            log.info("outbox %s: %d record(s) (%d bytes) left from before, resending", self.path,
                     self._rows, self._bytes)

    def _open(self, synchronous: str) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, _SCHEMA_VERSION):
                raise ValueError(f"outbox {self.path}: schema version {version}, this agent reads "
                                 f"{_SCHEMA_VERSION}; move the file away or use a matching agent")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={synchronous}")
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            db.close()
            raise ValueError(f"outbox {self.path} is not a usable SQLite file: {exc}") from None
        return db

    def _recount(self) -> None:
        self._rows, self._bytes = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox").fetchone()
        self.dropped: dict[str, int] = {
            name.removeprefix("dropped:"): value
            for name, value in self._db.execute("SELECT name, value FROM counters WHERE name LIKE 'dropped:%'")
        }

    def __len__(self) -> int:
        return self._rows

    @property
    def nbytes(self) -> int:
        """Payload bytes stored."""
        return self._bytes

    @property
    def dropped_total(self) -> int:
        """Records the overflow policy dropped, over the file's life."""
        return sum(self.dropped.values())

    def put(self, topic: str, payload: bytes, *, kind: str, qos: int = 1, created_ns: int | None = None) -> int | None:
        """Store one record; return its id, or ``None`` if the overflow policy dropped it."""
        if not isinstance(payload, (bytes, bytearray)):
            raise TypeError(f"payload must be bytes, got {type(payload).__name__}")
        size, droppable = len(payload), kind in self.droppable
        created = time.time_ns() if created_ns is None else created_ns
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                over_rows = self._rows + 1 - self.max_rows
                over_bytes = self._bytes + size - self.max_bytes
                if over_rows > 0 or over_bytes > 0:
                    over_rows, over_bytes = self._drop_oldest(over_rows, over_bytes)
                    if over_rows > 0 or over_bytes > 0:
                        if droppable:
                            self._count_drop(kind, 1)
                            self._db.execute("COMMIT")
                            return None
                        self.over_bound += 1
                rowid = self._insert(topic, bytes(payload), qos, kind, droppable, created)
                if rowid is None:
                    self._count_drop(kind, 1, disk_full=True)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                self._recount()  # counters back to what the file holds
                raise
            if rowid is None:
                return None
            self._rows += 1
            self._bytes += size
            return rowid

    def _insert(self, topic: str, payload: bytes, qos: int, kind: str, droppable: bool, created: int) -> int | None:
        """Insert one record; on a full disk make room by dropping the oldest droppable records.

        Returns ``None`` when a droppable record finds no room even so; raises
        :class:`OutboxFull` when a critical one does not.
        """
        row = (topic, payload, qos, kind, int(droppable), created)
        while True:
            try:
                return self._db.execute("INSERT INTO outbox (topic, payload, qos, kind, droppable, created_ns) "
                                        "VALUES (?,?,?,?,?,?)", row).lastrowid
            except sqlite3.OperationalError as exc:
                if "full" not in str(exc):
                    raise
                if not self._db.in_transaction:  # SQLite may roll the whole transaction back on SQLITE_FULL
                    self._recount()
                    self._db.execute("BEGIN IMMEDIATE")
                if not self.disk_full:
                    log.error("outbox %s: the disk is full (%s); dropping the oldest %s records to keep "
                              "alerts, drift events and command results", self.path, exc, "/".join(self.droppable))
                self.disk_full += 1
                before = self._rows
                self._drop_oldest(1, max(len(payload), 8192), disk_full=True)  # a few pages' worth
                if self._rows < before:
                    continue
                if droppable:
                    return None
                raise OutboxFull(f"outbox {self.path}: the disk is full and no feature or waveform record is "
                                 f"left to drop; this {kind} record is not stored: free space on that disk") from None

    def _drop_oldest(self, over_rows: int, over_bytes: int, disk_full: bool = False) -> tuple[int, int]:
        """Delete oldest droppable records until both overshoots are <= 0 (or none left)."""
        while over_rows > 0 or over_bytes > 0:
            batch = self._db.execute("SELECT id, kind, LENGTH(payload) FROM outbox WHERE droppable = 1 "
                                     "ORDER BY id LIMIT 256").fetchall()
            if not batch:
                break
            last, by_kind = None, {}
            for rowid, kind, size in batch:
                last = rowid
                by_kind[kind] = by_kind.get(kind, 0) + 1
                over_rows, over_bytes = over_rows - 1, over_bytes - size
                self._rows, self._bytes = self._rows - 1, self._bytes - size
                if over_rows <= 0 and over_bytes <= 0:
                    break
            self._db.execute("DELETE FROM outbox WHERE droppable = 1 AND id <= ?", (last,))
            for kind, n in by_kind.items():
                self._count_drop(kind, n, disk_full)
        return over_rows, over_bytes

    def _count_drop(self, kind: str, n: int, disk_full: bool = False) -> None:
        try:
            self._db.execute("INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) "
                             "DO UPDATE SET value = value + excluded.value", (f"dropped:{kind}", n))
        except sqlite3.OperationalError as exc:
            if not disk_full or "full" not in str(exc):
                raise
            self.dropped[kind] = self.dropped.get(kind, 0) + n  # counted in memory only: no room for it
            return
        if self.dropped.get(kind, 0) == 0 and not disk_full:
            log.warning("outbox %s full (%d rows, %d bytes): dropping oldest %s records", self.path,
                        self.max_rows, self.max_bytes, kind)
        self.dropped[kind] = self.dropped.get(kind, 0) + n

    def after(self, rowid: int, limit: int) -> list[OutboxRecord]:
        """Up to ``limit`` records with id greater than ``rowid``, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT id, topic, payload, qos, kind, created_ns FROM outbox "
                                    "WHERE id > ? ORDER BY id LIMIT ?", (rowid, limit)).fetchall()
        return [OutboxRecord(*r) for r in rows]

    def get(self, rowids: Iterable[int]) -> list[OutboxRecord]:
        """The records still stored among ``rowids``, oldest first."""
        ids = [int(i) for i in rowids]
        with self._lock:
            rows = self._db.execute("SELECT id, topic, payload, qos, kind, created_ns FROM outbox "
                                    f"WHERE id IN ({','.join('?' * len(ids))}) ORDER BY id", ids).fetchall()
        return [OutboxRecord(*r) for r in rows]

    def ack(self, rowids: Iterable[int]) -> int:
        """Delete acknowledged records (one transaction); return how many were still stored."""
        ids = [int(i) for i in rowids]
        if not ids:
            return 0
        with self._lock:
            sizes = []
            self._db.execute("BEGIN IMMEDIATE")
            for k in range(0, len(ids), 500):
                chunk = ids[k:k + 500]
                sizes += self._db.execute(f"DELETE FROM outbox WHERE id IN ({','.join('?' * len(chunk))}) "
                                          "RETURNING LENGTH(payload)", chunk).fetchall()
            self._db.execute("COMMIT")
            self._rows -= len(sizes)
            self._bytes -= sum(s for (s,) in sizes)
        return len(sizes)

    def oldest_created_ns(self) -> int | None:
        """Creation time of the oldest stored record, or ``None`` when empty."""
        with self._lock:
            row = self._db.execute("SELECT created_ns FROM outbox ORDER BY id LIMIT 1").fetchone()
        return row[0] if row else None

    def close(self) -> None:
        """Checkpoint and close the file."""
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                self._db.close()

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
