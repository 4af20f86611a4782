"""Shared fixtures: free ports and a real Mosquitto broker per test."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Block until something accepts TCP connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


class Mosquitto:
    """A real Mosquitto on a free port with a throw-away config."""

    def __init__(self, workdir: Path) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(exe).exists():
            raise RuntimeError("mosquitto is not installed; ./run.sh test installs it")
        self.port = free_port()
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            # Mosquitto's default of 1000 queued QoS 1 messages per client silently drops the rest
            # when a subscriber falls behind a burst; deploy/mosquitto.conf raises it the same way
            "max_queued_messages 200000\n"
            "log_dest stderr\nlog_type error\nlog_type warning\n"
        )
        self.log = open(workdir / "mosquitto.log", "wb")
        self.proc = subprocess.Popen([exe, "-c", str(self.conf)], stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def mosquitto(tmp_path):
    """Start a Mosquitto broker for one test and stop it afterwards."""
    broker = Mosquitto(tmp_path)
    yield broker
    broker.stop()


async def collect_samples(source, seconds: float, channel: str | None = None) -> list:
    """Every Sample ``source`` yields within ``seconds`` (only ``channel`` if given)."""
    out = []

    async def run():
        async for s in source.samples():
            if channel is None or s.channel == channel:
                out.append(s)

    task = asyncio.create_task(run())
    await asyncio.sleep(seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return out


#: The hub operator test hubs bootstrap (``HubSettings(**OPERATOR)``); the API needs a bearer token.
OPERATOR = {"admin_email": "operator@lab.example", "admin_password": "test-operator-passphrase"}


async def login_operator(http) -> None:
    """Log an ``httpx.AsyncClient`` in as :data:`OPERATOR` (sets its Authorization header)."""
    form = {"username": OPERATOR["admin_email"], "password": OPERATOR["admin_password"]}
    token = (await http.post("/api/auth/token", data=form)).raise_for_status().json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"
