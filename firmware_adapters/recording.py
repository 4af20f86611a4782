"""Reading recordings (.mat, .csv, .npz, .wav) into float64 channels.

Shared by the replay adapter and offline tools (``teachfab edge replay``).
Channel selection and where each format's sample rate comes from are
described in :func:`read_recording`; ``.wav`` integer PCM is scaled to ±1.0
at full scale (``code / 2**(bits-1)``, unsigned 8-bit ``(code - 128) / 128``).
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FORMATS = (".mat", ".csv", ".npz", ".wav")
RATE_VARIABLES = ("fs", "Fs", "FS", "sample_rate", "sampling_rate", "samplerate", "rate")
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_COLUMN = re.compile(r"^(?P<name>.+)\[(?P<col>\d+)\]$")


@dataclass
class _Table:
    """A loaded file: named arrays (samples along axis 0) and what the file says about them."""

    fmt: str
    path: Path
    arrays: dict[str, np.ndarray]
    positional: bool  # .csv/.wav: an integer selects a column by position
    file_rate: float | None = None
    rate_from: str | None = None
    rpm: dict[str, float] = field(default_factory=dict)
    time_name: str | None = None
    extra: dict = field(default_factory=dict)

    def available(self) -> list[str]:
        return [f"{n} {a.shape}" if a.ndim == 2 and min(a.shape) > 1 else n
                for n, a in self.arrays.items() if n != self.time_name]

    def resolve(self, sel: str | int | None) -> tuple[str, np.ndarray]:
        """Name and 1-D array of one selection; ``ValueError`` lists what exists."""
        where, names = f"{self.path.name}: channel {sel!r}", list(self.arrays)
        if sel is None:
            signals = [n for n in names if self.arrays[n].size > 1 and n != self.time_name]
            if len(signals) != 1:
                raise ValueError(f"{self.path.name}: select a channel, one of {self.available()}")
            sel = signals[0]
        if isinstance(sel, (int, np.integer)) and not isinstance(sel, bool):
            if not self.positional:
                raise ValueError(f"{where}: {self.fmt} channels are selected by name, one of {self.available()}")
            if not 0 <= sel < len(names):
                raise ValueError(f"{where}: no such column; the file has {len(names)} (0..{len(names) - 1}): {names}")
            return names[sel], self.arrays[names[sel]]
        if not isinstance(sel, str):
            raise ValueError(f"{where}: expected a name or a 0-based index")
        hit = sel if sel in self.arrays else None
        if hit is None and self.fmt == ".mat" and sel.upper() in ("DE", "FE", "BA"):
            hits = [n for n in names if n.upper().endswith(f"_{sel.upper()}_TIME")]
            if len(hits) > 1:
                raise ValueError(f"{where}: the suffix matches several variables {hits}; give the exact name")
            hit = hits[0] if hits else None
        if hit is not None:
            a = self.arrays[hit]
            if a.ndim == 2 and min(a.shape) > 1:
                raise ValueError(f"{where}: {hit} has shape {a.shape}; select a column as '{hit}[0]'")
            return hit, a.ravel()
        m = _COLUMN.match(sel)
        if m and m["name"] in self.arrays:
            a, col = self.arrays[m["name"]], int(m["col"])
            if a.ndim != 2 or min(a.shape) == 1 or col >= a.shape[1]:
                raise ValueError(f"{where}: {m['name']} has shape {a.shape}, no column {col}")
            return sel, a[:, col]
        raise ValueError(f"{where} not found; available: {self.available()}")

    def rpm_for(self, name: str) -> tuple[str, float] | None:
        """The ``*RPM`` variable with the channel's prefix (``X097``), or the only one."""
        same = [(n, v) for n, v in self.rpm.items() if n[:-3] == name.split("_")[0]]
        return same[0] if same else (next(iter(self.rpm.items())) if len(self.rpm) == 1 else None)


def load_table(path: Path, *, rate_variable=None, time_column=None, time_unit="s", header=None,
               delimiter=None) -> _Table:
    """Read a file into a :class:`_Table`; ``ValueError`` on anything unreadable."""
    fmt = path.suffix.lower()
    if fmt not in FORMATS:
        raise ValueError(f"replay file {str(path)!r}: format {fmt or '(none)'!r} unsupported; expected one of {FORMATS}")
    if not path.is_file():
        raise ValueError(f"replay file {str(path)!r} does not exist")
    if rate_variable is not None and fmt not in (".mat", ".npz"):
        raise ValueError(f"rate_variable applies to .mat and .npz files, not {fmt}")
    if time_column is not None and fmt != ".csv":
        raise ValueError(f"time_column applies to .csv files, not {fmt}")
    if time_unit not in TIME_UNITS:
        raise ValueError(f"time_unit {time_unit!r} unknown; expected one of {list(TIME_UNITS)}")
    table = {".csv": lambda: _load_csv(path, header, delimiter), ".wav": lambda: _load_wav(path)}.get(
        fmt, lambda: _load_variables(path, fmt, rate_variable))()
    if time_column is not None:
        table.time_name = table.resolve(time_column)[0]
        table.extra["time_unit"] = time_unit
    return table


def _load_variables(path: Path, fmt: str, rate_variable: str | None) -> _Table:
    try:
        if fmt == ".mat":
            from scipy.io import loadmat  # scipy.io only for the formats that need it (RSS on a Pi)

            raw = loadmat(path)
        else:
            with np.load(path, allow_pickle=False) as z:
                raw = {k: z[k] for k in z.files}
    except NotImplementedError as exc:  # MATLAB v7.3 files are HDF5
        raise ValueError(f"{path.name}: {exc}; re-save it with save(..., '-v7')") from None
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path.name}: not a readable {fmt} file ({exc})") from None
    arrays = {n: np.atleast_1d(v) for n, v in raw.items()
              if not n.startswith("__") and isinstance(v, np.ndarray) and v.dtype.kind in "iufb" and v.ndim <= 2}
    if not arrays:
        raise ValueError(f"{path.name}: no numeric arrays in the file")
    rpm = {n: float(a.ravel()[0]) for n, a in arrays.items() if n.upper().endswith("RPM") and a.size == 1}
    table = _Table(fmt, path, arrays, positional=False, rpm=rpm)
    if rate_variable is not None and rate_variable not in arrays:
        raise ValueError(f"{path.name}: rate_variable {rate_variable!r} not found; available: {table.available()}")
    for name in [rate_variable] if rate_variable else [n for n in RATE_VARIABLES if n in arrays]:
        v = arrays[name].ravel()
        if v.size != 1 or not np.isfinite(v[0]) or v[0] <= 0:
            raise ValueError(f"{path.name}: rate variable {name!r} must hold one positive number, got {v[:3]}")
        table.file_rate, table.rate_from = float(v[0]), f"variable {name}"
        break
    return table


def _load_wav(path: Path) -> _Table:
    from scipy.io import wavfile  # scipy.io only for the formats that need it (RSS on a Pi)

    try:
        rate, data = wavfile.read(path)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path.name}: not a readable .wav file ({exc})") from None
    if data.dtype == np.uint8:
        scale, values = 1 / 128, (data.astype(np.float64) - 128.0) / 128.0
    else:
        scale = 1.0 / 2.0 ** (8 * data.dtype.itemsize - 1) if data.dtype.kind == "i" else 1.0
        values = data.astype(np.float64) * scale
    values = values.reshape(values.shape[0], -1)
    return _Table(".wav", path, {str(i): values[:, i] for i in range(values.shape[1])}, positional=True,
                  file_rate=float(rate), rate_from="wav header",
                  extra={"pcm_dtype": str(data.dtype), "pcm_scale": scale})


def _load_csv(path: Path, header: bool | None, delimiter: str | None) -> _Table:
    lines = [(no, ln) for no, ln in enumerate(path.read_text(encoding="utf-8-sig", errors="replace").splitlines(), 1)
             if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise ValueError(f"{path.name}: no rows")
    if delimiter is None:
        counts = {d: lines[0][1].count(d) for d in (",", ";", "\t", "|")}
        delimiter = max(counts, key=counts.get) if max(counts.values()) else " "
    if delimiter == " ":
        rows = [(no, ln.split()) for no, ln in lines]
    else:
        parsed = csv.reader([ln for _, ln in lines], delimiter=delimiter)
        rows = [(no, [c.strip() for c in r]) for (no, _), r in zip(lines, parsed)]
    if header is None:
        header = not all(_is_number(c) for c in rows[0][1])
    names = rows[0][1] if header else [str(i) for i in range(len(rows[0][1]))]
    if len(set(names)) != len(names):
        raise ValueError(f"{path.name}: duplicate column names in the header {names}")
    body = [(no, cells) for no, cells in rows[1 if header else 0:]]
    good = [cells for _, cells in body if len(cells) == len(names)]
    short = [no for no, cells in body if len(cells) != len(names)]
    if not good:
        raise ValueError(f"{path.name}: no data rows with {len(names)} fields")
    if short:
        log.warning("%s: %d rows without %d fields rejected (first at line %d)", path.name, len(short),
                    len(names), short[0])
    data = np.array([[_float_or_nan(c) for c in cells] for cells in good], dtype=np.float64)
    return _Table(".csv", path, {n: data[:, j] for j, n in enumerate(names)}, positional=True,
                  extra={"delimiter": delimiter, "header": header, "rejected_field_count": len(short)})


def _is_number(text: str) -> bool:
    return not np.isnan(_float_or_nan(text)) or text.strip().lower() == "nan"


def _float_or_nan(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")  # rejected later if the column is used


def _time_column_rate(t: np.ndarray, unit: str, where: str) -> tuple[float, float]:
    """Sample rate measured from a time column (robust to dropped rows) and its relative jitter."""
    d = np.diff(t)
    if t.size < 2 or np.any(d <= 0):
        k = int(np.argmax(d <= 0)) if t.size >= 2 else 0
        raise ValueError(f"{where}: the time column must have 2+ strictly increasing values "
                         f"(data row {k + 1}: {t[k:k + 2].tolist()})")
    step, span = float(np.median(d)), float(t[-1] - t[0])
    rate = round(span / step) / (span * TIME_UNITS[unit])
    # a text time column does not fix the rate beyond ~9 significant digits
    return float(f"{rate:.9g}"), float(np.max(np.abs(d - step)) / step)


def select_channels(table: _Table, selections: list, rate: float | None) -> tuple[np.ndarray, float | None, dict]:
    """Resolve the selected channels jointly, drop bad rows; return (k, n) data, rate, meta."""
    resolved = [table.resolve(s) for s in selections]
    lengths = {n: a.shape[0] for n, a in resolved}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"{table.path.name}: selected channels differ in length {lengths}")
    data = np.vstack([a.astype(np.float64) for _, a in resolved])
    t = table.arrays.get(table.time_name) if table.time_name else None
    ok = np.all(np.isfinite(data), axis=0) & (np.isfinite(t) if t is not None else True)
    rejected = {"non_numeric" if table.fmt == ".csv" else "non_finite": int(np.count_nonzero(~ok)),
                "field_count": table.extra.pop("rejected_field_count", 0)}
    rejected = {k: v for k, v in rejected.items() if v}
    if rejected:
        log.warning("%s: rejected rows %s", table.path.name, rejected)
    data = np.ascontiguousarray(data[:, ok])
    meta = {"format": table.fmt[1:], "path": str(table.path), "selected": [n for n, _ in resolved],
            "available": table.available(), "n": int(data.shape[1]), "rejected": rejected,
            "file_rate": table.file_rate, "rate_source": table.rate_from, "rpm": None, "rpm_variable": None,
            **table.extra}
    if t is not None:
        fs_t, jitter = _time_column_rate(t[ok], table.extra["time_unit"], table.path.name)
        if jitter > 0.01:
            log.warning("%s: time column steps vary by up to %.1f %%", table.path.name, 100 * jitter)
        meta.update(file_rate=fs_t, time_jitter=jitter, rate_source=f"time column {table.time_name}")
    fs = meta["file_rate"]
    if rate is not None:
        if fs is not None and abs(fs - rate) > 1e-6 * rate:
            log.warning("%s: configured rate %g Hz overrides %g Hz from the %s", table.path.name, rate, fs,
                        meta["rate_source"])
        fs, meta["rate_source"] = float(rate), "config"
    hit = table.rpm_for(resolved[0][0])
    if hit:
        meta["rpm_variable"], meta["rpm"] = hit
    if fs:
        meta["duration_s"] = data.shape[1] / fs
    return data, fs, meta


def read_recording(path: str | Path, channel: str | int | None = None, *, rate: float | None = None,
                   rate_variable: str | None = None, time_column: str | int | None = None,
                   time_unit: str = "s", header: bool | None = None,
                   delimiter: str | None = None) -> tuple[np.ndarray, float | None, dict]:
    """Read one channel of a recording.

    Parameters
    ----------
    path : str or Path
        A ``.mat``, ``.csv``, ``.npz`` or ``.wav`` file.
    channel : str, int or None
        ``.mat``: variable name or sensor suffix ``"DE"``/``"FE"``/``"BA"``;
        ``.npz``: array key; ``.csv``: column name or 0-based index; ``.wav``:
        0-based channel index; ``"name[j]"``: column ``j`` of a 2-D array.
        ``None`` if the file holds a single signal.
    rate : float or None
        Sample rate in Hz; overrides the file's.
    rate_variable : str or None
        ``.mat``/``.npz`` variable holding the rate (default: any of :data:`RATE_VARIABLES`).
    time_column, time_unit : str or int, {"s", "ms", "us", "ns"}
        ``.csv`` time stamps; the rate is measured from them.
    header, delimiter : bool or None, str or None
        ``.csv`` layout, detected when ``None``.

    Returns
    -------
    values : numpy.ndarray
        1-D float64; rows with non-numeric or non-finite values removed.
    fs : float or None
        Sample rate in Hz, ``None`` if neither given nor in the file.
    meta : dict
        ``format``, ``selected``, ``available``, ``n``, ``rate_source``,
        ``file_rate``, ``rpm``/``rpm_variable`` (from ``*RPM``), ``rejected``
        (reason → rows), ``duration_s``; ``pcm_scale`` for ``.wav``.

    Examples
    --------
    >>> import os, tempfile
    >>> from scipy.io import savemat
    >>> path = os.path.join(tempfile.mkdtemp(), "rig.mat")
    >>> savemat(path, {"X001_DE_time": np.arange(6.0)[:, None], "X001RPM": 1797})
    >>> x, fs, meta = read_recording(path, "DE", rate=12000)
    >>> x.tolist(), fs, meta["selected"], meta["rpm"]
    ([0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 12000.0, 'X001_DE_time', 1797.0)
    """
    if rate is not None and not (np.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be a positive number of Hz, got {rate!r}")
    table = load_table(Path(path), rate_variable=rate_variable, time_column=time_column, time_unit=time_unit,
                  header=header, delimiter=delimiter)
    data, fs, meta = select_channels(table, [channel], rate)
    meta["selected"] = meta["selected"][0]
    return data[0], fs, meta
