"""The curated dataset of a handover: a Frictionless Data Package of a challenge's telemetry.

One CSV resource per table, each with a Table Schema whose fields carry
their ``unit``:

===============================  ==============================================================
resource                          rows
===============================  ==============================================================
``features-<asset>``              one per window: ``ts_ns``, ``time`` and one column per feature
``alerts``                        one per alert: asset, edge, score, threshold, severity, message
``drift``                         one per drift event: asset, edge, target, detector, message, detail
``waveform-<asset>-<channel>``    one per sample of each snapshot: snapshot, ``ts_ns``, sample, ``t_s``, value
===============================  ==============================================================

The package's licence comes from the charter's ``data_sharing.dataset_licence``
(:data:`labs.documents.DATASET_LICENCES`). The package is written and then
validated with ``frictionless`` (every row against its schema); a package
that does not validate is never handed over.

Examples
--------
>>> import tempfile, pathlib
>>> tables = DatasetTables(site="lab", windows={"pump-1": [{"ts": 1_700_000_000_000_000_000, "rms": 0.2}]},
...                        units={"pump-1": "g"})
>>> with tempfile.TemporaryDirectory() as tmp:
...     doc = write_package(pathlib.Path(tmp), tables, name="handover-challenge-1", title="Pump watch",
...                         licence="CC-BY-4.0", description="demo")
...     [r["name"] for r in doc["resources"]], validate_package(pathlib.Path(tmp))["valid"]
(['features-pump-1', 'alerts', 'drift'], True)
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from labs.documents import DATASET_LICENCES

#: Features without units (ratios, statistics, the model's score); the envelope SNRs end in ``_snr``/``_hsnr``.
DIMENSIONLESS = {"crest", "kurtosis", "skewness", "score", "threshold"}
#: Features in the units of the channel they are computed from.
AMPLITUDE = {"mean", "rms", "peak", "peak_to_peak"}


def feature_unit(name: str, channel_units: str) -> str:
    """The unit of feature ``name`` computed from a channel in ``channel_units``.

    Examples
    --------
    >>> feature_unit("rms", "g"), feature_unit("env_bpfo", "g"), feature_unit("env_bpfo_hsnr", "g")
    ('g', 'g', '1')
    >>> feature_unit("kurtosis", "g"), feature_unit("learning", "g"), feature_unit("mystery", "g")
    ('1', 'flag (1: the model was learning)', 'unknown')
    """
    if name in DIMENSIONLESS or name.endswith(("_snr", "_hsnr")):
        return "1"
    if name == "learning":
        return "flag (1: the model was learning)"
    if name in AMPLITUDE or re.fullmatch(r"env_\w+", name):
        return channel_units or "unknown"
    return "unknown"


@dataclass
class DatasetTables:
    """What goes into the dataset, already cut to the challenge's sessions (and de-identified if asked).

    ``windows`` maps an asset to its feature windows (``{"ts": ns, name: value}``);
    ``units`` an asset to its vibration/current channel's units; ``alerts``,
    ``drift`` and ``waveforms`` are the telemetry store's rows.
    """

    site: str
    windows: dict[str, list[dict]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    alerts: list[dict] = field(default_factory=list)
    drift: list[dict] = field(default_factory=list)
    waveforms: list[dict] = field(default_factory=list)


def _iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _f(name: str, type_: str, unit: str | None = None, description: str = "") -> dict:
    out = {"name": name, "type": type_}
    if description:
        out["description"] = description
    if unit is not None:
        out["unit"] = unit
    return out


TS = _f("ts_ns", "integer", "ns", "edge clock, UTC epoch nanoseconds")
TIME = _f("time", "datetime", None, "ts_ns as UTC date and time")


def _write_csv(path: Path, header: list[str], rows) -> int:
    n = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        for row in rows:
            out.writerow(["" if v is None else v for v in row])
            n += 1
    return n


def _resource(name: str, path: str, fields: list[dict], rows: int, description: str) -> dict:
    return {"name": name, "path": path, "profile": "tabular-data-resource", "format": "csv", "mediatype": "text/csv",
            "encoding": "utf-8", "description": f"{description} ({rows} rows)", "schema": {"fields": fields}}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-") or "x"


def write_package(folder: Path, tables: DatasetTables, *, name: str, title: str, licence: str,
                  description: str) -> dict:
    """Write the CSV files and ``datapackage.json`` into ``folder``; return the descriptor.

    Parameters
    ----------
    folder : Path
        An empty folder; file paths in the descriptor are relative to it.
    tables : DatasetTables
        The rows.
    name, title, description : str
        The package's identity (``name`` lower-case, ``-``, ``_`` and ``.`` only).
    licence : str
        A key of :data:`labs.documents.DATASET_LICENCES`.
    """
    if licence not in DATASET_LICENCES:
        raise ValueError(f"licence {licence!r} is not one of {', '.join(DATASET_LICENCES)}")
    folder.mkdir(parents=True, exist_ok=True)
    resources = []
    for asset, windows in sorted(tables.windows.items()):
        names = sorted({k for w in windows for k in w if k != "ts"})
        fields = [TS, TIME] + [_f(n, "number", feature_unit(n, tables.units.get(asset, "")), f"feature {n}")
                               for n in names]
        path = f"features-{_slug(asset)}.csv"
        rows = _write_csv(folder / path, ["ts_ns", "time", *names],
                          ([w["ts"], _iso(w["ts"]), *(w.get(n) for n in names)] for w in windows))
        resources.append(_resource(f"features-{_slug(asset)}", path, fields, rows,
                                   f"feature windows of asset {asset} as its edge computed them"))
    alert_fields = [TS, TIME, _f("asset", "string"), _f("edge", "string"), _f("score", "number", "1"),
                    _f("threshold", "number", "1"), _f("severity", "string"), _f("message", "string")]
    rows = _write_csv(folder / "alerts.csv", [f["name"] for f in alert_fields],
                      ([a["ts"], _iso(a["ts"]), a["asset"], a["edge"], a["score"], a["threshold"],
                        a.get("severity", ""), a.get("message", "")] for a in tables.alerts))
    resources.append(_resource("alerts", "alerts.csv", alert_fields, rows, "alerts the edge raised"))
    drift_fields = [TS, TIME, _f("asset", "string"), _f("edge", "string"), _f("target", "string"),
                    _f("detector", "string"), _f("message", "string"),
                    _f("detail", "string", None, "the detector's detail as JSON")]
    rows = _write_csv(folder / "drift.csv", [f["name"] for f in drift_fields],
                      ([d["ts"], _iso(d["ts"]), d["asset"], d["edge"], d["target"], d["detector"],
                        d.get("message", ""), json.dumps(d.get("detail") or {}, sort_keys=True)]
                       for d in tables.drift))
    resources.append(_resource("drift", "drift.csv", drift_fields, rows, "drift events on features and scores"))
    by_channel: dict[tuple[str, str], list[dict]] = {}
    for w in tables.waveforms:
        by_channel.setdefault((w["asset"], w["channel"]), []).append(w)
    for (asset, channel), snaps in sorted(by_channel.items()):
        units = snaps[0].get("units") or "unknown"
        fields = [_f("snapshot", "integer", None, "snapshot number within this resource"), TS,
                  _f("sample", "integer", None, "sample index within the snapshot"),
                  _f("t_s", "number", "s", "time of the sample from the snapshot's start"),
                  _f("value", "number", units, f"channel {channel}")]
        rname = f"waveform-{_slug(asset)}-{_slug(channel)}"

        def rows_of(snaps=snaps):
            for k, s in enumerate(sorted(snaps, key=lambda s: s["ts"])):
                for i, v in enumerate(s["values"]):
                    yield [k, s["ts"], i, round(i / s["rate"], 9), v]

        rows = _write_csv(folder / f"{rname}.csv", [f["name"] for f in fields], rows_of())
        resources.append(_resource(rname, f"{rname}.csv", fields, rows,
                                   f"raw waveform snapshots of {asset} channel {channel} "
                                   f"at {snaps[0]['rate']:g} Hz ({len(snaps)} snapshots)"))
    title_l, url = DATASET_LICENCES[licence]
    descriptor = {"name": name, "title": title, "description": description,
                  "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "licenses": [{"name": licence, "title": title_l, **({"path": url} if url else {})}],
                  "keywords": ["predictive maintenance", "condition monitoring", "teaching factory"],
                  "resources": resources}
    (folder / "datapackage.json").write_text(json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
    return descriptor


def validate_package(folder: Path) -> dict:
    """Validate ``folder/datapackage.json`` and every row of its resources with ``frictionless``.

    Returns ``{"valid", "errors", "tasks"}``; ``errors`` lists up to 20
    ``"resource: type: note"`` lines.
    """
    from frictionless import validate  # imported here: loading frictionless takes a second

    report = validate(str(folder / "datapackage.json"))
    errors = []
    for task in report.tasks:
        errors += [f"{task.name}: {e.type}: {e.note}" for e in task.errors]
    errors += [f"package: {e.type}: {e.note}" for e in report.errors]
    return {"valid": bool(report.valid), "errors": errors[:20], "tasks": len(report.tasks)}
