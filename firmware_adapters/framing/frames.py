"""Binary frames with CRC-16, and the sequence tracking both codecs share.

Layout: ``A5 5A`` sync, version, type, 16-bit sequence number, channel and
sample counts, float32 sample rate, one float32 scale per channel,
interleaved int16 samples, then a CRC-16/CCITT-FALSE over everything
before it; little-endian throughout (table in
``docs/adapters/serial_frame.md``). The decoder is incremental and never
raises on input; what it cannot use is counted under ``rejected_<reason>``.
"""

from __future__ import annotations

import binascii
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SYNC = b"\xa5\x5a"
VERSION = 1
TYPE_INT16 = 1
INT16_MAX = 32767
_HEAD = struct.Struct("<2sBBHBBHf")  # sync, version, type, seq, channels, reserved, samples, rate
HEADER_SIZE = _HEAD.size  # 14
SEQ_MODULO = 1 << 16


def _crc_table(poly: int) -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ poly) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table(0x1021)


def crc16_ccitt_false(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE of ``data``, table driven.

    Polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR
    (the "CRC-16/CCITT-FALSE" entry of the Williams/Cook CRC catalogue). It
    detects every error burst up to 16 bits long.

    Parameters
    ----------
    data : bytes
        The bytes to check.
    crc : int
        Running value, to continue a CRC over several pieces.

    Examples
    --------
    >>> hex(crc16_ccitt_false(b"123456789"))  # the catalogue's check value
    '0x29b1'
    """
    table = _CRC_TABLE
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ table[(crc >> 8) ^ b]
    return crc


def _crc(data) -> int:
    # binascii.crc_hqx computes the same CRC (same polynomial, no
    # reflection) in C; with init 0xFFFF it is CRC-16/CCITT-FALSE. The tests
    # check it against the table implementation above.
    return binascii.crc_hqx(data, 0xFFFF)


class SequenceTracker:
    """Finds gaps in a wrapping sequence counter.

    Parameters
    ----------
    modulo : int
        The counter wraps from ``modulo - 1`` to 0.
    max_gap : int
        A jump forward by more than this many values is taken as a restart
        of the sender (or a reordering), counted in ``resets``, not as loss.

    Examples
    --------
    >>> t = SequenceTracker(modulo=65536)
    >>> [t.update(s) for s in (65534, 65535, 0, 3)], t.gaps, t.missing
    ([0, 0, 0, 2], 1, 2)
    """

    def __init__(self, modulo: int = SEQ_MODULO, max_gap: int = 1000) -> None:
        if modulo < 2 or not 0 < max_gap < modulo:
            raise ValueError(f"need modulo >= 2 and 0 < max_gap < modulo, got modulo={modulo}, max_gap={max_gap}")
        self.modulo = modulo
        self.max_gap = max_gap
        self.last: int | None = None
        self.gaps = 0
        self.missing = 0
        self.resets = 0

    def update(self, seq: int) -> int:
        """Record ``seq``; return how many values were skipped just before it."""
        last, self.last = self.last, seq
        if last is None:
            return 0
        skipped = (seq - last - 1) % self.modulo
        if skipped == 0:
            return 0
        if skipped > self.max_gap:
            self.resets += 1
            return 0
        self.gaps += 1
        self.missing += skipped
        return skipped


@dataclass(eq=False, slots=True)
class Frame:
    """One binary frame of int16 samples.

    Parameters
    ----------
    seq : int
        Sequence number, 0..65535, wrapping.
    rate : float
        Sample rate of every channel in Hz.
    scales : numpy.ndarray
        Engineering units per count, one per channel.
    counts : numpy.ndarray
        int16 samples, shape ``(channels, samples)``.
    offset : int
        Byte offset of the frame's sync in the decoder's input stream.
    missing_before : int
        Frames lost just before this one (sequence gap), set by the decoder.
    """

    seq: int
    rate: float
    scales: np.ndarray
    counts: np.ndarray
    offset: int = 0
    missing_before: int = 0

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return self.counts.shape[0]

    @property
    def n_samples(self) -> int:
        """Samples per channel."""
        return self.counts.shape[1]

    def values(self) -> np.ndarray:
        """Samples in engineering units, float64, shape ``(channels, samples)``."""
        return self.counts.astype(np.float64) * self.scales[:, None]

    def encode(self) -> bytes:
        """The frame's bytes on the wire."""
        return encode_frame(self.seq, self.rate, self.scales, self.counts)


def encode_frame(seq: int, rate: float, scales: Sequence[float], counts: np.ndarray) -> bytes:
    """Serialise one frame.

    Parameters
    ----------
    seq : int
        Sequence number; taken modulo 65536.
    rate : float
        Sample rate in Hz, finite and > 0 (sent as float32).
    scales : sequence of float
        Units per count of each channel, finite and > 0 (float32).
    counts : array_like of int16
        Samples, shape ``(channels, samples)``, 1..255 channels.

    Examples
    --------
    >>> b = encode_frame(7, 1000.0, [0.5], np.array([[1, -2, 3]], dtype=np.int16))
    >>> len(b), b[:2].hex(), FrameDecoder().feed(b)[0].values().tolist()
    (26, 'a55a', [[0.5, -1.0, 1.5]])
    """
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.dtype != np.int16:
        raise ValueError(f"counts must be a 2-D int16 array (channels, samples), got {counts.dtype} {counts.shape}")
    n_ch, n = counts.shape
    scales = np.asarray(scales, dtype=np.float64).ravel()
    if not 1 <= n_ch <= 255 or not 1 <= n <= 65535:
        raise ValueError(f"frame needs 1..255 channels and 1..65535 samples, got {n_ch} x {n}")
    if scales.size != n_ch or not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise ValueError(f"scales must be {n_ch} finite positive numbers, got {scales.tolist()}")
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be a finite positive number of Hz, got {rate}")
    body = b"".join((
        _HEAD.pack(SYNC, VERSION, TYPE_INT16, seq % SEQ_MODULO, n_ch, 0, n, rate),
        scales.astype("<f4").tobytes(),
        counts.T.astype("<i2").tobytes(),
    ))
    return body + struct.pack("<H", _crc(body))


class FrameEncoder:
    """Quantise float blocks to int16 frames with a running sequence number.

    Parameters
    ----------
    rate : float
        Sample rate in Hz.
    full_scale : sequence of float
        Per channel, the value in engineering units that maps to +32767.
    seq : int
        Sequence number of the first frame.

    Examples
    --------
    >>> enc = FrameEncoder(12000.0, [16.0])
    >>> f = FrameDecoder().feed(enc.encode(np.array([[0.5, 20.0]])))[0]
    >>> f.seq, round(float(f.values()[0, 0]), 3), enc.clipped
    (0, 0.5, 1)
    """

    def __init__(self, rate: float, full_scale: Sequence[float], seq: int = 0) -> None:
        fs = np.asarray(full_scale, dtype=np.float64).ravel()
        if fs.size == 0 or not np.all(np.isfinite(fs)) or np.any(fs <= 0):
            raise ValueError(f"full_scale must be finite positive values, one per channel, got {fs.tolist()}")
        self.rate = float(rate)
        # the scale travels as float32: quantise with the value the reader will use
        self.scales = (fs / INT16_MAX).astype(np.float32).astype(np.float64)
        self.seq = seq % SEQ_MODULO
        self.clipped = 0

    def quantise(self, values: np.ndarray) -> np.ndarray:
        """int16 counts of ``values`` (shape ``(channels, samples)``), clipped to ±32767."""
        raw = np.rint(np.asarray(values, dtype=np.float64) / self.scales[:, None])
        over = ~(np.abs(raw) <= INT16_MAX)  # also catches NaN
        self.clipped += int(over.sum())
        raw = np.where(np.isnan(raw), 0.0, raw)
        return np.clip(raw, -INT16_MAX, INT16_MAX).astype(np.int16)

    def encode(self, values: np.ndarray) -> bytes:
        """Encode one block and advance the sequence number."""
        data = encode_frame(self.seq, self.rate, self.scales, self.quantise(values))
        self.seq = (self.seq + 1) % SEQ_MODULO
        return data


def count_reason(counters: dict[str, int], reason: str) -> None:
    counters["rejected"] += 1
    key = f"rejected_{reason}"
    counters[key] = counters.get(key, 0) + 1


class FrameDecoder:
    """Incremental decoder of binary frames that resynchronises on the sync word.

    At every ``A5 5A`` it checks the header, waits for the whole frame and
    verifies the CRC. A frame that fails is counted and scanning resumes one
    byte after its sync, so a frame hidden behind a corrupted length field is
    still found. Rejection reasons: ``bad_header`` (version, type, reserved
    byte or channel count), ``bad_length`` (sample count 0, above
    ``max_samples`` or frame above ``max_frame_bytes``), ``bad_crc``,
    ``bad_value`` (CRC fine but rate or a scale not finite and positive),
    ``truncated`` (stream ended mid-frame, see :meth:`flush`) and
    ``garbage`` (a run of bytes where a frame should have started).

    Parameters
    ----------
    max_channels, max_samples, max_frame_bytes : int
        Limits beyond which a header is refused without waiting for the body.
    max_gap : int
        Largest sequence jump counted as lost frames (see :class:`SequenceTracker`).

    Examples
    --------
    >>> enc = FrameEncoder(1000.0, [1.0])
    >>> a, b, c = (enc.encode(np.array([[0.1 * k]])) for k in range(3))
    >>> dec = FrameDecoder()
    >>> [f.seq for f in dec.feed(b"noise" + a + c[:-1] + b"\\x00" + c)]
    [0, 2]
    >>> {k: v for k, v in dec.stats().items() if v}
    {'frames': 2, 'rejected': 2, 'skipped_bytes': 27, 'rejected_garbage': 1, 'rejected_bad_crc': 1, 'gaps': 1, 'missing': 1}
    """

    def __init__(self, max_channels: int = 16, max_samples: int = 4096,
                 max_frame_bytes: int = 65536, max_gap: int = 1000) -> None:
        self.max_channels = max_channels
        self.max_samples = max_samples
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]
        self._synced = True
        self._seq = SequenceTracker(SEQ_MODULO, max_gap)
        self.counters: dict[str, int] = {"frames": 0, "rejected": 0, "skipped_bytes": 0}

    def stats(self) -> dict[str, int]:
        """Counters: frames, rejected, rejected_<reason>, skipped_bytes, gaps, missing, seq_resets."""
        return {**self.counters, "gaps": self._seq.gaps, "missing": self._seq.missing,
                "seq_resets": self._seq.resets}

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes; return the frames they completed, in order."""
        self._buf += data
        return self._scan(final=False)

    def flush(self) -> list[Frame]:
        """End of stream (or port lost): give up on any partial frame and return what is left."""
        frames = self._scan(final=True)
        self._synced = True
        return frames

    def _reject(self, reason: str) -> None:
        count_reason(self.counters, reason)
        self._synced = False

    def _skip(self, n: int) -> None:
        if n > 0:
            self.counters["skipped_bytes"] += n
            if self._synced:
                self._reject("garbage")

    def _scan(self, final: bool) -> list[Frame]:
        buf, out, pos = self._buf, [], 0
        while True:
            i = buf.find(SYNC, pos)
            if i < 0:
                keep = 1 if not final and len(buf) > pos and buf[-1] == SYNC[0] else 0
                self._skip(len(buf) - keep - pos)
                pos = len(buf) - keep
                break
            self._skip(i - pos)
            pos = i
            result = self._candidate(buf, pos, final)
            if result is None:  # need more bytes
                break
            if isinstance(result, str):
                self._reject(result)
                self._skip(1)
                pos += 1
                continue
            frame, size = result
            pos += size
            if frame is not None:
                out.append(frame)
        del buf[:pos]
        self._base += pos
        return out

    def _candidate(self, buf: bytearray, pos: int, final: bool):
        """Frame at ``pos``: None (incomplete), a rejection reason, or (frame or None, size)."""
        if len(buf) - pos < HEADER_SIZE:
            return "truncated" if final else None
        _, version, kind, seq, n_ch, reserved, n, rate = _HEAD.unpack_from(buf, pos)
        if version != VERSION or kind != TYPE_INT16 or reserved != 0 or not 1 <= n_ch <= self.max_channels:
            return "bad_header"
        size = HEADER_SIZE + 4 * n_ch + 2 * n_ch * n + 2
        if not 1 <= n <= self.max_samples or size > self.max_frame_bytes:
            return "bad_length"
        if len(buf) - pos < size:
            return "truncated" if final else None
        end = pos + size - 2
        if _crc(memoryview(buf)[pos:end]) != int.from_bytes(buf[end:end + 2], "little"):
            return "bad_crc"
        # an authentic frame from here on: it is consumed whole either way
        self._synced = True
        scales = np.frombuffer(buf, "<f4", n_ch, pos + HEADER_SIZE).astype(np.float64)
        if not (math.isfinite(rate) and rate > 0 and np.all(np.isfinite(scales)) and np.all(scales > 0)):
            count_reason(self.counters, "bad_value")  # its data is lost: the next frame reports the gap
            return None, size
        missing = self._seq.update(seq)
        counts = np.frombuffer(buf, "<i2", n_ch * n, pos + HEADER_SIZE + 4 * n_ch).reshape(n, n_ch).T
        self.counters["frames"] += 1
        return Frame(seq, float(rate), scales, counts.astype(np.int16), self._base + pos, missing), size


# ---------------------------------------------------------------- text lines
