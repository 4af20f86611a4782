"""Talking to InfluxDB: the v1 HTTP API (``/write``, ``/query``) and the v2 client.

Both transports write line protocol built by ``influxdb_client.Point`` with
nanosecond precision, and read with InfluxQL at ``epoch=ns`` (InfluxDB 2.x
answers InfluxQL on its v1-compatible ``/query`` for a bucket with a DBRP
mapping; 3.x speaks InfluxQL natively). The precision is fixed in one place,
:data:`PRECISION`, used both to serialise points and in the write URL: a
mismatch would move every point to 1970 (or 2^30 years ahead) silently.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

from influxdb_client import Point, WritePrecision

#: The one precision used for writing and reading; timestamps are epoch nanoseconds everywhere.
PRECISION = WritePrecision.NS


class InfluxError(RuntimeError):
    """InfluxDB refused a request or could not be reached; the message says which and why.

    ``transient`` is true when the server was unreachable or answered 5xx (worth retrying).
    """

    def __init__(self, message: str, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


def ident(name: str) -> str:
    """Quote an InfluxQL identifier.

    >>> ident('a"b')
    '"a\\\\"b"'
    """
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(value: str) -> str:
    """Quote an InfluxQL string literal.

    >>> literal("it's")
    "'it\\\\'s'"
    """
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def rows(result: dict) -> list[dict]:
    """Flatten one InfluxQL statement result into dicts (series tags merged into each row)."""
    out = []
    for series in result.get("series", []):
        tags = series.get("tags") or {}
        cols = series["columns"]
        for values in series["values"]:
            out.append({**tags, **dict(zip(cols, values))})
    return out


class V1Transport:
    """InfluxDB 1.x: ``POST /write?db=..&precision=ns`` and ``/query?db=..&epoch=ns``."""

    def __init__(self, url: str, database: str, username: str | None = None, password: str | None = None,
                 timeout: float = 10.0) -> None:
        self.url, self.database, self.timeout = url.rstrip("/"), database, timeout
        self._headers = {}
        if username is not None:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"

    def _request(self, path: str, params: dict, body: bytes | None = None) -> bytes:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        req = urllib.request.Request(url, data=body if body is not None else b"", method="POST",
                                     headers=self._headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:500]
            raise InfluxError(f"InfluxDB at {self.url} refused {path} (HTTP {exc.code}): {detail}",
                              transient=exc.code >= 500) from None
        except (urllib.error.URLError, OSError) as exc:
            raise InfluxError(f"InfluxDB at {self.url} is unreachable: {exc}") from None

    def ping(self) -> None:
        """Fail early if the server does not answer."""
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=self.timeout):
                pass
        except (urllib.error.URLError, OSError) as exc:
            raise InfluxError(f"InfluxDB at {self.url} does not answer /ping: {exc}") from None

    def setup(self) -> None:
        """Create the database (idempotent)."""
        self.query(f"CREATE DATABASE {ident(self.database)}")

    def write(self, points: list[Point]) -> None:
        """Write points as line protocol with nanosecond timestamps."""
        lines = [p.to_line_protocol(precision=PRECISION) for p in points]
        body = "\n".join(line for line in lines if line).encode()
        if body:
            self._request("/write", {"db": self.database, "precision": PRECISION}, body)

    def query(self, q: str) -> list[dict]:
        """Run InfluxQL statements; one result dict per statement (``epoch=ns``)."""
        raw = self._request("/query", {"db": self.database, "epoch": PRECISION, "q": q})
        results = json.loads(raw).get("results", [])
        for r in results:
            if "error" in r:
                raise InfluxError(f"InfluxQL failed at {self.url}: {r['error']} (query: {q[:200]})")
        return results

    def delete_before(self, measurement: str, before_ns: int, site: str | None = None) -> None:
        """Delete a measurement's points with ``time < before_ns`` (of one ``site`` when given)."""
        where = f" AND site = {literal(site)}" if site is not None else ""
        self.query(f"DELETE FROM {ident(measurement)} WHERE time < {int(before_ns)}{where}")

    def close(self) -> None:
        """Nothing to release (one request per call)."""


class V2Transport(V1Transport):
    """InfluxDB 2.x/3.x: the client's v2 write API; InfluxQL reads on the v1-compatible ``/query``.

    Not exercised by the test suite (no InfluxDB 2 server on the test machine).
    """

    def __init__(self, url: str, bucket: str, org: str, token: str, timeout: float = 10.0) -> None:
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        super().__init__(url, bucket, timeout=timeout)
        self.org, self.bucket = org, bucket
        self._headers["Authorization"] = f"Token {token}"
        self._client = InfluxDBClient(url=url, token=token, org=org, timeout=int(timeout * 1000))
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)

    def setup(self) -> None:
        """The bucket (and its DBRP mapping) is the operator's to create; nothing to do."""

    def write(self, points: list[Point]) -> None:
        try:
            self._write_api.write(bucket=self.bucket, org=self.org, record=points, write_precision=PRECISION)
        except Exception as exc:  # the client raises ApiException / urllib3 errors
            raise InfluxError(f"InfluxDB at {self.url} refused a write to bucket {self.bucket!r}: {exc}") from None

    def delete_before(self, measurement: str, before_ns: int, site: str | None = None) -> None:
        stop = datetime.fromtimestamp(before_ns / 1e9, tz=timezone.utc)
        predicate = f'_measurement="{measurement}"' + (f' AND site="{site}"' if site is not None else "")
        try:
            self._client.delete_api().delete(datetime(1970, 1, 1, tzinfo=timezone.utc), stop,
                                              predicate, bucket=self.bucket, org=self.org)
        except Exception as exc:
            raise InfluxError(f"InfluxDB at {self.url} refused a delete in bucket {self.bucket!r}: {exc}") from None

    def close(self) -> None:
        self._client.close()
