"""Signed commands name their site, replay protection survives a restart, hostile JSON gets an answer.

Issue 17, finding 6: a deploy signed for ``plant-b/edge-1`` replayed to
``teachfab-lab/edge-1`` was accepted (edge ids repeat across sites), and a
restarted edge without a configured state directory accepted the same
bundle again, which also allowed a rollback. Finding 11: the command
handler raised on deeply nested JSON and sent no answer. Real parts: a
Mosquitto broker and an edge agent (no ``state_dir`` configured: the
default, where lab-session edges used to run), restarted in between.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contract.signing import generate_keypair, save_public_key, sign_bundle
from contract.topics import command_result_topic, command_topic
from edge_agent.agent import EdgeAgent, load_edge_settings
from edge_agent.commands import default_state_dir
from tests.waiting import async_wait_until

SITE, EDGE = "teachfab-lab", "edge-1"
PIPELINE = {"window": 2048, "warmup": 5, "threshold": 6.0}


class Results:
    """Collects the edge's ``cmd_result`` answers by bundle id (and those without one)."""

    def __init__(self, port: int) -> None:
        self.by_id: dict[str | None, list[dict]] = {}
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-results")
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(command_result_topic(SITE, EDGE), qos=1)
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = lambda c, u, m: self._add(json.loads(m.payload))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert subscribed.wait(10)

    def _add(self, doc: dict) -> None:
        self.by_id.setdefault(doc.get("bundle_id"), []).append(doc)

    def send(self, name: str, payload: bytes) -> None:
        self.client.publish(command_topic(SITE, EDGE, name), payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _deploy(private, bundle_id: str, created_ns: int, site: str = SITE, **pipeline) -> bytes:
    doc = {"cmd": "deploy", "bundle_id": bundle_id, "site": site, "edge": EDGE, "created_ns": created_ns,
           "asset": "pump-1", "pipeline": {**PIPELINE, **pipeline}}
    return json.dumps(sign_bundle(doc, private, "hub")).encode()


async def _run_edge(settings, steps) -> EdgeAgent:
    """Run an agent, wait until it listens for commands, run ``steps(agent)``, stop it."""
    stop = asyncio.Event()
    agent = EdgeAgent(settings)
    task = asyncio.create_task(agent.run(stop))
    try:
        await async_wait_until(lambda: agent.publisher.subscribed.is_set() or task.done(), 30,
                               what="the edge subscribed to its commands")
        await steps(agent)
    finally:
        stop.set()
        await task
    return agent


@pytest.mark.timeout(120)
def test_site_bound_commands_and_replay_protection_across_a_restart(mosquitto, tmp_path):
    private, public = generate_keypair()
    keys = tmp_path / "keys"
    keys.mkdir()
    save_public_key(public, keys / "hub.pub.pem")
    settings = load_edge_settings(None, site=SITE, edge_id=EDGE, broker=mosquitto.url, hub_keys=str(keys),
                                  pipelines={"pump-1": {"window": 2048}})
    assert settings.state_dir is None
    results = Results(mosquitto.port)
    now = time.time_ns()
    old, new = _deploy(private, "d-old", now - 10**9, threshold=5.0), _deploy(private, "d-new", now, threshold=7.0)

    async def answered(bundle_id: str, n: int = 1) -> None:
        await async_wait_until(lambda: len(results.by_id.get(bundle_id, [])) >= n, 20,
                               what=f"answer {n} to {bundle_id}", show=lambda: results.by_id)

    async def first_life(agent: EdgeAgent) -> None:
        # signed for the same edge id at another site, republished here
        results.send("deploy", _deploy(private, "d-other-site", now, site="plant-b", threshold=1.0))
        await answered("d-other-site")
        results.send("deploy", b"[" * 5000 + b"]" * 5000)  # nested 5 000 deep: refused, answered, edge goes on
        results.send("deploy", b'{"payload": ' * 2000 + b"1" + b"}" * 2000)
        await answered(None, 2)
        results.send("deploy", new)
        await answered("d-new")
        await async_wait_until(lambda: agent.pipelines["pump-1"].config.threshold == 7.0, 10,
                               what="the deploy applied")

    async def second_life(agent: EdgeAgent) -> None:
        results.send("deploy", new)  # the same bundle again
        await answered("d-new", 2)
        results.send("deploy", old)  # an older bundle: a rollback
        await answered("d-old")

    try:
        asyncio.run(_run_edge(settings, first_life))
        assert (default_state_dir(SITE, EDGE) / "commands.json").exists()
        agent = asyncio.run(_run_edge(settings, second_life))
    finally:
        results.close()
    [other] = results.by_id["d-other-site"]
    assert other["status"] == "rejected"
    assert "command is for edge 'plant-b'/'edge-1', this is 'teachfab-lab'/'edge-1'" in other["reason"]
    deep = results.by_id[None]
    assert [d["status"] for d in deep] == ["rejected", "rejected"]
    assert all("nests deeper than 32 levels" in d["reason"] for d in deep), deep
    first, again = results.by_id["d-new"]
    assert first["status"] == "accepted" and again["status"] == "rejected"
    assert again["reason"] == "replay: bundle_id 'd-new' was already handled"
    [rollback] = results.by_id["d-old"]
    assert rollback["status"] == "rejected" and rollback["reason"].startswith("stale: deploy created_ns")
    assert agent.pipelines["pump-1"].config.window == 2048  # nothing applied in the second life
    assert agent.commands.stats()["accepted"] == 0 and agent.commands.stats()["rejected"] == 2
