"""`teachfab demo --json` on the embedded broker, as a newcomer runs it."""

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
@pytest.mark.timeout(300)  # the demo subprocess alone may take up to its 180 s
def test_demo_prints_summary_with_alert_after_onset_only():
    proc = subprocess.run(
        [sys.executable, "-m", "teachfab.cli", "demo", "--duration", "36", "--fault-at", "26", "--json",
         "--http-port", "0"],
        capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)  # stdout holds exactly one JSON object
    assert "mentor dashboard at http://127.0.0.1:" in proc.stderr
    assert summary["messages_ingested"] > 20
    assert summary["quarantined"] == 0
    assert summary["alerts_before_onset"] == 0
    assert summary["alerts"], "the fault was not detected"
    assert all(a["ts_ns"] >= summary["fault_onset_ns"] for a in summary["alerts"])
    assert 0 <= summary["detection_delay_s"] < 5
    assert summary["ground_truth"][0]["event"] == "outer_race"
