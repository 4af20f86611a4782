"""Serial adapters end to end over real pty pairs: simulator serial server -> adapter -> Samples."""

from __future__ import annotations

import asyncio
import contextlib
import tomllib

import numpy as np
import pytest

from firmware_adapters.registry import build_source, get_adapter
from firmware_adapters.serial_frame import SerialFrameConfig, SerialFrameSource
from firmware_adapters.serial_line import SerialLineConfig, SerialLineSource, Timeline
from simulators.rotating_machine import RotatingMachine
from simulators.serial_server import SerialServer
from tests.waiting import async_wait_until


class Reader:
    """Consume a source in a task, keeping every sample."""

    def __init__(self, source) -> None:
        self.source = source
        self.samples = []
        self.paused = asyncio.Event()
        self.paused.set()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for s in self.source.samples():
            self.samples.append(s)
            await self.paused.wait()

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


WAIT_S = 20.0  # a generous functional deadline, not a timing assertion


async def started(sim: SerialServer, extra: dict | None = None) -> Reader:
    """Open the adapter on the server's pty before any data flows, then start the stream."""
    sim.plug()
    reader = Reader(build_source(sim.adapter, {**sim.source_config(), **(extra or {})}))
    await async_wait_until(lambda: reader.source.stats()["opens"] >= 1, WAIT_S, 0.02,
                           what="the adapter to open the port")
    await sim.start()
    return reader


def twin(steps: int, block_s: float = 0.1, **kwargs) -> dict[str, np.ndarray]:
    """What an identical machine produces over the same steps, channel by channel."""
    m = RotatingMachine(**kwargs)
    out: dict[str, list] = {}
    for _ in range(steps):
        for name, x in m.advance(block_s).items():
            out.setdefault(name, []).append(x)
    return {k: np.concatenate(v) for k, v in out.items()}


# ------------------------------------------------------------------ configs


@pytest.mark.parametrize("name, config_cls, source_cls", [
    ("serial_line", SerialLineConfig, SerialLineSource),
    ("serial_frame", SerialFrameConfig, SerialFrameSource),
])
def test_sample_configs_parse_and_build_sources(name, config_cls, source_cls):
    spec = get_adapter(name)
    raw = tomllib.loads(spec.sample_config.read_text())
    cfg = config_cls(**raw)
    assert cfg.port.startswith("/dev/") and cfg.channels
    source = build_source(name, raw)
    assert isinstance(source, source_cls) and source.config == cfg
    stats = source.stats()
    assert stats["samples"] == 0 and stats["rejected"] == 0


def test_sample_line_config_maps_fields():
    raw = tomllib.loads(get_adapter("serial_line").sample_config.read_text())
    src = build_source("serial_line", raw)
    # the sample sketch prints milli-g and degC at 200 rows/s; blocks of 0.1 s
    blocks = src.feed(b"seq,ax,ay,temp_c\n" + b"".join(b"%d,%d,-%d,24.5\n" % (i, i, i) for i in range(40)), 10**18)
    assert [(b.channel, b.units, b.rate, b.values.size) for b in blocks[:3]] == [
        ("accel_x", "g", 200.0, 20), ("accel_y", "g", 200.0, 20), ("temperature", "degC", 200.0, 20)]
    np.testing.assert_allclose(blocks[3].values, np.arange(20, 40) * 0.001)
    assert blocks[3].start_ns - blocks[0].start_ns == 100_000_000


@pytest.mark.parametrize("cls, kwargs, message", [
    (SerialLineConfig, dict(rate=-5), r"rate\n  Input should be greater than 0 .*input_value=-5"),
    (SerialLineConfig, dict(baud=9600), r"baud\n  Extra inputs are not permitted"),
    (SerialLineConfig, dict(format="xml"), r"format\n  Input should be 'csv' or 'json'"),
    (SerialLineConfig, dict(columns=["a"]), r"channels\[0\].field 'ax' is not a CSV column; columns are \['a'\]"),
    (SerialLineConfig, dict(columns=[]), r"csv format needs 'columns'"),
    (SerialLineConfig, dict(channels=[{"name": "x", "field": "ax", "scale": float("nan")}]),
     r"channels.0.scale\n  Input should be a finite number"),
    (SerialFrameConfig, dict(channels=[{"name": "x", "index": 20}]),
     r"channels\[0\].index 20 must be below max_channels \(16\)"),
    (SerialFrameConfig, dict(channels=[{"name": "x", "index": 0}, {"name": "x", "index": 1}]),
     r"channel names must be unique"),
    (SerialFrameConfig, dict(read_timeout_s=0), r"read_timeout_s\n  Input should be greater than 0"),
])
def test_config_errors_name_the_field_the_value_and_what_was_expected(cls, kwargs, message):
    base = {"port": "/dev/ttyUSB0", "asset": "a"}
    if cls is SerialLineConfig:
        base |= {"rate": 100.0, "columns": ["ax"], "channels": [{"name": "x", "field": "ax"}]}
    else:
        base |= {"channels": [{"name": "x", "index": 0}]}
    with pytest.raises(ValueError, match=message):
        cls(**(base | kwargs))


def test_timeline_is_steady_and_reanchors_when_arrivals_drift():
    t = Timeline(tolerance_s=0.5)
    assert t.place(1000, 1000.0, end_ns=5_000_000_000) == (0, False)
    # arrivals jitter by 0.2 s: the clock stays put
    assert t.place(1000, 1000.0, end_ns=6_200_000_000) == (1000, True)
    assert t.ns(1000) == 5_000_000_000
    # 2000 samples known lost: the clock skips them
    assert t.place(1000, 1000.0, end_ns=9_000_000_000, skipped=2000) == (4000, False)
    # 3 s of silence nobody counted: re-anchor on the host clock
    assert t.place(1000, 1000.0, end_ns=13_000_000_000) == (0, False)
    assert t.ns(0) == 12_000_000_000 and t.resyncs == 1


# ------------------------------------------------------------------ over a pty


def test_binary_frames_match_the_simulator_and_losses_are_counted():
    """3-axis frames at 12 kHz with dropped, corrupted frames and garbage bursts."""
    steps, m = 30, 256

    async def main():
        sim = SerialServer(RotatingMachine("pump-1", axes=3, seed=5), framing="frame", realtime=False, steps=steps,
                           frame_samples=m, drop_rate=0.08, corrupt_rate=0.08, garbage_rate=0.1, seed=11)
        reader = await started(sim, {"clock_tolerance_s": 1e6})  # as fast as possible: keep one clock
        sent = lambda: sum(1 for _, status in sim.history if status == "sent")  # noqa: E731
        await async_wait_until(lambda: sim.done and reader.source.stats()["frames"] == sent(), WAIT_S, 0.02,
                               what="every intact frame")
        await reader.close()
        await sim.stop()
        return sim, reader

    sim, reader = asyncio.run(main())
    stats, history = reader.source.stats(), list(sim.history)
    truth = twin(steps, asset="pump-1", axes=3, seed=5)
    names = [c.name for c in sim.selected]
    intact = [seq for seq, status in history if status == "sent"]
    assert len(history) == steps * 1200 // m and sim.stats()["dropped"] > 3 and sim.stats()["corrupted"] > 3
    assert sim.stats()["garbage_bursts"] > 3 and sim.stats()["lost_bytes"] == 0
    by_channel = {n: [s for s in reader.samples if s.channel == n] for n in names}
    first_ns = by_channel[names[0]][0].start_ns
    for n in names:
        blocks = by_channel[n]
        assert [b.values.size for b in blocks] == [m] * len(intact)
        assert all(b.rate == 12000.0 and b.units == "g" and b.asset == "pump-1" for b in blocks)
        for seq, b in zip(intact, blocks):
            # the block's time says which frame it is: gaps moved it past the lost frames
            assert abs(b.start_ns - first_ns - round((seq - intact[0]) * m / 12000 * 1e9)) <= 1
            x = truth[n][seq * m:(seq + 1) * m]
            scale = 16.0 / 32767
            assert np.all(np.abs(b.values - x) <= scale / 2 * 1.001)  # within int16 quantisation
    # every lost frame between the first and last intact one is seen as a sequence gap
    lost = [seq for seq, status in history if status != "sent" and intact[0] < seq < intact[-1]]
    assert stats["missing"] == len(lost) and stats["gaps"] >= 1
    assert stats["rejected_bad_crc"] + stats.get("rejected_bad_header", 0) + stats.get("rejected_bad_length", 0) \
        >= sim.stats()["corrupted"] - 1
    assert stats["skipped_bytes"] >= sim.stats()["garbage_bytes"]
    assert stats.get("rejected_garbage", 0) >= 1 and stats["rejected"] >= sim.stats()["corrupted"]


def test_csv_lines_in_real_time_match_the_simulator_in_contiguous_blocks():
    steps = 8

    async def main():
        sim = SerialServer(RotatingMachine("fan-1", seed=2), framing="csv", realtime=True, steps=steps)
        reader = await started(sim)
        await async_wait_until(lambda: sim.done and sum(s.values.size for s in reader.samples) >= steps * 1200,
                               WAIT_S, 0.02, what="all rows of the run")
        await reader.close()
        await sim.stop()
        return sim, reader

    sim, reader = asyncio.run(main())
    stats, blocks = reader.source.stats(), reader.samples
    name = sim.selected[0].name
    x = twin(steps, asset="fan-1", seed=2)[name]
    got = np.concatenate([b.values for b in blocks])
    # the header line was the partial first line after opening: nothing else was refused
    assert stats["lines"] == steps * 1200 and stats["rejected"] == stats["rejected_partial"] == 1
    assert stats["missing"] == 0 and stats["resyncs"] == 0
    np.testing.assert_allclose(got, x, rtol=6e-7, atol=1e-12)  # 7 significant digits on the wire
    assert all(b.rate == 12000.0 and b.units == "g" and b.channel == name for b in blocks)
    assert [b.values.size for b in blocks] == [1200] * steps
    assert all(abs(b.start_ns - a.end_ns) <= 1 for a, b in zip(blocks, blocks[1:]))


def test_json_lines_with_faults_count_gaps_garbage_and_keep_going():
    steps = 10

    async def main():
        sim = SerialServer(RotatingMachine("fan-2", seed=4), framing="json", realtime=False, steps=steps,
                           drop_rate=0.02, corrupt_rate=0.02, garbage_rate=0.02, seed=3)
        reader = await started(sim, {"clock_tolerance_s": 1e6})
        sent = lambda: sum(1 for _, status in sim.history if status == "sent")  # noqa: E731
        await async_wait_until(lambda: sim.done and reader.source.stats()["lines"] >= sent() - 1, WAIT_S, 0.02,
                               what="every intact line")
        # the idle flush emits the last partial block: then every line counted is in a sample
        await async_wait_until(lambda: sum(b.values.size for b in reader.samples) >= reader.source.stats()["lines"],
                               WAIT_S, 0.02, what="the idle flush of the last partial block")
        await reader.close()
        await sim.stop()
        return sim, reader

    sim, reader = asyncio.run(main())
    stats, history, server = reader.source.stats(), list(sim.history), sim.stats()
    name = sim.selected[0].name
    x = twin(steps, asset="fan-2", seed=4)[name]
    intact = [seq for seq, status in history if status == "sent"]
    # the first line after opening is dropped as possibly partial
    if stats["lines"] == len(intact) - 1:
        intact = intact[1:]
    got = np.concatenate([b.values for b in reader.samples])
    np.testing.assert_allclose(got, x[intact], rtol=6e-7, atol=1e-12)
    lost = [seq for seq, status in history if status != "sent" and intact[0] < seq < intact[-1]]
    assert stats["missing"] == len(lost) > 20
    corrupted_refused = stats["rejected_bad_json"] + stats.get("rejected_missing_field", 0)
    assert corrupted_refused >= server["corrupted"] - 1
    # garbage lines are refused too (a burst of only whitespace would be a blank line)
    assert stats["rejected"] >= server["corrupted"] + server["garbage_bursts"] - 3 > 40
    # blocks never straddle a gap, and times follow the row numbers
    period_ns = 1e9 / 12000
    first = reader.samples[0].start_ns
    pos = 0
    for b in reader.samples:
        assert abs(b.start_ns - first - round((intact[pos] - intact[0]) * period_ns)) <= 1
        assert intact[pos + b.values.size - 1] - intact[pos] == b.values.size - 1
        pos += b.values.size


def test_scalar_channels_as_json_lines_one_row_per_step():
    async def main():
        sim = SerialServer(RotatingMachine("oven-1", seed=1), framing="json", realtime=False, steps=30,
                           channels=["temperature", "shaft_speed"])
        reader = await started(sim)
        await async_wait_until(lambda: sim.done and reader.source.stats()["lines"] >= 29, WAIT_S, 0.02,
                               what="the rows")
        await reader.close()
        await sim.stop()
        return sim, reader

    sim, reader = asyncio.run(main())
    truth = twin(30, asset="oven-1", seed=1)
    assert sim.rate == 10.0
    temps = np.concatenate([b.values for b in reader.samples if b.channel == "temperature"])
    speeds = [b for b in reader.samples if b.channel == "shaft_speed"]
    np.testing.assert_allclose(temps, truth["temperature"][1:], rtol=6e-7)
    assert all(b.rate == 10.0 and b.units == "rpm" for b in speeds)
    np.testing.assert_allclose(np.concatenate([b.values for b in speeds]), truth["shaft_speed"][1:], rtol=6e-7)


def test_port_unplugged_mid_stream_is_reopened_and_the_gap_counted(tmp_path):
    link = str(tmp_path / "ttyTF0")

    async def main():
        sim = SerialServer(RotatingMachine("press-1", seed=7), framing="frame", realtime=True, link=link)
        reader = await started(sim, {"reopen_max_s": 0.2, "clock_tolerance_s": 5.0})
        src = reader.source
        await async_wait_until(lambda: len(reader.samples) >= 10, WAIT_S, 0.02, what="frames before the unplug")
        sim.unplug()
        await async_wait_until(lambda: src.stats()["port_errors"] >= 2, WAIT_S, 0.02,
                               what="the adapter to notice and fail to reopen")
        before = len(reader.samples)
        sim.plug()
        await async_wait_until(lambda: src.stats()["reopens"] == 1 and len(reader.samples) >= before + 10,
                               WAIT_S, 0.02, what="frames after the replug")
        await reader.close()
        await sim.stop()
        return sim, reader, before

    sim, reader, before = asyncio.run(main())
    stats = reader.source.stats()
    assert stats["opens"] == 2 and stats["reopens"] == 1
    assert sim.stats()["plugs"] == 2 and sim.stats()["lost_bytes"] > 0
    old, new = reader.samples[before - 1], reader.samples[before]
    # frames sent while unplugged are a sequence gap; the clock jumps over exactly them
    assert stats["gaps"] == 1 and stats["missing"] >= 1
    assert abs(new.start_ns - old.end_ns - round(stats["missing"] * 256 / 12000 * 1e9)) <= 1
    assert all(b.values.size == 256 for b in reader.samples)


def test_a_stalled_consumer_loses_bytes_but_not_the_stream():
    async def main():
        sim = SerialServer(RotatingMachine("mill-1", seed=8), framing="frame", realtime=True)
        reader = await started(sim, {"max_buffer_bytes": 4096})
        src = reader.source
        await async_wait_until(lambda: len(reader.samples) >= 3, WAIT_S, 0.02, what="first frames")
        reader.paused.clear()  # the consumer stalls, as during a long model compile, until bytes overflow
        await async_wait_until(lambda: src.stats()["overflow_bytes"] > 4096, WAIT_S, 0.02,
                               what="bytes lost to the full buffer")
        reader.paused.set()
        n = len(reader.samples)
        await async_wait_until(lambda: len(reader.samples) >= n + 10, WAIT_S, 0.02, what="frames after the stall")
        await reader.close()
        await sim.stop()
        return src

    stats = asyncio.run(main()).stats()
    assert stats["overflow_bytes"] > 4096
    assert stats["missing"] >= 1 and stats["rejected"] >= 1  # the hole shows as a gap and a broken frame
