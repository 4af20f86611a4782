"""The user guide of a challenge's final pipeline, as the SME's operators and technicians read it.

One Markdown section per asset: what the pipeline computes (channel,
window, features), how it decides (detector, threshold, confirmation,
warm-up, learning), what it watches for drift, how it did on the challenge
(the final segment's evidence against the acceptance criteria), how to
read an alert and a drift event, how to deploy it again (the pipeline
file in the package) and its lineage.

Examples
--------
>>> text = pipeline_guide("pump-1", {"name": "p", "channel": "vib", "window": 4096, "features": ["rms"],
...                                  "detector": {"name": "zscore"}, "threshold": 8.0}, None, [])
>>> "## pump-1: pipeline p" in text and "zscore" in text
True
"""

from __future__ import annotations

import json


def _value(v) -> str:
    return json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else str(v)


def pipeline_guide(asset: str, pipeline: dict, final: dict | None, lineage: list[dict],
                   file_name: str = "") -> str:
    """The guide section of one asset's final pipeline.

    Parameters
    ----------
    asset : str
        The asset's name (as the package shows it).
    pipeline : dict
        The deployed pipeline document.
    final : dict or None
        The evidence's ``final`` segment (pipeline, evidence, acceptance).
    lineage : list of dict
        The pipelines deployed on the asset, oldest first (name, hash, parent, author).
    file_name : str
        Where the pipeline file is in the package.
    """
    det = pipeline.get("detector") or {}
    lines = [f"## {asset}: pipeline {pipeline.get('name', '?')}", "",
             "### What it computes", "",
             f"- input channel `{pipeline.get('channel', '?')}`, windows of {pipeline.get('window', '?')} samples"
             + (f" at {pipeline['rpm']} rpm" if pipeline.get("rpm") else "")
             + (f", bearing {pipeline['bearing']}" if pipeline.get("bearing") else ""),
             f"- features ({pipeline.get('feature_set', 'custom')}): "
             + ", ".join(f"`{f}`" for f in pipeline.get("features", [])), "",
             "### How it decides", "",
             f"- detector `{det.get('name', '?')}`"
             + (f" with {', '.join(f'{k}={_value(v)}' for k, v in sorted(det.items()) if k != 'name')}"
                if len(det) > 1 else ""),
             f"- an alert when the score exceeds {pipeline.get('threshold', '?')} for "
             f"{pipeline.get('confirm', 1)} window(s) in a row; it clears after {pipeline.get('clear', 1)} "
             "window(s) below",
             f"- the first {pipeline.get('warmup', 0)} windows are learnt as normal (warm-up)"
             + ("; it keeps learning after the warm-up" if pipeline.get("learn_after_warmup", True)
                else "; it stops learning after the warm-up, so a slowly growing fault is not learnt as normal"),
             ""]
    drift = pipeline.get("drift") or []
    lines += ["### Drift", ""]
    lines += [f"- `{d.get('target')}` watched by `{d.get('detector')}`" for d in drift] or \
             ["- no drift monitor: re-check the pipeline when the machine or its duty changes"]
    lines += ["", "### How it did in the challenge", ""]
    if final is None:
        lines.append("- no evidence was computed for this asset")
    else:
        ev = final.get("evidence") or {}
        for key in ("detection_delay_s", "false_alarms", "false_alarms_per_hour", "precision", "recall"):
            if key in ev:
                lines.append(f"- {key.replace('_', ' ')}: {ev[key]}")
        acc = final.get("acceptance") or {}
        for c in acc.get("criteria", []):
            lines.append(f"- acceptance: {c['metric']} {c['op']} {c['value']}: measured {c['measured']}, "
                         f"{'met' if c['met'] else 'NOT met'}")
        lines.append(f"- acceptance overall: {'met' if acc.get('met') else 'NOT met'}")
    lines += ["", "### Reading its output", "",
              "- an **alert** says the score passed the threshold: inspect the asset (vibration spectrum, "
              "bearing temperature, a walk-round) and log what you found, so the hub counts confirmed findings",
              "- a **drift** event says the features or scores no longer look like what the model learnt: "
              "check for a change of duty, speed, sensor mounting or a maintenance action before trusting "
              "the score again", "",
              "### Deploying it again", "",
              f"- the pipeline file is `{file_name}`; send it to the asset's edge agent from the hub "
              "(`POST /api/sessions/{id}/deployments`, or a signed config command) — the edge verifies its "
              "signature and checks its hash", "",
              "### Lineage", ""]
    lines += [f"- `{p.get('name')}` {p.get('hash')} (parent {p.get('parent') or 'none'}, author "
              f"{p.get('author') or 'unknown'})" for p in lineage] or ["- no deployment recorded"]
    return "\n".join(lines) + "\n"


def user_guide(challenge: str, sections: list[str]) -> str:
    """The whole guide: a title, how to use it, then one section per asset."""
    head = [f"# User guide: the final pipelines of {challenge}", "",
            "This guide comes with the handover package. Each section describes the pipeline that was "
            "running on an asset when the challenge closed: what it measures, when it raises an alert, "
            "what its evidence showed and how to deploy it again.", ""]
    return "\n".join(head) + "\n".join(sections or ["No pipeline was deployed in this challenge.\n"])
