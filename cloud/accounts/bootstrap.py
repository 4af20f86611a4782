"""Start-up of the relational domain inside the hub: migrate, bootstrap accounts, annotate routes."""

from __future__ import annotations

import logging
import secrets

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import select

from cloud.accounts.deps import route_roles
from cloud.accounts.models import Role, User
from cloud.accounts.router import DEMO_MENTOR
from cloud.accounts.service import ensure_user
from cloud.domain import service as registry
from cloud.domain.db import make_engine, make_sessionmaker, upgrade_database
from cloud.domain.models import Challenge, SiteKind

log = logging.getLogger(__name__)
GATE_RESPONSES = {401: {"description": "no bearer token, or it is unknown, expired or revoked"},
                  403: {"description": "the caller's roles are not admitted here"}}


def setup_domain(app: FastAPI, settings) -> None:
    """Migrate the domain database, create the bootstrap users, and attach engine/sessions to ``app.state``.

    Sets ``app.state.settings``, ``app.state.domain_engine`` and ``app.state.sessions``.
    """
    engine = make_engine(settings.resolved_domain_url())
    upgrade_database(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as db:
        if settings.admin_email:
            ensure_user(db, settings.admin_email, settings.admin_password.get_secret_value(), [Role.hub_operator],
                        "hub operator (bootstrap)")
        if settings.mode == "demo":
            mentor = ensure_user(db, DEMO_MENTOR, secrets.token_urlsafe(24), [Role.mentor], "Demo mentor")
            for slug in settings.demo_sites:
                if registry.get_site(db, slug) is None:
                    registry.create_site(db, slug, f"Demo {slug}", SiteKind.lab)
                name = f"Demo challenge at {slug}"
                if db.scalar(select(Challenge.id).where(Challenge.name == name)) is None:
                    registry.create_challenge(db, name, slug, staff=[mentor])
        if db.scalar(select(User.id).limit(1)) is None:
            log.warning("the hub has no user: set TEACHFAB_HUB_ADMIN_EMAIL/PASSWORD or run "
                        "'teachfab hub create-user'")
    app.state.settings, app.state.domain_engine, app.state.sessions = settings, engine, sessions


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
