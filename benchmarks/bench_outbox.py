"""Outbox drain rate after a simulated outage, relative to the production rate.

An edge produces, per asset, one ``features`` batch every ``batch_s``
(each batch holds the windows that closed in that time: ``fs / window``
windows per second) plus an occasional ``alert``. The benchmark stores
``outage_min`` minutes' worth of those messages in the outbox while no broker
is reachable (no waiting: the records are produced as fast as the outbox
takes them), then starts a Mosquitto on a free port and a QoS 1 subscriber
standing in for the hub (on ``tf/v1/bench/edge-1/#``; it counts the messages
inside bundles), starts the publisher once the subscriber holds its
subscription, and times the drain until the last PUBACK. The subscriber must
receive every message.

Under MQTT 5 the publisher sends its backlog in bundles (:mod:`contract.bundle`);
``--protocol both`` runs MQTT 5 and 3.1.1 (one message per record) side by side.

Prints, per scenario and protocol: messages and records stored, the insert
cost per message (``Outbox.put`` alone and the full ``MqttPublisher.publish``),
the drain time, the drain rate and its ratio to the production rate (goal ≥ 50×
in the stress case), and how many bundles carried how many records.

Usage::

    .venv/bin/python benchmarks/bench_outbox.py [--outage-min 10] [--inflight 100] [--scenario nominal|stress|all]
        [--protocol 5|3.1.1|both]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from contract.bundle import unpack  # noqa: E402
from edge_agent.outbox import Outbox  # noqa: E402
from edge_agent.publisher import MqttPublisher  # noqa: E402
from tests.servers import free_port  # noqa: E402
from tests.waiting import port_open, wait_until  # noqa: E402

FEATURES = ["rms", "peak", "crest", "kurtosis", "skewness", "env_bpfo", "env_bpfi", "env_bsf",
            "band_1x", "band_2x", "temperature", "current_rms"]


@dataclass(frozen=True)
class Scenario:
    name: str
    assets: int
    batch_s: float  # one features message per asset every batch_s
    fs: float = 12_000.0
    window: int = 8192
    alerts_per_hour: float = 6.0  # per asset

    @property
    def messages_per_s(self) -> float:
        return self.assets * (1.0 / self.batch_s + self.alerts_per_hour / 3600.0)

    @property
    def records_per_batch(self) -> int:
        return max(1, math.ceil(self.fs / self.window * self.batch_s))


SCENARIOS = {
    "nominal": Scenario("nominal (2 assets, 1 batch/s)", assets=2, batch_s=1.0),
    "stress": Scenario("stress (16 assets, 10 batches/s)", assets=16, batch_s=0.1),
}


def features_body(i: int, n: int) -> dict:
    ts = time.time_ns()
    return {"records": [{"ts": ts + k, "features": {f: 0.123456789 * (i + j) for j, f in enumerate(FEATURES)},
                         "score": 1.2345, "threshold": 8.0, "learning": False} for k in range(n)]}


def alert_body(i: int) -> dict:
    return {"ts": time.time_ns(), "score": 12.5, "threshold": 8.0, "severity": "warning",
            "message": f"score 12.5 above threshold 8.0 for 3 windows ({i})", "features": {"rms": 0.9}}


def start_mosquitto(workdir: Path, port: int) -> subprocess.Popen:
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 0\nlog_dest none\n")
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: port_open(port), 10, what=f"Mosquitto listening on 127.0.0.1:{port}")
    return proc


def insert_cost(n: int = 5000) -> float:
    """Microseconds per bare ``Outbox.put`` of a typical 1 KB payload on disk (WAL, synchronous=NORMAL)."""
    with tempfile.TemporaryDirectory() as d, Outbox(Path(d) / "o.sqlite", max_rows=10 * n) as box:
        payload = json.dumps(features_body(0, 2)).encode()
        t0 = time.perf_counter()
        for _ in range(n):
            box.put("tf/v1/s/e/a/features", payload, kind="features")
        return (time.perf_counter() - t0) / n * 1e6


def run(sc: Scenario, outage_min: float, inflight: int, subscriber: bool = True, protocol: str = "5") -> dict:
    n_msgs = round(sc.messages_per_s * outage_min * 60)
    alert_every = max(1, round(sc.messages_per_s / (sc.assets * sc.alerts_per_hour / 3600.0)))
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        # no broker yet: records queue in the outbox
        port = free_port()
        pub = MqttPublisher(f"mqtt://127.0.0.1:{port}", "bench", "edge-1",
                            [f"a{k}" for k in range(sc.assets)], "bench", protocol, inflight,
                            outbox=Outbox(work / "outbox.sqlite", max_rows=max(100_000, 2 * n_msgs),
                                          max_bytes=2**31))
        records = 0
        t0 = time.perf_counter()
        for i in range(n_msgs):
            asset = f"a{i % sc.assets}"
            if i % alert_every == alert_every - 1:
                pub.publish(asset, "alert", alert_body(i))
            else:
                pub.publish(asset, "features", features_body(i, sc.records_per_batch))
                records += sc.records_per_batch
        publish_us = (time.perf_counter() - t0) / n_msgs * 1e6
        stored_bytes = pub.outbox.nbytes
        broker = start_mosquitto(work, port)
        t_start = time.perf_counter()
        got = []
        subscribed = threading.Event()
        sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-hub", protocol=mqtt.MQTTv5)
        sub.on_message = lambda c, u, m: got.append(len(unpack(m.payload)) if m.topic.endswith("/bundle") else
                                                    0 if m.topic.count("/") == 4 else 1)
        sub.on_subscribe = lambda c, u, mid, rcs, p: subscribed.set()
        if subscriber:
            sub.connect("127.0.0.1", port)
            sub.subscribe("tf/v1/bench/edge-1/#", qos=1)
            sub.loop_start()
            assert subscribed.wait(10), "the subscriber got no SUBACK"
        pub.start()
        assert pub.connected.wait(30), "publisher did not connect"
        t_conn = time.perf_counter()
        drained = pub.wait_drained(600)
        t_done = time.perf_counter()
        deadline = time.monotonic() + 60
        while subscriber and sum(got) < n_msgs and time.monotonic() < deadline:
            time.sleep(0.05)
        t_delivered = time.perf_counter()
        stats = pub.stats()
        pub.stop()
        if subscriber:
            sub.disconnect()
            sub.loop_stop()
        broker.terminate()
        broker.wait(10)
    drain_s = t_done - t_conn
    rate = n_msgs / drain_s
    return {"scenario": sc.name, "protocol": protocol, "outage_min": outage_min, "messages": n_msgs, "records": records,
            "stored_mb": round(stored_bytes / 2**20, 2), "prod_msg_per_s": round(sc.messages_per_s, 3),
            "publish_us_per_msg": round(publish_us, 1), "reconnect_s": round(t_conn - t_start, 3),
            "drain_s": round(drain_s, 3), "drain_msg_per_s": round(rate), "drain_records_per_s": round(records / drain_s),
            "ratio": round(rate / sc.messages_per_s), "drained": drained and stats["queued"] == 0,
            "bundles": stats["bundles_sent"], "bundled_records": stats["bundled_records"],
            "delivered": sum(got), "delivered_s": round(t_delivered - t_conn, 3), "inflight": inflight}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--outage-min", type=float, default=10.0)
    ap.add_argument("--inflight", type=int, default=100)
    ap.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    ap.add_argument("--protocol", choices=["5", "3.1.1", "both"], default="both")
    ap.add_argument("--no-subscriber", action="store_true", help="no hub stand-in (publisher side only)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    put_us = insert_cost()
    print(f"Outbox.put: {put_us:.1f} us/message (1 KB payload, WAL, synchronous=NORMAL, ext4)")
    protocols = ["5", "3.1.1"] if args.protocol == "both" else [args.protocol]
    for key, protocol in [(k, p) for k in (SCENARIOS if args.scenario == "all" else [args.scenario])
                          for p in protocols]:
        r = run(SCENARIOS[key], args.outage_min, args.inflight, not args.no_subscriber, protocol)
        if args.json:
            print(json.dumps(r))
            continue
        print(f"{r['scenario']}, MQTT {r['protocol']}: {r['outage_min']:g} min outage = {r['messages']} messages "
              f"({r['records']} feature records, {r['stored_mb']} MB) at {r['prod_msg_per_s']} msg/s; "
              f"publish {r['publish_us_per_msg']} us/msg")
        print(f"  drain {r['drain_s']} s after connect (connected {r['reconnect_s']} s after the broker came up): "
              f"{r['drain_msg_per_s']} msg/s, {r['drain_records_per_s']} records/s = {r['ratio']}x production "
              f"(goal >= 50x in the stress case); delivered to subscriber {r['delivered']}/{r['messages']} in "
              f"{r['delivered_s']} s; max_inflight {r['inflight']}; {r['bundled_records']} records in "
              f"{r['bundles']} bundles")


if __name__ == "__main__":
    main()
