"""The optional alert explanation: strictly validated, bounded, and optional."""

import json

import pytest

from contract.payloads import InvalidMessage, parse_message

TOPIC = "tf/v1/lab/e1/pump-1/alert"
BASE = {"v": 1, "edge": "e1", "boot": "b", "seq": 3, "ts": 1_700_000_000_000_000_000, "score": 12.0,
        "threshold": 8.0, "message": "anomaly"}
GOOD = {"kind": "bearing", "fault": "outer_race", "confidence": 0.98, "summary": "BPFO family",
        "defect_hz": 107.4, "measured_hz": 106.9, "prominence": 80.0, "harmonics_found": 3,
        "lines": [{"label": "1×bpfo", "expected_hz": 107.4, "measured_hz": 106.9, "prominence": 80.0, "evidence": 20.0}],
        "moved": [{"name": "kurtosis", "value": 8.1, "z": 40.2}],
        "severity": {"velocity_rms_mm_s": 1.5, "zone": "B", "group": 2, "foundation": "rigid", "assumed": True},
        "spectrum": {"f0_hz": 0.0, "df_hz": 2.9, "values": [1.0, 2.0, 90.0], "band_hz": [3000.0, 4500.0],
                     "marks": [{"label": "1×bpfo", "hz": 106.9}]}}


def _parse(explanation):
    body = dict(BASE) if explanation is None else {**BASE, "explanation": explanation}
    return parse_message(TOPIC, json.dumps(body).encode())


def test_alert_without_and_with_explanation():
    assert _parse(None).body.explanation is None
    e = _parse(GOOD).body.explanation
    assert e.fault == "outer_race" and e.lines[0].prominence == 80.0 and e.severity.zone == "B"


@pytest.mark.parametrize("change, reason", [
    ({"fault": "Outer Race!"}, "explanation.fault"),
    ({"confidence": 1.5}, "explanation.confidence"),
    ({"kind": "magic"}, "explanation.kind"),
    ({"extra": 1}, "explanation.extra"),
    ({"summary": "x" * 501}, "explanation.summary"),
    ({"lines": GOOD["lines"] * 17}, "explanation.lines"),
    ({"moved": GOOD["moved"] * 9}, "explanation.moved"),
    ({"spectrum": {**GOOD["spectrum"], "values": [1.0] * 513}}, "explanation.spectrum.values"),
    ({"spectrum": {**GOOD["spectrum"], "band_hz": [4500.0, 3000.0]}}, "band_hz"),
    ({"severity": {**GOOD["severity"], "zone": "E"}}, "explanation.severity.zone"),
])
def test_bad_explanations_are_refused_naming_the_field(change, reason):
    with pytest.raises(InvalidMessage, match=reason.replace(".", r"\.")):
        _parse({**GOOD, **change})


def test_non_finite_evidence_is_refused():
    with pytest.raises(InvalidMessage, match="explanation"):
        _parse({**GOOD, "prominence": float("inf")})
