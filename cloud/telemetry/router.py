"""Telemetry API and live stream of the hub: thin routes over the store, filtered by the caller's scope.

A route answers 401 without a valid token, 403 when the caller's roles are not
admitted, and 404 for an asset, site or edge outside the caller's scope (the
same answer as for one that does not exist).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import Field

from cloud.access import Anyone, Operator, Principal, Staff
from cloud.errors import Invalid, NotFound
from cloud.telemetry.base import TelemetryStore
from cloud.telemetry.live import Broadcaster
from cloud.telemetry.schemas import (AlertEvent, AssetSeen, DriftEvent, EdgeDetail, EdgeSeen, FeatureWindow,
                                     Quarantined, WaveformSnapshot)
from cloud.telemetry.spectra import snapshot_spectra

router = APIRouter(prefix="/api", tags=["telemetry"])
OUT_OF_SCOPE = {404: {"description": "unknown, or outside the caller's scope"}}


def _store(request: Request) -> TelemetryStore:
    return request.app.state.store


def _live(request: Request) -> Broadcaster:
    return request.app.state.live


Store = Annotated[TelemetryStore, Depends(_store)]
Live = Annotated[Broadcaster, Depends(_live)]


def _check_asset(who: Principal, site: str, asset: str) -> None:
    if not who.scope.asset(site, asset):
        raise NotFound(f"no asset {asset!r} at site {site!r} in your scope")


def _pair(site: str | None, asset: str | None) -> None:
    if (site is None) != (asset is None):
        raise Invalid("give both site and asset, or neither")


@router.get("/summary", response_model=dict[str, int],
            summary="Fleet-wide counts of ingested messages, alerts and quarantined payloads (staff)")
def summary(store: Store, who: Staff) -> dict:
    return store.counts()


@router.get("/assets", response_model=list[AssetSeen], summary="Assets seen in telemetry (in scope), with edge state and alerts")
def assets(store: Store, who: Anyone) -> list[dict]:
    return [a for a in store.assets() if who.scope.asset(a["site"], a["asset"])]


@router.get("/edges", response_model=list[EdgeSeen], summary="Edges (at sites in scope) and their last retained status")
def edges(store: Store, who: Anyone) -> list[dict]:
    return [e for e in store.edges() if who.scope.site(e["site"])]


@router.get("/assets/{site}/{asset}/telemetry", response_model=list[FeatureWindow], responses=OUT_OF_SCOPE,
            summary="Feature windows of one asset, oldest first")
def telemetry(store: Store, who: Anyone, site: str, asset: str,
              since_ns: Annotated[int, Query(ge=0)] = 0,
              limit: Annotated[int, Query(ge=1, le=20000)] = 2000) -> list[dict]:
    _check_asset(who, site, asset)
    rows = store.telemetry(site, asset, since_ns, limit)
    if not rows and not any(a["site"] == site and a["asset"] == asset for a in store.assets()):
        raise NotFound(f"no asset {asset!r} at site {site!r}")
    return rows


#: One point of a series, ``[ts_ns, value]``: declared as a two-item array of numbers rather than a tuple,
#: whose ``prefixItems`` schema some OpenAPI tools still read as draft-4 ``items`` (schemathesis refused it).
SeriesPoint = Annotated[list[int | float], Field(min_length=2, max_length=2)]


@router.get("/assets/{site}/{asset}/series/{name}", response_model=list[SeriesPoint], responses=OUT_OF_SCOPE,
            summary="One feature over a time range, raw or downsampled to a resolution (oldest first)")
def series(store: Store, who: Anyone, site: str, asset: str, name: str,
           start_ns: Annotated[int | None, Query(ge=0, description="from (epoch ns, inclusive)")] = None,
           end_ns: Annotated[int | None, Query(ge=0, description="to (epoch ns, exclusive)")] = None,
           every_ns: Annotated[int | None, Query(gt=0, description="bucket width; omitted: raw windows")] = None,
           agg: Annotated[str, Query(pattern="^(mean|min|max|count|sum)$")] = "mean") -> list:
    _check_asset(who, site, asset)
    try:
        return store.series(site, asset, name, start_ns=start_ns, end_ns=end_ns, every_ns=every_ns, agg=agg)
    except ValueError as exc:  # the store names the bad bound or aggregate
        raise Invalid(str(exc)) from None


def _events(fetch, who: Principal, store: TelemetryStore, site: str | None, asset: str | None, limit: int) -> list:
    _pair(site, asset)
    if site is not None:
        _check_asset(who, site, asset)
        return fetch(site, asset, limit)
    if who.scope.everything:
        return fetch(None, None, limit)
    rows = [r for a in store.assets() if who.scope.asset(a["site"], a["asset"])
            for r in fetch(a["site"], a["asset"], limit)]
    return sorted(rows, key=lambda r: r["ts"], reverse=True)[:limit]


@router.get("/alerts", response_model=list[AlertEvent], responses=OUT_OF_SCOPE,
            summary="Alerts of assets in scope, newest first")
def alerts(store: Store, who: Anyone, site: str | None = None, asset: str | None = None,
           limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict]:
    return _events(store.alerts, who, store, site, asset, limit)


@router.get("/drift", response_model=list[DriftEvent], responses=OUT_OF_SCOPE,
            summary="Drift events (what drifted, which detector) of assets in scope, newest first")
def drift(store: Store, who: Anyone, site: str | None = None, asset: str | None = None,
          limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict]:
    return _events(store.drift, who, store, site, asset, limit)


@router.get("/assets/{site}/{asset}/waveforms", response_model=list[WaveformSnapshot], responses=OUT_OF_SCOPE,
            summary="Waveform snapshots of one asset, newest first")
def waveforms(store: Store, who: Anyone, site: str, asset: str,
              limit: Annotated[int, Query(ge=1, le=100)] = 5,
              spectra: Annotated[bool, Query(description="add amplitude and envelope spectra to each")] = False,
              ) -> list[dict]:
    _check_asset(who, site, asset)
    rows = store.waveforms(site, asset, limit)
    if spectra:
        for r in rows:
            r.update(snapshot_spectra(r["values"], r["rate"]))
    return rows


@router.get("/edges/{site}/{edge}", response_model=EdgeDetail, responses=OUT_OF_SCOPE,
            summary="One edge: retained birth (pipelines, lineage), health, command answers")
def edge_detail(store: Store, who: Anyone, site: str, edge: str) -> dict:
    if not who.scope.site(site):
        raise NotFound(f"no edge {edge!r} at site {site!r} in your scope")
    status = [e for e in store.edges() if e["site"] == site and e["edge"] == edge]
    state = store.edge_state(site, edge)
    if not status and state["birth"] is None:
        raise NotFound(f"no edge {edge!r} at site {site!r}")
    return {"status": status[0] if status else None, **state,
            "command_results": store.command_results(site, edge)}


@router.get("/quarantine", response_model=list[Quarantined], summary="Payloads refused by validation, with reasons (operators)")
def quarantine(store: Store, who: Operator, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict]:
    return store.quarantined(limit)


def visible(who: Principal, event: dict) -> bool:
    """Whether a live ``event`` may go to ``who`` (quarantine events: operators only)."""
    if who.scope.everything:
        return True
    if event.get("type") == "quarantine" or "site" not in event:
        return False
    asset = event.get("asset")
    return who.scope.asset(event["site"], asset) if asset else who.scope.site(event["site"])


@router.get("/stream", summary="Server-sent events: features, alerts, status, quarantine in scope as they arrive",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "'event: <type>' and 'data: <JSON>' lines per message"}})
async def stream(live: Live, who: Anyone) -> StreamingResponse:
    queue = live.subscribe()

    async def events():
        try:
            yield "retry: 2000\n\n"
            # No disconnect check per event: the server tells the response when the client has gone and
            # the response cancels this generator (under ASGI 2.4, the next write fails: a keep-alive at
            # most 10 s later), which unsubscribes it below. Polling for it cost more than encoding.
            while True:
                try:  # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                    async with asyncio.timeout(10):
                        event = await queue.get()
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                batch = [event]  # whatever else is already waiting goes out in the same chunk
                while len(batch) < 1000 and not queue.empty():
                    batch.append(queue.get_nowait())
                chunk = "".join(e.frame() for e in batch if visible(who, e))
                if chunk:
                    yield chunk
        finally:
            live.unsubscribe(queue)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
