"""The floor of any Python hub's live path: MQTT in, HTTP event stream out, nothing in between.

A process with one paho QoS 1 subscriber (its network thread, as the
hub's) that hands every features message to an asyncio loop
(``call_soon_threadsafe``, as the hub's broadcaster) and writes it as a
server-sent event to every connected HTTP client — no validation, no
store, no auth, no web framework. ``bench_ingest.py`` runs it beside the
hub in the same latency run: what it adds over the bare subscriber is what
two network hops and two thread hand-overs cost in CPython on this
machine, before the hub does any work of its own.

Usage::

    .venv/bin/python benchmarks/relay_floor.py BROKER_PORT HTTP_PORT TOPIC_FILTER
"""

from __future__ import annotations

import asyncio
import json
import sys

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


class Relay:
    """Subscribe to ``topic`` and stream each message's record stamps to every HTTP client."""

    def __init__(self, broker_port: int, topic: str) -> None:
        self.broker_port, self.topic = broker_port, topic
        self.writers: set[asyncio.StreamWriter] = set()
        self.loop: asyncio.AbstractEventLoop | None = None

    def _on_message(self, client, userdata, message) -> None:
        self.loop.call_soon_threadsafe(self._send, message.payload)

    def _send(self, payload: bytes) -> None:
        body = json.loads(payload)
        data = json.dumps({"records": [{"ts": r["ts"]} for r in body["records"]]})
        chunk = f"event: features\ndata: {data}\n\n".encode()
        for w in list(self.writers):
            w.write(chunk)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n")
        self.writers.add(writer)
        try:
            await reader.read()  # until the client goes
        finally:
            self.writers.discard(writer)
            writer.close()

    async def run(self, http_port: int) -> None:
        """Serve on ``http_port`` until killed."""
        self.loop = asyncio.get_running_loop()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-relay", protocol=mqtt.MQTTv5)
        c.on_message = self._on_message
        c.on_connect = lambda client, *a: client.subscribe(self.topic, qos=1)
        c.connect("127.0.0.1", self.broker_port)
        c.loop_start()
        server = await asyncio.start_server(self._client, "127.0.0.1", http_port)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(Relay(int(sys.argv[1]), sys.argv[3]).run(int(sys.argv[2])))
