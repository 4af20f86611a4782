"""Serve a simulated asset over a pseudo-terminal, as a sensor board does over USB serial.

The server opens a pty pair and writes the asset's data to the master side;
a reader opens the slave device (``/dev/pts/N``, or a stable symlink like
the ``/dev/serial/by-id/...`` links udev makes) exactly as it would open a
real board. Three framings, the same codecs the adapters use
(:mod:`firmware_adapters.framing`):

- ``csv``: a header line (``seq,vibration_de``) then one line per sample row;
- ``json``: one object per row, ``{"seq": 12, "vibration_de": 0.0137}``;
- ``frame``: binary frames of ``frame_samples`` rows, int16 with a scale
  per channel (``full_scale / 32767``) and CRC-16/CCITT-FALSE.

Rows are the selected channels at one rate: the waveform channels' rate
(scalar channels repeat their latest value on every row), or one row per
step when only scalar channels are selected. A line or frame counter
(``seq``, 0..65535, wrapping) lets the reader see loss.

For tests and lab exercises the server can inject faults per line/frame:
a burst of random bytes before it (``garbage_rate``; in text framings the
burst ends with a line break so it costs no data line), one byte altered
(``corrupt_rate``) or the unit never sent (``drop_rate``, a sequence gap).
:meth:`SerialServer.unplug` and :meth:`SerialServer.plug` imitate pulling
and reinserting the USB cable. POSIX only (Linux, macOS): it needs ptys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import tty
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from firmware_adapters.framing import FrameEncoder, format_csv_line, format_json_line
from simulators.base import Channel, SimAsset, cancel_task

log = logging.getLogger(__name__)

FRAMINGS = ("csv", "json", "frame")
PACE_SLOT_S = 0.005
DEFAULT_FULL_SCALE = {"g": 16.0, "m/s2": 160.0, "mm/s": 100.0, "A": 100.0, "V": 500.0,
                      "degC": 200.0, "rpm": 10000.0, "Hz": 1000.0, "%": 200.0}


@dataclass
class SerialServer:
    """Stream one simulated asset over a pty in text or binary framing.

    Use as an async context manager (or :meth:`start` / :meth:`stop`).

    Parameters
    ----------
    asset : SimAsset
        The simulated asset; advanced by ``block_s`` seconds per step.
    framing : {"csv", "json", "frame"}
        Wire format.
    channels : list of str or None
        Channels to send (default: the waveform channels, or every channel
        if the asset has no waveform). Waveform channels must share a rate.
    block_s : float
        Simulated seconds per step.
    realtime : bool
        Pace steps at wall-clock speed; bytes the reader has not taken by
        the next step are lost, as on a real line. If False, write as fast
        as the reader takes them.
    steps : int or None
        Stop producing after this many steps (None: run until stopped).
    frame_samples : int
        Rows per binary frame.
    full_scale : dict
        Per channel, the value sent as +32767 (default by units, e.g. 16 g).
    digits : int
        Significant digits of numbers in text framings.
    garbage_rate, corrupt_rate, drop_rate : float
        Per line/frame probabilities of the injected faults.
    garbage_max : int
        Longest garbage burst in bytes.
    link : str or None
        Path of a symlink kept pointing at the current pty slave.
    seed : int
        Seed of the fault injection.
    epoch_ns : int or None
        Wall-clock time (UTC epoch ns) of the scenario's t = 0 when several
        servers share one scenario; rows due before the server started are
        sent at once. Default: when streaming starts.

    Attributes
    ----------
    selected : list of Channel
        The channels sent, in column / frame-channel order.
    rate : float
        Rows per second.
    history : deque of (int, str)
        ``(seq, "sent" | "corrupted" | "dropped")`` of the latest 100 000
        lines or frames.

    Examples
    --------
    >>> import asyncio, serial
    >>> from simulators.rotating_machine import RotatingMachine
    >>> async def main():
    ...     sim = SerialServer(RotatingMachine("m1"), framing="json", channels=["temperature"],
    ...                        realtime=False, steps=3)
    ...     with serial.Serial(sim.plug(), timeout=5) as port:  # open before data flows
    ...         async with sim:
    ...             return [await asyncio.to_thread(port.readline) for _ in range(3)]
    >>> asyncio.run(main())
    [b'{"seq": 0, "temperature": ...}\\n', b'{"seq": 1, "temperature": ...}\\n', b'{"seq": 2, "temperature": ...}\\n']
    """

    asset: SimAsset
    framing: str = "csv"
    channels: list[str] | None = None
    block_s: float = 0.1
    realtime: bool = True
    steps: int | None = None
    frame_samples: int = 256
    full_scale: dict[str, float] = field(default_factory=dict)
    digits: int = 7
    garbage_rate: float = 0.0
    corrupt_rate: float = 0.0
    drop_rate: float = 0.0
    garbage_max: int = 64
    link: str | None = None
    seed: int = 0
    epoch_ns: int | None = None

    def __post_init__(self) -> None:
        if self.framing not in FRAMINGS:
            raise ValueError(f"framing must be one of {FRAMINGS}, got {self.framing!r}")
        for name in ("garbage_rate", "corrupt_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value}")
        if not self.block_s > 0:
            raise ValueError(f"block_s must be > 0 seconds, got {self.block_s}")
        if not 1 <= self.frame_samples <= 4096:
            raise ValueError(f"frame_samples must be in 1..4096, got {self.frame_samples}")
        if self.garbage_max < 1:
            raise ValueError(f"garbage_max must be >= 1 byte, got {self.garbage_max}")
        known = {c.name: c for c in self.asset.channels()}
        names = self.channels
        if names is None:
            names = [n for n, c in known.items() if c.kind == "waveform"] or list(known)
        unknown = [n for n in names if n not in known]
        if unknown or not names:
            raise ValueError(f"channels {unknown or names} not offered by {self.asset.asset}; it has {sorted(known)}")
        self.selected: list[Channel] = [known[n] for n in names]
        rates = {c.rate for c in self.selected if c.kind == "waveform"}
        if len(rates) > 1:
            raise ValueError(f"waveform channels {names} must share one rate to go in one row, got {sorted(rates)}")
        self.rate = rates.pop() if rates else 1.0 / self.block_s
        scales = [self.full_scale.get(c.name, DEFAULT_FULL_SCALE.get(c.units, 1000.0)) for c in self.selected]
        self._encoder = FrameEncoder(self.rate, scales)
        self._rng = np.random.default_rng(self.seed)
        self._pending = np.zeros((len(self.selected), 0))
        self._seq = 0
        self._rows_out = 0
        self._master: int | None = None
        self._slave: int | None = None
        self._pts: str | None = None
        self._task: asyncio.Task | None = None
        self._counts = {"steps": 0, "sent": 0, "dropped": 0, "corrupted": 0, "garbage_bursts": 0,
                        "garbage_bytes": 0, "lost_bytes": 0, "plugs": 0}
        self.history: deque[tuple[int, str]] = deque(maxlen=100_000)

    # ----------------------------------------------------------- the port

    @property
    def path(self) -> str:
        """Device path a reader opens: the symlink if one is configured, else the pty slave."""
        if self.link is not None:
            return self.link
        if self._pts is None:
            raise RuntimeError("serial server is not plugged in: call plug() or start() first")
        return self._pts

    @property
    def adapter(self) -> str:
        """Name of the adapter that reads this framing."""
        return "serial_frame" if self.framing == "frame" else "serial_line"

    def plug(self) -> str:
        """Open a new pty pair (re-pointing ``link``); return the slave path."""
        if self._master is not None:
            return self._pts
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no newline translation, before any reader configures it
        os.set_blocking(master, False)
        self._master, self._slave, self._pts = master, slave, os.ttyname(slave)
        if self.link is not None:
            tmp = Path(f"{self.link}.tmp{os.getpid()}")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self._pts)
            os.replace(tmp, self.link)
        self._counts["plugs"] += 1
        log.info("serial simulator %s on %s (%s)", self.asset.asset, self.path, self.framing)
        return self._pts

    def unplug(self) -> None:
        """Close the pty pair: the device node (and ``link``) disappear, readers get an error."""
        if self.link is not None:
            Path(self.link).unlink(missing_ok=True)
        for fd in (self._slave, self._master):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = self._pts = None

    async def start(self) -> None:
        """Plug in (if not yet) and start streaming."""
        self.plug()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"serial-sim {self.asset.asset}")

    async def stop(self) -> None:
        """Stop streaming and unplug."""
        await cancel_task(self._task)
        self._task = None
        self.unplug()

    async def __aenter__(self) -> "SerialServer":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    @property
    def done(self) -> bool:
        """True once ``steps`` steps have been written."""
        return self._task is not None and self._task.done()

    def stats(self) -> dict[str, int]:
        """Counters: steps, sent, dropped, corrupted, garbage_bursts/bytes, lost_bytes, clipped, plugs."""
        return {**self._counts, "clipped": self._encoder.clipped}

    def source_config(self) -> dict:
        """Config of the adapter (:attr:`adapter`) that reads this server.

        Examples
        --------
        >>> from simulators.rotating_machine import RotatingMachine
        >>> sim = SerialServer(RotatingMachine("m1"), framing="csv", link="/tmp/ttyTF-doc")
        >>> cfg = sim.source_config()
        >>> cfg["columns"], cfg["rate"], cfg["channels"]
        (['seq', 'vibration_de'], 12000.0, [{'name': 'vibration_de', 'field': 'vibration_de', 'units': 'g'}])
        """
        base = {"port": self.path, "asset": self.asset.asset}
        if self.framing == "frame":
            return {**base, "channels": [{"name": c.name, "index": i, "units": c.units}
                                         for i, c in enumerate(self.selected)]}
        cfg = {**base, "format": self.framing, "rate": self.rate, "seq_field": "seq",
               "channels": [{"name": c.name, "field": c.name, "units": c.units} for c in self.selected]}
        if self.framing == "csv":
            cfg["columns"] = ["seq", *[c.name for c in self.selected]]
        return cfg

    # ----------------------------------------------------------- streaming

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        if self.epoch_ns is not None:  # the scenario clock started before we did: catch up
            t0 -= max(0.0, (time.time_ns() - self.epoch_ns) / 1e9)
        if self.framing == "csv":
            await self._write((",".join(["seq", *[c.name for c in self.selected]]) + "\n").encode())
        k = 0
        while self.steps is None or k < self.steps:
            units = self._encode_step(self.asset.advance(self.block_s))
            # a board sends each line or frame once its last row is measured:
            # write them at those times, grouped in slots of PACE_SLOT_S
            i = 0
            while i < len(units):
                due = t0 + units[i][0] / self.rate
                j = i + 1
                while j < len(units) and t0 + units[j][0] / self.rate <= due + PACE_SLOT_S:
                    j += 1
                if self.realtime:
                    await asyncio.sleep(max(0.0, due - loop.time()))
                await self._write(b"".join(u for _, u in units[i:j]), due + self.block_s)
                i = j
            k += 1
            self._counts["steps"] = k
            if not self.realtime:
                await asyncio.sleep(0)

    def _rows(self, data: dict[str, np.ndarray]) -> np.ndarray:
        """The step's data as a (channels, rows) array."""
        n = max((len(data[c.name]) for c in self.selected if c.kind == "waveform"), default=1)
        rows = np.empty((len(self.selected), n))
        for i, c in enumerate(self.selected):
            x = np.asarray(data[c.name], dtype=np.float64)
            rows[i] = x if c.kind == "waveform" else (x[-1] if x.size else np.nan)
        return rows

    def _encode_step(self, data: dict[str, np.ndarray]) -> list[tuple[int, bytes]]:
        """Lines or frames of one step, each with the row count at its end."""
        rows = self._rows(data)
        units: list[tuple[int, bytes]] = []
        if self.framing == "frame":
            self._pending = np.concatenate([self._pending, rows], axis=1)
            m = self.frame_samples
            while self._pending.shape[1] >= m:
                self._rows_out += m
                units.append((self._rows_out, self._inject(self._encoder.encode(self._pending[:, :m]))))
                self._pending = self._pending[:, m:]
            return units
        names = [c.name for c in self.selected]
        for row in rows.T:
            if self.framing == "csv":
                line = format_csv_line([self._seq, *row], self.digits)
            else:
                line = format_json_line({"seq": self._seq, **dict(zip(names, row))}, self.digits)
            self._rows_out += 1
            units.append((self._rows_out, self._inject(line)))
        return units

    def _inject(self, unit: bytes) -> bytes:
        """Apply the configured faults to one line or frame and record what happened."""
        seq, self._seq = self._seq, (self._seq + 1) % 65536
        rng, out = self._rng, b""
        if rng.random() < self.garbage_rate:
            n = int(rng.integers(1, self.garbage_max + 1))
            junk = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
            if self.framing != "frame":
                junk = junk.replace(b"\n", b"?") + b"\n"
            out += junk
            self._counts["garbage_bursts"] += 1
            self._counts["garbage_bytes"] += len(junk)
        if rng.random() < self.drop_rate:
            self._counts["dropped"] += 1
            self.history.append((seq, "dropped"))
            return out
        if rng.random() < self.corrupt_rate:
            body = bytearray(unit)
            if self.framing == "frame":  # keep the sync word so the reader sees a bad frame, not noise
                i = int(rng.integers(2, len(body)))
                body[i] ^= int(rng.integers(1, 256))
            else:  # '#' is valid in no number and no JSON outside strings
                body[int(rng.integers(0, len(body) - 1))] = ord("#")
            unit = bytes(body)
            self._counts["corrupted"] += 1
            self.history.append((seq, "corrupted"))
        else:
            self.history.append((seq, "sent"))
        self._counts["sent"] += 1
        return out + unit

    async def _write(self, data: bytes, deadline: float | None = None) -> None:
        """Write all of ``data``; in real time, what the reader has not taken by ``deadline`` is lost."""
        loop = asyncio.get_running_loop()
        view = memoryview(data)
        while view:
            fd = self._master
            if fd is None:  # unplugged: the bytes go nowhere
                self._counts["lost_bytes"] += len(view)
                return
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                wait = 0.05
                if self.realtime and deadline is not None:  # a real line does not wait for a slow reader
                    wait = min(wait, deadline - loop.time())
                    if wait <= 0:
                        self._counts["lost_bytes"] += len(view)
                        return
                await self._writable(fd, wait)
            except OSError as exc:
                log.warning("serial simulator %s: write failed (%s)", self.asset.asset, exc)
                self._counts["lost_bytes"] += len(view)
                return

    async def _writable(self, fd: int, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        loop.add_writer(fd, lambda: ready.done() or ready.set_result(None))
        try:
            await asyncio.wait_for(ready, timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            with contextlib.suppress(ValueError, OSError):
                loop.remove_writer(fd)
