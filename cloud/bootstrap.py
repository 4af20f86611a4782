"""Start-up of the hub's relational domain: migrate, then create the accounts the settings ask for.

- the bootstrap hub operator (``TEACHFAB_HUB_ADMIN_EMAIL``/``_PASSWORD``);
- in demo mode, the demo mentor with a challenge at each demo site, so the
  mentor page of ``teachfab demo`` shows the demo's telemetry.
"""

from __future__ import annotations

import logging
import secrets

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.access import Role
from cloud.accounts.models import User
from cloud.accounts.service import DEMO_MENTOR, ensure_user
from cloud.challenges import teams
from cloud.challenges.models import Challenge
from cloud.database import make_engine, make_sessionmaker, upgrade_database
from cloud.settings import HubSettings
from cloud.sites import service as registry
from cloud.sites.models import SiteKind

log = logging.getLogger(__name__)


def open_domain(settings: HubSettings) -> tuple[Engine, sessionmaker[Session]]:
    """Migrate the domain database of ``settings`` and create its bootstrap accounts; return engine and sessions."""
    engine = make_engine(settings.resolved_domain_url())
    upgrade_database(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as db:
        if settings.admin_email:
            ensure_user(db, settings.admin_email, settings.admin_password.get_secret_value(), [Role.hub_operator],
                        "hub operator (bootstrap)")
        if settings.mode == "demo":
            _demo_mentor(db, settings.demo_sites)
        if db.scalar(select(User.id).limit(1)) is None:
            log.warning("the hub has no user: set TEACHFAB_HUB_ADMIN_EMAIL/PASSWORD or run "
                        "'teachfab hub create-user'")
    return engine, sessions


def _demo_mentor(db: Session, sites: list[str]) -> None:
    mentor = ensure_user(db, DEMO_MENTOR, secrets.token_urlsafe(24), [Role.mentor], "Demo mentor")
    for slug in sites:
        if registry.get_site(db, slug) is None:
            registry.create_site(db, slug, f"Demo {slug}", SiteKind.lab)
        name = f"Demo challenge at {slug}"
        if db.scalar(select(Challenge.id).where(Challenge.name == name)) is None:
            teams.create_challenge(db, name, slug, staff=[mentor])
