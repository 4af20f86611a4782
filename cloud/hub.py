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

from cloud.accounts.bootstrap import annotate_routes, setup_domain
from cloud.accounts.router import router as accounts_router
from cloud.api.commands import router as commands_router
from cloud.api.routes import router
from cloud.challenges.router import router as challenges_router
from cloud.challenges.runner import LabRunner
from cloud.challenges.session_router import close_and_score
from cloud.challenges.session_router import router as sessions_router
from cloud.domain.router import router as registry_router
from cloud.ingest.subscriber import MqttIngest
from cloud.live import Broadcaster
from cloud.metrics import metrics_endpoint
from cloud.settings import HubSettings
from cloud.telemetry.base import TelemetryStore
from cloud.telemetry.factory import open_store

log = logging.getLogger(__name__)
WEB = Path(__file__).parent / "web"


def plotly_js() -> Path:
    """Path of plotly.js as shipped inside the ``plotly`` Python package."""
    return Path(str(importlib.resources.files("plotly") / "package_data" / "plotly.min.js"))


def create_app(settings: HubSettings, ingest: bool = True) -> FastAPI:
    """Build the hub's FastAPI app; MQTT ingest starts with the app when ``ingest``.

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

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        live.bind(asyncio.get_running_loop())
        if ingest:
            mqtt_ingest.start()
        retention = asyncio.create_task(_retention_loop(store, settings)) if settings.retention_raw_s else None
        app.state.lab_runner = _lab_runner(app, settings)
        try:
            yield
        finally:
            if app.state.lab_runner is not None:
                await app.state.lab_runner.stop_all()
            if retention is not None:
                retention.cancel()
            if ingest:
                mqtt_ingest.stop()
            store.close()
            app.state.domain_engine.dispose()

    app = FastAPI(title="TeachFab hub", version="0.1.0", lifespan=lifespan,
                  description="Live challenge telemetry from TeachFab edge agents.")
    app.state.store, app.state.live, app.state.ingest = store, live, mqtt_ingest
    # accounts and relational domain (docs/access.md): migrate, bootstrap users, role-gated routers
    setup_domain(app, settings)
    app.state.lab_runner = None
    for api_router in (router, accounts_router, registry_router, commands_router, challenges_router,
                       sessions_router):
        app.include_router(annotate_routes(api_router))

    @app.get("/", include_in_schema=False)
    def mentor_page() -> FileResponse:
        return FileResponse(WEB / "index.html")

    @app.get("/session", include_in_schema=False)
    def session_page() -> FileResponse:  # the learner page of one lab session: /session?id=N
        return FileResponse(WEB / "session.html")

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def vendor_plotly() -> FileResponse:
        return FileResponse(plotly_js(), media_type="application/javascript")

    @app.get("/healthz", summary="Liveness: the hub runs and knows whether ingest is subscribed")
    def healthz() -> dict:
        return {"ok": True, "ingest_subscribed": mqtt_ingest.subscribed.is_set()}

    app.add_api_route("/metrics", metrics_endpoint(mqtt_ingest.metrics.registry), include_in_schema=False)
    app.mount("/static", StaticFiles(directory=WEB), name="static")
    return app


def _lab_runner(app: FastAPI, settings: HubSettings):
    """The runner of lab sessions (``labs.session_runner``), when the hub can sign deploys (has a command key)."""
    if not settings.command_key or not settings.lab_sessions:
        return None


    async def finished(session_id: int) -> None:  # the scenario's duration has passed
        await close_and_score(app, session_id, None)

    return LabRunner(settings.broker, settings.command_key, settings.command_key_id, finished, settings.mqtt_protocol)


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
