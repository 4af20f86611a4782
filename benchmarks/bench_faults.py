"""The hub-side fault suite at full scale: broker down for minutes, hub killed mid-ingest.

1. ``broker``: a real edge publisher (durable outbox) sends features at
   ``--rate`` msg/s; the broker (Mosquitto with persistence) stops for
   ``--down-s`` seconds (default 600: ten minutes) and comes back; the hub
   (in-process ingest into SQLite, persistent MQTT 5 session) must end with
   every sequence number exactly once. Prints sent, stored, lost, doubled and
   how long the backlog took to drain.
2. ``kill``: ``teachfab hub run`` as a process; 3 000 messages at 150 msg/s;
   ``kill -9`` at 5 s, restarted at 10 s (the scenario of issue 17, which lost
   981 with a clean session); prints what was stored before the kill and at
   the end, per MQTT protocol version.

Usage::

    .venv/bin/python benchmarks/bench_faults.py [broker|kill|all] [--down-s 600] [--rate 100]
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402

from cloud.ingest.subscriber import MqttIngest  # noqa: E402
from cloud.telemetry.live import Broadcaster  # noqa: E402
from cloud.telemetry.store import SQLiteStore  # noqa: E402
from edge_agent.publisher import MqttPublisher  # noqa: E402
from tests.hub.test_ingest_scaleout import HubProcess, features_payload, publish_all, stored_keys  # noqa: E402
from tests.servers import Mosquitto  # noqa: E402


def _wait(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def broker_down(down_s: float, rate: float, before_s: float = 5.0, after_s: float = 5.0) -> dict:
    """Publish at ``rate`` msg/s with the broker down for ``down_s`` s in the middle; count at the hub."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        broker = Mosquitto(tmp, persistence=True)
        store = SQLiteStore(tmp / "hub.sqlite")
        ingest = MqttIngest(broker.url, store, Broadcaster(), protocol="5", client_id="tf-hub-bench")
        edge = MqttPublisher(broker.url, "lab", "e1", ["pump-1"], "bench", protocol="5",
                             outbox=tmp / "outbox.sqlite")
        try:
            ingest.start()
            ingest.subscribed.wait(10)
            edge.start()
            edge.connected.wait(10)
            total_s = before_s + down_s + after_s
            n = int(total_s * rate)
            t0 = time.monotonic()
            sent, state = 0, "up"
            while sent < n:
                elapsed = time.monotonic() - t0
                if state == "up" and elapsed >= before_s:
                    broker.pause()
                    state = "down"
                elif state == "down" and elapsed >= before_s + down_s:
                    broker.resume()
                    state, resumed_at = "back", time.monotonic()
                if sent < elapsed * rate:
                    sent += 1
                    edge.publish("pump-1", "features", {"records": [{"ts": time.time_ns(), "features": {"rms": sent}}]})
                else:
                    time.sleep(0.002)
            ok = _wait(lambda: store.counts().get("features", 0) >= n, 600)
            drained_s = time.monotonic() - resumed_at
            seqs = [r[0] for r in store._db.execute("SELECT seq FROM messages WHERE kind = 'features'")]
            return {"sent": n, "stored": len(seqs), "distinct": len(set(seqs)), "lost": n - len(set(seqs)),
                    "doubled": len(seqs) - len(set(seqs)), "redeliveries_recognised": ingest.duplicates,
                    "drained_after_s": round(drained_s, 1), "complete": ok}
        finally:
            edge.stop()
            ingest.stop()
            broker.stop()


def hub_kill(protocol: str, n: int = 3000, rate: float = 150.0, kill_at: float = 5.0, restart_at: float = 10.0) -> dict:
    """``kill -9`` a hub process mid-ingest and restart it; count what it stored."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        broker = Mosquitto(tmp)
        hub = HubProcess(tmp, "hub", broker.url, protocol, None)
        try:
            hub.wait_subscribed()
            messages = [("tf/v1/lab/e1/pump-1/features", features_payload("e1", "b1", s)) for s in range(1, n + 1)]
            chunk = max(1, int(rate / 10))
            done = threading.Event()

            def publish() -> None:
                t0 = time.monotonic()
                for i in range(0, n, chunk):
                    pause = t0 + i / rate - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    publish_all(broker.url, messages[i:i + chunk],
                                protocol=mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311)
                done.set()

            t0 = time.monotonic()
            threading.Thread(target=publish, daemon=True).start()
            time.sleep(kill_at)
            hub.proc.send_signal(signal.SIGKILL)
            hub.proc.wait()
            at_kill = len(stored_keys(hub.db))
            time.sleep(max(0.0, restart_at - (time.monotonic() - t0)))
            hub.restart()
            hub.wait_subscribed()
            done.wait(300)
            _wait(lambda: len(stored_keys(hub.db)) >= n, 120)
            seqs = [s for _, _, s in stored_keys(hub.db)]
            return {"protocol": protocol, "sent": n, "stored_at_kill": at_kill, "stored": len(seqs),
                    "lost": n - len(set(seqs)), "doubled": len(seqs) - len(set(seqs))}
        finally:
            hub.stop()
            broker.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the chosen faults and print their figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("which", nargs="?", default="all", choices=["broker", "kill", "all"])
    ap.add_argument("--down-s", type=float, default=600.0)
    ap.add_argument("--rate", type=float, default=100.0)
    args = ap.parse_args(argv)
    if args.which in ("kill", "all"):
        for protocol in ("5", "3.1.1"):
            r = hub_kill(protocol)
            print(f"hub kill -9 (MQTT {r['protocol']}): {r['sent']} sent at 150 msg/s, {r['stored_at_kill']} stored "
                  f"at the kill (5 s), restart at 10 s -> {r['stored']} stored, {r['lost']} lost, "
                  f"{r['doubled']} doubled")
    if args.which in ("broker", "all"):
        r = broker_down(args.down_s, args.rate)
        print(f"broker down {args.down_s:.0f} s at {args.rate:.0f} msg/s: {r['sent']} sent, {r['distinct']} stored, "
              f"{r['lost']} lost, {r['doubled']} doubled ({r['redeliveries_recognised']} redeliveries recognised); "
              f"backlog drained {r['drained_after_s']} s after the broker came back")
    return 0


if __name__ == "__main__":
    sys.exit(main())
