"""The hub application: ingest + store + API + mentor page, and a server for it."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import logging
import time
from pathlib import Path

import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy import text
from fastapi.staticfiles import StaticFiles

from cloud.access import annotate_routes
from cloud.accounts.router import router as accounts_router
from cloud.accounts.service import authenticator
from cloud.accounts.throttle import LoginThrottle
from cloud.bootstrap import open_domain
from cloud.challenges.checkpoints import LedgerCheckpoints
from cloud.challenges.hooks import LearningHooks
from cloud.challenges.lab import LabService
from cloud.challenges.pipeline_router import router as pipelines_router
from cloud.challenges.router import router as challenges_router
from cloud.challenges.runner import LabRunner
from cloud.challenges.scope import scope_of
from cloud.challenges.session_router import router as sessions_router
from cloud.commands.router import router as commands_router
from cloud.commands.service import CommandSigner
from cloud.credentials.router import router as credentials_router
from cloud.credentials.service import CredentialService, IssuerConfig
from cloud.errors import install_handlers
from cloud.guard import BodyLimit, SecurityHeaders, bounded_numbers
from cloud.governance import retention as governance_retention
from cloud.governance.access_log import AccessLogMiddleware
from cloud.governance.rights import default_registry
from cloud.governance.router import router as governance_router
from cloud.handover import service as handover
from cloud.handover.router import router as handover_router
from cloud.ingest.metrics import metrics_endpoint
from cloud.ingest.subscriber import MqttIngest
from cloud.onboarding.broker import BrokerAccount, BrokerFiles, hash_password
from cloud.onboarding.hooks import RegisteredEdges, watch_first_data
from cloud.onboarding.kits import KitService, SessionBrokerAccess
from cloud.onboarding.router import router as onboarding_router
from cloud.kpis.router import router as kpis_router
from cloud.kpis.sources import KpiSources
from cloud.learnflow.router import router as learnflow_router
from cloud.settings import HubSettings
from cloud.sites.router import router as registry_router
from cloud.skills import i18n as skills_i18n
from cloud.skills import updates as skill_updates
from cloud.skills.router import router as skills_router
from cloud.skills.staff_router import router as skills_staff_router
from cloud.telemetry.base import StoreUnavailable, TelemetryStore
from cloud.telemetry.factory import open_store
from cloud.telemetry.live import Broadcaster
from cloud.telemetry.router import router as telemetry_router
from cloud.telemetry.schemas import Health
from contract.signing import public_key_pem

log = logging.getLogger(__name__)
WEB = Path(__file__).parent / "web"


def plotly_js() -> Path:
    """Path of plotly.js as shipped inside the ``plotly`` Python package."""
    return Path(str(importlib.resources.files("plotly") / "package_data" / "plotly.min.js"))


def swagger_ui_files() -> Path:
    """Swagger UI's files (bundle, CSS, icon) as shipped inside the ``fastapi-offline`` package."""
    return Path(str(importlib.resources.files("fastapi_offline") / "static"))


def _document_string_details(app: FastAPI) -> None:
    """Say in the OpenAPI document that a 422 carries a list of field errors *or* one message.

    FastAPI documents only its own validation errors (a list); the hub's
    services answer :class:`~cloud.errors.Invalid` with ``{"detail": "message
    naming the field"}``, which a client (or schemathesis) must expect too.
    """
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            doc = build()
            model = doc.get("components", {}).get("schemas", {}).get("HTTPValidationError")
            if model is not None:
                listed = model["properties"]["detail"]
                model["properties"]["detail"] = {"title": "Detail", "anyOf": [listed, {"type": "string"}],
                                                 "description": "field errors, or one message naming the field"}
        return app.openapi_schema

    app.openapi = openapi


def create_app(settings: HubSettings, ingest: bool = True) -> FastAPI:
    """Build the hub's FastAPI app; MQTT ingest starts with the app when ``ingest``.

    This is where the hub's parts meet: the telemetry store and live
    fan-out, MQTT ingest, the relational domain (migrated and bootstrapped),
    the scope resolver the accounts area asks for, the command signer, the
    lab service with its session runner, the error handlers and the routers.

    Examples
    --------
    >>> app = create_app(HubSettings(db_path=":memory:"), ingest=False)
    >>> paths = app.openapi()["paths"]
    >>> {"/api/alerts", "/api/assets/{site}/{asset}/telemetry", "/api/assets/{site}/{asset}/series/{name}"} <= set(paths)
    True
    """
    store = open_store(settings.db_path)  # a SQLite path, sqlite://, influx://... or influx2://...
    live = Broadcaster()
    mqtt_ingest = MqttIngest(settings.broker, store, live, settings.mqtt_protocol,
                             settings.shared_group, settings.client_id, **settings.ingest_options(),
                             auth=settings.broker_auth())
    engine, db_sessions = open_domain(settings)
    if settings.checks_registered_edges():  # defence in depth behind the broker's ACL
        mqtt_ingest.admit = RegisteredEdges(db_sessions).refusal
    signer = CommandSigner.from_settings(settings)
    kits = kit_service(settings, signer)
    lab = LabService(db_sessions, store, signer)
    checkpoints = LedgerCheckpoints.for_hub(settings.resolved_state_dir(), settings.command_key,
                                            settings.command_key_id)
    if signer is not None and settings.lab_sessions:
        lab.runner = LabRunner(settings.broker, signer.public_key(), signer.key_id, lab.scenario_ended,
                               settings.mqtt_protocol, state_root=settings.resolved_state_dir(),
                               access=SessionBrokerAccess(kits, db_sessions, settings.broker_ca))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        live.bind(asyncio.get_running_loop())
        with db_sessions() as db:
            kits.register_lab_edges(db)
            kits.sync(db)  # the broker's files from the kits of record (and the hub's and lab edges' users)
        first_data = asyncio.create_task(watch_first_data(store, db_sessions))
        if ingest:
            mqtt_ingest.start()
        retention = asyncio.create_task(_retention_loop(store, settings))
        agreements = asyncio.create_task(_agreements_loop(store, db_sessions, settings))
        anchoring = asyncio.create_task(_checkpoint_loop(checkpoints, db_sessions, settings.ledger_checkpoint_s))
        try:
            yield
        finally:
            await lab.stop_all()
            retention.cancel()
            first_data.cancel()
            agreements.cancel()
            anchoring.cancel()
            if ingest:
                mqtt_ingest.stop()
            store.close()
            engine.dispose()

    app = FastAPI(title="TeachFab hub", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  dependencies=[Depends(bounded_numbers)],
                  description="Live challenge telemetry from TeachFab edge agents.")
    # outermost last: every response gets the security headers, an oversized body never reaches a route
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(SecurityHeaders)
    app.state.settings, app.state.store, app.state.live, app.state.ingest = settings, store, live, mqtt_ingest
    app.state.domain_engine, app.state.sessions = engine, db_sessions
    app.state.authenticate = authenticator(scope_of)
    app.state.login_throttle = LoginThrottle(settings.login_failures_per_account, settings.login_failures_per_address,
                                             settings.login_lock_base_s, settings.login_lock_max_s)
    app.state.command_signer, app.state.lab, app.state.kits = signer, lab, kits
    app.state.ledger_checkpoints = checkpoints
    app.state.credentials = credentials = CredentialService(issuer_config(settings))
    # the skills and credentials areas (above challenges) learn of evidence, sign-offs and decisions through these
    app.state.hooks = lab.hooks = LearningHooks(on_evidence=[skill_updates.from_evidence],
                                                on_outcome=[skill_updates.from_outcome],
                                                on_credential_decision=[credentials.on_decision],
                                                on_close=[handover.on_close(store)])  # the handover area
    # learners' export and erasure: each area's functions; the credentials area registers its own here
    app.state.rights = rights = default_registry()
    rights.register("credentials", export=credentials.export_person, erase=credentials.erase_person,
                    keeps=("issued_credentials", "status_lists"))
    # where the KPIs read issued credentials (the credentials area's badges) and onboarding dates (its record)
    app.state.kpi_sources = KpiSources()
    install_handlers(app)
    skills_i18n.install_handlers(app)

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)
    for api_router in (telemetry_router, accounts_router, registry_router, commands_router, challenges_router,
                       sessions_router, pipelines_router, skills_router, skills_staff_router, credentials_router,
                       onboarding_router, handover_router, governance_router, learnflow_router, kpis_router):
        app.include_router(annotate_routes(api_router))

    _document_string_details(app)

    @app.get("/", include_in_schema=False)
    def mentor_page() -> FileResponse:
        return FileResponse(WEB / "index.html")

    @app.get("/session", include_in_schema=False)
    def session_page() -> FileResponse:  # the learner page of one lab session: /session?id=N
        return FileResponse(WEB / "session.html")

    @app.get("/onboarding", include_in_schema=False)
    def onboarding_page() -> FileResponse:  # the operator's kits and onboarding; an SME partner's own site
        return FileResponse(WEB / "onboarding.html")

    @app.get("/skills", include_in_schema=False)
    def skills_page() -> FileResponse:  # the learner portal and the staff views of skills (it logs in itself)
        return FileResponse(WEB / "skills.html")

    @app.get("/verify", include_in_schema=False)
    def verify_page() -> FileResponse:  # the public credential verifier (paste, upload, or ?share=TOKEN)
        return FileResponse(WEB / "verify.html")

    @app.get("/wallet", include_in_schema=False)
    def wallet_page() -> FileResponse:  # the learner's credentials (it logs in itself)
        return FileResponse(WEB / "wallet.html")

    @app.get("/join", include_in_schema=False)
    def join_page() -> FileResponse:  # joining by invitation: /join?token=...
        return FileResponse(WEB / "join.html")

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> FileResponse:  # Swagger UI from files the hub serves itself (no CDN, no inline script)
        return FileResponse(WEB / "docs.html")
    @app.get("/kpis", include_in_schema=False)
    def kpi_page() -> FileResponse:  # KPIs for hub operators and SME partners (it logs in itself)
        return FileResponse(WEB / "kpis.html")

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def vendor_plotly() -> FileResponse:
        return FileResponse(plotly_js(), media_type="application/javascript")

    domain_check = _DomainCheck(engine)

    @app.get("/healthz", response_model=Health, responses={503: {"model": Health, "description": "a part fails"}},
             summary="Health: broker connected, ingest subscribed and keeping up, store writable, database reachable")
    def healthz() -> JSONResponse:
        if ingest:
            state = mqtt_ingest.health()
        else:  # ingest is off by configuration: only the store counts
            problem = store.check() if hasattr(store, "check") else None
            state = {"ok": problem is None, "ingest_subscribed": False, "store_writable": problem is None,
                     "problems": [f"store not writable: {problem}"] if problem else []}
        problem = domain_check()
        if problem:
            state["problems"].append(problem)
        health = Health(**{**state, "ok": not state["problems"], "domain_reachable": problem is None})
        return JSONResponse(health.model_dump(), status_code=200 if health.ok else 503)

    app.add_api_route("/metrics", metrics_endpoint(mqtt_ingest.metrics.registry), include_in_schema=False)
    app.mount("/static", StaticFiles(directory=WEB), name="static")
    app.mount("/vendor/swagger", StaticFiles(directory=swagger_ui_files()), name="swagger-ui")
    app.add_middleware(AccessLogMiddleware, sessions=db_sessions)  # who read a learner's or an SME's data
    return app


class _DomainCheck:
    """Whether the relational database answers ``SELECT 1``, asked at most every 2 s."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self._at, self._problem = 0.0, None

    def __call__(self) -> str | None:
        if time.monotonic() - self._at >= 2.0:
            try:
                with self.engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                self._problem = None
            except Exception as exc:  # noqa: BLE001 - any failure to answer is the health answer
                self._problem = (f"database {self.engine.url.render_as_string(hide_password=True)} unreachable: "
                                 f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
            self._at = time.monotonic()
        return self._problem


def issuer_config(settings: HubSettings) -> IssuerConfig:
    """The credentials area's issuer identity and key from the hub's settings."""
    secret = settings.credential_key_secret
    return IssuerConfig(public_url=settings.public_url, slug=settings.issuer_slug, name=settings.issuer_name,
                        country=settings.issuer_country, locality=settings.issuer_locality,
                        email=settings.issuer_email, url=settings.issuer_url,
                        description=settings.issuer_description, legal_id=settings.issuer_legal_id,
                        key_file=settings.credential_key,
                        key_secret=None if secret is None else secret.get_secret_value())
def kit_service(settings: HubSettings, signer: CommandSigner | None) -> KitService:
    """The kit service of ``settings``: the broker files it manages, the hub's broker user, CA and command key."""
    files = hub_account = None
    if settings.broker_passwd_file:
        files = BrokerFiles(settings.broker_passwd_file, settings.broker_acl_file, settings.broker_pid_file,
                            settings.broker_reload_command)
        hub_account = BrokerAccount(settings.broker_username,
                                    hash_password(settings.broker_username, settings.broker_password.get_secret_value()))
    ca_pem = Path(settings.broker_ca).read_bytes() if settings.broker_ca else None
    public_pem = None if signer is None else public_key_pem(signer.public_key())
    lab = [BrokerAccount(f"{site}/{edge}", hash_password(f"{site}/{edge}", password), site, edge)
           for site, edge, password in settings.lab_edges()]
    return KitService(settings.kit_broker_url or settings.broker, files, hub_account, ca_pem,
                      settings.command_key_id, public_pem, settings.public_url, lab_accounts=lab)


async def _checkpoint_loop(checkpoints: LedgerCheckpoints, db_sessions, every_s: float) -> None:
    """Sign a checkpoint of the ledger's head every ``every_s`` when it has grown (docs/security.md)."""
    def once() -> None:
        with db_sessions() as db:
            if checkpoints.write(db, only_if_new=True):
                log.info("ledger checkpoint written to %s", checkpoints.path)

    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(once)
        except Exception as exc:  # a broken chain is reported by /api/ledger/verify; keep trying
            log.error("ledger checkpoint not written: %s", exc)


async def _retention_loop(store, settings: HubSettings) -> None:
    """Apply the retention policies (docs/storage.md) every ``retention_check_s``.

    Raw features are rolled up only when ``retention_raw_s`` is set;
    quarantine, waveforms and command answers age out by their own settings.
    """
    while True:
        try:
            if settings.retention_raw_s:
                done = await asyncio.to_thread(store.apply_retention, int(settings.retention_raw_s * 1e9),
                                               int(settings.retention_rollup_every_s * 1e9),
                                               int(settings.retention_rollup_keep_s * 1e9))
                log.info("retention: %s", done)
            if hasattr(store, "prune"):
                pruned = await asyncio.to_thread(store.prune, settings.prune_keep_ns(),
                                                 settings.retention_quarantine_max)
                log.info("retention of quarantine, waveforms, command answers: %s", pruned)
        except Exception:  # a failed pass is retried at the next tick; ingest goes on
            log.exception("retention pass failed")
        await asyncio.sleep(settings.retention_check_s)


async def _agreements_loop(store, db_sessions, settings: HubSettings) -> None:
    """Enforce the data agreements' retention (docs/governance.md) every ``governance_check_s``, first after one."""
    while True:
        await asyncio.sleep(settings.governance_check_s)
        try:
            def work():
                with db_sessions() as db:
                    return governance_retention.summary(
                        governance_retention.run(db, store, settings.retention_days()).report)
            log.info("data retention: %s", await asyncio.to_thread(work))
        except Exception:  # a failed pass is retried at the next tick
            log.exception("data retention pass failed")


class _EmbeddedUvicorn(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the program hosting it."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


class HubServer:
    """Run the hub app under uvicorn inside the current event loop.

    Parameters
    ----------
    settings : HubSettings
        Hub configuration.
    """

    def __init__(self, settings: HubSettings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host=settings.http_host, port=settings.http_port,
                                log_level="warning", lifespan="on")
        self._server = _EmbeddedUvicorn(config)
        self._task: asyncio.Task | None = None

    @property
    def url(self) -> str:
        """Base URL of the mentor page."""
        return f"http://{self.settings.http_host}:{self.settings.http_port}/"

    @property
    def store(self) -> TelemetryStore:
        """The hub's telemetry store (SQLite or InfluxDB, see ``docs/storage.md``)."""
        return self.app.state.store

    async def start(self) -> None:
        """Start serving; return once the socket accepts connections."""
        self._task = asyncio.create_task(self._server.serve(), name="hub-http")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # surfaces bind errors
                raise RuntimeError("hub server stopped during start-up")
            await asyncio.sleep(0.05)
        log.info("hub serving %s", self.url)

    async def stop(self) -> None:
        """Stop serving and run the app's shutdown."""
        self._server.should_exit = True
        if self._task is not None:
            await self._task
