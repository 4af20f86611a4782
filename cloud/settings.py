"""Settings of the hub deployable (one class, environment ``TEACHFAB_HUB_*``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cloud.accounts.security import password_problem
from contract.bounds import check_segment
from contract.mqtt import BrokerAuth


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
    max_request_bytes: int = Field(2 << 20, ge=1024, description="largest request body (bytes); more is 413")
    client_id: str = "tf-hub"

    # --- broker access (docs/security.md, "Broker") ---
    broker_username: str | None = Field(None, description="the hub's own broker user (reads all, writes commands)")
    broker_password: SecretStr | None = Field(None, description="its password")
    broker_ca: str | None = Field(None, description="PEM CA certificate an mqtts:// broker chains to; kits carry it")
    broker_passwd_file: str | None = Field(None, description="Mosquitto password_file the hub manages (kits)")
    broker_acl_file: str | None = Field(None, description="Mosquitto acl_file the hub manages")
    broker_pid_file: str | None = Field(None, description="the broker's pid file: the hub sends SIGHUP to reload")
    broker_reload_command: str | None = Field(None, description="or a command that reloads the broker")
    kit_broker_url: str | None = Field(None, description="broker URL written into kits (default: broker)")
    broker_lab_edges: dict[str, SecretStr] = Field(
        default_factory=dict, description='fixed broker users of the hub\'s own lab edges, {"site/edge": '
        '"password"} (user name "site/edge"); registered at start. Every other edge gets a kit')
    require_registered_edges: bool | None = Field(
        None, description="quarantine telemetry of edges not registered at their site; default: on when the hub "
                          "manages the broker's password file")

    # --- accounts and relational domain (docs/access.md) ---
    mode: Literal["production", "dev", "demo"] = Field(
        "production", description="dev/demo relax secret checks; demo also offers a password-less demo mentor")
    domain_url: str | None = Field(None, description="SQLAlchemy URL of the relational domain "
                                   "(default: SQLite teachfab-domain.sqlite next to db_path; in memory for ':memory:')")
    login_failures_per_account: int = Field(5, ge=1, description="failed log-ins of one account from one address "
                                            "before it waits (docs/security.md, Log-in)")
    login_failures_per_address: int = Field(30, ge=1, description="failed log-ins from one address before it waits")
    login_lock_base_s: float = Field(30.0, gt=0, description="first wait; doubles with each further failure")
    login_lock_max_s: float = Field(900.0, gt=0, description="longest wait, and how long failures are remembered")
    token_ttl_s: int = Field(8 * 3600, ge=60, le=30 * 24 * 3600, description="bearer token lifetime")
    admin_email: str | None = Field(None, description="bootstrap hub operator (TEACHFAB_HUB_ADMIN_EMAIL)")
    admin_password: SecretStr | None = Field(None, description="its password (TEACHFAB_HUB_ADMIN_PASSWORD)")
    demo_sites: list[str] = Field(["demo-lab"], description="demo mode: sites of the demo mentor's challenge")
    state_dir: str | None = Field(None, description="the hub's files outside its databases (lab-session edge state, "
                                  "ledger checkpoints); default: teachfab-state next to db_path")
    ledger_checkpoint_s: float = Field(3600.0, gt=0, description="how often the ledger's head is signed into a "
                                       "checkpoint outside the database (when it grew)")
    command_key: str | None = Field(None, description="PEM file of the hub's Ed25519 key signing edge commands")
    command_key_id: str = Field("hub", description="key id under which edges know the hub's public key")
    command_ttl_s: int = Field(300, ge=10, le=86400, description="how long a signed command stays valid")
    lab_sessions: bool = Field(True, description="run lab sessions' simulators and edge agents in this hub "
                               "(needs command_key; turn off on all replicas but one)")

    # --- verifiable credentials (docs/credentials.md) ---
    public_url: str = Field("http://127.0.0.1:8000", pattern=r"^https?://[^/\s]+(/[^\s]*)?[^/\s]$",
                            description="the hub's public base URL (no trailing slash): issuer, status lists and "
                                        "share links are under it")
    credential_key: str | None = Field(None, description="PEM file of the issuer's Ed25519 signing key")
    credential_key_secret: SecretStr | None = Field(None, description="or the key as a secretKeyMultibase (z3u2...)")
    issuer_slug: str = Field("hub", pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="issuer id is {public_url}/issuers/{slug}")
    issuer_name: str = Field("TeachFab hub", min_length=2, description="awarding body's name")
    issuer_country: str | None = Field(None, pattern=r"^[A-Z]{2}$",
                                       description="awarding body's country, ISO 3166-1 alpha-2 (required to issue)")
    issuer_locality: str | None = Field(None, description="awarding body's city")
    issuer_email: str | None = Field(None, description="awarding body's contact e-mail")
    issuer_url: str | None = Field(None, description="awarding body's web site (default: public_url)")
    issuer_description: str | None = Field(None, description="a sentence about the awarding body")
    issuer_legal_id: str | None = Field(None, description="its legal identifier (VAT or registry number)")

    @model_validator(mode="after")
    def _refuse_insecure(self) -> HubSettings:
        if (self.admin_email is None) != (self.admin_password is None):
            raise ValueError("TEACHFAB_HUB_ADMIN_EMAIL and TEACHFAB_HUB_ADMIN_PASSWORD go together: give both or neither")
        if (self.broker_passwd_file is None) != (self.broker_acl_file is None):
            raise ValueError("TEACHFAB_HUB_BROKER_PASSWD_FILE and TEACHFAB_HUB_BROKER_ACL_FILE go together")
        if self.broker_passwd_file is not None and (self.broker_username is None or self.broker_password is None):
            raise ValueError("a hub that manages the broker's password file needs its own broker user: "
                             "set TEACHFAB_HUB_BROKER_USERNAME and TEACHFAB_HUB_BROKER_PASSWORD")
        if self.broker_lab_edges and self.broker_passwd_file is None:
            raise ValueError("TEACHFAB_HUB_BROKER_LAB_EDGES needs the broker files the hub manages "
                             "(TEACHFAB_HUB_BROKER_PASSWD_FILE and TEACHFAB_HUB_BROKER_ACL_FILE)")
        for key, password in self.broker_lab_edges.items():
            site, _, edge = key.partition("/")
            check_segment(site, "site")
            check_segment(edge, "edge")
            if self.mode == "production" and (problem := password_problem(password.get_secret_value())):
                raise ValueError(f"TEACHFAB_HUB_BROKER_LAB_EDGES[{key!r}]: the password {problem}")
        if self.mode == "production" and self.admin_password is not None:
            problem = password_problem(self.admin_password.get_secret_value())
            if problem:
                raise ValueError(f"TEACHFAB_HUB_ADMIN_PASSWORD {problem}; choose a strong one "
                                 "(or set TEACHFAB_HUB_MODE=dev on a development machine)")
        return self

    def resolved_state_dir(self) -> Path:
        """The hub's own files outside its databases: ``state_dir``, else ``teachfab-state`` next to ``db_path``.

        Lab-session edges keep their state under it, and the ledger's signed
        checkpoints are written there. A telemetry store that is not a file
        (``:memory:``, InfluxDB) puts it under ``$XDG_STATE_HOME/teachfab/hub``.

        Examples
        --------
        >>> HubSettings(db_path="/srv/tf/hub.sqlite").resolved_state_dir().as_posix()
        '/srv/tf/teachfab-state'
        """
        if self.state_dir:
            return Path(self.state_dir)
        if self.db_path == ":memory:" or "://" in self.db_path:
            base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
            return Path(base) / "teachfab" / "hub"
        return Path(self.db_path).resolve().parent / "teachfab-state"

    def lab_edges(self) -> list[tuple[str, str, str]]:
        """``(site, edge, password)`` of each fixed lab edge (``broker_lab_edges``).

        Examples
        --------
        >>> HubSettings(broker_passwd_file="p", broker_acl_file="a", broker_username="tf-hub",
        ...             broker_password="x", mode="dev", broker_lab_edges={"lab/edge-1": "s3"}).lab_edges()
        [('lab', 'edge-1', 's3')]
        """
        return [(*key.split("/", 1), pw.get_secret_value()) for key, pw in self.broker_lab_edges.items()]

    def broker_auth(self) -> BrokerAuth:
        """The hub's broker credentials and CA, for its ingest and its command publisher."""
        password = None if self.broker_password is None else self.broker_password.get_secret_value()
        return BrokerAuth(self.broker_username, password, self.broker_ca)

    def checks_registered_edges(self) -> bool:
        """Whether ingest quarantines messages of unregistered edges."""
        if self.require_registered_edges is not None:
            return self.require_registered_edges
        return self.broker_passwd_file is not None

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
    governance_retention_days: dict[str, int] = Field(
        default_factory=dict, description="the hub's default retention in days per data kind (telemetry, "
                                          "waveforms, quarantine, learner_records) where neither a charter nor the "
                                          "site says; a kind left out keeps cloud.governance.agreement's default")
    governance_check_s: float = Field(3600.0, gt=0, description="how often the data agreements' retention runs")
    ingest_queue_size: int = Field(10_000, ge=1, description="messages held between MQTT and the store writer")
    ingest_batch_size: int = Field(500, ge=1, description="most messages per store write")
    ingest_batch_ms: float = Field(0.0, ge=0, description="wait for a batch to fill once the queue ran dry (0: a "
                                   "batch is what queued while the last one was written)")
    ingest_track_gaps: bool | None = Field(None, description="sequence-gap tracking; default: on unless sharing")
    mqtt_persistent_session: bool = Field(
        True, description="keep the hub's MQTT session (subscriptions, queued messages) across restarts; "
        "needs a client_id of its own per replica (docs/reliability.md)")
    mqtt_session_expiry_s: int = Field(86_400, ge=0, le=2**32 - 1,
                                       description="MQTT 5: how long the broker keeps the session of a hub that went away")
    ingest_max_future_s: float = Field(3600.0, gt=0, description="refuse status, birth, health and command "
                                       "answers dated further ahead of the hub's clock")
    ingest_max_lag_s: float = Field(30.0, gt=0, description="/healthz is red when a message waited longer to be stored")
    ingest_idle_s: float | None = Field(None, gt=0, description="/healthz is red when nothing arrived for this long "
                                        "(None: a quiet broker is healthy)")
    retention_quarantine_s: float | None = Field(30 * 86400.0, gt=0, description="keep quarantined payloads this long")
    retention_quarantine_max: int = Field(100_000, ge=1, description="newest quarantined payloads kept whatever their age")
    retention_waveforms_s: float | None = Field(30 * 86400.0, gt=0, description="keep waveform snapshots this long")
    retention_command_results_s: float | None = Field(365 * 86400.0, gt=0, description="keep edges' command answers this long")

    @field_validator("governance_retention_days")
    @classmethod
    def _retention_days(cls, value: dict[str, int]) -> dict[str, int]:
        from labs.documents import DATA_KINDS

        for kind, days in value.items():
            if kind not in DATA_KINDS:
                raise ValueError(f"governance_retention_days: unknown data kind {kind!r} ({', '.join(DATA_KINDS)})")
            if days < 1:
                raise ValueError(f"governance_retention_days.{kind}: at least 1 day (nothing is kept forever)")
        return value

    def retention_days(self) -> dict[str, int]:
        """The hub's default retention per data kind: the built-in defaults with this hub's changes.

        Examples
        --------
        >>> HubSettings(db_path=":memory:", governance_retention_days={"waveforms": 7}).retention_days()["waveforms"]
        7
        """
        from cloud.governance.agreement import HUB_DEFAULT_DAYS

        return {**HUB_DEFAULT_DAYS, **self.governance_retention_days}

    def ingest_options(self) -> dict:
        """Keyword arguments for :class:`cloud.ingest.subscriber.MqttIngest`."""
        return {"queue_size": self.ingest_queue_size, "batch_size": self.ingest_batch_size,
                "batch_ms": self.ingest_batch_ms, "track_gaps": self.ingest_track_gaps,
                "persistent": self.mqtt_persistent_session, "session_expiry_s": self.mqtt_session_expiry_s,
                "max_future_s": self.ingest_max_future_s, "max_lag_s": self.ingest_max_lag_s,
                "idle_s": self.ingest_idle_s}

    def prune_keep_ns(self) -> dict[str, int]:
        """Ages after which quarantine, waveforms and command answers are deleted (absent: kept)."""
        ages = {"quarantine": self.retention_quarantine_s, "waveforms": self.retention_waveforms_s,
                "command_results": self.retention_command_results_s}
        return {k: int(v * 1e9) for k, v in ages.items() if v is not None}
