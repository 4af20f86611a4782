"""Evidence of a learner's pipeline: its alerts and drift events scored against what really happened.

The ground truth comes from the simulator (``Scenario.ground_truth_ns``) or
from maintenance and fault events a mentor logged for a real asset; the
alerts and drift events are what the learner's deployed pipeline published.
The result is plain data — stored immutably with the pipeline's lineage and
checked against the charter's acceptance criteria.

Definitions (one asset, one session ``[start_ns, end_ns)``):

- an alert *detects* a fault if it opens within ``[fault start, fault end +
  grace)``; the **detection delay** is from the fault's start to its first
  such alert; a fault with none is **missed**;
- every other alert is a **false alarm**; **false alarms per hour** divide
  them by the hours of healthy operation (the session minus fault time);
- alert episodes give **precision** (episodes that detected something /
  all episodes), faults give **recall** (detected / all) and **F1**;
- only events that overlap the window count: a fault that ended before it
  is not scored, a fault already present when it opens is (its detection
  delay still runs from the fault's onset), and a regime change counts only
  if it begins inside the window;
- a regime change (load, speed, ambient…) is **drift handled** when a
  drift event follows it within ``drift_window_s`` and no false alarm
  falls in that window; a drift event near no regime change and outside
  every fault is a **false drift alarm**.

Examples
--------
>>> S = 10**9
>>> truth = [{"event": "outer_race", "category": "fault", "asset": "pump-1", "start_ns": 240 * S, "end_ns": None},
...          {"event": "load_change", "category": "regime", "asset": "pump-1", "start_ns": 120 * S, "end_ns": None}]
>>> alerts = [{"ts": 255 * S, "asset": "pump-1"}]
>>> drift = [{"ts": 130 * S, "asset": "pump-1", "target": "rms"}]
>>> ev = score_session(truth, alerts, drift, asset="pump-1", start_ns=0, end_ns=600 * S)
>>> ev["faults"][0]["detection_delay_s"], ev["false_alarms"], ev["drift_events_handled"], ev["f1"]
(15.0, 0, 1, 1.0)
"""

from __future__ import annotations

import operator

#: Metrics a charter's acceptance criteria may name.
METRICS = ("detection_delay_s", "missed_faults", "false_alarms_per_hour", "precision", "recall", "f1",
           "drift_events_handled", "false_drift_alarms")
_OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt, "==": operator.eq}
_NS = 1_000_000_000


def _interval(event: dict, end_ns: int) -> tuple[int, int]:
    stop = event.get("end_ns")
    return int(event["start_ns"]), int(end_ns if stop is None else min(stop, end_ns))


def score_session(ground_truth: list[dict], alerts: list[dict], drift: list[dict], *, asset: str, start_ns: int,
                  end_ns: int, grace_s: float = 30.0, drift_window_s: float = 120.0) -> dict:
    """Score one asset's alerts and drift events of a session against the ground truth.

    Parameters
    ----------
    ground_truth : list of dict
        Events with ``event``, ``category`` (``fault`` or ``regime``), ``asset``,
        ``start_ns`` and ``end_ns`` (``None``: until the end).
    alerts, drift : list of dict
        Published alert and drift events with ``ts`` (epoch ns) and ``asset``.
    asset : str
        The asset scored.
    start_ns, end_ns : int
        The session (or challenge window) on the same clock.
    grace_s : float
        An alert this long after a fault's end still counts as detecting it.
    drift_window_s : float
        How soon after a regime change a drift event counts as noticing it.
    """
    if end_ns <= start_ns:
        raise ValueError(f"session must end after it starts, got start_ns={start_ns}, end_ns={end_ns}")
    mine = lambda rows: sorted((r for r in rows if r.get("asset", asset) == asset and start_ns <= r["ts"] < end_ns),
                               key=lambda r: r["ts"])
    alerts, drift = mine(alerts), mine(drift)
    events = [e for e in ground_truth if e.get("asset", asset) == asset and e["start_ns"] < end_ns
              and (e.get("end_ns") is None or e["end_ns"] > start_ns)]
    faults = sorted((e for e in events if e["category"] == "fault"), key=lambda e: e["start_ns"])
    regimes = sorted((e for e in events if e["category"] == "regime" and e["start_ns"] >= start_ns),
                     key=lambda e: e["start_ns"])
    grace = int(grace_s * _NS)

    fault_rows, true_alerts = [], set()
    for f in faults:
        lo, hi = _interval(f, end_ns)
        hits = [i for i, a in enumerate(alerts) if lo <= a["ts"] < hi + grace]
        true_alerts.update(hits)
        first = alerts[hits[0]]["ts"] if hits else None
        fault_rows.append({"event": f["event"], "start_ns": lo, "end_ns": f.get("end_ns"), "detected": bool(hits),
                           "detection_delay_s": None if first is None else round((first - lo) / _NS, 3),
                           "alerts": len(hits)})
    false_idx = [i for i in range(len(alerts)) if i not in true_alerts]
    fault_ns = _union_length([_interval(f, end_ns) for f in faults], start_ns, end_ns)
    healthy_h = max(0.0, (end_ns - start_ns - fault_ns) / _NS / 3600.0)

    window = int(drift_window_s * _NS)
    handled, used = 0, set()
    regime_rows = []
    for r in regimes:
        lo = int(r["start_ns"])
        noticed = [i for i, d in enumerate(drift) if lo <= d["ts"] < lo + window]
        alarmed = [i for i in false_idx if lo <= alerts[i]["ts"] < lo + window]
        used.update(noticed)
        ok = bool(noticed) and not alarmed
        handled += ok
        regime_rows.append({"event": r["event"], "start_ns": lo, "drift_noticed": bool(noticed),
                            "false_alarms_during": len(alarmed), "handled": ok})
    detected = sum(f["detected"] for f in fault_rows)
    episodes = len(alerts)
    precision = None if episodes == 0 else round(len(true_alerts) / episodes, 4)
    recall = None if not faults else round(detected / len(faults), 4)
    f1 = None if not precision or not recall else round(2 * precision * recall / (precision + recall), 4)
    delays = [f["detection_delay_s"] for f in fault_rows if f["detected"]]
    return {
        "asset": asset, "start_ns": start_ns, "end_ns": end_ns, "grace_s": grace_s, "drift_window_s": drift_window_s,
        "faults": fault_rows, "regimes": regime_rows,
        "detection_delay_s": max(delays) if delays else None,
        "missed_faults": len(faults) - detected, "alert_episodes": episodes, "false_alarms": len(false_idx),
        "healthy_hours": round(healthy_h, 4),
        "false_alarms_per_hour": round(len(false_idx) / healthy_h, 4) if healthy_h > 0 else None,
        "precision": precision, "recall": recall, "f1": f1,
        "drift_events": len(drift), "drift_events_handled": handled,
        "false_drift_alarms": sum(1 for i, d in enumerate(drift) if i not in used and not _inside(d["ts"], faults, end_ns)),
    }


def _inside(ts: int, faults: list[dict], end_ns: int) -> bool:
    """Whether ``ts`` falls while a fault is present (a drift monitor then sees the fault, rightly)."""
    return any(lo <= ts < hi for lo, hi in (_interval(f, end_ns) for f in faults))


def _union_length(intervals: list[tuple[int, int]], lo: int, hi: int) -> int:
    """Total length of the union of ``intervals`` clipped to ``[lo, hi)``."""
    total, cur_lo, cur_hi = 0, None, None
    for a, b in sorted((max(a, lo), min(b, hi)) for a, b in intervals):
        if b <= a:
            continue
        if cur_hi is None or a > cur_hi:
            total += 0 if cur_hi is None else cur_hi - cur_lo
            cur_lo, cur_hi = a, b
        else:
            cur_hi = max(cur_hi, b)
    return total + (0 if cur_hi is None else cur_hi - cur_lo)


def check_acceptance(evidence: dict, criteria: list[dict]) -> dict:
    """Each criterion ``{metric, op, value}`` met or not; ``met`` overall.

    A metric that could not be measured (``None``, e.g. a detection delay
    when every fault was missed) is not met. A criterion with
    ``required: false`` is reported but does not decide the overall verdict.

    Examples
    --------
    >>> check_acceptance({"detection_delay_s": 15.0, "false_alarms_per_hour": 0.0},
    ...     [{"metric": "detection_delay_s", "op": "<=", "value": 60},
    ...      {"metric": "false_alarms_per_hour", "op": "<=", "value": 0.5}])["met"]
    True
    """
    rows = []
    for c in criteria:
        if c.get("metric") not in METRICS or c.get("op") not in _OPS:
            raise ValueError(f"acceptance criterion {c!r}: metric must be one of {METRICS}, op one of {list(_OPS)}")
        measured = evidence.get(c["metric"])
        ok = measured is not None and _OPS[c["op"]](measured, c["value"])
        rows.append({**c, "measured": measured, "met": bool(ok)})
    return {"criteria": rows, "met": all(r["met"] for r in rows if r.get("required", True))}
