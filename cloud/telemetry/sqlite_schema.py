"""Tables of the SQLite telemetry store (created if missing; additive changes only).

Features are narrow — one row per (time, asset, feature) — so new features
need no schema change and a chart reads one series with one index seek.
``feature_rollups`` holds the per-bucket mean/min/max/count that retention
leaves behind when it deletes old raw rows.
"""

SCHEMA = """
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
