"""A real ``influxd`` (InfluxDB 1.x) on free ports for tests.

Import the fixture into a test module::

    from tests.influx_fixture import influxd  # noqa: F401

Missing ``influxd`` skips the tests locally but fails them when ``CI`` is
set, so the InfluxDB backend is never skipped silently in CI.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.waiting import wait_until


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def influxd_binary() -> str | None:
    """Path of ``influxd``, or ``None``."""
    return shutil.which("influxd") or ("/usr/bin/influxd" if os.access("/usr/bin/influxd", os.X_OK) else None)


def require_influxd() -> str:
    """The binary, or skip (locally) / fail (``CI`` set) with the reason."""
    binary = influxd_binary()
    if binary is None:
        reason = "influxd not installed (Debian package 'influxdb'; ./run.sh test installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the InfluxDB backend tests")
        pytest.skip(reason)
    return binary


def _config(root: Path, http_port: int, rpc_port: int) -> str:
    return f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{root}/meta"
  logging-enabled = false
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
  wal-fsync-delay = "0s"
[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = false
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[retention]
  enabled = false
[subscriber]
  enabled = false
"""


@pytest.fixture(scope="session")
def influxd(tmp_path_factory):
    """Start ``influxd`` with a temporary config; yield its base URL, stop it afterwards."""
    binary = require_influxd()
    root = tmp_path_factory.mktemp("influxd")
    http_port, rpc_port = _free_port(), _free_port()
    conf = root / "influxdb.conf"
    conf.write_text(_config(root, http_port, rpc_port))
    log = open(root / "influxd.log", "wb")
    proc = subprocess.Popen([binary, "run", "-config", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{http_port}"
    def answers() -> bool:
        if proc.poll() is not None:
            tail = (root / "influxd.log").read_text()[-2000:]
            raise RuntimeError(f"influxd exited with {proc.returncode}: {tail}")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=1) as resp:
                return resp.status == 204
        except OSError:
            return False

    try:
        wait_until(answers, 30, 0.1, what=f"influxd to answer /ping on {url}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
