"""Routes of onboarding: kits (hub operators), onboarding records (operators; SME partners their own),
nameplates and the Asset Administration Shell of assets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from cloud.access import DB, Anyone, Operator, Principal, Role, RoleGate
from cloud.errors import NotFound, Unavailable
from cloud.onboarding import assets
from cloud.onboarding import kits as kit_views
from cloud.onboarding import records
from cloud.onboarding.kits import KitService
from cloud.onboarding.schemas import (AasExport, AasImport, KitCreate, KitIssued, KitPublic, NameplateIn,
                                       OnboardingPublic)
from cloud.sites.schemas import AssetPublic
from cloud.sites import service as registry

router = APIRouter(prefix="/api", tags=["onboarding"])
Companies = Annotated[Principal, Depends(RoleGate(Role.hub_operator, Role.sme_partner))]
NOT_FOUND = {404: {"description": "unknown, or outside the caller's scope"}}
KIT_ERRORS = {404: {"description": "unknown site or kit"}, 409: {"description": "the edge has an active kit, "
              "or the kit is revoked"}, 422: {"description": "the mapping names an unregistered asset, or a bad "
                                                            "pipeline"}, 503: {"description": "broker not reloadable"}}


def kit_service(request: Request) -> KitService:
    """The hub's :class:`KitService`; a FastAPI dependency."""
    return request.app.state.kits


Kits = Annotated[KitService, Depends(kit_service)]


def _reloading(action):
    try:
        return action()
    except RuntimeError as exc:  # mosquitto_passwd missing, or the broker could not be signalled
        raise Unavailable(f"the kit is stored but the broker was not updated: {exc}") from None


@router.get("/onboarding", response_model=list[OnboardingPublic],
            summary="Onboarding of every SME site in scope: steps, days used of the 8-week target, overdue")
def onboarding(db: DB, who: Companies) -> list[OnboardingPublic]:
    return records.visible(db, who.scope)


@router.get("/onboarding/{site}", response_model=OnboardingPublic, responses=NOT_FOUND,
            summary="Onboarding of one site")
def site_onboarding(db: DB, who: Companies, site: str) -> OnboardingPublic:
    found = registry.get_site(db, site)
    if found is None or not who.scope.whole_site(site):
        raise NotFound(f"no site {site!r} in your scope")
    return records.view(db, found)


@router.get("/kits", response_model=list[KitPublic], responses=NOT_FOUND,
            summary="Issued kits, newest first (hub operators)")
def list_kits(db: DB, who: Operator, kits: Kits, site: str | None = Query(None)) -> list[KitPublic]:
    return [kit_views.public(k) for k in kits.list(db, site)]


@router.post("/kits", response_model=KitIssued, status_code=201, responses=KIT_ERRORS,
             summary="Issue a starter kit for an edge of a site: config, hub key, its own broker user (hub operators)")
def create_kit(db: DB, who: Operator, kits: Kits, body: KitCreate) -> KitIssued:
    kit, archive = _reloading(lambda: kits.create(db, body, who.user_id))
    return kit_views.issued(kit, archive)


@router.post("/kits/{kit_id}/revoke", response_model=KitPublic, responses=KIT_ERRORS,
             summary="Revoke a kit: its broker user is removed and the broker reloaded at once (hub operators)")
def revoke_kit(db: DB, who: Operator, kits: Kits, kit_id: int) -> KitPublic:
    return kit_views.public(_reloading(lambda: kits.revoke(db, kit_id)))


@router.post("/kits/{kit_id}/reissue", response_model=KitIssued, status_code=201, responses=KIT_ERRORS,
             summary="Re-issue a kit with new broker credentials; the old ones stop working (hub operators)")
def reissue_kit(db: DB, who: Operator, kits: Kits, kit_id: int) -> KitIssued:
    kit, archive = _reloading(lambda: kits.reissue(db, kit_id, who.user_id))
    return kit_views.issued(kit, archive)


@router.put("/sites/{site}/assets/{asset}/nameplate", response_model=NameplateIn, responses=NOT_FOUND,
            summary="Set what the maker's plate says of an asset (the AAS nameplate; hub operators)")
def put_nameplate(db: DB, who: Operator, site: str, asset: str, body: NameplateIn) -> NameplateIn:
    return NameplateIn.model_validate(assets.set_nameplate(db, site, asset, body))


@router.get("/assets/{site}/{asset}/aas", response_model=AasExport, responses=NOT_FOUND,
            summary="The asset's Asset Administration Shell (IDTA AAS v3): JSON environment and AASX package")
def asset_aas(request: Request, db: DB, who: Anyone, site: str, asset: str) -> AasExport:
    if not who.scope.asset(site, asset):
        raise NotFound(f"no asset {asset!r} at site {site!r} in your scope")
    return assets.export(db, request.app.state.store, site, asset, request.app.state.settings.public_url or "")


@router.post("/sites/{site}/aas", response_model=AssetPublic, status_code=201,
             responses={**NOT_FOUND, 409: {"description": "an asset of that name exists"},
                        422: {"description": "not a valid AASX package"}},
             summary="Register an asset from an AASX package (its first shell and nameplate; hub operators)")
def import_aas(db: DB, who: Operator, site: str, body: AasImport) -> AssetPublic:
    return AssetPublic.model_validate(assets.import_aasx(db, site, body.aasx_b64, body.name))
