"""The one way tests wait: poll a condition until it holds, or fail naming what did not happen.

A test that needs something to happen (a port to listen, a SUBACK, a
message count, a record at the hub) waits for exactly that with
:func:`wait_until` (or :func:`async_wait_until` inside an event loop),
never with a fixed sleep. The timeout is a generous functional deadline
for a loaded 2-core machine, not a timing assertion: a condition that is
met returns at once, so a long timeout costs nothing when things work.

>>> import itertools
>>> counter = itertools.count()
>>> wait_until(lambda: next(counter) >= 3, timeout=5, interval=0.001, what="three polls")
True
>>> wait_until(lambda: 0, timeout=0.01, interval=0.001, what="a miracle")
Traceback (most recent call last):
...
AssertionError: timed out after 0.01 s waiting for a miracle; last value: 0
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import time
from collections.abc import Callable
from typing import Any


def _timed_out(timeout: float, what: str, value: Any, show: Callable[[], Any] | None) -> AssertionError:
    message = f"timed out after {timeout} s waiting for {what}; last value: {value!r}"
    if show is not None:
        try:
            message += f"; {show()}"
        except Exception as exc:  # the report must not hide the timeout
            message += f"; (could not describe the state: {exc!r})"
    return AssertionError(message)


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, *, what: str,
               show: Callable[[], Any] | None = None) -> Any:
    """Call ``predicate()`` every ``interval`` s until it returns a truthy value, and return that value.

    Parameters
    ----------
    predicate : callable
        No arguments; its result is the observed value (truthy: done).
    timeout : float
        Seconds before giving up.
    interval : float
        Seconds between two calls.
    what : str
        What is awaited, for the failure message ("400 stored messages").
    show : callable, optional
        Called once on timeout; its result (e.g. a source's counters) is
        appended to the message.

    Raises
    ------
    AssertionError
        After ``timeout`` s, naming ``what`` and the last observed value.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _timed_out(timeout, what, value, show)
        time.sleep(interval)


async def async_wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, *,
                           what: str, show: Callable[[], Any] | None = None) -> Any:
    """:func:`wait_until` for coroutines: sleeps with ``asyncio.sleep``; ``predicate`` may be ``async``.

    >>> asyncio.run(async_wait_until(lambda: "ready", what="a constant"))
    'ready'
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() >= deadline:
            raise _timed_out(timeout, what, value, show)
        await asyncio.sleep(interval)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port`` right now (a predicate to wait on)."""
    with socket.socket() as s:
        return s.connect_ex((host, port)) == 0


def wait_in_page(page, expression: str, timeout: float = 30_000, interval: float = 0.1) -> Any:
    """Poll a JavaScript ``expression`` in a Playwright ``page`` until it is truthy; ``timeout`` in ms.

    Playwright's ``page.wait_for_function`` compiles its expression inside
    the page, which a Content-Security-Policy without ``'unsafe-eval'``
    (the hub's) forbids; ``page.evaluate`` is run by the browser's debugging
    protocol instead, so polling it works under the CSP.
    """
    return wait_until(lambda: page.evaluate(expression), timeout / 1000, interval, what=f"in the page: {expression}")
