"""Serial codecs shared by the serial adapters and the serial simulator.

Two wire formats a sensor board can speak:

- **Text lines** (``\\n``-terminated, an optional ``\\r`` is dropped), as a
  hobby-board sketch prints them: CSV (``12,0.0137,35.2``) or one JSON
  object per line (``{"seq": 12, "ax": 0.0137}``).
- **Binary frames**: ``A5 5A`` sync, version, type, 16-bit sequence
  number, channel and sample counts, float32 sample rate, one float32 scale
  per channel, interleaved int16 samples, then a CRC-16/CCITT-FALSE over
  everything before it. All fields are little-endian (the byte order of the
  ARM, ESP32 and AVR parts such boards use). The byte layout table is in
  ``docs/adapters/serial_frame.md``.

The decoders are incremental (``feed(bytes)`` returns what became complete)
and never raise on input: everything they cannot use is counted in
:attr:`FrameDecoder.counters` / :attr:`LineDecoder.counters` under
``rejected_<reason>`` and the stream goes on. Their results do not depend on
how the input is cut into chunks.
"""

from firmware_adapters.framing.frames import (
    HEADER_SIZE, SEQ_MODULO, SYNC, VERSION, Frame, FrameDecoder, FrameEncoder, SequenceTracker,
    crc16_ccitt_false, encode_frame,
)
from firmware_adapters.framing.lines import Line, LineDecoder, format_csv_line, format_json_line

__all__ = [
    "HEADER_SIZE", "SEQ_MODULO", "SYNC", "VERSION", "Frame", "FrameDecoder", "FrameEncoder", "Line",
    "LineDecoder", "SequenceTracker", "crc16_ccitt_false", "encode_frame", "format_csv_line",
    "format_json_line",
]
