"""The deploy form's registries and dry-run validation (what cloud/web/deploy-form.js is built from)."""

from __future__ import annotations

from cloud.challenges.pipeline_forms import registry, validate
from edge_agent.pipeline import PipelineConfig
from labs.packs import load_pack


def test_the_registry_lists_what_a_pipeline_accepts():
    reg = registry()
    assert {"bearing", "motor_current", "thermal"} <= set(reg["feature_sets"])
    assert "env_bpfo" in reg["feature_sets"]["bearing"]["features"]
    hst = next(d for d in reg["detectors"] if d["name"] == "hst")
    n_trees = next(p for p in hst["params"] if p["name"] == "n_trees")
    assert n_trees["required"] is False and isinstance(n_trees["default"], int)
    assert {d["name"] for d in reg["drift_detectors"]} == {"adwin", "page_hinkley", "kswin"}
    assert reg["fields"]["window"]["minimum"] == 256 and reg["fields"]["window"]["maximum"] == 1 << 20
    assert reg["fields"]["warmup"]["minimum"] == 2 and reg["fields"]["confirm"]["note"]


def test_validation_names_the_field_and_gives_the_deploy_hash():
    starter = load_pack("outer-race-early").starter_pipeline.model_dump(mode="json", exclude={"lineage"})
    ok = validate(starter)
    assert ok == {"ok": True, "hash": PipelineConfig.model_validate(starter).config_hash(), "errors": []}
    bad = validate({**starter, "window": 10, "warmup": 1})
    assert {e["field"] for e in bad["errors"]} == {"window", "warmup"} and not bad["ok"]
    unknown = validate({**starter, "detector": {"name": "isolation_forest"}})
    assert unknown["errors"] == [{"field": "detector", "message": unknown["errors"][0]["message"]}]
    assert "isolation_forest" in unknown["errors"][0]["message"]
    feats = validate({**starter, "features": ["rms", "nonsense"]})
    assert feats["errors"][0]["field"] == "features" and "nonsense" in feats["errors"][0]["message"]
