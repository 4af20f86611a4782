"""The live stream under a real uvicorn: frames as the browser parses them, one subscription per open stream."""

from __future__ import annotations

import json
import socket

import httpx

from cloud.hub import HubSettings, create_app
from cloud.telemetry.live import LiveEvent
from tests.browser.serving import served
from tests.waiting import wait_until

OPS = {"admin_email": "ops@hub.example", "admin_password": "operator-test-passphrase"}


def _open_stream(url: str, token: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(f"GET /api/stream HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    return sock


def _read_until(sock: socket.socket, done, what: str) -> bytes:
    data = b""
    while not done(data):
        chunk = sock.recv(65536)
        assert chunk, f"the stream closed before {what}; read {data!r}"
        data += chunk
    return data


def _read_event(sock: socket.socket, kind: str) -> dict:
    """The JSON of the next ``kind`` event on a raw (chunked) stream."""
    head = f"event: {kind}\n".encode()
    data = _read_until(sock, lambda d: head in d and b"\n\n" in d.split(head, 1)[1], f"an {kind} event")
    block = data.split(head, 1)[1].split(b"\n\n", 1)[0].decode()
    assert block.startswith("data: "), block
    return json.loads(block.removeprefix("data: "))


def test_events_arrive_once_per_stream_and_a_closed_stream_unsubscribes(tmp_path):
    app = create_app(HubSettings(db_path=str(tmp_path / "hub.sqlite"), **OPS), ingest=False)
    with served(app) as url:
        token = httpx.post(url + "/api/auth/token", data={"username": OPS["admin_email"],
                                                          "password": OPS["admin_password"]}).json()["access_token"]
        live = app.state.live
        streams = [_open_stream(url, token), _open_stream(url, token)]
        for s in streams:
            _read_until(s, lambda d: b"retry: 2000" in d, "the stream's first line")
        wait_until(lambda: live.subscribers == 2, timeout=20, what="two subscriptions")

        event = {"type": "alert", "site": "lab", "edge": "edge-1", "asset": "pump-1",
                 "body": {"message": "bearing \"outer\" <b>", "score": 0.5}}
        app.state.live.publish(event)
        for s in streams:
            assert _read_event(s, "alert") == event

        streams[0].close()
        wait_until(lambda: live.subscribers == 1, timeout=30, what="the closed stream to unsubscribe")
        streams[1].close()
        wait_until(lambda: not live.listening, timeout=30, what="the last stream to unsubscribe")


def test_a_live_event_encodes_its_frame_once():
    event = LiveEvent({"type": "features", "site": "lab", "records": [{"ts": 1, "rms": 0.5}]})
    first = event.frame()
    assert first is event.frame()
    assert first == f"event: features\ndata: {json.dumps(dict(event))}\n\n"
