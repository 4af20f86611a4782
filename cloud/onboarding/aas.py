"""Asset Administration Shell (IDTA AAS v3) of a registered asset, with the Eclipse BaSyx Python SDK.

:func:`shell_of` builds, for one asset, an object store holding

- the shell (``AssetAdministrationShell``): its asset information
  (instance, global asset id ``urn:teachfab:asset:<site>:<asset>``) and
  references to the three submodels;
- ``Nameplate`` (semantic id of IDTA 02006 Digital Nameplate 3.0):
  manufacturer, product type, serial number, rated power and speed, and
  the bearing geometry as a collection;
- ``ConditionMonitoring`` (TeachFab's own semantic id): the latest
  features, the health (latest score against threshold), the ISO 20816
  zone when a velocity RMS in mm/s is measured, the alerts of the last
  hour, and the pipeline with its lineage as the kit and the edge's birth
  give it;
- ``TelemetryReferences``: where the data are — the hub's telemetry and
  series routes and the MQTT topics.

:func:`to_json` and :func:`to_aasx` serialise it; :func:`read_aasx`
reads a package back (strict: the SDK's ``failsafe=False``), and
:func:`nameplate_from` takes what registering the asset needs from it.
"""

from __future__ import annotations

import io
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from basyx.aas import model
from basyx.aas.adapter import aasx
from basyx.aas.adapter import json as aas_json

NAMEPLATE_SEMANTIC = "https://admin-shell.io/idta/nameplate/3/0/Nameplate"
CONDITION_SEMANTIC = "urn:teachfab:submodel:condition-monitoring:1"
TELEMETRY_SEMANTIC = "urn:teachfab:submodel:telemetry-references:1"
#: ISO 20816-3 zone limits (velocity RMS, mm/s) for group 2 machines on rigid foundations: A|B, B|C, C|D.
ISO20816_LIMITS = (1.4, 2.8, 4.5)
_BEARING_FIELDS = {"designation": model.datatypes.String, "n_balls": model.datatypes.Int,
                   "ball_d_mm": model.datatypes.Double, "pitch_d_mm": model.datatypes.Double,
                   "contact_angle_deg": model.datatypes.Double}


@dataclass
class AssetFacts:
    """What the hub knows of an asset, gathered by the caller (registry, store, kits, births)."""

    site: str
    asset: str
    kind: str = ""
    nameplate: dict | None = None
    latest: dict | None = None  # the last feature record: ts, features, score, threshold
    alerts: list[dict] | None = None
    pipeline: dict | None = None
    lineage: dict | None = None
    hub_url: str = ""
    edge: str | None = None


def id_short(text: str) -> str:
    """An ``idShort`` from a name: letters, digits and ``_``, starting with a letter.

    Examples
    --------
    >>> id_short("press-1"), id_short("1st.fan")
    ('press_1', 'A_1st_fan')
    """
    s = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return s if s[:1].isalpha() else f"A_{s}"


def global_asset_id(site: str, asset: str) -> str:
    """The global asset id of a registered asset."""
    return f"urn:teachfab:asset:{site}:{asset}"


def _semantic(iri: str) -> model.ExternalReference:
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, iri),))


def _prop(name: str, value, value_type=model.datatypes.String) -> model.Property:
    if value is not None and value_type in (model.datatypes.String, model.datatypes.AnyURI):
        value = str(value)
    elif value is not None and value_type is model.datatypes.Double:
        value = float(value)
    elif value is not None and value_type in (model.datatypes.Int, model.datatypes.Long):
        value = int(value)
    return model.Property(id_short(name), value_type=value_type, value=value)


def iso20816_zone(velocity_rms_mm_s: float | None) -> str:
    """ISO 20816-3 zone A-D of a velocity RMS (group 2, rigid), or ``"unknown"`` without one.

    Examples
    --------
    >>> iso20816_zone(0.9), iso20816_zone(3.1), iso20816_zone(None)
    ('A', 'C', 'unknown')
    """
    if velocity_rms_mm_s is None:
        return "unknown"
    for zone, limit in zip("ABC", ISO20816_LIMITS):
        if velocity_rms_mm_s < limit:
            return zone
    return "D"


def shell_of(facts: AssetFacts) -> tuple[model.AssetAdministrationShell, model.DictIdentifiableStore]:
    """The shell and submodels of one asset, in an object store."""
    base = f"urn:teachfab:aas:{facts.site}:{facts.asset}"
    plate = facts.nameplate or {}
    bearing = plate.get("bearing") or {}
    nameplate = model.Submodel(f"{base}:nameplate", id_short="Nameplate", semantic_id=_semantic(NAMEPLATE_SEMANTIC),
                               submodel_element=[
        _prop("ManufacturerName", plate.get("manufacturer") or ""),
        _prop("ManufacturerProductType", plate.get("product_type") or facts.kind or ""),
        _prop("SerialNumber", plate.get("serial_number") or ""),
        _prop("RatedPower", plate.get("rated_power_kw"), model.datatypes.Double),
        _prop("RatedSpeed", plate.get("rated_speed_rpm"), model.datatypes.Double),
        model.SubmodelElementCollection("BearingGeometry", value=[
            _prop(k, bearing.get(k), t) for k, t in _BEARING_FIELDS.items()]),
    ])
    latest = facts.latest or {}
    feats = latest.get("features") or {}
    score, threshold = latest.get("score"), latest.get("threshold")
    health = ("unknown" if score is None or threshold is None
              else "alarm" if score >= threshold else "warning" if score >= 0.8 * threshold else "normal")
    alerts = facts.alerts or []
    condition = model.Submodel(f"{base}:condition-monitoring", id_short="ConditionMonitoring",
                               semantic_id=_semantic(CONDITION_SEMANTIC), submodel_element=[
        _prop("LatestTimestampNs", latest.get("ts"), model.datatypes.Long),
        model.SubmodelElementCollection("LatestFeatures", value=[
            _prop(name, float(v), model.datatypes.Double) for name, v in sorted(feats.items())
            if isinstance(v, (int, float))]),
        _prop("Health", health),
        _prop("Score", score, model.datatypes.Double),
        _prop("Threshold", threshold, model.datatypes.Double),
        _prop("ISO20816Zone", iso20816_zone(feats.get("vel_rms"))),
        model.SubmodelElementCollection("ActiveAlerts", value=[
            model.SubmodelElementCollection(f"Alert{i}", value=[
                _prop("TimestampNs", a.get("ts"), model.datatypes.Long), _prop("Message", a.get("message", "")),
                _prop("Score", a.get("score"), model.datatypes.Double)])
            for i, a in enumerate(alerts[:20])]),
        model.SubmodelElementCollection("Pipeline", value=[
            _prop(k, v) for k, v in sorted((facts.pipeline or {}).items()) if isinstance(v, (str, int, float))]),
        model.SubmodelElementCollection("Lineage", value=[
            _prop(k, v) for k, v in sorted((facts.lineage or {}).items()) if isinstance(v, (str, int, float))]),
    ])
    hub = facts.hub_url.rstrip("/")
    refs = [_prop("TelemetryApi", f"{hub}/api/assets/{facts.site}/{facts.asset}/telemetry", model.datatypes.AnyURI),
            _prop("SeriesApi", f"{hub}/api/assets/{facts.site}/{facts.asset}/series/{{name}}", model.datatypes.AnyURI)]
    if facts.edge:
        refs.append(_prop("FeaturesTopic", f"tf/v1/{facts.site}/{facts.edge}/{facts.asset}/features"))
        refs.append(_prop("AlertTopic", f"tf/v1/{facts.site}/{facts.edge}/{facts.asset}/alert"))
    telemetry = model.Submodel(f"{base}:telemetry", id_short="TelemetryReferences",
                               semantic_id=_semantic(TELEMETRY_SEMANTIC), submodel_element=refs)
    submodels = (nameplate, condition, telemetry)
    shell = model.AssetAdministrationShell(
        model.AssetInformation(model.AssetKind.INSTANCE, global_asset_id=global_asset_id(facts.site, facts.asset)),
        base, id_short=id_short(facts.asset), submodel={model.ModelReference.from_referable(s) for s in submodels})
    return shell, model.DictIdentifiableStore([shell, *submodels])


def to_json(store: model.DictIdentifiableStore) -> str:
    """The AAS JSON environment (shells and submodels)."""
    buf = io.StringIO()
    aas_json.write_aas_json_file(buf, store)
    return buf.getvalue()


def to_aasx(shell: model.AssetAdministrationShell, store: model.DictIdentifiableStore) -> bytes:
    """An AASX package holding the shell and its submodels."""
    with tempfile.TemporaryDirectory(prefix="tf-aasx-") as tmp:
        path = Path(tmp) / "asset.aasx"
        with aasx.AASXWriter(str(path)) as writer:
            writer.write_aas(aas_ids=[shell.id], object_store=store, file_store=aasx.DictSupplementaryFileContainer(),
                             write_json=True)
        return path.read_bytes()


def read_aasx(data: bytes) -> model.DictIdentifiableStore:
    """The objects of an AASX package, read strictly; ``ValueError`` says why it is refused."""
    with tempfile.TemporaryDirectory(prefix="tf-aasx-") as tmp:
        path = Path(tmp) / "in.aasx"
        path.write_bytes(data)
        store: model.DictIdentifiableStore = model.DictIdentifiableStore()
        try:
            with aasx.AASXReader(str(path), failsafe=False) as reader:
                reader.read_into(store, aasx.DictSupplementaryFileContainer())
        except Exception as exc:  # the SDK raises ValueError, KeyError, TypeError, zipfile errors...
            raise ValueError(f"not a valid AASX package: {type(exc).__name__}: {exc}") from None
    return store


def nameplate_from(store: model.DictIdentifiableStore) -> tuple[str, str, dict]:
    """``(asset name, kind, nameplate)`` from the first shell of a package and its nameplate submodel."""
    shells = [o for o in store if isinstance(o, model.AssetAdministrationShell)]
    if not shells:
        raise ValueError("the package holds no Asset Administration Shell")
    shell = shells[0]
    gid = shell.asset_information.global_asset_id or ""
    name = gid.rsplit(":", 1)[-1] if gid.startswith("urn:teachfab:asset:") else (shell.id_short or "")
    name = re.sub(r"[^A-Za-z0-9._-]", "-", name)[:64].strip("-") or "asset"
    plate: dict = {}
    for ref in shell.submodel:
        sm = ref.resolve(store)
        if sm.semantic_id is None or sm.semantic_id.key[0].value != NAMEPLATE_SEMANTIC:
            continue
        values = {e.id_short: e for e in sm.submodel_element}
        get = lambda k: getattr(values.get(k), "value", None)  # noqa: E731
        plate = {"manufacturer": get("ManufacturerName") or "", "product_type": get("ManufacturerProductType") or "",
                 "serial_number": get("SerialNumber") or "",
                 "rated_power_kw": _float(get("RatedPower")), "rated_speed_rpm": _float(get("RatedSpeed"))}
        geometry = values.get("BearingGeometry")
        if geometry is not None:
            plate["bearing"] = {e.id_short: e.value for e in geometry.value if e.value is not None}
    return name, plate.get("product_type", ""), plate


def _float(v) -> float | None:
    return None if v is None else float(v)
