"""``teachfab sim run``: serve a scenario over OPC UA, serial ptys and MQTT at once.

Each protocol gets its own fresh copy of the scenario (same seed, so the
very same samples), paced to the wall clock from a common start: OPC UA
and MQTT stamp blocks on that clock, so the ground truth lines up with
them exactly; serial lines carry only a sequence number and the reader
stamps them on arrival (within a block of the same clock). The
runner prints, per protocol, the adapter config that reads it — paste it
into an edge agent's ``sources`` — and writes the ground truth on the
epoch clock so the hub can score detections.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from simulators.scenario import Scenario, load_scenario


@dataclass
class ServeOptions:
    """What to serve and for how long.

    Parameters
    ----------
    opcua_port : int or None
        Serve every asset over OPC UA on this port (0: a free one).
    serial : str or None
        Serve each asset over its own pseudo-terminal in this framing
        (``csv``, ``json`` or ``frame``).
    mqtt : str or None
        Publish every asset like a smart sensor to this broker.
    duration_s : float or None
        Stop after this long (default: the scenario's ``duration_s``, else
        until interrupted).
    ground_truth : str or None
        Write the ground truth (JSON, epoch nanoseconds) to this file.
    link_dir : str or None
        Keep ``<link_dir>/<asset>`` symlinks pointing at the serial ptys.
    """

    opcua_port: int | None = None
    serial: str | None = None
    mqtt: str | None = None
    duration_s: float | None = None
    ground_truth: str | None = None
    link_dir: str | None = None


@contextlib.asynccontextmanager
async def serving(scenario: Scenario, opts: ServeOptions, announce=print) -> AsyncIterator[dict]:
    """Serve ``scenario`` as ``opts`` says while the ``async with`` block runs.

    Yields ``{"scenario", "start_ns", "ground_truth", "sources"}``: the
    ground truth on the epoch clock and, per adapter name, the configs that
    read what is being served (``{"adapter": name, ...}``).
    """
    if opts.opcua_port is None and opts.serial is None and opts.mqtt is None:
        raise ValueError("nothing to serve: give at least one of --opcua PORT, --serial FRAMING, --mqtt URL")
    start_ns = time.time_ns()
    configs: dict[str, list[dict]] = {}
    async with contextlib.AsyncExitStack() as stack:
        if opts.opcua_port is not None:
            from simulators.opcua_server import SimulatorServer  # protocol stacks only when asked for

            sim = SimulatorServer(scenario.restart().assets, port=opts.opcua_port, epoch_ns=start_ns)
            await stack.enter_async_context(sim)
            configs["opcua"] = [_with_adapter("opcua", sim.browse_config(a.asset)) for a in sim.assets]
            announce(f"OPC UA: {sim.endpoint}")
        if opts.serial is not None:
            from simulators.serial_server import SerialServer

            for asset in scenario.restart().assets:
                link = str(Path(opts.link_dir) / asset.asset) if opts.link_dir else None
                ser = SerialServer(asset, framing=opts.serial, link=link, epoch_ns=start_ns)
                await stack.enter_async_context(ser)
                configs.setdefault(ser.adapter, []).append(_with_adapter(ser.adapter, ser.source_config()))
                announce(f"serial ({opts.serial}) for {asset.asset}: {ser.path}")
        if opts.mqtt is not None:
            from simulators.mqtt_sensor import MqttSensorPublisher

            pub = MqttSensorPublisher(scenario.restart().assets, broker=opts.mqtt, epoch_ns=start_ns)
            await stack.enter_async_context(pub)
            configs["mqtt_sensor"] = [_with_adapter("mqtt_sensor", pub.source_config(a.asset)) for a in pub.assets]
            announce(f"MQTT smart sensor: {opts.mqtt} topics {pub.topic('+')}")
        truth = scenario.ground_truth_ns(start_ns)
        if opts.ground_truth:
            Path(opts.ground_truth).write_text(json.dumps(truth, indent=2), encoding="utf-8")
            announce(f"ground truth ({len(truth)} events) written to {opts.ground_truth}")
        announce("adapter configs for an edge agent's `sources`:\n" + json.dumps(configs, indent=2))
        yield {"scenario": scenario.name, "start_ns": start_ns, "ground_truth": truth, "sources": configs}


async def serve_scenario(scenario: Scenario, opts: ServeOptions, announce=print) -> dict:
    """Serve ``scenario`` until its duration ends or Ctrl-C; return what :func:`serving` yielded."""
    async with serving(scenario, opts, announce) as info:
        await wait_or_interrupt(opts.duration_s if opts.duration_s is not None else scenario.duration_s)
    return info


def _with_adapter(name: str, config: dict) -> dict:
    return {"adapter": name, **config}


async def wait_or_interrupt(duration_s: float | None) -> None:
    """Sleep ``duration_s`` (or forever); Ctrl-C or SIGTERM ends it early."""
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    try:
        await asyncio.wait_for(done.wait(), duration_s)
    except asyncio.TimeoutError:
        pass
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def main(path: str, opts: ServeOptions) -> int:
    """Entry point of ``teachfab sim run``."""
    scenario = load_scenario(path)
    asyncio.run(serve_scenario(scenario, opts, announce=lambda s: print(s, flush=True)))
    return 0
