"""Service functions of the registry (sites, assets, sensors, edges) and of teams and challenges."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.accounts.models import User
from cloud.accounts.scope import Scope
from cloud.domain.models import Asset, Challenge, Edge, Sensor, Site, SiteKind, Team


class RegistryError(ValueError):
    """A registry request that cannot be honoured (duplicate or unknown name); the message says which."""


def _commit(db: Session, what: str) -> None:
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise RegistryError(f"{what} exists already") from None


def create_site(db: Session, slug: str, name: str, kind: SiteKind | str, region: str = "") -> Site:
    """Register a site; ``slug`` is the site segment of its MQTT topics.

    Examples
    --------
    >>> from cloud.domain.db import make_engine, make_sessionmaker, upgrade_database
    >>> engine = make_engine("sqlite://"); upgrade_database(engine)
    >>> with make_sessionmaker(engine)() as db:
    ...     site = create_site(db, "plant-a", "Plant A", "sme", "Attica")
    ...     pump = create_asset(db, "plant-a", "pump-1", "centrifugal pump")
    ...     _ = create_sensor(db, "plant-a", "pump-1", "vib_de", "g", 12000)
    ...     [(a.name, [s.channel for s in a.sensors]) for a in list_assets(db, "plant-a")]
    [('pump-1', ['vib_de'])]
    """
    site = Site(slug=slug, name=name, kind=SiteKind(kind), region=region)
    db.add(site)
    _commit(db, f"site {slug!r}")
    return site


def get_site(db: Session, slug: str) -> Site | None:
    """The site with ``slug``, or ``None``."""
    return db.scalar(select(Site).where(Site.slug == slug))


def list_sites(db: Session, scope: Scope | None = None) -> list[Site]:
    """Sites visible in ``scope`` (all when ``None``), by slug."""
    sites = db.scalars(select(Site).order_by(Site.slug))
    return [s for s in sites if scope is None or scope.site(s.slug)]


def _site(db: Session, slug: str) -> Site:
    site = get_site(db, slug)
    if site is None:
        raise LookupError(f"no site {slug!r}")
    return site


def create_asset(db: Session, site: str, name: str, kind: str = "") -> Asset:
    """Register asset ``name`` at site ``site``; ``name`` is the asset segment of its MQTT topics."""
    asset = Asset(site=_site(db, site), name=name, kind=kind)
    db.add(asset)
    _commit(db, f"asset {name!r} at site {site!r}")
    return asset


def get_asset(db: Session, site: str, name: str) -> Asset | None:
    """The asset ``name`` at ``site``, or ``None``."""
    return db.scalar(select(Asset).join(Site).where(Site.slug == site, Asset.name == name))


def list_assets(db: Session, site: str, scope: Scope | None = None) -> list[Asset]:
    """Registered assets of ``site`` visible in ``scope``, by name."""
    rows = db.scalars(select(Asset).join(Site).where(Site.slug == site).order_by(Asset.name))
    return [a for a in rows if scope is None or scope.asset(site, a.name)]


def create_sensor(db: Session, site: str, asset: str, channel: str, units: str, rate_hz: float) -> Sensor:
    """Register sensor ``channel`` (``units``, ``rate_hz`` samples per second) on an asset."""
    row = get_asset(db, site, asset)
    if row is None:
        raise LookupError(f"no asset {asset!r} at site {site!r}")
    sensor = Sensor(asset=row, channel=channel, units=units, rate_hz=rate_hz)
    db.add(sensor)
    _commit(db, f"sensor {channel!r} on asset {asset!r}")
    return sensor


def create_edge(db: Session, site: str, edge_id: str, public_key_id: str | None = None) -> Edge:
    """Register edge agent ``edge_id`` at ``site`` (``public_key_id``: its device key, if known)."""
    edge = Edge(site=_site(db, site), edge_id=edge_id, public_key_id=public_key_id)
    db.add(edge)
    _commit(db, f"edge {edge_id!r} at site {site!r}")
    return edge


def list_edges(db: Session, site: str) -> list[Edge]:
    """Registered edges of ``site``, by id."""
    return list(db.scalars(select(Edge).join(Site).where(Site.slug == site).order_by(Edge.edge_id)))


def create_team(db: Session, name: str, members: Iterable[User] = ()) -> Team:
    """A team of ``members`` (learners)."""
    team = Team(name=name, members=list(members))
    db.add(team)
    _commit(db, f"team {name!r}")
    return team


def create_challenge(db: Session, name: str, site: str, assets: Iterable[str] = (), teams: Iterable[Team] = (),
                     staff: Iterable[User] = ()) -> Challenge:
    """A challenge at ``site`` on ``assets`` (names at that site), worked by ``teams``, run by ``staff``."""
    row = _site(db, site)
    picked = []
    for name_ in assets:
        a = get_asset(db, site, name_)
        if a is None:
            raise LookupError(f"no asset {name_!r} at site {site!r}")
        picked.append(a)
    challenge = Challenge(name=name, site=row, assets=picked, teams=list(teams), staff=list(staff))
    db.add(challenge)
    _commit(db, f"challenge {name!r}")
    return challenge


def list_challenges(db: Session, scope: Scope | None = None) -> list[Challenge]:
    """Challenges visible in ``scope``, by id."""
    rows = db.scalars(select(Challenge).order_by(Challenge.id))
    return [c for c in rows if scope is None or scope.challenge(c.id)]
