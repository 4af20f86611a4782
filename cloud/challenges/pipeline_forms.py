"""What the learner page's deploy form is built from: the registries of declared pipelines, each field's
documented range, and a dry-run validation whose messages name the field.

The form (``cloud/web/deploy-form.js``) offers only what
:class:`edge_agent.pipeline.PipelineConfig` accepts: feature sets with
their features, scalers, detectors and threshold policies with their
parameters and defaults, drift detectors, and the numeric fields with the
bounds the model enforces. :func:`validate` runs the same validation as a
deploy (nothing is signed or sent) and returns each problem beside the
field it concerns.

Examples
--------
>>> reg = registry()
>>> "bearing" in reg["feature_sets"] and reg["fields"]["window"]["minimum"]
256
>>> validate({"window": 10, "detector": {"name": "isolation_forest"}})["errors"][0]["field"]
'window'
"""

from __future__ import annotations

import functools
import importlib
import inspect

from pydantic import ValidationError

from edge_agent.pipeline import (DRIFT_DETECTORS, FEATURE_SETS, MODELS, SCALERS, THRESHOLDS, FeatureContext,
                                 PipelineConfig, bearing_by_name)

#: What each numeric or boolean field means (the form shows it next to the field).
FIELD_NOTES = {
    "window": "samples per analysis window (non-overlapping); longer windows resolve lower frequencies",
    "warmup": "windows learnt before the detector may alert (the learning period)",
    "confirm": "consecutive anomalous windows that open an alert",
    "clear": "consecutive normal windows that close it",
    "rpm": "shaft speed: the bearing lines the envelope features search",
    "learn_after_warmup": "keep learning windows judged normal after the warm-up (off: a slow fault is not learnt)",
}
FIELDS = ("window", "warmup", "confirm", "clear", "rpm", "learn_after_warmup")
_PUBLIC_KINDS = ("vibration", "current", "thermal")


def _jsonable(v):
    return v if v is None or isinstance(v, (bool, int, float, str)) else repr(v)


def _params(cls) -> list[dict]:
    out = []
    for name, p in inspect.signature(cls).parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or name == "self":
            continue
        out.append({"name": name, "default": None if p.default is p.empty else _jsonable(p.default),
                    "required": p.default is p.empty})
    return out


def _steps(registry: dict) -> list[dict]:
    out = []
    for name, factory in sorted(registry.items()):
        try:
            params = _params(factory.resolve())
        except ImportError:  # an optional library (river) missing: the name still validates on the edge
            params = []
        out.append({"name": name, "params": params})
    return out


@functools.cache
def registry() -> dict:
    """Feature sets (with their features), scalers, detectors, thresholds, drift detectors and field bounds."""
    ctx = FeatureContext(fs=51200.0, rpm=1797.0, bearing=bearing_by_name("6205"), supply_hz=50.0, pole_pairs=2)
    sets = {}
    for name, fset in FEATURE_SETS.items():
        if fset.inputs not in _PUBLIC_KINDS:
            continue
        try:
            features = list(fset.names(ctx))
        except (TypeError, ValueError):
            features = []
        sets[name] = {"inputs": fset.inputs, "features": features}
    drift = []
    for name, target in sorted(DRIFT_DETECTORS.items()):
        module, _, attr = target.partition(":")
        try:
            drift.append({"name": name, "params": _params(getattr(importlib.import_module(module), attr))})
        except ImportError:
            drift.append({"name": name, "params": []})
    props = PipelineConfig.model_json_schema()["properties"]
    fields = {}
    for f in FIELDS:
        p = props[f]
        fields[f] = {"type": p.get("type", "number"), "minimum": p.get("minimum", p.get("exclusiveMinimum")),
                     "maximum": p.get("maximum"), "default": _jsonable(p.get("default")), "note": FIELD_NOTES[f]}
    return {"feature_sets": sets, "scalers": _steps(SCALERS), "detectors": _steps(MODELS),
            "thresholds": _steps(THRESHOLDS), "drift_detectors": drift, "fields": fields}


_KNOWN = ("feature_set", "features", "scaler", "detector", "threshold", "drift", "thermal", "channels", "supply_hz")


def validate(pipeline: dict) -> dict:
    """Validate ``pipeline`` as a deploy would: ``{ok, hash, errors: [{field, message}]}`` (nothing is sent)."""
    try:
        cfg = PipelineConfig.model_validate(pipeline)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["loc"]:
                field = str(err["loc"][0])
                where = ".".join(str(x) for x in err["loc"])
                text = msg if where == field else f"{where}: {msg}"
            else:  # a whole-model check: the field its message starts with
                field = next((k for k in _KNOWN if msg.startswith(k) or msg.split(" ")[0].rstrip(":") == k),
                             "pipeline")
                text = msg
            errors.append({"field": field, "message": text})
        return {"ok": False, "hash": None, "errors": errors}
    return {"ok": True, "hash": cfg.config_hash(), "errors": []}
