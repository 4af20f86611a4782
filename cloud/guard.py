"""HTTP guards of the hub: a request body limit, bounded numbers, the security headers of every response.

Both are plain ASGI middleware (no framework below them knows), installed by
:func:`cloud.hub.create_app` around the whole app, so nothing a route does
can forget them.

- :class:`BodyLimit` answers **413** to a body over ``max_bytes``: at once
  when ``Content-Length`` says so, and, for a chunked body (no length), as
  soon as the bytes received pass the limit; the route never sees the rest.
- :class:`SecurityHeaders` adds a strict Content-Security-Policy
  (``default-src 'self'``; scripts only from the hub's own files, no inline
  script or style, no ``eval``; no framing), ``X-Frame-Options: DENY``,
  ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``
  to every response, errors included.
- :func:`bounded_numbers`, a dependency of every route, answers **422**
  (a validation error naming the parameter) to an integer in the path or
  the query beyond :data:`MAX_INT` (the databases' 64-bit integer): ids
  and timestamps that large exist nowhere, and the SQLite driver would
  raise on them.

Examples
--------
>>> CSP.split("; ")[:2]
["default-src 'self'", "script-src 'self'"]
"""

from __future__ import annotations

import json
import re

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

#: Largest request body the hub reads (bytes); every JSON document it takes is far below.
MAX_BODY_BYTES = 1 << 20

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",  # plotly draws its images from data: URLs
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY"),
           (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
           (b"cross-origin-opener-policy", b"same-origin")]


#: Largest integer a path or query parameter may carry (signed 64-bit, the databases' integer).
MAX_INT = (1 << 63) - 1
_INTEGER = re.compile(r"^[+-]?\d{19,}$")


def bounded_numbers(request: Request) -> None:
    """Refuse (422, naming the parameter) integers in the path or query beyond :data:`MAX_INT`.

    Examples
    --------
    >>> from starlette.requests import Request
    >>> req = Request({"type": "http", "query_string": b"since=99999999999999999999", "path_params": {"id": "7"}})
    >>> bounded_numbers(req)
    Traceback (most recent call last):
    ...
    fastapi.exceptions.RequestValidationError: 1 validation error:
      {'type': 'less_than_equal', 'loc': ('query', 'since'), 'msg': 'Input should be less than or equal to 9223372036854775807', 'input': '99999999999999999999', 'ctx': {'le': 9223372036854775807}}
    <BLANKLINE>
    """
    errors = []
    for where, items in (("path", request.path_params.items()), ("query", request.query_params.multi_items())):
        for name, value in items:
            if isinstance(value, str) and _INTEGER.match(value) and abs(int(value)) > MAX_INT:
                bound, kind = (MAX_INT, "less_than_equal") if int(value) > 0 else (-MAX_INT, "greater_than_equal")
                op = "less than or equal to" if bound > 0 else "greater than or equal to"
                errors.append({"type": kind, "loc": (where, name), "msg": f"Input should be {op} {bound}",
                               "input": value, "ctx": {"le" if bound > 0 else "ge": bound}})
    if errors:
        raise RequestValidationError(errors)


class _TooLarge(HTTPException):
    """Raised from ``receive``: the framework answers it as 413, or :class:`BodyLimit` does."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds {limit} bytes")


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with 413 (declared or chunked).

    Parameters
    ----------
    app : ASGI app
        What it guards.
    max_bytes : int
        The limit.
    """

    def __init__(self, app, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                await _answer(send, 400, "Content-Length is not a number")
                return
            if too_large:
                await _answer(send, 413, f"request body of {int(declared)} bytes exceeds {self.max_bytes}")
                return
        received = 0
        started = False

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _answer(send, 413, f"request body exceeds {self.max_bytes} bytes")


async def _answer(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *HEADERS]})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """ASGI middleware: the headers of :data:`HEADERS` on every HTTP response (a route's own win)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message):
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *[(k, v) for k, v in HEADERS if k not in have]]}
            await send(message)

        await self.app(scope, receive, with_headers)
