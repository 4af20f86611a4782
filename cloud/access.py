"""Who is calling: roles, the bearer-token principal, role gates and the database session of a request.

Every ``/api`` route that is not public declares ``who: Annotated[Principal, RoleGate(...)]``
(or one of the aliases below); the gate answers 401 without a valid token and 403
for a role it does not admit. :func:`route_roles` reads the gate back, so the
OpenAPI document (:func:`annotate_routes`) and the access tests know each route's rule.

This module sits below every area of the hub, so each area's router can use
it: it knows no table. Turning a token into a :class:`Principal` needs the
accounts (who owns the token) and the challenges (what they may see), so the
app hands in that function as ``app.state.authenticate``
(:data:`Authenticator`; the hub builds it with
:func:`cloud.accounts.service.authenticator`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from cloud.scope import Scope


class Role(str, enum.Enum):
    """Roles of DESIGN.md "Security"; a user holds one or more."""

    learner = "learner"
    mentor = "mentor"
    assessor = "assessor"
    hub_operator = "hub_operator"
    sme_partner = "sme_partner"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: who, which roles, what they may see."""

    user_id: int
    email: str
    roles: frozenset[Role]
    scope: Scope
    token: str


#: Turns a bearer token into its :class:`Principal`, or ``None`` when it is unknown, expired or revoked.
Authenticator = Callable[[Session, str], Principal | None]
GATE_RESPONSES = {401: {"description": "no bearer token, or it is unknown, expired or revoked"},
                  403: {"description": "the caller's roles are not admitted here"}}

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False,
                              scheme_name="bearer", description="Bearer token from POST /api/auth/token")


def get_db(request: Request) -> Iterator[Session]:
    """One session of the relational domain per request."""
    with request.app.state.sessions() as db:
        yield db


DB = Annotated[Session, Depends(get_db)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def current_principal(request: Request, db: DB, token: Annotated[str | None, Depends(oauth2)]) -> Principal:
    """Resolve the bearer token; 401 when it is missing, unknown, expired or its user inactive."""
    if not token:
        raise _unauthorized("not authenticated: send 'Authorization: Bearer <token>' from POST /api/auth/token")
    authenticate: Authenticator = request.app.state.authenticate
    who = authenticate(db, token)
    if who is None:
        raise _unauthorized("token unknown, expired or revoked; log in again")
    request.state.principal = who  # the access log (cloud/governance/access_log.py) reads who read what
    # hand the connection back now: a long-lived response (the live stream) must not hold one;
    # the session stays usable and checks a connection out again if the route queries
    db.close()
    return who


class RoleGate:
    """Dependency admitting callers holding any of ``roles`` (403 otherwise).

    Examples
    --------
    >>> RoleGate(Role.hub_operator).roles
    (<Role.hub_operator: 'hub_operator'>,)
    """

    def __init__(self, *roles: Role) -> None:
        self.roles = tuple(roles) or tuple(Role)

    def __call__(self, who: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not who.roles & set(self.roles):
            need = ", ".join(r.value for r in self.roles)
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs one of the roles: {need}")
        return who


ANYONE = RoleGate()
STAFF = RoleGate(Role.hub_operator, Role.mentor, Role.assessor)
OPERATOR = RoleGate(Role.hub_operator)

Anyone = Annotated[Principal, Depends(ANYONE)]
Staff = Annotated[Principal, Depends(STAFF)]
Operator = Annotated[Principal, Depends(OPERATOR)]


def api_routes(app) -> list[tuple[str, str, APIRoute]]:
    """Every (method, path, route) of ``app``'s API routes, included routers flattened."""
    try:
        from fastapi.routing import iter_route_contexts
        contexts = [(c.path, c.methods, c.original_route) for c in iter_route_contexts(app.routes)]
    except ImportError:  # FastAPI without included-router contexts: routes are flat
        contexts = [(r.path, getattr(r, "methods", None), r) for r in app.routes]
    return sorted((m, path, route) for path, methods, route in contexts if isinstance(route, APIRoute)
                  for m in methods or ())


def route_roles(route: APIRoute) -> tuple[Role, ...] | None:
    """Roles the route's :class:`RoleGate` admits, or ``None`` when the route is public."""
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, RoleGate):
            return dep.call.roles
        stack.extend(dep.dependencies)
    return None


def annotate_routes(router: APIRouter) -> APIRouter:
    """Write each route's admitted roles into its OpenAPI description and ``x-roles`` (idempotent).

    Call on a router before including it in an app.
    """
    for route in router.routes:
        if not isinstance(route, APIRoute) or "x-roles" in (route.openapi_extra or {}):
            continue
        roles = route_roles(route)
        names = [r.value for r in roles] if roles else []
        note = f"Roles: {', '.join(names)}." if roles else "Public: no token needed."
        route.description = f"{route.description}\n\n{note}".strip() if route.description else note
        route.openapi_extra = {**(route.openapi_extra or {}), "x-roles": names}
        if roles:
            route.responses = {**GATE_RESPONSES, **route.responses}
    return router
