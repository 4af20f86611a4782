"""Replay adapter: a recording (.mat, .csv, .npz, .wav) as a live source.

The file is read once; the selected channels are cut to the configured
range and handed out in blocks, paced at the recording's own rate (a block
leaves when its last sample "has been measured") or as fast as consumed.
Time stamps follow the recording's sample clock from a start epoch, so
downstream windows see a gap-free stream; with ``loop`` every pass
continues where the previous one ended. Channel selection and the source
of the sample rate per format are described in :func:`read_recording` and
``docs/adapters/replay.md``; ``.wav`` integer PCM is scaled to ±1.0 at full
scale (``code / 2**(bits-1)``, unsigned 8-bit ``(code - 128) / 128``).
A rate in the config overrides the file's, with a warning when they differ
(some mirrors of public data sets mislabel their rate).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from firmware_adapters.recording import FORMATS, RATE_VARIABLES, TIME_UNITS, load_table, select_channels
from firmware_adapters.sample import Sample

log = logging.getLogger(__name__)


def _epoch_ns(value) -> int | None:
    """``None``, epoch ns, an ISO-8601 string or an aware datetime, as epoch ns."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    stamp = value
    if isinstance(value, str):
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"epoch {value!r} is not an ISO-8601 time like 2024-05-01T08:00:00Z") from None
    if not isinstance(stamp, datetime):
        raise ValueError(f"epoch must be epoch ns, an ISO-8601 time or a datetime, got {value!r}")
    if stamp.tzinfo is None:
        raise ValueError(f"epoch {value!r} has no time zone; add Z or an offset like +01:00")
    delta = stamp - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _offset_ns(n: int, fs: float) -> int:
    """Nanoseconds spanned by ``n`` samples at ``fs``; exact (rounded) for whole-number rates."""
    if float(fs).is_integer():
        return (2 * n * 1_000_000_000 + int(fs)) // (2 * int(fs))
    return int(round(n * 1e9 / fs))


@dataclass
class ReplayConfig:
    """What to replay, how fast and from when.

    Parameters
    ----------
    path : str
        Recording (``.mat``, ``.csv``, ``.npz``, ``.wav``).
    asset : str
        Asset the channels belong to.
    channels : dict
        Output channel name → selection in the file (as ``channel`` of
        :func:`read_recording`), e.g. ``{"vibration_de": "DE"}``.
    rate : float or None
        Sample rate in Hz; required when the file carries none.
    units, scale : dict
        Per output channel: units (default ``"g"``) and a factor on the values
        (default 1.0; for ``.wav`` the sensor's full-scale value).
    block_size : int
        Samples per block.
    pace : {"realtime", "fast"}
        Blocks at the recording's rate × ``speed``, or as fast as consumed.
    speed : float
        Real-time factor of ``pace = "realtime"``.
    start_s, stop_s, start_fraction, stop_fraction : float or None
        Replayed range in seconds or as fractions of the recording.
    loop : bool
        Start over after the range; time stamps keep increasing.
    epoch : int, str, datetime or None
        UTC time of the recording's first sample (epoch ns or ISO 8601);
        ``None`` stamps the first replayed sample with the wall clock.
    rpm_channel : str or None
        Emit the file's ``*RPM`` value as this scalar channel with every block.
    rate_variable, time_column, time_unit, header, delimiter
        File layout, as in :func:`read_recording`.
    """

    path: str
    asset: str
    channels: dict[str, str | int]
    rate: float | None = None
    units: dict[str, str] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    block_size: int = 1200
    pace: str = "realtime"
    speed: float = 1.0
    start_s: float | None = None
    stop_s: float | None = None
    start_fraction: float | None = None
    stop_fraction: float | None = None
    loop: bool = False
    epoch: int | str | datetime | None = None
    rpm_channel: str | None = None
    rate_variable: str | None = None
    time_column: str | int | None = None
    time_unit: str = "s"
    header: bool | None = None
    delimiter: str | None = None

    def __post_init__(self) -> None:
        suffix = Path(self.path).suffix.lower()
        if suffix not in FORMATS or not Path(self.path).is_file():
            raise ValueError(f"replay path {self.path!r}: expected an existing {'/'.join(FORMATS)} file")
        if not self.channels:
            raise ValueError("replay needs at least one entry in 'channels' (output name = selection)")
        known = set(self.channels) | ({self.rpm_channel} if self.rpm_channel else set())
        for what in ("units", "scale"):
            unknown = sorted(set(getattr(self, what)) - known)
            if unknown:
                raise ValueError(f"replay {what} names unknown channels {unknown}; channels are {sorted(known)}")
        checks = [
            ("block_size", isinstance(self.block_size, int) and self.block_size >= 1, "a positive integer"),
            ("pace", self.pace in ("realtime", "fast"), "'realtime' or 'fast'"),
            ("speed", self.speed > 0, "> 0"),
            ("rate", self.rate is None or (np.isfinite(self.rate) and self.rate > 0), "a positive number of Hz"),
            ("time_unit", self.time_unit in TIME_UNITS, f"one of {list(TIME_UNITS)}"),
            ("start_s", self.start_s is None or self.start_s >= 0, ">= 0"),
            ("stop_s", self.stop_s is None or self.stop_s >= 0, ">= 0"),
            ("start_fraction", self.start_fraction is None or 0 <= self.start_fraction <= 1, "in [0, 1]"),
            ("stop_fraction", self.stop_fraction is None or 0 <= self.stop_fraction <= 1, "in [0, 1]"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"replay {name} must be {expected}, got {getattr(self, name)!r}")
        for end in ("start", "stop"):
            if getattr(self, f"{end}_s") is not None and getattr(self, f"{end}_fraction") is not None:
                raise ValueError(f"replay: give {end}_s or {end}_fraction, not both")
        self.epoch_ns = _epoch_ns(self.epoch)


class ReplaySource:
    """Replay a recording as a stream of :class:`Sample` blocks.

    The file is read on the first call of :meth:`samples` (or by :meth:`load`,
    to fail fast). Every block yields one Sample per channel, all with the
    same start time. Without ``loop`` the stream ends after the range.

    Parameters
    ----------
    config : ReplayConfig
        File, channels, pacing and range.

    Examples
    --------
    >>> import asyncio, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "rec.npz")
    >>> np.savez(path, accel=np.arange(10.0), fs=np.array(1000.0))
    >>> src = ReplaySource(ReplayConfig(path, "m1", {"vibration_de": "accel"},
    ...                                 block_size=4, pace="fast", epoch=0))
    >>> async def replay():
    ...     return [s async for s in src.samples()]
    >>> [(s.start_ns, s.values.tolist()) for s in asyncio.run(replay())]
    [(0, [0.0, 1.0, 2.0, 3.0]), (4000000, [4.0, 5.0, 6.0, 7.0]), (8000000, [8.0, 9.0])]
    >>> src.stats()
    {'samples': 10, 'rejected': 0, 'blocks': 3, 'passes': 1}
    """

    name = "replay"

    def __init__(self, config: ReplayConfig) -> None:
        self.config = config
        self.meta: dict | None = None
        self.rate: float | None = None
        self._data: np.ndarray | None = None
        self._range = (0, 0)
        self._counts = {"samples": 0, "rejected": 0, "blocks": 0, "passes": 0}
        self._rejected: dict[str, int] = {}

    def load(self) -> None:
        """Read and check the recording now (idempotent); ``ValueError`` explains any problem."""
        if self._data is not None:
            return
        cfg = self.config
        table = load_table(Path(cfg.path), rate_variable=cfg.rate_variable, time_column=cfg.time_column,
                      time_unit=cfg.time_unit, header=cfg.header, delimiter=cfg.delimiter)
        data, fs, meta = select_channels(table, list(cfg.channels.values()), cfg.rate)
        if fs is None:
            raise ValueError(
                f"replay {cfg.path}: no sample rate. A .{meta['format']} file carries one only in a variable "
                f"named {list(RATE_VARIABLES)} (or rate_variable) and this one has none: set 'rate' in the "
                f"config (CWRU files: 12000 or 48000 Hz, see the data set's README)")
        if cfg.rpm_channel and meta["rpm"] is None:
            raise ValueError(f"replay {cfg.path}: rpm_channel {cfg.rpm_channel!r} set but the file has no "
                             f"*RPM variable; available: {meta['available']}")
        n = data.shape[1]

        def index(seconds, fraction, default):
            if seconds is not None:
                return int(round(seconds * fs))
            return int(round(fraction * n)) if fraction is not None else default

        i0, i1 = index(cfg.start_s, cfg.start_fraction, 0), index(cfg.stop_s, cfg.stop_fraction, n)
        if not 0 <= i0 < i1 <= n:
            raise ValueError(f"replay {cfg.path}: range {i0 / fs:g}..{i1 / fs:g} s is empty or outside the "
                             f"recording (0..{n / fs:g} s, {n} samples)")
        scale = np.array([[float(cfg.scale.get(c, 1.0))] for c in cfg.channels])
        self._data, self.rate, self.meta, self._range = np.ascontiguousarray(data * scale), fs, meta, (i0, i1)
        self._rejected = dict(meta["rejected"])
        self._counts["rejected"] = sum(self._rejected.values())

    async def samples(self) -> AsyncIterator[Sample]:
        """Yield every block of every channel, paced as configured."""
        if self._data is None:
            await asyncio.to_thread(self.load)
        cfg, fs, data, c = self.config, self.rate, self._data, self._counts
        (i0, i1), names = self._range, list(cfg.channels)
        units = [cfg.units.get(ch, "g") for ch in names]
        rpm = np.array([self.meta["rpm"]]) if cfg.rpm_channel else None
        base_ns = cfg.epoch_ns if cfg.epoch_ns is not None else time.time_ns() - _offset_ns(i0, fs)
        t0, done, p = time.monotonic(), 0, 0  # done: samples replayed over all passes
        while True:
            for j in range(i0, i1, cfg.block_size):
                je = min(j + cfg.block_size, i1)
                if cfg.pace == "realtime":
                    await asyncio.sleep(max(0.0, t0 + (done + je - j) / fs / cfg.speed - time.monotonic()))
                else:
                    await asyncio.sleep(0)  # let other tasks run between blocks
                start_ns = base_ns + _offset_ns(j + p * (i1 - i0), fs)
                for k, name in enumerate(names):
                    c["blocks"] += 1
                    c["samples"] += je - j
                    yield Sample(cfg.asset, name, start_ns, fs, data[k, j:je].copy(), units[k])
                if rpm is not None:
                    c["blocks"] += 1
                    c["samples"] += 1
                    yield Sample(cfg.asset, cfg.rpm_channel, start_ns, 0.0, rpm.copy(),
                                 cfg.units.get(cfg.rpm_channel, "rpm"))
                done += je - j
            p += 1
            c["passes"] = p
            if not cfg.loop:
                return

    def stats(self) -> dict[str, int]:
        """``samples`` (values), ``rejected`` (rows) and ``rejected_<reason>``, ``blocks``, ``passes``."""
        return {**self._counts, **{f"rejected_{k}": v for k, v in self._rejected.items()}}
