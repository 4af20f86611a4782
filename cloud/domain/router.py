"""Routes of the registry (sites, assets, sensors, edges) and challenges; thin over the service."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status

from cloud.accounts.deps import DB, Anyone, Operator, Principal
from cloud.domain import service
from cloud.domain.models import Challenge
from cloud.domain.schemas import (AssetCreate, AssetPublic, ChallengePublic, EdgeCreate, EdgePublic, SensorCreate,
                                  SensorPublic, SiteCreate, SitePublic)

router = APIRouter(prefix="/api", tags=["registry"])
NOT_FOUND = {404: {"description": "unknown, or outside the caller's scope"}}
CONFLICT = {409: {"description": "exists already"}, 404: {"description": "unknown site or asset"}}


def _visible_site(who: Principal, site: str) -> None:
    if not who.scope.site(site):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no site {site!r} in your scope")


def _registry_call(fn, *args):
    try:
        return fn(*args)
    except service.RegistryError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc.args[0])) from None


@router.get("/sites", response_model=list[SitePublic], summary="Registered sites in the caller's scope")
def sites(db: DB, who: Anyone) -> list[SitePublic]:
    return [SitePublic.model_validate(s) for s in service.list_sites(db, who.scope)]


@router.post("/sites", response_model=SitePublic, status_code=201, responses=CONFLICT,
             summary="Register a site: an SME plant or a lab (hub operators)")
def create_site(db: DB, who: Operator, body: SiteCreate) -> SitePublic:
    site = _registry_call(service.create_site, db, body.slug, body.name, body.kind, body.region)
    return SitePublic.model_validate(site)


@router.get("/sites/{site}/assets", response_model=list[AssetPublic], responses=NOT_FOUND,
            summary="Registered assets of a site with their sensors (only those in scope)")
def site_assets(db: DB, who: Anyone, site: str) -> list[AssetPublic]:
    _visible_site(who, site)
    return [AssetPublic.model_validate(a) for a in service.list_assets(db, site, who.scope)]


@router.post("/sites/{site}/assets", response_model=AssetPublic, status_code=201, responses=CONFLICT,
             summary="Register an asset at a site (hub operators)")
def create_asset(db: DB, who: Operator, site: str, body: AssetCreate) -> AssetPublic:
    return AssetPublic.model_validate(_registry_call(service.create_asset, db, site, body.name, body.kind))


@router.post("/sites/{site}/assets/{asset}/sensors", response_model=SensorPublic, status_code=201,
             responses=CONFLICT, summary="Register a sensor channel of an asset (hub operators)")
def create_sensor(db: DB, who: Operator, site: str, asset: str, body: SensorCreate) -> SensorPublic:
    row = _registry_call(service.create_sensor, db, site, asset, body.channel, body.units, body.rate_hz)
    return SensorPublic.model_validate(row)


@router.get("/sites/{site}/edges", response_model=list[EdgePublic], responses=NOT_FOUND,
            summary="Registered edges of a site with their live status")
def site_edges(request: Request, db: DB, who: Anyone, site: str) -> list[EdgePublic]:
    _visible_site(who, site)
    live = {e["edge"]: e for e in request.app.state.store.edges() if e["site"] == site}
    return [EdgePublic(id=e.id, site=site, edge_id=e.edge_id, public_key_id=e.public_key_id,
                       status=live.get(e.edge_id)) for e in service.list_edges(db, site)]


@router.post("/sites/{site}/edges", response_model=EdgePublic, status_code=201, responses=CONFLICT,
             summary="Register an edge agent of a site (hub operators)")
def create_edge(db: DB, who: Operator, site: str, body: EdgeCreate) -> EdgePublic:
    e = _registry_call(service.create_edge, db, site, body.edge_id, body.public_key_id)
    return EdgePublic(id=e.id, site=site, edge_id=e.edge_id, public_key_id=e.public_key_id)


def _challenge(c: Challenge) -> ChallengePublic:
    return ChallengePublic(id=c.id, name=c.name, site=c.site.slug, assets=[a.name for a in c.assets],
                           teams={t.name: [m.id for m in t.members] for t in c.teams},
                           staff=[u.id for u in c.staff])


@router.get("/challenges", response_model=list[ChallengePublic], tags=["challenges"],
            summary="Challenges in the caller's scope (a learner: their teams' challenges)")
def challenges(db: DB, who: Anyone) -> list[ChallengePublic]:
    return [_challenge(c) for c in service.list_challenges(db, who.scope)]
