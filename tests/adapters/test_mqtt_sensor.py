"""MQTT smart sensor: simulator publisher → real Mosquitto → adapter, garbage, broker restart."""

import asyncio
import json
import shutil
import subprocess
import time
import tomllib

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from firmware_adapters.mqtt_sensor import MqttSensorConfig, PayloadMapper
from firmware_adapters.registry import build_source, get_adapter
from simulators.mqtt_sensor import MqttSensorPublisher
from simulators.rotating_machine import RotatingMachine
from tests.servers import free_port
from tests.waiting import async_wait_until, port_open, wait_until

BLOCK_NS = 100_000_000


def sample_config(broker_url: str) -> dict:
    config = tomllib.loads(get_adapter("mqtt_sensor").sample_config.read_text(encoding="utf-8"))
    config["broker"] = broker_url
    return config


def restart_broker(broker, source) -> None:
    """Stop the Mosquitto process; once ``source`` noticed, start a new one on the same port and config."""
    lost = source.stats()["disconnects"]
    broker.proc.terminate()
    broker.proc.wait(timeout=10)
    wait_until(lambda: source.stats()["disconnects"] > lost, 10, what="the adapter to notice the broker is gone",
               show=source.stats)
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    broker.proc = subprocess.Popen([exe, "-c", str(broker.conf)], stdout=broker.log, stderr=subprocess.STDOUT)
    wait_until(lambda: port_open(broker.port), 10, what=f"Mosquitto back on port {broker.port}")


class Collector:
    """Consume a source in a task; keep every Sample."""

    def __init__(self, source) -> None:
        self.source = source
        self.samples = []
        self.paused = asyncio.Event()
        self.stall_until = lambda: True  # while paused, the consumer stalls until this holds
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for s in self.source.samples():
            self.samples.append(s)
            if self.paused.is_set():
                await async_wait_until(self.stall_until, 10, what="the end of the stall", show=self.source.stats)
                self.paused.clear()

    async def wait(self, predicate, timeout: float, what: str):
        def holds():
            if self.task.done():
                self.task.result()  # the consumer failed: raise its error here
            return predicate()

        await async_wait_until(holds, timeout, what=what, show=lambda: f"stats {self.source.stats()}")

    async def close(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass


def twin_blocks(n: int, seed: int) -> list[dict]:
    twin = RotatingMachine("pump-1", seed=seed)
    return [twin.advance(0.1) for _ in range(n)]


def test_sample_config_maps_exactly_what_the_simulator_publishes():
    pub = MqttSensorPublisher([RotatingMachine("pump-1")], "mqtt://127.0.0.1:1883")
    config = sample_config("mqtt://127.0.0.1:1883")
    expected = pub.source_config("pump-1")
    assert config["fields"] == expected["fields"]
    assert {k: config[k] for k in ("topics", "asset", "timestamp", "timestamp_unit")} == \
        {k: expected[k] for k in ("topics", "asset", "timestamp", "timestamp_unit")}


def test_simulator_to_adapter_through_mosquitto_delivers_exact_samples(mosquitto):
    async def scenario():
        source = build_source("mqtt_sensor", sample_config(mosquitto.url))
        col = Collector(source)
        await col.wait(source.connected.is_set, 10, "the adapter's subscription")
        async with MqttSensorPublisher([RotatingMachine("pump-1", seed=5)], mosquitto.url) as pub:
            await col.wait(lambda: sum(s.channel == "vibration_de" for s in col.samples) >= 8, 10, "8 blocks")
        await col.close()
        return pub, col.samples, source.stats()

    pub, samples, stats = asyncio.run(scenario())
    channels = {c.name: c for c in RotatingMachine("pump-1").channels()}
    ks = sorted({(s.start_ns - pub.start_ns) // BLOCK_NS for s in samples})
    assert ks == list(range(len(ks))), "every block from the first one, none lost or repeated"
    truth = twin_blocks(len(ks), seed=5)
    for s in samples:
        k, rest = divmod(s.start_ns - pub.start_ns, BLOCK_NS)
        assert rest == 0 and s.asset == "pump-1" and s.units == channels[s.channel].units
        assert s.rate == channels[s.channel].rate
        assert np.array_equal(s.values, truth[k][s.channel][-1:] if s.rate == 0 else truth[k][s.channel])
    assert {s.channel for s in samples} == set(channels)
    assert len(samples) == len(ks) * len(channels)
    assert stats["rejected"] == 0 and stats["blocks"] == len(samples) and stats["messages"] == len(ks)
    assert stats["samples"] == sum(s.values.size for s in samples)


GARBAGE = [  # payload, reasons it must be counted under
    (b"\xff\xfe\x00", ["not_utf8"]),
    (b"{not json", ["not_json"]),
    (b"[1, 2]", ["not_object", "not_object"]),
    (b'{"hello": 1}', ["no_mapped_field"]),
    (b'{"temperature": 40.0}', ["timestamp_missing"]),
    (b'{"ts": 5, "temperature": 40.0}', ["timestamp_out_of_range"]),
    (b'{"ts": 32503680000000000, "temperature": 40.0}', ["timestamp_out_of_range"]),  # year 3000 in us
    (b'{"ts": "yesterday", "temperature": 40.0}', ["timestamp_invalid"]),
    (b'{"ts": TS, "temperature": "hot"}', ["not_numeric"]),
    (b'{"ts": TS, "temperature": [1, 2]}', ["expected_scalar"]),
    (b'{"ts": TS, "fs": {"vibration_de": 12000}, "wave": {"vibration_de": [1.0, "x"]}, "load": 55.5}',
     ["not_numeric"]),
    (b'{"ts": TS, "fs": {"vibration_de": 12000}, "wave": {"vibration_de": [1.0, NaN]}}', ["non_finite"]),
    (b'{"ts": TS, "wave": {"vibration_de": [1.0, 2.0]}}', ["rate_missing"]),
    (b'{"ts": TS, "fs": {"vibration_de": -5}, "wave": {"vibration_de": [1.0]}}', ["rate_invalid"]),
    (b'{"ts": TS, "fs": {"vibration_de": 12000}, "wave": {"vibration_de": 3.0}}', ["expected_array"]),
    (b'{"ts": TS, "fs": {"vibration_de": 12000}, "wave": {"vibration_de": []}}', ["empty_array"]),
]


def test_garbage_is_counted_by_reason_and_the_stream_continues(mosquitto):
    ts_us = time.time_ns() // 1000

    async def scenario():
        source = build_source("mqtt_sensor", sample_config(mosquitto.url))
        col = Collector(source)
        await col.wait(source.connected.is_set, 10, "the adapter's subscription")
        async with MqttSensorPublisher([RotatingMachine("pump-1", seed=2)], mosquitto.url) as pub:
            await col.wait(lambda: len(col.samples) >= 8, 10, "the first blocks")
            vandal = mqtt.Client(CallbackAPIVersion.VERSION2)
            vandal.connect("127.0.0.1", mosquitto.port)
            vandal.loop_start()
            for payload, _ in GARBAGE:
                vandal.publish(pub.topic("pump-1"), payload.replace(b"TS", str(ts_us).encode()), qos=1).wait_for_publish(5)
            vandal.disconnect()
            vandal.loop_stop()
            garbage_done = time.time_ns()
            await col.wait(lambda: source.stats()["rejected"] >= 17, 10, "the garbage to be counted")
            await col.wait(lambda: any(s.channel == "vibration_de" and s.start_ns > garbage_done
                                       for s in col.samples), 10, "valid blocks after the garbage")
        await col.close()
        return pub, col.samples, source

    pub, samples, source = asyncio.run(scenario())
    stats = source.stats()
    expected: dict[str, int] = {}
    for _, reasons in GARBAGE:
        for r in reasons:
            expected[f"rejected_{r}"] = expected.get(f"rejected_{r}", 0) + 1
    assert {k: v for k, v in stats.items() if k.startswith("rejected_")} == expected
    assert stats["rejected"] == sum(expected.values()) == 17
    # a bad field costs only that field: the load reading of the same record came through
    assert [s.values.tolist() for s in samples if s.start_ns == ts_us * 1000 and s.channel == "load"] == [[55.5]]
    assert any("lands before 2000-01-01" in detail for _, detail, _ in source.recent_rejections)
    # the simulator's own blocks are still exact and gap-free
    ks = sorted({(s.start_ns - pub.start_ns) // BLOCK_NS for s in samples if s.channel == "vibration_de"})
    assert ks == list(range(len(ks)))


def test_broker_restart_resubscribes_and_data_flows_again(mosquitto):
    async def scenario():
        source = build_source("mqtt_sensor", {**sample_config(mosquitto.url), "reconnect_max_s": 1.0})
        col = Collector(source)
        await col.wait(source.connected.is_set, 10, "the adapter's subscription")
        async with MqttSensorPublisher([RotatingMachine("pump-1", seed=4)], mosquitto.url) as pub:
            await col.wait(lambda: len(col.samples) >= 8, 10, "the first blocks")
            await asyncio.to_thread(restart_broker, mosquitto, source)
            restarted_ns = time.time_ns()
            await col.wait(lambda: any(s.channel == "vibration_de" and s.start_ns > restarted_ns
                                       for s in col.samples), 15, "data after the broker restart")
        await col.close()
        return pub, col.samples, source.stats()

    pub, samples, stats = asyncio.run(scenario())
    assert stats["connects"] >= 2 and stats["disconnects"] >= 1 and stats["rejected"] == 0
    truth = twin_blocks(max((s.start_ns - pub.start_ns) // BLOCK_NS for s in samples) + 1, seed=4)
    for s in samples:  # whatever arrived, before or after the outage, is exact
        k = (s.start_ns - pub.start_ns) // BLOCK_NS
        assert np.array_equal(s.values, truth[k][s.channel][-1:] if s.rate == 0 else truth[k][s.channel])


def test_full_queue_drops_are_counted_and_the_stream_goes_on(mosquitto):
    async def scenario():
        source = build_source("mqtt_sensor", {**sample_config(mosquitto.url), "queue_size": 2})
        col = Collector(source)
        await col.wait(source.connected.is_set, 10, "the adapter's subscription")
        async with MqttSensorPublisher([RotatingMachine("pump-1")], mosquitto.url, block_s=0.02):
            await col.wait(lambda: len(col.samples) >= 1, 10, "a first block")
            # the consumer stalls until the adapter dropped 20 messages (50 a second arrive against a queue of 2)
            col.stall_until = lambda: source.stats()["dropped"] >= 20
            col.paused.set()
            await col.wait(lambda: not col.paused.is_set(), 15, "the stall to end")
            n = len(col.samples)
            await col.wait(lambda: len(col.samples) >= n + 20, 10, "blocks after the stall")
        await col.close()
        return source.stats()

    stats = asyncio.run(scenario())
    assert stats["dropped"] >= 20 and stats["rejected"] == 0


# ---------------------------------------------------------------- mapping without a broker

def mapper(**kw) -> PayloadMapper:
    base = dict(broker="mqtt://127.0.0.1:1883", topics=["plant/+/vib"], asset_topic_level=1,
                timestamp="t", timestamp_unit="s",
                fields={"vib_z": {"path": ["d", "z.axis"], "rate": 1000.0, "scale": 0.5, "offset": 1.0, "units": "g"},
                        "temp": {"path": "env.0.temp", "units": "degC", "offset": -273.15}})
    base.update(kw)
    return PayloadMapper(MqttSensorConfig(**base))


def test_mapping_paths_scale_offset_units_batches_and_topic_asset():
    doc = [{"t": 1717200000.25, "d": {"z.axis": [2, 4, -6]}, "env": [{"temp": 300.0}]},
           {"t": "2024-06-01T00:00:01.5+00:00", "env": [{"temp": 301.0}]}]
    samples, problems = mapper().map("plant/fan-7/vib", json.dumps(doc).encode(), 0)
    assert problems == []
    assert [(s.asset, s.channel, s.start_ns, s.rate, s.values.tolist(), s.units) for s in samples] == [
        ("fan-7", "vib_z", 1_717_200_000_250_000_000, 1000.0, [2.0, 3.0, -2.0], "g"),
        ("fan-7", "temp", 1_717_200_000_250_000_000, 0.0, [300.0 - 273.15], "degC"),
        ("fan-7", "temp", 1_717_200_001_500_000_000, 0.0, [301.0 - 273.15], "degC")]


def test_timestamp_of_the_last_sample_and_arrival_time():
    m = mapper(timestamp_unit="ms", timestamp_marks="last")
    (s,) = m.map("plant/a/vib", b'{"t": 1717200000000, "d": {"z.axis": [0, 0, 0, 0, 0]}}', 0)[0]
    assert s.start_ns == 1_717_200_000_000_000_000 - 4_000_000 and s.end_ns == 1_717_200_000_000_000_000 + 1_000_000
    (s,) = mapper(timestamp=None, timestamp_unit=None).map("plant/a/vib", b'{"env": [{"temp": 280}]}', 123)[0]
    assert s.start_ns == 123
    assert mapper().map("x", b'{"t": 1717200000, "env": [{"temp": 1}]}', 0)[1][0][0] == "asset_missing"


@pytest.mark.parametrize("kw, message", [
    ({"timestamp_unit": None}, r"timestamp_unit must be one of \['s', 'ms', 'us', 'ns'\]"),
    ({"topics": ["plant/#/vib"]}, "topic filter 'plant/#/vib' is invalid"),
    ({"topics": ["plant/a+/vib"]}, "is invalid"),
    ({"asset": "a"}, "exactly one of 'asset' or 'asset_topic_level'"),
    ({"broker": "tcp://127.0.0.1:1883"}, "mqtt://host:port"),
    ({"fields": {"v": {"path": "a", "rate": -1}}}, "rate must be a positive number of Hz, got -1"),
    ({"fields": {"v": {"path": "a..b"}}}, "path 'a..b' must be dotted keys"),
    ({"qos": 3}, "qos must be 0, 1 or 2, got 3"),
])
def test_config_errors_name_field_and_value(kw, message):
    with pytest.raises(ValueError, match=message):
        mapper(**kw)


def test_publisher_validates_blocks_and_fails_early_without_broker():
    with pytest.raises(ValueError, match=r"gives 0.6 samples of vibration_de at 12000 Hz"):
        MqttSensorPublisher([RotatingMachine("m")], "mqtt://127.0.0.1:1883", block_s=0.00005)
    with pytest.raises(ValueError, match="topic_prefix 'a/#'"):
        MqttSensorPublisher([RotatingMachine("m")], "mqtt://127.0.0.1:1883", topic_prefix="a/#")

    async def no_broker():
        async with MqttSensorPublisher([RotatingMachine("m")], f"mqtt://127.0.0.1:{free_port()}",
                                       connect_timeout_s=1.0):
            pass
    with pytest.raises(ConnectionError, match="did not accept a connection within 1.0 s"):
        asyncio.run(no_broker())
