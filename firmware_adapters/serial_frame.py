"""Serial frame adapter: binary frames of int16 samples with sequence number and CRC-16.

The board sends frames (layout in :mod:`firmware_adapters.framing` and
``docs/adapters/serial_frame.md``): each carries its sequence number, sample
rate, one scale per channel and a block of interleaved int16 samples,
protected by a CRC-16/CCITT-FALSE. The adapter reads the port in chunks in
a background thread, decodes with :class:`firmware_adapters.framing.FrameDecoder`
(which resynchronises on the sync word after garbage, truncated or
corrupted frames and counts each rejection by reason), and yields one
:class:`Sample` per mapped channel per frame. A gap in the sequence numbers
is counted and moves the block's start time past the lost frames.

Sample config: ``firmware_adapters/samples/serial_frame.toml``; docs:
``docs/adapters/serial_frame.md``.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel, ConfigDict, Field, model_validator

from firmware_adapters.framing import FrameDecoder
from firmware_adapters.sample import Sample
from firmware_adapters.serial_line import Finite, Name, SerialPortConfig, SerialPortSource

log = logging.getLogger(__name__)


class FrameChannel(BaseModel):
    """One channel of the frame mapped to a named channel: ``value = counts * frame_scale * scale + offset``.

    Parameters
    ----------
    name : str
        Channel name, e.g. ``"vibration_de"``.
    index : int
        Position of the channel in the frame, from 0.
    units : str
        Engineering units of the frame's scale (after ``scale``/``offset``).
    scale, offset : float
        Extra linear calibration on top of the scale the frame carries.
    """

    model_config = ConfigDict(extra="forbid")

    name: Name
    index: int = Field(ge=0, le=254)
    units: str = ""
    scale: Finite = 1.0
    offset: Finite = 0.0


class SerialFrameConfig(SerialPortConfig):
    """Binary frame port and channel mapping.

    Parameters
    ----------
    channels : list of FrameChannel
        Frame channel index to named channel (dicts are accepted).
    max_channels, max_samples : int
        Largest channel count and samples per channel accepted in a header.
    max_gap : int
        Largest sequence jump counted as lost frames; a bigger jump is a
        board restart (``seq_resets``).
    port, asset, baudrate, ... :
        See :class:`firmware_adapters.serial_line.SerialPortConfig`.

    Examples
    --------
    >>> SerialFrameConfig(port="/dev/ttyUSB0", asset="pump-1",
    ...                   channels=[{"name": "vibration_de", "index": 0, "units": "g"}]).max_samples
    4096
    """

    channels: list[FrameChannel] = Field(min_length=1)
    max_channels: int = Field(16, ge=1, le=255)
    max_samples: int = Field(4096, ge=1, le=65535)
    max_gap: int = Field(1000, ge=1, le=65535)

    @model_validator(mode="after")
    def _check(self) -> "SerialFrameConfig":
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise ValueError(f"channel names must be unique, got {names}")
        for i, c in enumerate(self.channels):
            if c.index >= self.max_channels:
                raise ValueError(f"channels[{i}].index {c.index} must be below max_channels ({self.max_channels})")
        return self


class SerialFrameSource(SerialPortSource):
    """Stream :class:`Sample` blocks from a board sending binary frames.

    Besides the decoder's counters (``frames``, ``rejected``,
    ``rejected_<reason>``, ``skipped_bytes``, ``gaps``, ``missing``,
    ``seq_resets``) it counts ``rejected_bad_channels``: authentic frames
    with fewer channels than the mapping needs.

    Parameters
    ----------
    config : SerialFrameConfig
        Port and channel mapping.

    Examples
    --------
    >>> import numpy as np
    >>> from firmware_adapters.framing import FrameEncoder
    >>> src = SerialFrameSource(SerialFrameConfig(port="/dev/null", asset="pump-1",
    ...                         channels=[{"name": "vibration_de", "index": 0, "units": "g"}]))
    >>> enc = FrameEncoder(1000.0, [16.0])
    >>> data = enc.encode(np.full((1, 100), 0.5)) + b"\\x00junk" + enc.encode(np.full((1, 100), 0.25))
    >>> blocks = src.feed(data, 10_000_000_000)
    >>> [(s.channel, s.start_ns, round(float(s.values[0]), 3)) for s in blocks]
    [('vibration_de', 9800000000, 0.5), ('vibration_de', 9900000000, 0.25)]
    >>> src.stats()["rejected_garbage"], src.stats()["skipped_bytes"]
    (1, 5)
    """

    name = "serial_frame"

    def __init__(self, config: SerialFrameConfig) -> None:
        super().__init__(config)
        self.decoder = FrameDecoder(max_channels=config.max_channels, max_samples=config.max_samples,
                                    max_frame_bytes=16 + 4 * config.max_channels
                                    + 2 * config.max_channels * config.max_samples,
                                    max_gap=config.max_gap)
        self._need = max(c.index for c in config.channels) + 1
        self._bad_channels = 0

    def _decoder_stats(self) -> dict[str, int]:
        stats = self.decoder.stats()
        stats["rejected"] += self._bad_channels
        stats["rejected_bad_channels"] = self._bad_channels
        return stats

    def _on_lost(self, lost_ns: int) -> list[Sample]:
        return self._emit(self.decoder.flush(), lost_ns)

    def feed(self, chunk: bytes, arrival_ns: int) -> list[Sample]:
        """Decode bytes that arrived at ``arrival_ns`` (what :meth:`samples` does with each chunk read)."""
        return self._emit(self.decoder.feed(chunk), arrival_ns)

    def _emit(self, frames: list, arrival_ns: int) -> list[Sample]:
        cfg, out = self.config, []
        later_ns = 0  # time of the frames after this one in the same chunk
        ends = []
        for f in reversed(frames):
            ends.append(arrival_ns - later_ns)
            later_ns += int(round(f.n_samples / f.rate * 1e9))
        for f, end_ns in zip(frames, reversed(ends)):
            if f.n_channels < self._need:
                self._bad_channels += 1
                log.warning("serial_frame %s: frame %d has %d channels, mapping needs %d",
                            cfg.port, f.seq, f.n_channels, self._need)
                continue
            index, _ = self.timeline.place(f.n_samples, f.rate, end_ns, f.missing_before * f.n_samples)
            start_ns = self.timeline.ns(index)
            values = f.values()
            for c in cfg.channels:
                v = values[c.index] * c.scale + c.offset
                out.append(Sample(cfg.asset, c.name, start_ns, f.rate, v, c.units))
        return out
