"""The hub application: ingest + store + API + mentor page, and a server for it."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import logging
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from cloud.access import annotate_routes
from cloud.accounts.router import router as accounts_router
from cloud.accounts.service import authenticator
from cloud.bootstrap import open_domain
from cloud.challenges.hooks import LearningHooks
from cloud.challenges.lab import LabService
from cloud.challenges.pipeline_router import router as pipelines_router
from cloud.challenges.router import router as challenges_router
from cloud.challenges.runner import LabRunner
from cloud.challenges.scope import scope_of
from cloud.challenges.session_router import router as sessions_router
from cloud.commands.router import router as commands_router
from cloud.commands.service import CommandSigner
from cloud.errors import install_handlers
from cloud.ingest.metrics import metrics_endpoint
from cloud.ingest.subscriber import MqttIngest
from cloud.settings import HubSettings
from cloud.sites.router import router as registry_router
from cloud.skills import i18n as skills_i18n
from cloud.skills import updates as skill_updates
from cloud.skills.router import router as skills_router
from cloud.skills.staff_router import router as skills_staff_router
from cloud.telemetry.base import TelemetryStore
from cloud.telemetry.factory import open_store
from cloud.telemetry.live import Broadcaster
from cloud.telemetry.router import router as telemetry_router
from cloud.telemetry.schemas import Health

log = logging.getLogger(__name__)
WEB = Path(__file__).parent / "web"


def plotly_js() -> Path:
    """Path of plotly.js as shipped inside the ``plotly`` Python package."""
    return Path(str(importlib.resources.files("plotly") / "package_data" / "plotly.min.js"))


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
                             settings.shared_group, settings.client_id, **settings.ingest_options())
    engine, db_sessions = open_domain(settings)
    signer = CommandSigner.from_settings(settings)
    lab = LabService(db_sessions, store, signer)
    if signer is not None and settings.lab_sessions:
        lab.runner = LabRunner(settings.broker, signer.public_key(), signer.key_id, lab.scenario_ended,
                               settings.mqtt_protocol)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        live.bind(asyncio.get_running_loop())
        if ingest:
            mqtt_ingest.start()
        retention = asyncio.create_task(_retention_loop(store, settings)) if settings.retention_raw_s else None
        try:
            yield
        finally:
            await lab.stop_all()
            if retention is not None:
                retention.cancel()
            if ingest:
                mqtt_ingest.stop()
            store.close()
            engine.dispose()

    app = FastAPI(title="TeachFab hub", version="0.1.0", lifespan=lifespan,
                  description="Live challenge telemetry from TeachFab edge agents.")
    app.state.settings, app.state.store, app.state.live, app.state.ingest = settings, store, live, mqtt_ingest
    app.state.domain_engine, app.state.sessions = engine, db_sessions
    app.state.authenticate = authenticator(scope_of)
    app.state.command_signer, app.state.lab = signer, lab
    # the skills area (above challenges) learns of evidence and sign-offs through these hooks
    app.state.hooks = lab.hooks = LearningHooks(on_evidence=[skill_updates.from_evidence],
                                                on_outcome=[skill_updates.from_outcome])
    install_handlers(app)
    skills_i18n.install_handlers(app)
    for api_router in (telemetry_router, accounts_router, registry_router, commands_router, challenges_router,
                       sessions_router, pipelines_router, skills_router, skills_staff_router):
        app.include_router(annotate_routes(api_router))

    @app.get("/", include_in_schema=False)
    def mentor_page() -> FileResponse:
        return FileResponse(WEB / "index.html")

    @app.get("/session", include_in_schema=False)
    def session_page() -> FileResponse:  # the learner page of one lab session: /session?id=N
        return FileResponse(WEB / "session.html")

    @app.get("/skills", include_in_schema=False)
    def skills_page() -> FileResponse:  # the learner portal and the staff views of skills (it logs in itself)
        return FileResponse(WEB / "skills.html")

    @app.get("/join", include_in_schema=False)
    def join_page() -> FileResponse:  # joining by invitation: /join?token=...
        return FileResponse(WEB / "join.html")

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def vendor_plotly() -> FileResponse:
        return FileResponse(plotly_js(), media_type="application/javascript")

    @app.get("/healthz", response_model=Health, summary="Liveness: the hub runs and knows whether ingest is subscribed")
    def healthz() -> Health:
        return Health(ok=True, ingest_subscribed=mqtt_ingest.subscribed.is_set())

    app.add_api_route("/metrics", metrics_endpoint(mqtt_ingest.metrics.registry), include_in_schema=False)
    app.mount("/static", StaticFiles(directory=WEB), name="static")
    return app


async def _retention_loop(store, settings: HubSettings) -> None:
    """Apply the telemetry retention policy (docs/storage.md) every ``retention_check_s``."""
    while True:
        try:
            done = await asyncio.to_thread(store.apply_retention, int(settings.retention_raw_s * 1e9),
                                           int(settings.retention_rollup_every_s * 1e9),
                                           int(settings.retention_rollup_keep_s * 1e9))
            log.info("retention: %s", done)
        except Exception:  # a failed pass is retried at the next tick; ingest goes on
            log.exception("retention pass failed")
        await asyncio.sleep(settings.retention_check_s)


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
