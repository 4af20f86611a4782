"""``teachfab edge check CONFIG``: is this gateway ready? One line per check, ``ok`` or what to do.

Checks, in order:

- ``config``: the file loads as the agent's settings (every source validated by its adapter);
- ``sensor <asset>``: per source, the link (OPC UA: connect and browse the
  asset's folder; serial: open the port) and the first samples — every
  channel delivers within the timeout, values finite and within the
  plausible range of their units;
- ``broker``: a connection with the kit's own credentials (over TLS with
  the kit's CA for ``mqtts://``) is accepted;
- ``clock``: the offset to the hub (HTTP ``Date`` of the hub URL, when the
  configuration names one) is under 2 s;
- ``disk``: the state directory is writable and its file system has room
  for a full outbox.

Each failure line says what to do; docs/onboarding.md explains every message.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import math
import os
import shutil
import socket
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

#: Plausible ranges of first samples per unit (beyond them a mapping, scale or unit is wrong).
RANGES = {"g": (-500.0, 500.0), "m/s2": (-5000.0, 5000.0), "mm/s": (-1000.0, 1000.0), "degC": (-50.0, 250.0),
          "A": (-5000.0, 5000.0), "V": (-1000.0, 1000.0), "rpm": (0.0, 100_000.0), "bar": (-1.0, 1000.0)}
OUTBOX_ROW_BYTES = 2048  # a features batch row, roughly; a full outbox is outbox_max_rows of them
MAX_CLOCK_OFFSET_S = 2.0


@dataclass
class Check:
    """One check's outcome: its name, whether it passed and the line to show."""

    name: str
    ok: bool
    message: str

    def line(self, colour: bool = False) -> str:
        """``ok   name: message`` or ``FAIL name: message`` (green / red on a terminal)."""
        word = "ok  " if self.ok else "FAIL"
        if colour:
            word = f"\033[32m{word}\033[0m" if self.ok else f"\033[31m{word}\033[0m"
        return f"{word} {self.name}: {self.message}"


def check_config(path: str | Path):
    """Load the configuration; ``(settings, Check)``, settings ``None`` when it does not load."""
    import yaml

    from edge_agent.agent import load_edge_settings

    try:
        settings = load_edge_settings(path)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        return None, Check("config", False, f"{path} does not load: {exc}. Fix the file, or install the kit again")
    assets = sorted({s.asset for s in settings.sources})
    return settings, Check("config", True, f"{path}: site {settings.site}, edge {settings.edge_id}, "
                                           f"sources for {', '.join(assets) or 'no asset'}")


async def _opcua_browse(opts: dict, timeout: float) -> str | None:
    """Connect to the OPC UA server and browse the asset's folder; ``None`` when it works, else the problem."""
    from asyncua import Client

    client = Client(opts["url"], timeout=timeout)
    try:
        async with asyncio.timeout(timeout):
            await client.connect()
    except (OSError, asyncio.TimeoutError, TimeoutError, ConnectionError) as exc:
        return (f"cannot connect to {opts['url']} ({type(exc).__name__}: {exc or 'timed out'}): check the "
                "machine's OPC UA server is on, the address and port, and that this gateway reaches it")
    except Exception as exc:  # asyncua raises its own UaError family for refused sessions
        return f"{opts['url']} refused the session ({type(exc).__name__}: {exc}): check security policy and user"
    try:
        ns = await client.get_namespace_index(opts["namespace"]) if opts.get("namespace") else None
        path = opts.get("browse_path")
        if path:
            node = client.nodes.objects
            for part in path.split("/"):
                node = await node.get_child(f"{ns}:{part}" if ns is not None else part)
            children = await node.get_children()
            if not children:
                return f"{path} on {opts['url']} has no variables: check browse_path and the server's address space"
        return None
    except ValueError as exc:
        return f"namespace {opts.get('namespace')!r} is not on {opts['url']} ({exc}): check the kit's namespace"
    except Exception as exc:
        return (f"{opts.get('browse_path')!r} not found on {opts['url']} ({type(exc).__name__}): check the kit's "
                "browse_path (the asset's folder under Objects) or node ids")
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(), 2.0)


def _in_range(sample) -> str | None:
    values = sample.values
    if values.size == 0:
        return f"{sample.channel}: empty block"
    if not all(math.isfinite(float(v)) for v in (values.min(), values.max())):
        return f"{sample.channel}: values are not finite (NaN or infinite): check the sensor and its wiring"
    low, high = RANGES.get(sample.units, (-1e9, 1e9))
    if float(values.min()) < low or float(values.max()) > high:
        return (f"{sample.channel}: values {float(values.min()):.4g}..{float(values.max()):.4g} {sample.units} are "
                f"outside the plausible {low:g}..{high:g}: check the channel mapping, scale and units")
    return None


async def check_source(src, timeout: float = 15.0) -> Check:
    """The link and first samples of one configured source."""
    name = f"sensor {src.asset}"
    opts = src.options
    if src.adapter == "opcua":
        problem = await _opcua_browse(opts, min(timeout, 10.0))
        if problem:
            return Check(name, False, problem)
    if src.adapter in ("serial_frame", "serial_line") and not os.path.exists(opts["port"]):
        return Check(name, False, f"serial port {opts['port']} does not exist: plug the board in, check the cable "
                                  "and the port name (ls /dev/serial/by-id/)")
    if src.adapter in ("serial_frame", "serial_line") and not os.access(opts["port"], os.R_OK | os.W_OK):
        return Check(name, False, f"serial port {opts['port']} is not readable by this user: add it to the "
                                  "'dialout' group (the service has it)")
    source = src.build()
    seen: dict[str, object] = {}
    wanted = _expected_channels(src)

    async def first_samples():
        async for s in source.samples():
            seen.setdefault(s.channel, s)
            if wanted and wanted <= set(seen) or not wanted and seen:
                return

    try:
        await asyncio.wait_for(first_samples(), timeout)
    except (asyncio.TimeoutError, TimeoutError):
        stats = source.stats()
        missing = sorted(wanted - set(seen)) if wanted else []
        hint = (f"{stats.get('rejected', 0)} frames rejected, {stats.get('skipped_bytes', 0)} bytes skipped: check "
                "baud rate and framing" if src.adapter.startswith("serial") else "check the machine is running")
        if seen:
            return Check(name, False, f"no samples of {', '.join(missing)} within {timeout:g} s ({hint})")
        return Check(name, False, f"no samples within {timeout:g} s ({hint})")
    except Exception as exc:
        return Check(name, False, f"the source failed: {type(exc).__name__}: {exc}")
    for s in seen.values():
        problem = _in_range(s)
        if problem:
            return Check(name, False, problem)
    parts = [f"{c} {s.rate:g} Hz {s.units}" if s.rate else f"{c} {s.units}" for c, s in sorted(seen.items())]
    return Check(name, True, f"{src.adapter}: first samples in range ({'; '.join(parts)})")


def _expected_channels(src) -> set[str]:
    opts = src.options
    if src.adapter == "serial_frame":
        return {c["name"] if isinstance(c, dict) else c.name for c in opts.get("channels", [])}
    if src.adapter == "opcua" and (opts.get("waveforms") or opts.get("scalars")):
        return set(opts.get("waveforms") or {}) | set(opts.get("scalars") or {})
    return set()


def check_broker(settings, timeout: float = 15.0) -> Check:
    """Connect with the configuration's own broker credentials; the refusal, if any, in words."""
    from contract.mqtt import make_client, parse_mqtt_url, secure_client

    host, port = parse_mqtt_url(settings.broker)
    outcome: dict = {}
    done = threading.Event()
    try:
        client = secure_client(make_client(f"tf-check-{settings.edge_id}-{os.getpid()}", settings.mqtt_protocol),
                               settings.broker, settings.broker_auth())
    except ValueError as exc:
        return Check("broker", False, f"{exc}: install the kit again")

    def on_connect(c, userdata, flags, rc, props):
        outcome["rc"] = rc
        done.set()

    client.on_connect = on_connect
    try:
        client.connect(host, port, keepalive=10)
    except ssl.SSLCertVerificationError as exc:
        return Check("broker", False, f"{host}:{port} presented a certificate this kit does not trust "
                                      f"({exc.verify_message}): the kit's ca.pem must be the broker's CA and the "
                                      "certificate must name this address; ask the hub operator")
    except (ssl.SSLError, ConnectionResetError) as exc:
        return Check("broker", False, f"TLS with {host}:{port} failed ({exc}): is it a TLS listener? "
                                      "mqtts:// needs the TLS port (8883)")
    except (OSError, socket.timeout) as exc:
        return Check("broker", False, f"cannot reach {host}:{port} ({exc}): check the network, DNS and that the "
                                      "firewall lets this gateway out to that port")
    client.loop_start()
    try:
        if not done.wait(timeout):
            return Check("broker", False, f"{host}:{port} did not answer the MQTT connect within {timeout:g} s")
    finally:
        client.disconnect()
        client.loop_stop()
    rc = outcome["rc"]
    if rc.is_failure:
        return Check("broker", False, f"the broker refused user {settings.broker_username!r} ({rc}): the kit was "
                                      "revoked or re-issued, or its password altered; ask the hub operator for a "
                                      "new kit")
    tls = "TLS, broker certificate verified" if settings.broker.startswith("mqtts://") else "no TLS"
    return Check("broker", True, f"{host}:{port} accepted {settings.broker_username or 'anonymous'} ({tls})")


def check_clock(hub_url: str | None, timeout: float = 10.0) -> Check:
    """The gateway clock's offset to the hub's, from the hub's HTTP ``Date`` (1 s resolution)."""
    if not hub_url:
        return Check("clock", True, "skipped: no hub URL given (--hub URL); make sure NTP runs (timedatectl)")
    url = hub_url.rstrip("/") + "/healthz"
    try:
        t0 = time.time()
        with urllib.request.urlopen(url, timeout=timeout) as res:  # noqa: S310 - an operator-given http(s) URL
            date = res.headers.get("Date")
        t1 = time.time()
    except OSError as exc:
        return Check("clock", False, f"cannot reach the hub at {url} ({exc}): check the hub URL and the network")
    if not date:
        return Check("clock", False, f"{url} sent no Date header; cannot compare clocks")
    hub = email.utils.parsedate_to_datetime(date).timestamp() + 0.5  # Date truncates to the second
    offset = (t0 + t1) / 2 - hub
    if abs(offset) > MAX_CLOCK_OFFSET_S + (t1 - t0) / 2:
        return Check("clock", False, f"this gateway's clock is {offset:+.1f} s off the hub's: enable NTP "
                                     "(timedatectl set-ntp true) so telemetry timestamps and windows line up")
    return Check("clock", True, f"offset to the hub {offset:+.1f} s (within ±{MAX_CLOCK_OFFSET_S:g} s)")


def check_disk(settings) -> Check:
    """The state directory is writable and has room for a full outbox."""
    state = settings.state_dir
    if state is None:
        return Check("disk", False, "no state_dir: the outbox would live in memory and be lost at a restart; "
                                    "install the kit with 'teachfab edge install'")
    state = Path(state)
    try:
        state.mkdir(parents=True, exist_ok=True)
        probe = state / ".write-test"
        probe.write_bytes(b"x")
        probe.unlink()
    except OSError as exc:
        return Check("disk", False, f"cannot write {state} ({exc}): the service's user must own it")
    free = shutil.disk_usage(state).free
    need = settings.outbox_max_rows * OUTBOX_ROW_BYTES
    if free < need:
        return Check("disk", False, f"{free / 1e6:.0f} MB free at {state}, a full outbox needs about "
                                    f"{need / 1e6:.0f} MB: free space, or lower outbox_max_rows")
    return Check("disk", True, f"{free / 1e9:.1f} GB free at {state} (a full outbox: about {need / 1e6:.0f} MB)")


def run_checks(config: str | Path, hub_url: str | None = None, timeout: float = 15.0) -> list[Check]:
    """Every check of one configuration, in order."""
    settings, first = check_config(config)
    if settings is None:
        return [first]

    async def sensors():
        return [await check_source(src, timeout) for src in settings.sources]

    return [first, *asyncio.run(sensors()), check_broker(settings, timeout), check_clock(hub_url, timeout),
            check_disk(settings)]
