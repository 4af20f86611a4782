"""Open a telemetry store from one URL, so a deployable's settings need one string.

========================================================  =====================================
URL                                                       backend
========================================================  =====================================
``hub.sqlite``, ``sqlite:///var/lib/tf/hub.sqlite``,      :class:`~cloud.telemetry.store.SQLiteStore`
``sqlite://:memory:``
``influx://host:8086/DB?side=/var/lib/tf/side.sqlite``    InfluxDB 1.x database ``DB`` (v1 ``/write``)
``influx2://host:8086/BUCKET?org=O&token=T&side=...``     InfluxDB 2.x/3.x bucket (v2 write API)
========================================================  =====================================

``influxs://`` and ``influx2s://`` use HTTPS. ``side`` is the SQLite side
store of the InfluxDB backend (default: in memory — fine for tests only).
"""

from __future__ import annotations

import urllib.parse

from cloud.telemetry.base import TelemetryStore


def open_store(url: str) -> TelemetryStore:
    """Build the telemetry store a URL names.

    Examples
    --------
    >>> type(open_store("sqlite://:memory:")).__name__
    'SQLiteStore'
    >>> open_store("mongodb://x")
    Traceback (most recent call last):
    ...
    ValueError: telemetry store URL 'mongodb://x': scheme must be sqlite, influx(s) or influx2(s)
    """
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme
    if scheme in ("", "sqlite"):
        from cloud.telemetry.store import SQLiteStore
        path = url if scheme == "" else url[len("sqlite://"):]
        return SQLiteStore(path)
    if scheme not in ("influx", "influxs", "influx2", "influx2s"):
        raise ValueError(f"telemetry store URL {url!r}: scheme must be sqlite, influx(s) or influx2(s)")
    from cloud.telemetry.influx import InfluxStore
    query = dict(urllib.parse.parse_qsl(parts.query))
    http = f"{'https' if scheme.endswith('s') else 'http'}://{parts.hostname}:{parts.port or 8086}"
    name = parts.path.strip("/")
    if not name:
        raise ValueError(f"telemetry store URL {url!r}: the path must name the database or bucket")
    side = query.get("side", ":memory:")
    if scheme.startswith("influx2"):
        return InfluxStore(http, bucket=name, org=query.get("org"), token=query.get("token"), side_path=side)
    return InfluxStore(http, database=name, username=parts.username, password=parts.password, side_path=side)
