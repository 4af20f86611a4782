"""Request and response models of onboarding: kits, the onboarding record, AAS import/export."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contract.bounds import NAME_PATTERN

#: Adapters a kit may name (firmware_adapters.registry; the gateway's ``edge check`` validates their options).
KIT_ADAPTERS = ("opcua", "serial_line", "serial_frame", "mqtt_sensor", "replay")


class KitSource(BaseModel):
    """One source of the kit: an adapter template filled with the SME's sensor mapping.

    ``options`` are that adapter's own keys (OPC UA: ``url``, ``namespace``,
    ``browse_path`` or node ids, ``waveforms``, ``units``; serial: ``port``,
    ``baud``, framing, ``channels``, ``rate``, ...), as in
    ``firmware_adapters/samples/<adapter>.toml``.
    """

    model_config = ConfigDict(extra="forbid")
    adapter: Literal[KIT_ADAPTERS]  # type: ignore[valid-type]
    asset: str = Field(pattern=NAME_PATTERN)
    options: dict = Field(default_factory=dict)


class KitCreate(BaseModel):
    """A kit for edge ``edge`` of site ``site``: its sources and the pipeline each asset starts with."""

    model_config = ConfigDict(extra="forbid")
    site: str = Field(pattern=NAME_PATTERN)
    edge: str = Field(pattern=NAME_PATTERN)
    sources: list[KitSource] = Field(min_length=1, max_length=32)
    pipelines: dict[str, dict] = Field(default_factory=dict, description="asset -> pipeline (edge_agent.pipeline)")


class KitPublic(BaseModel):
    """An issued kit (never its password)."""

    id: int
    site: str
    edge: str
    username: str
    created_at: datetime
    revoked_at: datetime | None
    replaces: int | None
    assets: list[str]


class KitIssued(BaseModel):
    """A kit just issued: its record and the archive (base64 tar.gz) holding its one-time password."""

    kit: KitPublic
    filename: str
    archive_b64: str
    short_code: str = Field(description="what the SME types into the gateway to check it has the right kit")


class OnboardingStep(BaseModel):
    """One step of an onboarding record, with when it happened (``None``: not yet)."""

    step: Literal["registered", "kit_issued", "first_data", "first_challenge_signed", "first_live_window"]
    at: datetime | None
    detail: str = ""


class OnboardingPublic(BaseModel):
    """The onboarding of one site: its steps, the time used against the target, and whether it is overdue."""

    site: str
    name: str
    steps: list[OnboardingStep]
    done: bool
    elapsed_days: float
    target_days: int
    overdue: bool
    next_step: str | None


class BearingGeometry(BaseModel):
    """A rolling bearing's designation and geometry (millimetres, degrees)."""

    designation: str = ""
    n_balls: int | None = Field(None, ge=3, le=100)
    ball_d_mm: float | None = Field(None, gt=0, le=500)
    pitch_d_mm: float | None = Field(None, gt=0, le=5000)
    contact_angle_deg: float | None = Field(None, ge=0, lt=90)


class NameplateIn(BaseModel):
    """What the maker's plate says of an asset."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)
    manufacturer: str = Field("", max_length=200)
    product_type: str = Field("", max_length=200)
    serial_number: str = Field("", max_length=200)
    rated_power_kw: float | None = Field(None, gt=0, le=100_000)
    rated_speed_rpm: float | None = Field(None, gt=0, le=200_000)
    bearing: BearingGeometry = Field(default_factory=BearingGeometry)


class AasExport(BaseModel):
    """An asset's Asset Administration Shell: the JSON environment and the AASX package (base64)."""

    shell_id: str
    global_asset_id: str
    environment: dict = Field(description="AAS v3 JSON environment: assetAdministrationShells, submodels")
    aasx_filename: str
    aasx_b64: str


class AasImport(BaseModel):
    """An AASX package (base64) whose first shell becomes a registered asset of the site."""

    aasx_b64: str = Field(min_length=4, max_length=20_000_000)
    name: str | None = Field(None, pattern=NAME_PATTERN, description="asset name (default: from the shell)")
