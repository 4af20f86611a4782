"""Rehearse a lab pack offline: its scenario through a pipeline in simulated time, scored like a session.

``teachfab lab rehearse PACK [--pipeline P.yaml]`` runs the pack's scenario
as fast as the CPU allows (no protocols, no hub), pushes every block
through the declared pipeline exactly as the edge agent would, and scores
the alerts and drift events against the scenario's ground truth with the
hub's evidence code and the charter's acceptance criteria. Learners use it
to try a pipeline before they deploy it to their session; mentors use it
to check that a pack's starter pipeline and acceptance criteria fit its
scenario. (A real session runs the same scenario live, with the ground
truth hidden until assessment.)
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from edge_agent.pipeline import AlertRecord, AssetPipeline, DriftRecord, PipelineConfig
from firmware_adapters.sample import Sample
from labs.evidence import check_acceptance, score_session
from labs.packs import load_pack
from simulators.scenario import load_scenario

#: Scenario clock zero on the epoch (2026-01-01T00:00:00Z), so stamps look like a real session's.
EPOCH_NS = 1_767_225_600 * 10**9


def rehearse(pack_id: str, pipeline: dict | None = None, duration_s: float | None = None,
             step_s: float = 0.1, scenario_doc: dict | None = None) -> dict:
    """Run the pack's scenario through ``pipeline`` (default: the pack's starter) and score it.

    Learners rehearse the pack's public script; ``scenario_doc`` runs another
    document instead, e.g. one of the pack's assessed variants when an author
    checks that the starter meets the charter over the whole range.
    Returns the evidence of each learner asset (see
    :func:`labs.evidence.score_session`), the acceptance verdict
    and the pipeline's description (name, hash, lineage).
    """
    pack = load_pack(pack_id)
    cfg = PipelineConfig(**pipeline) if pipeline is not None else pack.starter_pipeline
    scenario = load_scenario(scenario_doc if scenario_doc is not None else pack.scenario.scenario)
    duration = duration_s or scenario.duration_s
    if duration is None:
        raise ValueError(f"scenario {scenario.name!r} has no duration_s; pass duration_s")
    assets = pack.scenario.assets
    pipes = {a: AssetPipeline(a, cfg) for a in assets}
    sent = {}  # (asset, channel) -> samples pushed so far, for exact block start times
    rates = {(a.asset, c.name): c.rate for a in scenario.assets for c in a.channels()}
    alerts, drift, windows = [], [], 0
    for t_s, data in scenario.run(step_s, duration):
        for asset in assets:
            for channel, values in data[asset].items():
                rate = rates[(asset, channel)]
                n0 = sent.get((asset, channel), 0)
                # a block starts at its first sample; a scalar reading is taken at the end of the step
                start = EPOCH_NS + int(round((n0 / rate if rate > 0 else t_s) * 1e9))
                sent[(asset, channel)] = n0 + len(values)
                for rec in pipes[asset].push(Sample(asset, channel, start, rate, values, "")):
                    if isinstance(rec, AlertRecord):
                        alerts.append({"ts": rec.ts, "asset": asset, "message": rec.message})
                    elif isinstance(rec, DriftRecord):
                        drift.append({**rec.as_dict(), "asset": asset})
                    else:
                        windows += 1
    truth = scenario.ground_truth_ns(EPOCH_NS)
    end_ns = EPOCH_NS + int(round(duration * 1e9))
    evidence = {a: score_session(truth, alerts, drift, asset=a, start_ns=EPOCH_NS, end_ns=end_ns) for a in assets}
    criteria = pack.acceptance_criteria()
    verdicts = {a: check_acceptance(ev, criteria) for a, ev in evidence.items()}
    return {"pack": pack.id, "scenario": scenario.name, "duration_s": duration, "pipeline": cfg.describe(),
            "windows": windows, "alerts": alerts, "drift": drift, "evidence": evidence, "acceptance": verdicts,
            "met": all(v["met"] for v in verdicts.values())}


def main(pack_id: str, pipeline_path: str | None, duration_s: float | None, as_json: bool) -> int:
    """Entry point of ``teachfab lab rehearse``; exit code 0 when the acceptance criteria are met."""
    pipeline = None
    if pipeline_path:
        pipeline = yaml.safe_load(Path(pipeline_path).read_text(encoding="utf-8"))
        if not isinstance(pipeline, dict):
            raise ValueError(f"{pipeline_path}: expected a mapping of pipeline settings")
    result = rehearse(pack_id, pipeline, duration_s)
    if as_json:
        print(json.dumps(result))
        return 0 if result["met"] else 1
    p = result["pipeline"]
    print(f"{result['pack']}: scenario {result['scenario']} ({result['duration_s']:g} s) through pipeline "
          f"{p['name']} ({p['hash']}), {result['windows']} windows")
    for asset, ev in result["evidence"].items():
        for f in ev["faults"]:
            delay = "missed" if not f["detected"] else f"detected after {f['detection_delay_s']} s"
            print(f"  {asset}: fault {f['event']} {delay}")
        print(f"  {asset}: {ev['false_alarms']} false alarm(s) in {ev['healthy_hours'] * 60:.1f} healthy minutes "
              f"({ev['false_alarms_per_hour']} per hour); drift handled {ev['drift_events_handled']}/"
              f"{len(ev['regimes'])}, false drift alarms {ev['false_drift_alarms']}")
        for c in result["acceptance"][asset]["criteria"]:
            print(f"    {'met    ' if c['met'] else 'NOT MET'} {c['metric']} {c['op']} {c['value']} "
                  f"(measured {c['measured']})")
    print("acceptance criteria met" if result["met"] else "acceptance criteria NOT met")
    return 0 if result["met"] else 1
