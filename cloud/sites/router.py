"""Routes of the registry: sites, assets, sensors and edges; thin over :mod:`cloud.sites.service`."""

from __future__ import annotations

from fastapi import APIRouter, Request

from cloud.access import DB, Anyone, Operator, Principal
from cloud.errors import NotFound
from cloud.sites import service
from cloud.sites.schemas import (AssetCreate, AssetPublic, EdgeCreate, EdgePublic, SensorCreate, SensorPublic,
                                 SiteCreate, SitePublic)

router = APIRouter(prefix="/api", tags=["registry"])
NOT_FOUND = {404: {"description": "unknown, or outside the caller's scope"}}
CONFLICT = {409: {"description": "exists already"}, 404: {"description": "unknown site or asset"}}


def _visible_site(who: Principal, site: str) -> None:
    if not who.scope.site(site):
        raise NotFound(f"no site {site!r} in your scope")


@router.get("/sites", response_model=list[SitePublic], summary="Registered sites in the caller's scope")
def sites(db: DB, who: Anyone) -> list[SitePublic]:
    return [SitePublic.model_validate(s) for s in service.list_sites(db, who.scope)]


@router.post("/sites", response_model=SitePublic, status_code=201, responses=CONFLICT,
             summary="Register a site: an SME plant or a lab (hub operators)")
def create_site(db: DB, who: Operator, body: SiteCreate) -> SitePublic:
    return SitePublic.model_validate(service.create_site(db, body.slug, body.name, body.kind, body.region))


@router.get("/sites/{site}/assets", response_model=list[AssetPublic], responses=NOT_FOUND,
            summary="Registered assets of a site with their sensors (only those in scope)")
def site_assets(db: DB, who: Anyone, site: str) -> list[AssetPublic]:
    _visible_site(who, site)
    return [AssetPublic.model_validate(a) for a in service.list_assets(db, site, who.scope)]


@router.post("/sites/{site}/assets", response_model=AssetPublic, status_code=201, responses=CONFLICT,
             summary="Register an asset at a site (hub operators)")
def create_asset(db: DB, who: Operator, site: str, body: AssetCreate) -> AssetPublic:
    return AssetPublic.model_validate(service.create_asset(db, site, body.name, body.kind))


@router.post("/sites/{site}/assets/{asset}/sensors", response_model=SensorPublic, status_code=201,
             responses=CONFLICT, summary="Register a sensor channel of an asset (hub operators)")
def create_sensor(db: DB, who: Operator, site: str, asset: str, body: SensorCreate) -> SensorPublic:
    return SensorPublic.model_validate(service.create_sensor(db, site, asset, body.channel, body.units, body.rate_hz))


@router.get("/sites/{site}/edges", response_model=list[EdgePublic], responses=NOT_FOUND,
            summary="Registered edges of a site with their live status")
def site_edges(request: Request, db: DB, who: Anyone, site: str) -> list[EdgePublic]:
    _visible_site(who, site)
    return service.edges_with_status(db, site, request.app.state.store.edges())


@router.post("/sites/{site}/edges", response_model=EdgePublic, status_code=201, responses=CONFLICT,
             summary="Register an edge agent of a site (hub operators)")
def create_edge(db: DB, who: Operator, site: str, body: EdgeCreate) -> EdgePublic:
    e = service.create_edge(db, site, body.edge_id, body.public_key_id)
    return EdgePublic(id=e.id, site=site, edge_id=e.edge_id, public_key_id=e.public_key_id)
