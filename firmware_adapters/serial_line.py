"""Serial line adapter: CSV or JSON text lines from a sensor board.

A board prints one line per sample row — ``seq,ax,ay,temp`` in CSV or
``{"seq": 12, "ax": 0.013, ...}`` in JSON — at a known rate. The adapter
reads the port in chunks in a background thread (``read(in_waiting or 1)``
with a timeout: never byte-wise ``readline``, which costs ~30x more CPU),
decodes lines with :class:`firmware_adapters.framing.LineDecoder`, maps
fields to channels with units, scale and offset, and yields blocks of
consecutive rows as :class:`Sample` objects with their rate and start time.

If the port disappears (USB unplugged, pty closed) it is reopened with a
capped back-off; the first line after every open is dropped because it may
have started before the port was opened.

This module also holds what the serial frame adapter shares with it: the
port settings (:class:`SerialPortConfig`), the reader thread and the sample
clock (:class:`Timeline`). Sample config: ``firmware_adapters/samples/serial_line.toml``;
docs: ``docs/adapters/serial_line.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Literal

import numpy as np
import serial
from pydantic import BaseModel, ConfigDict, Field, model_validator

from firmware_adapters.framing import LineDecoder, Line
from firmware_adapters.sample import Sample

log = logging.getLogger(__name__)

Finite = Annotated[float, Field(allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1)]


class SerialPortConfig(BaseModel):
    """Port settings shared by the serial adapters.

    Parameters
    ----------
    port : str
        Device path, e.g. ``/dev/ttyACM0``, ``/dev/serial/by-id/...`` or a pty.
    asset : str
        Asset the channels belong to.
    baudrate : int
        Line speed (ignored by USB CDC boards and ptys).
    parity : {"N", "E", "O"}
        Parity; with 8 data bits.
    stopbits : {1, 2}
        Stop bits.
    read_timeout_s : float
        How long one read waits for the first byte.
    reopen_max_s : float
        Cap of the exponential back-off between attempts to reopen the port.
    clock_tolerance_s : float
        How far the sample clock may drift from arrival times before it is
        re-anchored (see :class:`Timeline`).
    exclusive : bool
        Lock the port so a second reader cannot split the byte stream.
    max_buffer_bytes : int
        Bytes read but not yet decoded beyond which new chunks are dropped
        (counted in ``overflow_bytes``) when the consumer stalls.
    """

    model_config = ConfigDict(extra="forbid")

    port: Name
    asset: Name
    baudrate: int = Field(115200, gt=0)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    read_timeout_s: float = Field(0.1, gt=0, le=5)
    reopen_max_s: Positive = 2.0
    clock_tolerance_s: Positive = 1.0
    exclusive: bool = True
    max_buffer_bytes: int = Field(16 * 2**20, ge=4096)


class LineChannel(BaseModel):
    """One field of a line mapped to a channel: ``value = raw * scale + offset``.

    Parameters
    ----------
    name : str
        Channel name, e.g. ``"vibration_de"``.
    field : str
        CSV column name, or JSON key (``a.b`` for a nested key).
    units : str
        Engineering units after scaling.
    scale, offset : float
        Linear calibration from the printed value to ``units``.
    """

    model_config = ConfigDict(extra="forbid")

    name: Name
    field: Name
    units: str = ""
    scale: Finite = 1.0
    offset: Finite = 0.0


class SerialLineConfig(SerialPortConfig):
    """What the board prints and how to map it.

    Parameters
    ----------
    rate : float
        Rows per second the board prints (Hz).
    channels : list of LineChannel
        Field-to-channel mapping (dicts are accepted).
    format : {"csv", "json"}
        Line format.
    columns : list of str
        CSV: every column name in order (a line equal to it is a header).
    delimiter : str
        CSV separator, one character.
    seq_field : str or None
        Field holding a line counter, to detect lost lines.
    seq_modulo : int
        Where the counter wraps (65536 for a ``uint16_t``).
    max_gap : int
        Largest counter jump counted as lost lines; bigger jumps are a
        board restart.
    max_line : int
        Longest accepted line in bytes.
    block_s : float
        Duration of one yielded block.
    port, asset, baudrate, ... :
        See :class:`SerialPortConfig`.

    Examples
    --------
    >>> cfg = SerialLineConfig(port="/dev/ttyACM0", asset="fan-1", rate=100, columns=["ms", "t"],
    ...                        channels=[{"name": "temperature", "field": "t", "units": "degC"}])
    >>> cfg.block_rows
    10
    >>> SerialLineConfig(port="/dev/ttyACM0", asset="fan-1", rate=100, columns=["ms"],
    ...                  channels=[{"name": "temperature", "field": "t"}])
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for SerialLineConfig
      Value error, channels[0].field 't' is not a CSV column; columns are ['ms'] ...
    """

    rate: Positive
    channels: list[LineChannel] = Field(min_length=1)
    format: Literal["csv", "json"] = "csv"
    columns: list[Name] = Field(default_factory=list)
    delimiter: str = Field(",", min_length=1, max_length=1)
    seq_field: Name | None = None
    seq_modulo: int = Field(65536, ge=2)
    max_gap: int = Field(1000, ge=1)
    max_line: int = Field(1024, ge=16)
    block_s: Positive = 0.1

    @model_validator(mode="after")
    def _check(self) -> "SerialLineConfig":
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise ValueError(f"channel names must be unique, got {names}")
        if self.max_gap >= self.seq_modulo:
            raise ValueError(f"max_gap ({self.max_gap}) must be below seq_modulo ({self.seq_modulo})")
        if self.format == "csv":
            if not self.columns:
                raise ValueError("csv format needs 'columns', the name of every column in order")
            for i, c in enumerate(self.channels):
                if c.field not in self.columns:
                    raise ValueError(f"channels[{i}].field {c.field!r} is not a CSV column; columns are {self.columns}")
            if self.seq_field is not None and self.seq_field not in self.columns:
                raise ValueError(f"seq_field {self.seq_field!r} is not a CSV column; columns are {self.columns}")
        return self

    @property
    def block_rows(self) -> int:
        """Rows per yielded block: ``rate * block_s``, at least 1."""
        return max(1, int(round(self.rate * self.block_s)))


class Timeline:
    """Epoch-nanosecond times of a sampled stream on a steady clock.

    Sample ``k`` after the anchor is at ``anchor_ns + k / rate``. The anchor
    is set from the host clock when the first samples arrive (their last
    one taken to end at the arrival time) and set again, counted in
    ``resyncs``, when a new arrival is more than ``tolerance_s`` away from
    where the clock puts it: a board whose crystal runs off, or loss that
    no sequence number revealed.

    Examples
    --------
    >>> t = Timeline(1.0)
    >>> t.place(100, 1000.0, end_ns=10_000_000_000)
    (0, False)
    >>> t.ns(0), t.place(100, 1000.0, end_ns=10_100_000_000), t.ns(100)
    (9900000000, (100, True), 10000000000)
    >>> t.place(100, 1000.0, end_ns=10_300_000_000, skipped=100)   # 100 samples lost
    (300, False)
    """

    def __init__(self, tolerance_s: float) -> None:
        self.tolerance_ns = int(tolerance_s * 1e9)
        self.anchor_ns: int | None = None
        self.rate = 0.0
        self.next_index = 0
        self.resyncs = 0

    def ns(self, index: int) -> int:
        """Epoch nanoseconds of sample ``index`` since the anchor."""
        return self.anchor_ns + int(round(index / self.rate * 1e9))

    def place(self, n: int, rate: float, end_ns: int, skipped: int = 0) -> tuple[int, bool]:
        """Index of the first of ``n`` new samples, and whether it follows the previous ones.

        ``end_ns`` is when the last of them arrived; ``skipped`` samples are
        known lost just before them.
        """
        observed = end_ns - int(round(n / rate * 1e9))
        if self.anchor_ns is not None and rate == self.rate:
            k = self.next_index + skipped
            if abs(self.ns(k) - observed) <= self.tolerance_ns:
                self.next_index = k + n
                return k, skipped == 0
            self.resyncs += 1
        self.anchor_ns, self.rate, self.next_index = observed, rate, n
        return 0, False


class _PortReader(threading.Thread):
    """Opens the port, reads chunks, reopens on failure; posts events to the loop."""

    def __init__(self, cfg: SerialPortConfig, loop: asyncio.AbstractEventLoop,
                 post: Callable[[tuple], None]) -> None:
        super().__init__(name=f"serial-reader {cfg.port}", daemon=True)
        self.cfg, self.loop, self._post_cb = cfg, loop, post
        self.stopping = threading.Event()
        self._port: serial.Serial | None = None

    def post(self, kind: str, payload) -> None:
        try:
            self.loop.call_soon_threadsafe(self._post_cb, (kind, payload, time.time_ns()))
        except RuntimeError:  # the loop is closed
            self.stopping.set()

    def run(self) -> None:
        cfg, delay = self.cfg, 0.05
        while not self.stopping.is_set():
            if self._port is None:
                try:
                    self._port = serial.Serial(cfg.port, cfg.baudrate, parity=cfg.parity, stopbits=cfg.stopbits,
                                               timeout=cfg.read_timeout_s, exclusive=cfg.exclusive)
                except (serial.SerialException, OSError, ValueError) as exc:
                    self.post("fail", str(exc))
                    self.stopping.wait(delay)
                    delay = min(cfg.reopen_max_s, delay * 2)
                    continue
                delay = 0.05
                self.post("open", None)
            try:
                data = self._port.read(self._port.in_waiting or 1)
            except (serial.SerialException, OSError, TypeError) as exc:
                self._close()
                self.post("lost", str(exc))
                continue
            if data:
                self.post("data", data)
        self._close()

    def _close(self) -> None:
        if self._port is not None:
            with contextlib.suppress(Exception):
                self._port.close()
            self._port = None

    def stop(self) -> None:
        self.stopping.set()
        port = self._port
        if port is not None:
            with contextlib.suppress(Exception):
                port.cancel_read()


class SerialPortSource:
    """Base of the serial sources: the reader thread, reopen, counters, the event loop.

    Subclasses implement ``_on_open``, ``feed(chunk, arrival_ns)``,
    ``_on_lost(lost_ns)`` and ``_on_idle`` (each returns a list of samples) and
    ``_decoder_stats``.
    """

    name = "serial"

    def __init__(self, config: SerialPortConfig) -> None:
        self.config = config
        self.timeline = Timeline(config.clock_tolerance_s)
        self._stats = {"samples": 0, "values": 0, "opens": 0, "reopens": 0, "port_errors": 0,
                       "overflow_bytes": 0}
        self._queue: asyncio.Queue | None = None
        self._queued = 0
        self._failing = False

    def count(self, key: str, n: int = 1) -> None:
        """Add ``n`` to counter ``key``."""
        self._stats[key] = self._stats.get(key, 0) + n

    def stats(self) -> dict[str, int]:
        """Counters of the port and the decoder (see the adapter's docs page)."""
        return {**self._stats, **self._decoder_stats(), "resyncs": self.timeline.resyncs}

    def _decoder_stats(self) -> dict[str, int]:
        raise NotImplementedError

    def _deliver(self, item: tuple) -> None:
        # runs in the event loop thread, so the byte accounting needs no lock
        if item[0] == "data":
            if self._queued + len(item[1]) > self.config.max_buffer_bytes:
                self.count("overflow_bytes", len(item[1]))
                return
            self._queued += len(item[1])
        if self._queue is not None:
            self._queue.put_nowait(item)

    async def samples(self) -> AsyncIterator[Sample]:
        """Yield samples as lines or frames arrive; reopen the port whenever it fails."""
        if self._queue is not None:
            raise RuntimeError(f"{self.name} {self.config.port}: samples() is already being iterated")
        self._queue = asyncio.Queue()
        reader = _PortReader(self.config, asyncio.get_running_loop(), self._deliver)
        reader.start()
        idle_s = 2 * max(getattr(self.config, "block_s", 0.1), self.config.read_timeout_s)
        try:
            while True:
                try:  # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                    async with asyncio.timeout(idle_s):
                        kind, payload, t_ns = await self._queue.get()
                except TimeoutError:
                    out = self._on_idle()
                else:
                    out = self._event(kind, payload, t_ns)
                for sample in out:
                    self.count("samples")
                    self.count("values", sample.values.size)
                    yield sample
        finally:
            reader.stop()
            self._queue = None
            self._queued = 0

    def _event(self, kind: str, payload, t_ns: int) -> list[Sample]:
        cfg = self.config
        if kind == "data":
            self._queued -= len(payload)
            return self.feed(payload, t_ns)
        if kind == "open":
            self.count("opens")
            if self._stats["opens"] > 1:
                self.count("reopens")
            self._failing = False
            log.info("%s %s: port open", self.name, cfg.port)
            return self._on_open()
        self.count("port_errors")
        if kind == "lost":
            log.warning("%s %s: port lost (%s); reopening", self.name, cfg.port, payload)
            return self._on_lost(t_ns)
        if not self._failing:  # "fail": log the first failed open of an outage only
            log.warning("%s %s: cannot open port (%s); retrying every <= %.1f s",
                        self.name, cfg.port, payload, cfg.reopen_max_s)
            self._failing = True
        return []

    def _on_open(self) -> list[Sample]:
        return []

    def feed(self, chunk: bytes, arrival_ns: int) -> list[Sample]:
        """Decode bytes that arrived at ``arrival_ns`` into samples."""
        raise NotImplementedError

    def _on_lost(self, lost_ns: int) -> list[Sample]:
        return []

    def _on_idle(self) -> list[Sample]:
        return []


class SerialLineSource(SerialPortSource):
    """Stream :class:`Sample` blocks from a board printing CSV or JSON lines.

    Parameters
    ----------
    config : SerialLineConfig
        Port, line format and channel mapping.

    Examples
    --------
    >>> src = SerialLineSource(SerialLineConfig(port="/dev/null", asset="fan-1", rate=10, format="json",
    ...                        channels=[{"name": "temperature", "field": "t", "units": "degC"}]))
    >>> [s.values.tolist() for s in src.feed(b'{"t": 21.5}\\n{"t": 21.6}\\n', 10**18)]
    [[21.5], [21.6]]
    >>> src.stats()["rejected"], src.stats()["lines"]
    (0, 2)
    """

    name = "serial_line"

    def __init__(self, config: SerialLineConfig) -> None:
        super().__init__(config)
        self.decoder = LineDecoder(config.format, [c.field for c in config.channels], config.columns,
                                   config.delimiter, config.max_line, config.seq_field,
                                   config.seq_modulo, config.max_gap)
        self._fields = [c.field for c in config.channels]
        self._scale = np.array([c.scale for c in config.channels])
        self._offset = np.array([c.offset for c in config.channels])
        self._acc: list[np.ndarray] = []  # rows waiting for a full block
        self._acc_rows = 0
        self._acc_index = 0  # timeline index of the first waiting row
        self._acc_ns = 0  # and its time, fixed while the clock anchor was valid for it

    def _decoder_stats(self) -> dict[str, int]:
        return self.decoder.stats()

    def _on_open(self) -> list[Sample]:
        self.decoder.discard_partial()
        return []

    def _on_lost(self, lost_ns: int) -> list[Sample]:
        self.decoder.flush()
        return self._flush_block()

    def _on_idle(self) -> list[Sample]:
        return self._flush_block()

    def feed(self, chunk: bytes, arrival_ns: int) -> list[Sample]:
        """Decode bytes that arrived at ``arrival_ns``; return the blocks they completed."""
        lines = self.decoder.feed(chunk)
        out: list[Sample] = []
        # runs of lines with no loss between them; each run is placed on the clock
        starts = [i for i, ln in enumerate(lines) if i == 0 or ln.missing_before]
        for a, b in zip(starts, starts[1:] + [len(lines)]):
            out += self._place(lines[a:b], arrival_ns - int(round((len(lines) - b) / self.config.rate * 1e9)))
        return out

    def _place(self, run: list[Line], end_ns: int) -> list[Sample]:
        index, contiguous = self.timeline.place(len(run), self.config.rate, end_ns, run[0].missing_before)
        out = [] if contiguous else self._flush_block()
        rows = np.array([[ln.values[f] for f in self._fields] for ln in run]) * self._scale + self._offset
        if not self._acc:
            self._acc_index, self._acc_ns = index, self.timeline.ns(index)
        self._acc.append(rows)
        self._acc_rows += len(rows)
        n = self.config.block_rows
        if self._acc_rows >= n:
            rows = np.concatenate(self._acc)
            done = len(rows) // n * n
            for k in range(0, done, n):
                out += self._block(rows[k:k + n], self.timeline.ns(self._acc_index + k))
            self._acc = [rows[done:]] if done < len(rows) else []
            self._acc_rows = len(rows) - done
            self._acc_index += done
            self._acc_ns = self.timeline.ns(self._acc_index)
        return out

    def _flush_block(self) -> list[Sample]:
        # uses the stored start time: the timeline may just have been re-anchored
        if not self._acc:
            return []
        rows = np.concatenate(self._acc)
        self._acc, self._acc_rows = [], 0
        return self._block(rows, self._acc_ns)

    def _block(self, rows: np.ndarray, start_ns: int) -> list[Sample]:
        cfg = self.config
        return [Sample(cfg.asset, c.name, start_ns, float(cfg.rate), np.ascontiguousarray(rows[:, i]), c.units)
                for i, c in enumerate(cfg.channels)]
