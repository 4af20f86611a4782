"""Resource limits and HTTP hardening of a real hub server (issue 17, findings 9 and 11).

Found: a learner's deploy of an ``hst`` detector with 1 000 trees of height
24 built ~3·10¹⁰ objects on the hub host; there was no request size limit
(a 20 MB submission link was stored); no CSP, X-Frame-Options, nosniff or
Referrer-Policy headers; ``/docs`` loaded Swagger UI from a CDN. The hub
runs under uvicorn on a free port; requests go over real sockets.
"""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from pydantic import ValidationError

from cloud.hub import HubServer
from cloud.settings import HubSettings
from edge_agent.pipeline import PipelineConfig
from tests.servers import OPERATOR, free_port, login_operator

HUGE_HST = {"detector": {"name": "hst", "params": {"n_trees": 1000, "height": 24}}}


async def _with_hub(tmp_path, steps):
    hub = HubServer(HubSettings(db_path=str(tmp_path / "hub.sqlite"), http_port=free_port(),
                                max_request_bytes=64 * 1024, **OPERATOR))
    await hub.start()
    try:
        async with httpx.AsyncClient(base_url=hub.url, timeout=30) as http:
            return await steps(http)
    finally:
        await hub.stop()


@pytest.mark.parametrize("pipeline, field, words", [
    (HUGE_HST, "detector", "detector.params.n_trees must be at most 100, got 1000"),
    ({"detector": {"name": "hst", "params": {"n_trees": 50, "height": 16}}}, "detector", "tree nodes, at most"),
    ({"detector": {"name": "river.hst", "params": {"n_trees": 10, "height": 30}}}, "detector",
     "detector.params.height must be at most 16"),
    ({"threshold": {"name": "quantile", "params": {"window": 10**9}}}, "threshold", "threshold.params.window"),
    ({"drift": [{"target": "rms", "params": {"clock": 10**12}}]}, "drift", "drift.params.clock"),
    ({"drift": [{"target": "rms"}] * 33}, "drift", "at most 32"),
])
def test_pipeline_parameters_are_bounded_before_anything_is_built(tmp_path, monkeypatch, pipeline, field, words):
    from edge_agent.models import hst

    def never(*a, **k):
        raise AssertionError("a tree was built while validating")

    monkeypatch.setattr(hst.HalfSpaceTrees, "_grow", never)

    async def steps(http):
        await login_operator(http)
        return await http.post("/api/pipelines/validate", json={"pipeline": pipeline})

    r = asyncio.run(_with_hub(tmp_path, steps))
    assert r.status_code == 200 and r.json()["ok"] is False, r.text
    errors = r.json()["errors"]
    assert any(e["field"] == field and words in e["message"] for e in errors), errors
    with pytest.raises(ValidationError, match=re.escape(words.split(",")[0])):
        PipelineConfig(**pipeline)  # what the deploy route and the edge both check


def test_request_bodies_are_limited_declared_or_chunked_and_links_bounded(tmp_path):
    async def steps(http):
        await login_operator(http)
        big = await http.post("/api/sessions/1/submissions", json={"note": "x", "links": ["https://a/" + "x" * 200_000]})

        async def chunks():
            for _ in range(100):
                yield b"x" * 4096

        chunked = await http.post("/api/pipelines/validate", content=chunks(),
                                  headers={"content-type": "application/json"})
        small_ok = await http.post("/api/pipelines/validate", json={"pipeline": {"window": 4096}})
        return big, chunked, small_ok

    big, chunked, small_ok = asyncio.run(_with_hub(tmp_path, steps))
    assert big.status_code == 413 and "exceeds 65536" in big.json()["detail"]
    assert "transfer-encoding" not in big.request.headers
    assert chunked.request.headers.get("transfer-encoding") == "chunked"
    assert chunked.status_code == 413 and "exceeds 65536" in chunked.json()["detail"]
    assert small_ok.status_code == 200
    from cloud.challenges.schemas import SubmissionIn

    with pytest.raises(ValidationError, match="at most 2048 characters"):
        SubmissionIn(links=["https://lab.example/" + "x" * 3000])
    with pytest.raises(ValidationError, match="should match pattern"):
        SubmissionIn(links=["javascript:alert(1)"])


def test_every_response_carries_the_security_headers_and_docs_need_no_cdn(tmp_path):
    async def steps(http):
        out = {p: await http.get(p) for p in ("/", "/docs", "/healthz", "/api/auth/me", "/no/such/page",
                                              "/static/app.js", "/openapi.json")}
        docs = out["/docs"].text
        out["assets"] = [await http.get(src) for src in re.findall(r'(?:src|href)="(/[^"]+)"', docs)]
        return out

    out = asyncio.run(_with_hub(tmp_path, steps))
    for path, r in out.items():
        for resp in (r if isinstance(r, list) else [r]):
            h = resp.headers
            csp = h["content-security-policy"]
            assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
            assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff"
            assert h["referrer-policy"] == "no-referrer", path
    assert out["/api/auth/me"].status_code == 401 and out["/no/such/page"].status_code == 404
    docs = out["/docs"].text
    assert "swagger-ui-bundle.js" in docs and "cdn" not in docs.lower() and "https://" not in docs
    assert "<script>" not in docs and "style=" not in docs  # nothing inline: the CSP would block it
    assert [a.status_code for a in out["assets"]] == [200] * len(out["assets"]) and len(out["assets"]) == 4
