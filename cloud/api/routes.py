"""JSON API and live stream of the hub (thin routes over the store)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from cloud.live import Broadcaster
from cloud.telemetry.store import SQLiteStore

router = APIRouter(prefix="/api")


def _store(request: Request) -> SQLiteStore:
    return request.app.state.store


def _live(request: Request) -> Broadcaster:
    return request.app.state.live


Store = Annotated[SQLiteStore, Depends(_store)]
Live = Annotated[Broadcaster, Depends(_live)]


@router.get("/summary", summary="Counts of ingested messages, alerts and quarantined payloads")
def summary(store: Store) -> dict:
    return store.counts()


@router.get("/assets", summary="Assets seen, with their edge's state and alert count")
def assets(store: Store) -> list[dict]:
    return store.assets()


@router.get("/edges", summary="Edges and their last retained status")
def edges(store: Store) -> list[dict]:
    return store.edges()


@router.get("/assets/{site}/{asset}/telemetry", summary="Feature windows of one asset, oldest first")
def telemetry(store: Store, site: str, asset: str,
              since_ns: Annotated[int, Query(ge=0)] = 0,
              limit: Annotated[int, Query(ge=1, le=20000)] = 2000) -> list[dict]:
    rows = store.telemetry(site, asset, since_ns, limit)
    if not rows and not any(a["site"] == site and a["asset"] == asset for a in store.assets()):
        raise HTTPException(404, f"no asset {asset!r} at site {site!r}")
    return rows


@router.get("/alerts", summary="Alerts, newest first")
def alerts(store: Store, site: str | None = None, asset: str | None = None,
           limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict]:
    if (site is None) != (asset is None):
        raise HTTPException(422, "give both site and asset, or neither")
    return store.alerts(site, asset, limit)


@router.get("/drift", summary="Drift events (what drifted, which detector), newest first")
def drift(store: Store, site: str | None = None, asset: str | None = None,
          limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict]:
    if (site is None) != (asset is None):
        raise HTTPException(422, "give both site and asset, or neither")
    return store.drift(site, asset, limit)


@router.get("/assets/{site}/{asset}/waveforms", summary="Waveform snapshots of one asset, newest first")
def waveforms(store: Store, site: str, asset: str, limit: Annotated[int, Query(ge=1, le=100)] = 5) -> list[dict]:
    return store.waveforms(site, asset, limit)


@router.get("/edges/{site}/{edge}", summary="One edge: retained birth (pipelines, lineage), health, command answers")
def edge_detail(store: Store, site: str, edge: str) -> dict:
    status = [e for e in store.edges() if e["site"] == site and e["edge"] == edge]
    state = store.edge_state(site, edge)
    if not status and state["birth"] is None:
        raise HTTPException(404, f"no edge {edge!r} at site {site!r}")
    return {"status": status[0] if status else None, **state,
            "command_results": store.command_results(site, edge)}


@router.get("/quarantine", summary="Payloads refused by validation, with reasons")
def quarantine(store: Store, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict]:
    return store.quarantined(limit)


@router.get("/stream", summary="Server-sent events: features, alerts, status, quarantine as they arrive")
async def stream(request: Request, live: Live) -> StreamingResponse:
    queue = live.subscribe()

    async def events():
        try:
            yield "retry: 2000\n\n"
            while not await request.is_disconnected():
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=10)
                except asyncio.TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"
        finally:
            live.unsubscribe(queue)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
