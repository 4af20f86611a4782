"""Service functions of the registry: sites, assets, sensors and edges."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.errors import Conflict, NotFound
from cloud.scope import Scope
from cloud.sites.models import Asset, Edge, Sensor, Site, SiteKind
from cloud.sites.schemas import EdgePublic


class RegistryError(Conflict):
    """A registry request that cannot be honoured (a duplicate name); the message says which."""


def commit_new(db: Session, what: str) -> None:
    """Commit rows just added; a unique constraint refusing them becomes :class:`RegistryError` naming ``what``."""
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise RegistryError(f"{what} exists already") from None


def create_site(db: Session, slug: str, name: str, kind: SiteKind | str, region: str = "") -> Site:
    """Register a site; ``slug`` is the site segment of its MQTT topics.

    Examples
    --------
    >>> from cloud.database import make_engine, make_sessionmaker, upgrade_database
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
    commit_new(db, f"site {slug!r}")
    return site


def get_site(db: Session, slug: str) -> Site | None:
    """The site with ``slug``, or ``None``."""
    return db.scalar(select(Site).where(Site.slug == slug))


def list_sites(db: Session, scope: Scope | None = None) -> list[Site]:
    """Sites visible in ``scope`` (all when ``None``), by slug."""
    sites = db.scalars(select(Site).order_by(Site.slug))
    return [s for s in sites if scope is None or scope.site(s.slug)]


def require_site(db: Session, slug: str) -> Site:
    """The site with ``slug``; :class:`~cloud.errors.NotFound` when there is none."""
    site = get_site(db, slug)
    if site is None:
        raise NotFound(f"no site {slug!r}")
    return site


def create_asset(db: Session, site: str, name: str, kind: str = "") -> Asset:
    """Register asset ``name`` at site ``site``; ``name`` is the asset segment of its MQTT topics."""
    asset = Asset(site=require_site(db, site), name=name, kind=kind)
    db.add(asset)
    commit_new(db, f"asset {name!r} at site {site!r}")
    return asset


def get_asset(db: Session, site: str, name: str) -> Asset | None:
    """The asset ``name`` at ``site``, or ``None``."""
    return db.scalar(select(Asset).join(Site).where(Site.slug == site, Asset.name == name))


def require_asset(db: Session, site: str, name: str) -> Asset:
    """The asset ``name`` at ``site``; :class:`~cloud.errors.NotFound` when there is none."""
    asset = get_asset(db, site, name)
    if asset is None:
        raise NotFound(f"no asset {name!r} at site {site!r}")
    return asset


def list_assets(db: Session, site: str, scope: Scope | None = None) -> list[Asset]:
    """Registered assets of ``site`` visible in ``scope``, by name."""
    rows = db.scalars(select(Asset).join(Site).where(Site.slug == site).order_by(Asset.name))
    return [a for a in rows if scope is None or scope.asset(site, a.name)]


def create_sensor(db: Session, site: str, asset: str, channel: str, units: str, rate_hz: float) -> Sensor:
    """Register sensor ``channel`` (``units``, ``rate_hz`` samples per second) on an asset."""
    sensor = Sensor(asset=require_asset(db, site, asset), channel=channel, units=units, rate_hz=rate_hz)
    db.add(sensor)
    commit_new(db, f"sensor {channel!r} on asset {asset!r}")
    return sensor


def create_edge(db: Session, site: str, edge_id: str, public_key_id: str | None = None) -> Edge:
    """Register edge agent ``edge_id`` at ``site`` (``public_key_id``: its device key, if known)."""
    edge = Edge(site=require_site(db, site), edge_id=edge_id, public_key_id=public_key_id)
    db.add(edge)
    commit_new(db, f"edge {edge_id!r} at site {site!r}")
    return edge


def edge_registered(db: Session, site: str, edge_id: str) -> bool:
    """Whether edge ``edge_id`` is registered at ``site``."""
    return db.scalar(select(Edge.id).join(Site).where(Site.slug == site, Edge.edge_id == edge_id)) is not None


def list_edges(db: Session, site: str) -> list[Edge]:
    """Registered edges of ``site``, by id."""
    return list(db.scalars(select(Edge).join(Site).where(Site.slug == site).order_by(Edge.edge_id)))


def edges_with_status(db: Session, site: str, live: list[dict]) -> list[EdgePublic]:
    """Registered edges of ``site`` with their last retained status from ``live`` (the telemetry store's edges)."""
    status = {e["edge"]: e for e in live if e["site"] == site}
    return [EdgePublic(id=e.id, site=site, edge_id=e.edge_id, public_key_id=e.public_key_id,
                       status=status.get(e.edge_id)) for e in list_edges(db, site)]
