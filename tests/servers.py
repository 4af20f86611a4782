"""Real servers and helpers the tests share: free ports, Mosquitto, sample collection, the test operator."""

from __future__ import annotations

import asyncio
import getpass
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.waiting import async_wait_until, port_open, wait_until


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def persistence_lines(directory: Path) -> str:
    """Mosquitto configuration lines that keep sessions and queued messages in ``directory``.

    Started as root, Mosquitto switches to the user ``mosquitto``, who cannot
    write a test's directory: it then saves nothing at shutdown and every
    session is gone after a restart. ``user`` keeps it the current user.
    """
    return f"persistence true\npersistence_location {directory}/\nuser {getpass.getuser()}\n"


class Mosquitto:
    """A real Mosquitto on a free port with a throw-away config.

    ``persistence`` keeps sessions and queued messages in ``workdir`` across a
    :meth:`restart` (Mosquitto saves them when it stops).
    """

    def __init__(self, workdir: Path, persistence: bool = False) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(exe).exists():
            raise RuntimeError("mosquitto is not installed; ./run.sh test installs it")
        self.exe, self.workdir = exe, workdir
        self.port = free_port()
        self.conf = workdir / "mosquitto.conf"
        keep = persistence_lines(workdir) if persistence else "persistence false\n"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n{keep}"
            # Mosquitto's default of 1000 queued QoS 1 messages per client silently drops the rest
            # when a subscriber falls behind a burst; deploy/mosquitto.conf raises it the same way
            "max_queued_messages 200000\n"
            "log_dest stderr\nlog_type error\nlog_type warning\n"
        )
        self.log = open(workdir / "mosquitto.log", "ab")
        self._run()

    def _run(self) -> None:
        self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: port_open(self.port), 10, what=f"Mosquitto listening on 127.0.0.1:{self.port}")

    def pause(self) -> None:
        """Stop the broker (SIGTERM: with persistence it saves its state) and keep the port for :meth:`resume`."""
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def resume(self) -> None:
        """Start the broker again on the same port and configuration."""
        self._run()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.log.close()


async def collect_samples(source, until: Callable[[list], object], timeout: float = 30.0,
                          channel: str | None = None, what: str = "the samples") -> list:
    """The Samples ``source`` yields (only ``channel`` if given) until ``until(samples)`` holds.

    Fails (``AssertionError`` naming ``what`` and the source's counters)
    when ``until`` does not hold within ``timeout`` s, or with the
    source's own error if it stops.
    """
    out: list = []

    async def run():
        async for s in source.samples():
            if channel is None or s.channel == channel:
                out.append(s)

    def done():
        if task.done():
            task.result()  # the source ended or failed: raise its error here
            raise AssertionError(f"the source stopped before {what}")
        return until(out)

    task = asyncio.create_task(run())
    try:
        await async_wait_until(done, timeout, what=what, show=lambda: f"{len(out)} samples, stats {source.stats()}")
    finally:
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
