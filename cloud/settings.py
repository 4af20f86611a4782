"""Settings of the hub deployable (one class, environment ``TEACHFAB_HUB_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cloud.accounts.security import password_problem


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
    db_path: str = Field("teachfab-hub.sqlite", description="telemetry store: a SQLite file, or influx://host:port/db, influx2://host:port/bucket?org=&token= (docs/storage.md)")
    http_host: str = "127.0.0.1"
    http_port: int = Field(8000, ge=0, le=65535)
    client_id: str = "tf-hub"

    # --- accounts and relational domain (docs/access.md) ---
    mode: Literal["production", "dev", "demo"] = Field(
        "production", description="dev/demo relax secret checks; demo also offers a password-less demo mentor")
    domain_url: str | None = Field(None, description="SQLAlchemy URL of the relational domain "
                                   "(default: SQLite teachfab-domain.sqlite next to db_path; in memory for ':memory:')")
    token_ttl_s: int = Field(8 * 3600, ge=60, le=30 * 24 * 3600, description="bearer token lifetime")
    admin_email: str | None = Field(None, description="bootstrap hub operator (TEACHFAB_HUB_ADMIN_EMAIL)")
    admin_password: SecretStr | None = Field(None, description="its password (TEACHFAB_HUB_ADMIN_PASSWORD)")
    demo_sites: list[str] = Field(["demo-lab"], description="demo mode: sites of the demo mentor's challenge")
    command_key: str | None = Field(None, description="PEM file of the hub's Ed25519 key signing edge commands")
    command_key_id: str = Field("hub", description="key id under which edges know the hub's public key")
    command_ttl_s: int = Field(300, ge=10, le=86400, description="how long a signed command stays valid")
    lab_sessions: bool = Field(True, description="run lab sessions' simulators and edge agents in this hub "
                               "(needs command_key; turn off on all replicas but one)")

    @model_validator(mode="after")
    def _refuse_insecure(self) -> HubSettings:
        if (self.admin_email is None) != (self.admin_password is None):
            raise ValueError("TEACHFAB_HUB_ADMIN_EMAIL and TEACHFAB_HUB_ADMIN_PASSWORD go together: give both or neither")
        if self.mode == "production" and self.admin_password is not None:
            problem = password_problem(self.admin_password.get_secret_value())
            if problem:
                raise ValueError(f"TEACHFAB_HUB_ADMIN_PASSWORD {problem}; choose a strong one "
                                 "(or set TEACHFAB_HUB_MODE=dev on a development machine)")
        return self

    def resolved_domain_url(self) -> str:
        """The relational domain's URL: ``domain_url``, else SQLite next to the telemetry db.

        Examples
        --------
        >>> HubSettings(db_path=":memory:").resolved_domain_url()
        'sqlite://'
        """
        if self.domain_url:
            return self.domain_url
        if self.db_path == ":memory:":
            return "sqlite://"
        return f"sqlite:///{Path(self.db_path).resolve().parent / 'teachfab-domain.sqlite'}"
    retention_raw_s: float | None = Field(
        None, gt=0, description="keep raw feature windows this long, then roll them up (None: keep all)")
    retention_rollup_every_s: float = Field(60.0, gt=0, description="rollup bucket width")
    retention_rollup_keep_s: float = Field(365 * 86400.0, gt=0, description="keep rollups this long")
    retention_check_s: float = Field(3600.0, gt=0, description="how often retention runs")
    ingest_queue_size: int = Field(10_000, ge=1, description="messages held between MQTT and the store writer")
    ingest_batch_size: int = Field(500, ge=1, description="most messages per store write")
    ingest_batch_ms: float = Field(5.0, ge=0, description="wait for a batch to fill once the queue ran dry")
    ingest_track_gaps: bool | None = Field(None, description="sequence-gap tracking; default: on unless sharing")

    def ingest_options(self) -> dict:
        """Keyword arguments for :class:`cloud.ingest.subscriber.MqttIngest`."""
        return {"queue_size": self.ingest_queue_size, "batch_size": self.ingest_batch_size,
                "batch_ms": self.ingest_batch_ms, "track_gaps": self.ingest_track_gaps}
