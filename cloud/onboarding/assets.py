"""Nameplates and the Asset Administration Shell of registered assets: gather the facts, export, import."""

from __future__ import annotations

import base64
import binascii
import json
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.errors import Invalid
from cloud.onboarding import aas
from cloud.onboarding.models import Kit, Nameplate
from cloud.onboarding.schemas import AasExport, NameplateIn
from cloud.sites import service as registry
from cloud.sites.models import Asset

_NOT_FEATURES = {"ts", "score", "threshold", "learning"}
ALERT_HORIZON_NS = 3600 * 10**9  # alerts of the last hour count as active


def set_nameplate(db: Session, site: str, asset: str, body: NameplateIn) -> Nameplate:
    """Store (replace) the nameplate of a registered asset."""
    found = registry.require_asset(db, site, asset)
    plate = db.get(Nameplate, found.id) or Nameplate(asset_id=found.id)
    for key, value in body.model_dump(mode="json").items():
        setattr(plate, key, value)
    db.add(plate)
    db.commit()
    return plate


def _edge_of(db: Session, found: Asset) -> tuple[str | None, dict]:
    """The edge of the asset's active kit (else any kit), and the kit's pipeline of the asset."""
    kits = db.scalars(select(Kit).where(Kit.site_id == found.site_id).order_by(Kit.revoked_at.is_not(None), Kit.id.desc()))
    for kit in kits:
        if any(s["asset"] == found.name for s in kit.spec["sources"]):
            return kit.edge_id, kit.spec.get("pipelines", {}).get(found.name, {})
    return None, {}


def export(db: Session, store, site: str, asset: str, hub_url: str = "") -> AasExport:
    """The asset's shell as JSON environment and AASX package."""
    found = registry.require_asset(db, site, asset)
    plate = db.get(Nameplate, found.id)
    edge, pipeline = _edge_of(db, found)
    windows = store.telemetry(site, asset, limit=1)
    latest = None
    if windows:
        w = windows[-1]
        latest = {"ts": w["ts"], "score": w.get("score"), "threshold": w.get("threshold"),
                  "features": {k: v for k, v in w.items() if k not in _NOT_FEATURES}}
    horizon = (latest["ts"] if latest else time.time_ns()) - ALERT_HORIZON_NS
    alerts = [a for a in store.alerts(site, asset, limit=50) if a["ts"] >= horizon]
    lineage: dict = {}
    if edge is not None:
        birth = store.edge_state(site, edge).get("birth") or {}
        deployed = (birth.get("pipelines") or {}).get(asset) or {}
        if isinstance(deployed, dict):
            lineage = {k: (v if isinstance(v, (str, int, float)) else json.dumps(v)) for k, v in deployed.items()}
    facts = aas.AssetFacts(site, asset, found.kind, None if plate is None else NameplateIn.model_validate(plate)
                           .model_dump(mode="json"), latest, alerts, pipeline, lineage, hub_url, edge)
    shell, objects = aas.shell_of(facts)
    return AasExport(shell_id=shell.id, global_asset_id=aas.global_asset_id(site, asset),
                     environment=json.loads(aas.to_json(objects)), aasx_filename=f"{site}-{asset}.aasx",
                     aasx_b64=base64.b64encode(aas.to_aasx(shell, objects)).decode())


def import_aasx(db: Session, site: str, data_b64: str, name: str | None = None) -> Asset:
    """Register the first shell of an AASX package as an asset of ``site``, with its nameplate."""
    registry.require_site(db, site)
    try:
        data = base64.b64decode(data_b64, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("aasx_b64: not base64") from None
    try:
        objects = aas.read_aasx(data)
        found_name, kind, plate = aas.nameplate_from(objects)
        body = NameplateIn(**plate) if plate else NameplateIn()
    except ValueError as exc:
        raise Invalid(f"aasx_b64: {exc}") from None
    asset = registry.create_asset(db, site, name or found_name, kind)
    set_nameplate(db, site, asset.name, body)
    return asset
