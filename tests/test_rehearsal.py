"""Lab pack (1) rehearsed offline: the starter pipeline meets the charter, a too-low threshold does not."""

import pytest
import yaml

from labs.cli import main as cli
from labs.packs import load_pack
from labs.rehearsal import EPOCH_NS, rehearse

ONSET_S = 240.0  # outer_race_early_detection: spall from 240 s, load reduction 120-180 s


@pytest.fixture(scope="module")
def starter():
    return load_pack("outer-race-early").starter_pipeline.model_dump(mode="json")


def test_starter_pipeline_detects_the_spall_soon_after_onset_without_false_alarms(starter):
    res = rehearse("outer-race-early", starter, duration_s=400)
    ev = res["evidence"]["pump-1"]
    (fault,) = ev["faults"]
    assert fault["event"] == "outer_race" and fault["start_ns"] == EPOCH_NS + int(ONSET_S * 1e9)
    assert 0 < fault["detection_delay_s"] <= 5.0  # consistent with the onset: a few windows of 0.16 s
    assert ev["false_alarms"] == 0 and ev["false_alarms_per_hour"] == 0.0
    assert ev["regimes"][0]["event"] == "load_change" and ev["regimes"][0]["false_alarms_during"] == 0
    assert res["met"] is True and res["pipeline"]["name"] == "outer-race-starter"


def test_threshold_far_too_low_gives_false_alarms_and_not_met(starter, tmp_path, capsys):
    bad = {**starter, "threshold": 2.0}
    res = rehearse("outer-race-early", bad, duration_s=400)
    ev = res["evidence"]["pump-1"]
    assert ev["false_alarms_per_hour"] > 0.5
    verdict = {c["metric"]: c["met"] for c in res["acceptance"]["pump-1"]["criteria"]}
    assert verdict["false_alarms_per_hour"] is False and res["met"] is False
    # the command line says the same and exits non-zero
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    assert cli(["lab", "rehearse", "outer-race-early", "--pipeline", str(path), "--duration", "400"]) == 1
    assert "NOT MET false_alarms_per_hour" in capsys.readouterr().out
