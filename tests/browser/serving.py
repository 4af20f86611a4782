"""A hub app served under uvicorn for a browser test, and the pages' log-in form."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import uvicorn

from tests.servers import free_port
from tests.waiting import wait_until


@contextlib.contextmanager
def served(app) -> Iterator[str]:
    """``app`` under uvicorn on a free 127.0.0.1 port for the block; yields its base URL (no trailing slash)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=20, what="the hub to serve")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def log_in(page, url: str, email: str, password: str) -> None:
    """Open ``url`` and log in through the page's form (common.js)."""
    page.goto(url)
    page.fill("#login-email", email)
    page.fill("#login-password", password)
    page.click("#login button[type=submit]")
