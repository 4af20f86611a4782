"""Tables of the SQLite telemetry store, versioned with ``PRAGMA user_version``.

Version 2 keys every sequenced message by ``(site, edge, boot, seq)`` with a
digest of its bytes (so a redelivery is told from a forged or replayed
sequence number), keeps the boot of retained edge state and of command
answers, and stores one row per feature window (``windows``: the window's
values as a JSON object) instead of one row per value — a tenth of the rows
to write, which is what limited ingest; SQLite's ``json_each`` reads one
feature back. :data:`UPGRADES` brings a version-1 file (no ``user_version``) up;
a file of a newer version is refused. New features need no schema change (a window's values are a JSON object)
and a chart reads one asset's windows in a time range with one index seek.
``feature_rollups`` holds the per-bucket mean/min/max/count that retention
leaves behind when it deletes old raw rows.
"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    site TEXT NOT NULL, edge TEXT NOT NULL, boot TEXT NOT NULL, seq INTEGER NOT NULL,
    kind TEXT NOT NULL, digest TEXT NOT NULL, received_ns INTEGER NOT NULL,
    PRIMARY KEY (site, edge, boot, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS assets (
    site TEXT NOT NULL, asset TEXT NOT NULL, edge TEXT NOT NULL,
    first_seen_ns INTEGER NOT NULL, last_seen_ns INTEGER NOT NULL,
    PRIMARY KEY (site, asset)
);
CREATE TABLE IF NOT EXISTS windows (
    ts INTEGER NOT NULL, site TEXT NOT NULL, asset TEXT NOT NULL, features TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS windows_asset ON windows (site, asset, ts);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, site TEXT NOT NULL, edge TEXT NOT NULL,
    asset TEXT NOT NULL, score REAL NOT NULL, threshold REAL NOT NULL,
    severity TEXT NOT NULL, message TEXT NOT NULL, received_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_asset ON alerts (site, asset, ts);
CREATE TABLE IF NOT EXISTS alert_explanations (
    alert_id INTEGER PRIMARY KEY REFERENCES alerts (id) ON DELETE CASCADE, body TEXT NOT NULL
);
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
    boot TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (site, edge, kind)
);
CREATE TABLE IF NOT EXISTS command_results (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, site TEXT NOT NULL, edge TEXT NOT NULL, cmd TEXT,
    bundle_id TEXT, status TEXT NOT NULL, reason TEXT, detail TEXT, received_ns INTEGER NOT NULL,
    boot TEXT NOT NULL DEFAULT '', seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS command_results_edge ON command_results (site, edge, ts);
CREATE INDEX IF NOT EXISTS waveforms_received ON waveforms (received_ns);
CREATE TABLE IF NOT EXISTS feature_rollups (
    ts INTEGER NOT NULL, site TEXT NOT NULL, asset TEXT NOT NULL, name TEXT NOT NULL, every_ns INTEGER NOT NULL,
    vmean REAL NOT NULL, vmin REAL NOT NULL, vmax REAL NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (site, asset, name, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY, received_ns INTEGER NOT NULL, topic TEXT NOT NULL,
    reason TEXT NOT NULL, payload BLOB NOT NULL
);
"""

#: The schema version this code writes (``PRAGMA user_version``).
VERSION = 2

#: Statements bringing a file of version ``k`` (the key) to ``k + 1``, run before :data:`SCHEMA`.
UPGRADES = {
    1: """
ALTER TABLE messages RENAME TO messages_v1;
CREATE TABLE messages (
    site TEXT NOT NULL, edge TEXT NOT NULL, boot TEXT NOT NULL, seq INTEGER NOT NULL,
    kind TEXT NOT NULL, digest TEXT NOT NULL, received_ns INTEGER NOT NULL,
    PRIMARY KEY (site, edge, boot, seq)
) WITHOUT ROWID;
INSERT OR IGNORE INTO messages SELECT COALESCE((SELECT e.site FROM edges e WHERE e.edge = m.edge LIMIT 1), ''),
    m.edge, m.boot, m.seq, m.kind, '', m.received_ns FROM messages_v1 m;
DROP TABLE messages_v1;
CREATE TABLE windows (ts INTEGER NOT NULL, site TEXT NOT NULL, asset TEXT NOT NULL, features TEXT NOT NULL);
INSERT INTO windows SELECT ts, site, asset, json_group_object(name, value) FROM features GROUP BY site, asset, ts;
DROP TABLE features;
ALTER TABLE edge_state ADD COLUMN boot TEXT NOT NULL DEFAULT '';
ALTER TABLE command_results ADD COLUMN boot TEXT NOT NULL DEFAULT '';
ALTER TABLE command_results ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
""",
}
