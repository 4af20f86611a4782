"""Settings of the hub deployable (one class, environment ``TEACHFAB_HUB_*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class HubSettings(BaseSettings):
    """Where the hub listens, which broker it ingests from, where it stores.

    Examples
    --------
    >>> HubSettings(db_path=":memory:").http_port
    8000
    """

    model_config = SettingsConfigDict(env_prefix="TEACHFAB_HUB_", extra="forbid")

    broker: str = "mqtt://127.0.0.1:1883"
    mqtt_protocol: Literal["3.1.1", "5"] = "3.1.1"
    shared_group: str | None = Field(None, description="MQTT 5 shared-subscription group for hub replicas")
    db_path: str = "teachfab-hub.sqlite"
    http_host: str = "127.0.0.1"
    http_port: int = Field(8000, ge=0, le=65535)
    client_id: str = "tf-hub"
