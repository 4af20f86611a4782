"""Errors the hub's services raise, and the HTTP answer each becomes.

Services raise these (or subclasses of their own, like
``RegistryError(Conflict)``) with a message that names the field, the
value and what was expected; :func:`install_handlers` makes FastAPI
answer each with its :attr:`DomainError.status` and ``{"detail": message}``,
so routes hold no ``try``/``except``. Each also derives from the built-in
exception a caller would expect (``LookupError``, ``PermissionError``,
``ValueError``), so code that is not a route can catch those.

Examples
--------
>>> NotFound("no site 'plant-b'").status, issubclass(NotFound, LookupError)
(404, True)
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError


class DomainError(Exception):
    """A request the hub cannot honour; ``status`` is its HTTP answer."""

    status = 400


class NotFound(DomainError, LookupError):
    """Unknown, or outside the caller's scope (the hub answers both alike)."""

    status = 404


class Forbidden(DomainError, PermissionError):
    """The caller is known but may not do this."""

    status = 403


class Conflict(DomainError, ValueError):
    """The state of what is addressed does not allow it (a duplicate, a closed session...)."""

    status = 409


class Invalid(DomainError, ValueError):
    """The request's content is wrong; the message names the field."""

    status = 422


class Unavailable(DomainError):
    """Something the request needs is missing or unreachable (a key, the broker, a runner)."""

    status = 503


def install_handlers(app: FastAPI) -> None:
    """Answer every :class:`DomainError` raised under ``app`` with its status and message."""

    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    async def out_of_range(request: Request, exc: Exception) -> JSONResponse:
        # a value of the request nothing downstream can hold: an id past 64 bits in a JSON body (SQLite
        # raises OverflowError when binding it, PostgreSQL a DataError), a date past datetime's range; path
        # and query integers are refused before the route (cloud.guard.bounded_numbers)
        return JSONResponse({"detail": f"a value in the request is out of range ({type(exc).__name__}; "
                                       "integers are signed 64-bit, dates within years 1..9999)"}, status_code=422)

    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(OverflowError, out_of_range)
    app.add_exception_handler(DataError, out_of_range)


#: OpenAPI ``responses`` entries for routes whose services raise these errors.
ERROR_RESPONSES = {404: {"description": "unknown, or outside the caller's scope"},
                   409: {"description": "the state of what is addressed does not allow it"},
                   422: {"description": "invalid request; the message names the field"}}
