"""Text lines (CSV or one JSON object per line), as a hobby-board sketch prints them.

The decoder is incremental, never raises on input, and counts every line it
cannot use under ``rejected_<reason>``; a bad line never spoils its
neighbours.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from firmware_adapters.framing.frames import SEQ_MODULO, SequenceTracker, count_reason


def format_csv_line(values: Sequence[float], digits: int = 7, delimiter: str = ",") -> bytes:
    """One CSV line of numbers with ``digits`` significant digits.

    Examples
    --------
    >>> format_csv_line([12, 0.01234567891, 35.25])
    b'12,0.01234568,35.25\\n'
    """
    return (delimiter.join(f"{v:.{digits}g}" for v in values) + "\n").encode()


def format_json_line(record: dict, digits: int = 7) -> bytes:
    """One JSON-object line; floats get ``digits`` significant digits.

    Examples
    --------
    >>> format_json_line({"seq": 3, "ax": 0.1234567891})
    b'{"seq": 3, "ax": 0.1234568}\\n'
    """
    parts = []
    for key, v in record.items():
        text = str(v) if isinstance(v, (int, np.integer)) else f"{float(v):.{digits}g}"
        parts.append(f"{json.dumps(str(key))}: {text}")
    return ("{" + ", ".join(parts) + "}\n").encode()


@dataclass(slots=True)
class Line:
    """One decoded text line.

    Parameters
    ----------
    values : dict
        Field name to value, for every requested field.
    missing_before : int
        Lines lost just before this one, from the sequence field (0 without one).
    """

    values: dict[str, float]
    missing_before: int = 0


@dataclass
class LineDecoder:
    """Incremental decoder of CSV or JSON lines into numeric fields.

    Rejection reasons (each counted once per line): ``too_long`` (longer
    than ``max_line`` bytes), ``bad_encoding`` (not UTF-8), ``bad_fields``
    (CSV with the wrong number of fields), ``bad_json`` (not a JSON
    object), ``missing_field`` (JSON without a requested field),
    ``bad_value`` (a requested field is not a finite number, or the
    sequence field not an integer in range), ``partial`` (the rest of a
    line whose start was not seen, see :meth:`discard_partial`) and
    ``truncated`` (stream ended mid-line, see :meth:`flush`). A CSV line
    equal to the column names is a header, counted in ``header_lines``;
    blank lines are ignored.

    Parameters
    ----------
    format : {"csv", "json"}
        Line format.
    fields : sequence of str
        Fields to extract: CSV column names, or JSON keys (``a.b`` for nested).
    columns : sequence of str
        CSV only: the name of every column, in order (default ``fields``).
    delimiter : str
        CSV field separator.
    max_line : int
        Longest accepted line in bytes, without the line ending.
    seq_field : str or None
        Field holding a line counter, for gap detection.
    seq_modulo, max_gap : int
        Wrap of the counter and largest jump counted as loss.

    Examples
    --------
    >>> dec = LineDecoder("csv", fields=["ax"], columns=["seq", "ax"], seq_field="seq")
    >>> [(ln.values, ln.missing_before) for ln in dec.feed(b"seq,ax\\n1,0.5\\r\\n2,x\\n4,0.7\\n")]
    [({'ax': 0.5, 'seq': 1.0}, 0), ({'ax': 0.7, 'seq': 4.0}, 2)]
    >>> dec.stats()["rejected_bad_value"], dec.stats()["header_lines"]
    (1, 1)
    """

    format: str
    fields: Sequence[str]
    columns: Sequence[str] = ()
    delimiter: str = ","
    max_line: int = 1024
    seq_field: str | None = None
    seq_modulo: int = SEQ_MODULO
    max_gap: int = 1000
    counters: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        if self.format not in ("csv", "json"):
            raise ValueError(f"format must be 'csv' or 'json', got {self.format!r}")
        self.fields = list(dict.fromkeys([*self.fields, *([self.seq_field] if self.seq_field else [])]))
        self.columns = list(self.columns) or list(self.fields)
        if self.format == "csv":
            unknown = [f for f in self.fields if f not in self.columns]
            if unknown:
                raise ValueError(f"csv fields {unknown} are not among columns {self.columns}")
            self._index = [(f, self.columns.index(f)) for f in self.fields]
        self._paths = [(f, f.split(".")) for f in self.fields]
        self._header = [c.strip() for c in self.columns]
        self._buf = bytearray()
        self._discarding: str | None = None
        self._seen = False  # non-blank bytes dropped while discarding
        self._seq = SequenceTracker(self.seq_modulo, self.max_gap)
        self.counters = {"lines": 0, "rejected": 0, "header_lines": 0}

    def stats(self) -> dict[str, int]:
        """Counters: lines, rejected, rejected_<reason>, header_lines, gaps, missing, seq_resets."""
        return {**self.counters, "gaps": self._seq.gaps, "missing": self._seq.missing,
                "seq_resets": self._seq.resets}

    def discard_partial(self) -> None:
        """Drop input up to the next line break (after opening a port mid-line)."""
        self._buf.clear()
        self._discarding = "partial"
        self._seen = False

    def feed(self, data: bytes) -> list[Line]:
        """Add bytes; return the lines they completed, in order."""
        self._buf += data
        *lines, rest = self._buf.split(b"\n")
        out = []
        for raw in lines:
            if self._discarding is not None:
                self._end_discard(raw)
                continue
            line = self._parse(raw)
            if line is not None:
                out.append(line)
        self._buf = bytearray(rest)
        if self._discarding is None and len(self._buf) > self.max_line + 1:  # +1: a CR may follow
            count_reason(self.counters, "too_long")
            self._discarding = "too_long"
        if self._discarding is not None:
            self._seen |= bool(self._buf.strip())
            self._buf.clear()
        return out

    def flush(self) -> list[Line]:
        """End of stream: a line without its line break is counted ``truncated``."""
        if self._discarding is not None:
            self._end_discard(b"")
        elif self._buf.strip():
            count_reason(self.counters, "truncated")
        self._buf.clear()
        return []

    def _end_discard(self, raw: bytes) -> None:
        if self._discarding == "partial" and (self._seen or raw.strip()):
            count_reason(self.counters, "partial")
        self._discarding = None
        self._seen = False

    def _parse(self, raw: bytes) -> Line | None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if len(raw) > self.max_line:
            return self._bad("too_long")
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            return self._bad("bad_encoding")
        if not text:
            return None
        values = self._csv(text) if self.format == "csv" else self._json(text)
        if values is None:
            return None
        missing = 0
        if self.seq_field is not None:
            s = values[self.seq_field]
            if not (s == int(s) and 0 <= s < self.seq_modulo):
                return self._bad("bad_value")
            missing = self._seq.update(int(s))
        self.counters["lines"] += 1
        return Line(values, missing)

    def _bad(self, reason: str) -> None:
        count_reason(self.counters, reason)
        return None

    def _csv(self, text: str) -> dict[str, float] | None:
        parts = [p.strip() for p in text.split(self.delimiter)]
        if len(parts) != len(self.columns):
            return self._bad("bad_fields")
        if parts == self._header:
            self.counters["header_lines"] += 1
            return None
        values = {}
        for name, i in self._index:
            try:
                v = float(parts[i])
            except ValueError:
                return self._bad("bad_value")
            if not math.isfinite(v):
                return self._bad("bad_value")
            values[name] = v
        return values

    def _json(self, text: str) -> dict[str, float] | None:
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            return self._bad("bad_json")
        if not isinstance(obj, dict):
            return self._bad("bad_json")
        values = {}
        for name, path in self._paths:
            v = obj
            for key in path:
                if not isinstance(v, dict) or key not in v:
                    return self._bad("missing_field")
                v = v[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                return self._bad("bad_value")
            try:
                v = float(v)
            except OverflowError:
                return self._bad("bad_value")
            if not math.isfinite(v):
                return self._bad("bad_value")
            values[name] = v
        return values
