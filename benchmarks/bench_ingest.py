"""Hub ingest through a real Mosquitto into SQLite, side by side with a bare subscriber; sensor→browser latency.

1. Throughput: edges publish feature batches (QoS 1, ``--records`` windows ×
   ``--features`` values per message) as fast as paho sends them, bounded
   in flight. In the same run a bare paho QoS 1 subscriber — the floor of
   the pipe: it only counts — receives the same messages from the same
   broker. The benchmark times both until the last message is counted
   (bare) or stored (hub), counts any loss, and prints both rates in
   feature points/s and their ratio (goal: hub ≥ 60 % of the bare rate,
   about 100 000 points/s on the 2-core development machine, 0 lost).
2. Latency: one record per message at 1 000 msg/s for ``--seconds``; a
   headless Chromium (Debian's, through playwright) reads the live
   stream like the mentor page does and records, per message, its arrival
   time minus the time the edge stamped into it (same clock: one machine);
   the bare subscriber records the same for the broker hop alone, and a
   plain-socket client reading the same stream (:class:`StreamReader`)
   the hub's part without the browser's, and the same client reading
   :mod:`relay_floor` — paho to asyncio to an HTTP event stream with no
   work between, the floor of any Python hub's live path. Prints p50 / p95 /
   p99 of each and the p95 ratios browser/bare (goal: p95 ≤ 2× the bare
   p95, p99 ≤ 100 ms) and relay/bare.

Usage::

    .venv/bin/python benchmarks/bench_ingest.py [--messages 20000] [--records 10] [--features 8] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

import httpx  # noqa: E402
from tests.servers import Mosquitto, free_port  # noqa: E402

SITE, ASSET = "bench", "pump-1"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# reads /api/stream with the demo mentor's token; keeps (arrival ms - stamped ms) per features record
_PAGE_SCRIPT = """
async () => {
  const tok = (await (await fetch('/api/auth/demo-token', {method: 'POST'})).json()).access_token;
  const res = await fetch('/api/stream', {headers: {Authorization: 'Bearer ' + tok}});
  window.lat = []; window.streamOpen = true;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  (async () => { for (;;) {
    const {value, done} = await reader.read(); if (done) return;
    buf += value;
    let cut;
    while ((cut = buf.indexOf('\\n\\n')) >= 0) {
      const block = buf.slice(0, cut); buf = buf.slice(cut + 2);
      const now = performance.timeOrigin + performance.now();
      if (!block.includes('event: features')) continue;
      const data = JSON.parse(block.split('\\n').filter(l => l.startsWith('data:')).map(l => l.slice(5)).join(''));
      for (const r of data.records) window.lat.push(now - r.ts / 1e6);
    }
  } })();
}
"""


class HubProcess:
    """``teachfab hub run`` in demo mode in its own process, as deployed (its own interpreter: no GIL shared
    with the publishers and the bare subscriber of this process)."""

    def __init__(self, broker: str, db_path: str, log_path: Path) -> None:
        self.db = db_path
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/"
        env = {**os.environ, "TEACHFAB_HUB_MODE": "demo", "TEACHFAB_HUB_DEMO_SITES": json.dumps([SITE])}
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "teachfab.cli", "hub", "run", "--broker", broker,
                                      "--db", db_path, "--port", str(port)], cwd=ROOT, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT)

    def __enter__(self) -> "HubProcess":
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the hub exited with {self.proc.returncode}; see {self._log.name}")
            try:
                if httpx.get(self.url + "healthz", timeout=2).json().get("ingest_subscribed"):
                    return self
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the hub did not subscribe within 60 s; see {self._log.name}")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()

    def stored(self) -> int:
        """Features messages in the hub's SQLite file (read-only, beside the hub's writer: WAL)."""
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM messages WHERE kind = 'features'").fetchone()[0]


class RelayProcess:
    """:mod:`relay_floor` in its own process, subscribed to the latency run's messages (``url`` once entered)."""

    def __init__(self, broker_port: int) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "relay_floor.py"), str(broker_port),
                                      str(self.port), f"tf/v1/{SITE}/edge-lat/+/features"], cwd=ROOT,
                                     stdout=subprocess.PIPE, text=True)

    def __enter__(self) -> "RelayProcess":
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the relay did not start")
        time.sleep(0.5)  # its subscription acknowledged well before the first message
        self.url = f"http://127.0.0.1:{self.port}/"
        return self

    def __exit__(self, *exc) -> None:
        self.proc.kill()
        self.proc.wait(10)


class BareSubscriber:
    """A paho QoS 1 subscriber that only counts features messages (and notes their latency when asked)."""

    def __init__(self, port: int) -> None:
        self.count, self.last, self.lat_ms, self.track_latency = 0, 0.0, [], False
        self.subscribed = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=mqtt.MQTTv5)
        c.on_message = self._on_message
        c.on_subscribe = lambda *a: self.subscribed.set()
        c.on_connect = lambda client, *a: client.subscribe(f"tf/v1/{SITE}/+/+/features", qos=1)
        c.connect("127.0.0.1", port)
        c.loop_start()
        self.client = c
        self.subscribed.wait(10)

    def _on_message(self, client, userdata, message) -> None:
        self.count += 1
        self.last = time.perf_counter()
        if self.track_latency:  # the stamp sits at a fixed place of the payload: no JSON parse needed
            i = message.payload.find(b'"ts":') + 5
            self.lat_ms.append(time.time_ns() / 1e6 - int(message.payload[i:i + 19]) / 1e6)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _publisher(port: int, edge: str) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{edge}")
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def _payload(edge: str, seq: int, records: int, features: int, ts_ns: int) -> bytes:
    recs = [{"ts": ts_ns + k * 1_000_000, "features": {f"f{j}": 0.1 * j + k for j in range(features)},
             "score": 1.0, "threshold": 8.0} for k in range(records)]
    return json.dumps({"v": 1, "edge": edge, "boot": "bench", "seq": seq, "records": recs},
                      separators=(",", ":")).encode()


def throughput(hub: HubProcess, bare: BareSubscriber, port: int, messages: int, records: int, features: int,
               edges: int = 4) -> dict:
    """Publish ``messages`` batches from ``edges`` edges; time until the bare subscriber counted and the hub stored all."""
    clients = [_publisher(port, f"edge-{i}") for i in range(edges)]
    before, bare_before = hub.stored(), bare.count
    t0 = time.perf_counter()
    infos = []
    for n in range(messages):
        e = n % edges
        payload = _payload(f"edge-{e}", n // edges + 1, records, features, time.time_ns())
        infos.append(clients[e].publish(f"tf/v1/{SITE}/edge-{e}/{ASSET}/features", payload, qos=1))
    for info in infos:
        info.wait_for_publish(60)
    sent_s = time.perf_counter() - t0
    deadline = time.monotonic() + 120
    while hub.stored() - before < messages and time.monotonic() < deadline:
        time.sleep(0.02)
    total_s = time.perf_counter() - t0
    stored = hub.stored() - before
    while bare.count - bare_before < messages and time.monotonic() < deadline:
        time.sleep(0.01)
    counted = bare.count - bare_before
    bare_s = bare.last - t0
    for c in clients:
        c.disconnect()
        c.loop_stop()
    points = stored * records * features
    bare_rate = counted * records * features / bare_s
    return {"messages": messages, "stored": stored, "lost": messages - stored, "seconds": round(total_s, 3),
            "publish_seconds": round(sent_s, 3), "points": points, "points_per_s": round(points / total_s),
            "bare_counted": counted, "bare_seconds": round(bare_s, 3), "bare_points_per_s": round(bare_rate),
            "ratio": round(points / total_s / bare_rate, 3)}


class StreamReader:
    """A plain-socket HTTP client of ``/api/stream``: per features record, its arrival minus the edge's stamp."""

    def __init__(self, url: str, token: str) -> None:
        host, port = url.split("//", 1)[1].rstrip("/").split(":")
        self.sock = socket.create_connection((host, int(port)))
        self.sock.sendall(f"GET /api/stream HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n"
                          .encode())
        self.lat_ms: list[float] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except OSError:
                return
            if not data:
                return
            now = time.time_ns()
            buf += data
            while b"\n\n" in buf:
                block, buf = buf.split(b"\n\n", 1)
                if b"event: features" not in block:
                    continue
                line = next(ln for ln in block.split(b"\n") if ln.startswith(b"data:"))
                self.lat_ms += [(now - r["ts"]) / 1e6 for r in json.loads(line[5:])["records"]]

    def close(self) -> None:
        self.sock.close()


class Viewers:
    """``n`` more clients of ``/api/stream`` (a class watching), drained by one thread that only counts bytes."""

    def __init__(self, url: str, token: str, n: int) -> None:
        host, port = url.split("//", 1)[1].rstrip("/").split(":")
        self.socks = [socket.create_connection((host, int(port))) for _ in range(n)]
        for s in self.socks:
            s.sendall(f"GET /api/stream HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n"
                      .encode())
        self.bytes = 0
        self._selector = selectors.DefaultSelector()
        for s in self.socks:
            self._selector.register(s, selectors.EVENT_READ)
        self._open = bool(self.socks)
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        while self._open:
            for key, _ in self._selector.select(0.2):
                try:
                    self.bytes += len(key.fileobj.recv(1 << 16))
                except OSError:
                    return

    def close(self) -> None:
        self._open = False
        self.thread.join(2)
        for s in self.socks:
            s.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, s (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of every core since boot (``/proc/stat``)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK"), sum(ticks) / os.sysconf("SC_CLK_TCK")


def latency(hub: HubProcess, bare: BareSubscriber, port: int, seconds: float, relay: RelayProcess,
            rate: int = 1000, viewers: int = 0) -> dict:
    """Per-message sensor→browser latency at ``rate`` msg/s for ``seconds``, the bare subscriber's and the relay's.

    ``relay`` is a running :mod:`relay_floor` process subscribed to the
    same messages: the floor of a Python hub's live path. The CPU time the
    hub and the relay use per message while the messages flow, and how busy
    the machine's cores are meanwhile, are in the result too. ``viewers``
    more streams stay open on the hub meanwhile (:class:`Viewers`).
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(hub.url + "healthz")
        page.evaluate(_PAGE_SCRIPT)
        page.wait_for_function("window.streamOpen === true")
        token = page.evaluate("async () => (await (await fetch('/api/auth/demo-token', {method: 'POST'})).json())"
                              ".access_token")
        raw = StreamReader(hub.url, token)
        crowd = Viewers(hub.url, token, viewers)
        floor = StreamReader(relay.url, "")
        time.sleep(0.5)
        bare.lat_ms, bare.track_latency = [], True
        client = _publisher(port, "lat")
        n = int(seconds * rate)
        cpu0 = cpu_seconds(hub.proc.pid), cpu_seconds(relay.proc.pid), machine_busy_seconds()
        t0 = time.perf_counter()
        for k in range(n):
            due = t0 + k / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            client.publish(f"tf/v1/{SITE}/edge-lat/{ASSET}/features", _payload("edge-lat", k + 1, 1, 8, time.time_ns()),
                           qos=1)
        achieved = n / (time.perf_counter() - t0)
        deadline = time.monotonic() + 20
        while page.evaluate("window.lat.length") < n and time.monotonic() < deadline:
            time.sleep(0.1)
        cpu1 = cpu_seconds(hub.proc.pid), cpu_seconds(relay.proc.pid), machine_busy_seconds()
        lat = sorted(page.evaluate("window.lat"))
        raw.close()
        crowd.close()
        floor.close()
        bare.track_latency = False
        client.disconnect()
        client.loop_stop()
        browser.close()
    def q(values, p):
        return round(values[min(len(values) - 1, int(p * len(values)))], 1) if values else None
    blat, rlat, flat = sorted(bare.lat_ms), sorted(raw.lat_ms), sorted(floor.lat_ms)
    return {"sent": n, "rate_achieved": round(achieved), "received_in_browser": len(lat),
            "p50_ms": q(lat, 0.50), "p95_ms": q(lat, 0.95), "p99_ms": q(lat, 0.99),
            "max_ms": round(lat[-1], 1) if lat else None, "bare_received": len(blat),
            "bare_p50_ms": q(blat, 0.50), "bare_p95_ms": q(blat, 0.95), "bare_p99_ms": q(blat, 0.99),
            "raw_received": len(rlat), "raw_p50_ms": q(rlat, 0.50), "raw_p95_ms": q(rlat, 0.95),
            "raw_p99_ms": q(rlat, 0.99), "relay_received": len(flat), "relay_p50_ms": q(flat, 0.50),
            "relay_p95_ms": q(flat, 0.95), "relay_p99_ms": q(flat, 0.99),
            "relay_ratio": round(q(flat, 0.95) / max(q(blat, 0.95), 0.1), 2) if flat and blat else None,
            "p95_ratio": round(q(lat, 0.95) / max(q(blat, 0.95), 0.1), 2) if lat and blat else None,
            "viewers": viewers, "viewer_bytes": crowd.bytes, "hub_cpu_us_per_msg": round((cpu1[0] - cpu0[0]) / n * 1e6), "relay_cpu_us_per_msg":
            round((cpu1[1] - cpu0[1]) / n * 1e6), "machine_busy": round((cpu1[2][0] - cpu0[2][0]) /
                                                                        max(cpu1[2][1] - cpu0[2][1], 1e-9), 3)}


def main(argv: list[str] | None = None) -> int:
    """Run both measurements and print them."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--records", type=int, default=10)
    ap.add_argument("--features", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--no-latency", action="store_true", help="measure throughput only")
    ap.add_argument("--viewers", type=int, default=0,
                    help="more streams open on the hub during the latency run (a class watching)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp))
        try:
            with HubProcess(broker.url, str(Path(tmp) / "hub.sqlite"), Path(tmp) / "hub.log") as hub:
                bare = BareSubscriber(broker.port)
                t = throughput(hub, bare, broker.port, args.messages, args.records, args.features)
                print(f"throughput: hub stored {t['stored']}/{t['messages']} messages ({t['lost']} lost), "
                      f"{t['points']} feature points in {t['seconds']} s -> {t['points_per_s']} points/s; "
                      f"bare subscriber counted {t['bare_counted']} in {t['bare_seconds']} s -> "
                      f"{t['bare_points_per_s']} points/s; hub/bare = {t['ratio']:.0%} (goal >= 60 %, "
                      f"~100000 points/s; publishing took {t['publish_seconds']} s)")
                if not args.no_latency:
                    with RelayProcess(broker.port) as relay:
                        lat = latency(hub, bare, broker.port, args.seconds, relay, viewers=args.viewers)
                    print(f"latency at {lat['rate_achieved']} msg/s: {lat['received_in_browser']}/{lat['sent']} in the "
                          f"browser; p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms, p99 {lat['p99_ms']} ms "
                          f"(goal <= 100), max {lat['max_ms']} ms; bare subscriber {lat['bare_received']}/{lat['sent']}: "
                          f"p50 {lat['bare_p50_ms']} ms, p95 {lat['bare_p95_ms']} ms, p99 {lat['bare_p99_ms']} ms; "
                          f"p95 hub/bare = {lat['p95_ratio']}x (goal <= 2x)")
                    print(f"  the hub's stream read by a plain socket (no browser), same messages: "
                          f"{lat['raw_received']}/{lat['sent']}, p50 {lat['raw_p50_ms']} ms, p95 {lat['raw_p95_ms']} ms, "
                          f"p99 {lat['raw_p99_ms']} ms")
                    print(f"  the floor of a Python hub (relay_floor.py: paho -> asyncio -> HTTP stream, no work), same "
                          f"messages: {lat['relay_received']}/{lat['sent']}, p50 {lat['relay_p50_ms']} ms, p95 "
                          f"{lat['relay_p95_ms']} ms, p99 {lat['relay_p99_ms']} ms; p95 relay/bare = "
                          f"{lat['relay_ratio']}x")
                    if args.viewers:
                        print(f"  {args.viewers} more streams open on the hub meanwhile, "
                              f"{lat['viewer_bytes'] / args.viewers / 1e6:.1f} MB each")
                    print(f"  CPU per message while they flowed: hub {lat['hub_cpu_us_per_msg']} us, relay "
                          f"{lat['relay_cpu_us_per_msg']} us; the machine's cores {lat['machine_busy']:.0%} busy")
                bare.close()
        finally:
            broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
