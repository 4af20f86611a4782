"""Request and response models of the registry API (sites, assets, sensors, edges)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from cloud.sites.models import SiteKind
from contract.bounds import NAME_PATTERN

SLUG = NAME_PATTERN  # a name that is also an MQTT topic segment: no '/', '+', '#'


class SiteCreate(BaseModel):
    """A new site; ``slug`` is the site segment of its MQTT topics."""

    slug: str = Field(pattern=SLUG)
    name: str = Field(min_length=1, max_length=200)
    kind: SiteKind
    region: str = ""


class SitePublic(SiteCreate):
    """A registered site."""

    model_config = ConfigDict(from_attributes=True)
    id: int


class AssetCreate(BaseModel):
    """A new asset; ``name`` is the asset segment of its MQTT topics."""

    name: str = Field(pattern=SLUG)
    kind: str = ""


class SensorCreate(BaseModel):
    """A new sensor channel of an asset."""

    channel: str = Field(pattern=SLUG)
    units: str = Field(min_length=1, max_length=32)
    rate_hz: float = Field(ge=0, le=10_000_000, description="samples per second of a waveform channel; "
                                                             "0 for a scalar channel read without a fixed rate")


class SensorPublic(SensorCreate):
    """A registered sensor."""

    model_config = ConfigDict(from_attributes=True)
    id: int


class AssetPublic(AssetCreate):
    """A registered asset with its sensors."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    sensors: list[SensorPublic] = []


class EdgeCreate(BaseModel):
    """A new edge agent of a site."""

    edge_id: str = Field(pattern=SLUG)
    public_key_id: str | None = None


class EdgePublic(EdgeCreate):
    """A registered edge with its live status (``None`` until it has reported)."""

    id: int
    site: str
    status: dict | None = Field(None, description="last retained status from the telemetry store")
