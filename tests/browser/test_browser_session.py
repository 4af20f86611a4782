"""The learner's session page (/session?id=N) in real headless Chromium, against ``teachfab lab up``.

``teachfab lab up outer-race-early`` runs as a subprocess with a real
Mosquitto: a hub, the pack's simulator and an edge agent per session, people
and a co-signed challenge. Learner 1 logs in through the page's own form,
watches live values change while the ground truth stays hidden, has a bad
pipeline refused with the hub's message, deploys a changed pipeline through
the form and sees it in the lineage with the starter as parent. The mentor
closes the session through the API; after a reload the page shows the
evidence of the learner's pipeline (the same figures as the API) and the
revealed ground truth, and takes the team's submission. The mentor page
lists the session and the feedback the mentor owes.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.browser.test_browser import launch_chromium
from tests.servers import free_port
from tests.waiting import wait_in_page

ROOT = Path(__file__).resolve().parents[2]
PACK = "outer-race-early"
SPEED = 20.0          # scenario seconds per wall second: the 600 s scenario lasts 30 s
AFTER_ONSET_S = 90.0  # the mentor closes the session this long (scenario time) after its variant's spall onset


def js(value) -> str:
    """How the page prints a JSON number (JavaScript's ``String``), or ``—`` for null."""
    if value is None:
        return "—"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def met(ok: bool) -> str:
    """How the page words a verdict."""
    return "met" if ok else "not met"


class LabUp:
    """``teachfab lab up PACK`` as a subprocess: its URL, session id and log-ins from what it prints."""

    def __init__(self, broker: str, log: Path, pack: str = PACK, speed: float = SPEED) -> None:
        self.log = open(log, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "teachfab.cli", "lab", "up", pack, "--speed", str(speed), "--duration", "120",
             "--broker", broker, "--http-port", str(free_port()),
             # what lab up saves goes beside its log, never into the checkout
             "--handover-dir", str(log.parent / "handover"), "--credentials-dir", str(log.parent / "credentials")],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=self.log, text=True)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(s) for s in self.proc.stdout], daemon=True).start()
        out, deadline = "", time.monotonic() + 60
        while not re.search(r"^\s+operator\s", out, re.M):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"teachfab lab up did not start:\n{out}\n{log.read_text(errors='replace')[-3000:]}")
            try:
                out += lines.get(timeout=0.5)
            except queue.Empty:
                pass
        m = re.search(r"learner page\s+(http://\S+?)/session\?id=(\d+)", out)
        self.url, self.session_id = m.group(1), int(m.group(2))
        self.passwords = dict(re.findall(r"^\s+\w+\s+(\S+@\S+)\s+(\S+)$", out, re.M))

    def stop(self) -> None:
        if self.proc.poll() is None:
            sessions = _session_processes(self.proc.pid)
            self.proc.send_signal(signal.SIGINT)  # lab up closes the session (already closed here) and exits
            try:  # a session process that does not stop gets 30 s before lab up kills it
                self.proc.wait(timeout=45)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            for pid in sessions:  # none must outlive a failed test (they ignore the SIGTERM they get then)
                if "teachfab.session_process" in _cmdline(pid):
                    os.kill(pid, signal.SIGKILL)
        self.log.close()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _session_processes(parent: int) -> list[int]:
    """The lab sessions' processes (``python -m teachfab.session_process``) that ``parent`` started (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and "teachfab.session_process" in _cmdline(int(stat.parent.name)):
            found.append(int(stat.parent.name))
    return found


TICK_S = 0.25  # the page recomputes its clock every 0.25 s (session.js: setInterval(tick, 250))
LOADED_S = 2.0  # how late a timer or a read may come on a loaded 2-core machine


def read_clock(page) -> tuple[float, float, str]:
    """The clock as shown: scenario seconds, the wall time (s) they are for, and the text, read at once.

    One evaluate, not one read per attribute: a tick between two reads would pair a value with the
    wall time of the next tick (that was a flaky failure: 2.1 scenario-s off at speed 20).
    """
    t, at_ms, text = page.evaluate(
        "() => { const e = document.getElementById('clock-t'); return [e.dataset.t, e.dataset.at, e.textContent]; }")
    return float(t), float(at_ms) / 1e3, text


def check_clock(page, start_ns: int, speed: float = SPEED, reads: int = 4) -> None:
    """The page's scenario clock ticks at the session's speed and stays close to the hub's clock.

    The hub's clock is start + (now - start) x speed with the session's start and speed (the test and
    the hub share this machine's clock). Over several ticks the shown value never goes back, it advances
    at ``speed`` scenario seconds per wall second of the page, and each value read is behind the hub's
    clock by no more than one update interval plus what a loaded machine may add.
    """
    seen = []
    for _ in range(reads):
        if seen:  # the next tick, not a fixed sleep
            wait_in_page(page, f"Number(document.getElementById('clock-t').dataset.at) > {seen[-1][1] * 1e3}",
                                   timeout=(TICK_S + LOADED_S) * 1e3)
        t, at, text = read_clock(page)
        hub = (time.time() - start_ns / 1e9) * speed
        # the text rounds the clock to 0.1 s, dataset.t to 1 ms: rounding twice may differ at a half (68.1496)
        shown = re.fullmatch(r"t = (-?\d+\.\d) s", text)
        assert shown and abs(float(shown.group(1)) - t) <= 0.0505, (text, t)
        behind = (hub - t) / speed  # wall seconds the value shown is behind the hub's clock
        assert -0.01 < behind < TICK_S + LOADED_S, (t, hub, behind)
        seen.append((t, at))
    ts = [t for t, _ in seen]
    assert ts == sorted(ts), f"the clock went back: {ts}"
    (t0, at0), (t1, at1) = seen[0], seen[-1]
    assert t1 > t0 and abs((t1 - t0) / (at1 - at0) - speed) < 0.02 * speed, seen


def _token(http: httpx.Client, email: str, password: str) -> dict:
    r = http.post("/api/auth/token", data={"username": email, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _login(page, email: str, password: str) -> None:
    page.wait_for_selector("#login:not([hidden])", timeout=10_000)
    page.fill("#login-email", email)
    page.fill("#login-password", password)
    page.click("#login button[type=submit]")


@pytest.mark.slow
@pytest.mark.browser
def test_learner_session_page(mosquitto, tmp_path):
    from playwright.sync_api import sync_playwright

    t0 = time.monotonic()
    learner, mentor = "learner1@lab.local", "mentor@lab.local"
    with sync_playwright() as pw:
        # the browser starts first: the session's clock runs from the moment lab up has started it
        browser = launch_chromium(pw)
        lab = LabUp(mosquitto.url, tmp_path / "lab-up.log")
        sid = lab.session_id
        try:
            with httpx.Client(base_url=lab.url, timeout=60) as http:
                page = browser.new_page()
                errors = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(f"{lab.url}/session?id={sid}")
                _login(page, learner, lab.passwords[learner])
                as_learner = _token(http, learner, lab.passwords[learner])
                as_mentor = _token(http, mentor, lab.passwords[mentor])
                api = lambda path, who=as_learner: http.get(path, headers=who).raise_for_status().json()  # noqa: E731
                sess = api(f"/api/sessions/{sid}")
                starter = sess["deployments"][0]

                # --- running: overview, scenario clock, live values ----------------------------------
                page.wait_for_selector("#s-status:text('running')", timeout=10_000)
                assert page.inner_text("#s-pack") == PACK
                assert page.inner_text("#who").startswith(learner)
                page.wait_for_selector("#s-team:has-text('Team 1 (Learner One, Learner Two)')", timeout=10_000)
                print(f"page logged in at scenario t = {(time.time_ns() - sess['start_ns']) * SPEED / 1e9:.0f} s")
                check_clock(page, sess["start_ns"])
                wait_in_page(page, "document.getElementById('live-t').dataset.ts", timeout=15_000)
                ts1 = int(page.get_attribute("#live-t", "data-ts"))
                wait_in_page(page, f"Number(document.getElementById('live-t').dataset.ts) > {ts1}", timeout=10_000)
                assert page.inner_text("#conn") == "live"
                assert page.inner_text("#live-threshold") == "8.000"  # the starter's threshold
                n1 = page.evaluate("document.getElementById('chart-score').data[0].x.length")
                wait_in_page(page, f"document.getElementById('chart-score').data[0].x.length > {n1}",
                                       timeout=10_000)
                rms = page.evaluate("document.getElementById('chart-f-rms').data[0].y.filter(v => v !== null)")
                assert rms and all(0.01 < v < 10 for v in rms), rms[:5]  # vibration RMS in g
                # the page never runs ahead of the hub (it is sent what the hub stored) and catches up with it
                shown_ts = int(page.get_attribute("#live-t", "data-ts"))
                newest = api(f"/api/assets/session-{sid}/pump-1/telemetry?limit=1")[-1]
                assert shown_ts <= newest["ts"]
                wait_in_page(page, f"Number(document.getElementById('live-t').dataset.ts) >= {newest['ts']}",
                                       timeout=10_000)
                check_clock(page, sess["start_ns"])

                # the ground truth stays hidden from learners while the session runs
                assert page.is_visible("#truth-hidden") and not page.is_visible("#truth-table")
                assert page.locator("#truth tr").count() == 0
                assert "t = " not in page.inner_text("#truth-card")
                assert api(f"/api/sessions/{sid}")["ground_truth"] is None  # staff see it, learners do not
                staff_view = api(f"/api/sessions/{sid}", as_mentor)
                assert staff_view["ground_truth"] and staff_view["variant"]  # the assessed variant, staff only
                onset_s = staff_view["variant"]["drawn"]["faults"]["0"]["start_s"]
                close_at_s = onset_s + AFTER_ONSET_S
                assert page.is_hidden("#evidence-card")

                # --- the lineage so far, and the deploy form prefilled with the current pipeline ---------
                row0 = page.locator("#deployments tr").first
                assert row0.get_attribute("data-hash") == starter["hash"]
                assert "outer-race-starter" in row0.inner_text() and "starter" in row0.locator(".edge").inner_text()
                prefilled = json.loads(page.input_value("#deploy-pipeline"))
                # the form built from the registries: the hub's message beside the field, the change previewed
                page.wait_for_selector("#deploy-fields input[name=window]")
                page.fill("#deploy-fields input[name=window]", "10")
                page.wait_for_selector("#deploy-fields .field-error[data-field=window]:not(:empty)")
                assert "greater than or equal to 256" in page.inner_text(".field-error[data-field=window]")
                page.fill("#deploy-fields input[name=window]", str(prefilled["window"]))
                page.fill("#deploy-fields input[name=confirm]", "3")
                page.wait_for_selector("#deploy-diff[data-valid=true] li[data-key=confirm]")
                assert page.inner_text("#deploy-diff li[data-key=confirm]") == f"confirm: {prefilled['confirm']} → 3"
                page.click("#deploy-json summary")  # the JSON, for advanced users, follows the form
                assert json.loads(page.input_value("#deploy-pipeline"))["confirm"] == 3
                assert prefilled == {k: v for k, v in starter["pipeline"].items() if k != "lineage"}

                # a pipeline the hub refuses: its message, naming the field, is shown
                page.fill("#deploy-pipeline", json.dumps({**prefilled, "threshold": "high"}))
                page.click("#deploy button[type=submit]")
                page.wait_for_selector("#deploy-result.error", timeout=10_000)
                refused = page.inner_text("#deploy-result")
                assert "422" in refused and "threshold" in refused, refused
                assert page.locator("#deployments tr").count() == 1

                # a changed pipeline, deployed through the form
                mine = {**prefilled, "name": "learner1-spall-watch", "confirm": 3}
                page.fill("#deploy-pipeline", json.dumps(mine, indent=2))
                page.fill("#deploy-note", "three windows to confirm: fewer nuisance alarms")
                page.click("#deploy button[type=submit]")
                page.wait_for_selector("#deploy-result.ok:has-text('deployed learner1-spall-watch')", timeout=10_000)
                row = page.locator("#deployments tr[data-deployment]").nth(1)
                row.wait_for(timeout=10_000)
                deployed = api(f"/api/sessions/{sid}")["deployments"][1]
                assert deployed["name"] == "learner1-spall-watch" and deployed["parent"] == starter["hash"]
                assert row.get_attribute("data-hash") == deployed["hash"] != starter["hash"]
                assert row.locator(".parent").inner_text() == starter["hash"]
                assert row.locator(".author").inner_text() == learner
                assert "current" in row.locator(".name").inner_text() and "fewer nuisance alarms" in row.inner_text()
                page.wait_for_selector("#deployments tr.current .edge.accepted", timeout=15_000)  # the edge applied it
                print(f"deployed at scenario t = {(deployed['active_ns'] - sess['start_ns']) / 1e9:.0f} s")
                assert json.loads(page.input_value("#deploy-pipeline"))["name"] == "learner1-spall-watch"

                # --- the mentor closes the session after the spall's onset -----------------------------
                # once the page shows a window from past the close time (on a busy machine the data may lag the clock)
                close_ns = sess["start_ns"] + int(close_at_s * 1e9)
                wait_in_page(page, f"Number(document.getElementById('live-t').dataset.ts) >= {close_ns}",
                                       timeout=(close_at_s / SPEED + 30) * 1e3)
                started = time.monotonic()
                closed = http.post(f"/api/sessions/{sid}/close", headers=as_mentor)
                print(f"close took {time.monotonic() - started:.1f} s")
                assert closed.status_code in (200, 409), closed.text  # 409: it closed by itself meanwhile
                ev = api(f"/api/sessions/{sid}/evidence")[0]
                doc, final = ev["document"], ev["document"]["final"]
                truth = api(f"/api/sessions/{sid}")["ground_truth"]
                assert final["pipeline"]["hash"] == deployed["hash"]

                # --- after a reload: evidence and ground truth -----------------------------------------
                page.reload()
                page.wait_for_selector("#s-status:text('closed')", timeout=10_000)
                block = page.locator("#evidence article.evidence[data-asset='pump-1']")
                block.wait_for(timeout=10_000)
                assert "learner1-spall-watch" in block.locator(".final-pipeline").inner_text()
                assert deployed["hash"] in block.locator(".final-pipeline").inner_text()
                assert block.locator(".final-verdict").inner_text() == met(final["acceptance"]["met"])
                fig = final["evidence"]
                assert block.locator(".final-false-alarms b").inner_text() == js(fig["false_alarms"])
                assert block.locator(".final-fa-per-hour b").inner_text() == js(fig["false_alarms_per_hour"])
                assert block.locator(".final-delay b").inner_text() == js(fig["detection_delay_s"])
                fault = fig["faults"][0]
                assert fault["event"] == "outer_race"
                cell = block.locator("table.faults tr[data-event='outer_race'] .delay").inner_text()
                assert cell == ("—" if fault["detection_delay_s"] is None else f"{js(fault['detection_delay_s'])} s")
                criteria = final["acceptance"]["criteria"]
                assert block.locator("table.criteria tbody tr").count() == len(criteria) == 3
                for c in criteria:
                    tr = block.locator(f"table.criteria tr[data-metric='{c['metric']}']").first
                    assert tr.locator(".measured").inner_text() == ("not measured" if c["measured"] is None
                                                                    else js(c["measured"]))
                    assert tr.locator(".verdict").inner_text() == met(c["met"])
                whole = doc["whole_session"]
                assert block.locator(".whole-verdict").inner_text() == met(whole["acceptance"]["met"])
                assert block.locator(".whole-false-alarms b").inner_text() == js(whole["evidence"]["false_alarms"])
                print(f"evidence: delay {fig['detection_delay_s']} s, {fig['false_alarms']} false alarm(s), "
                      f"acceptance {met(final['acceptance']['met'])}")

                assert page.is_hidden("#truth-hidden") and page.locator("#truth tr").count() == len(truth) >= 2
                assert page.inner_text("#truth tr[data-event='outer_race'] .from") == f"t = {onset_s:g} s"
                assert page.is_hidden("#deploy") and page.is_visible("#deploy-closed")
                alerts = api(f"/api/alerts?site=session-{sid}&asset=pump-1&limit=500")
                wait_in_page(page, f"document.getElementById('n-alerts').textContent === '{len(alerts)}'",
                                       timeout=10_000)
                if alerts:  # newest first, on the session's clock
                    assert abs(int(page.get_attribute("#alerts li", "data-ts")) - alerts[0]["ts"]) < 10**4
                # the outer-race fault raised an alert the edge explained; the learner reads why, and its spectrum
                explained = [a for a in alerts if a.get("explanation")]
                assert explained and explained[0]["explanation"]["fault"] == "outer_race", alerts[:3]
                why = page.locator("#alerts li.explained .explanation").first
                why.wait_for(timeout=10_000)
                assert "outer-race defect" in why.inner_text() and "confidence" in why.inner_text()
                marks = wait_in_page(page, "(() => { const c = document.getElementById('chart-alert-envelope');"
                                           " return c && !c.hidden && c.layout ? c.layout.annotations.map(a => a.text)"
                                           " : null; })()", timeout=15_000)
                assert marks[0] == "1×bpfo", marks

                # --- the team hands in its work --------------------------------------------------------
                page.fill("#submit-note", "Envelope features, frozen z-score model, confirm 3.")
                page.fill("#submit-links", "https://lab.example/report.pdf\n")
                page.click("#submit button[type=submit]")
                page.wait_for_selector("#submissions li[data-submission]", timeout=10_000)
                sub = page.inner_text("#submissions")
                assert "confirm 3" in sub and "feedback due within 24 h" in sub and "waiting for the mentor" in sub
                subs = api(f"/api/sessions/{sid}/submissions")
                assert len(subs) == 1 and subs[0]["links"] == ["https://lab.example/report.pdf"]
                assert subs[0]["sla"] == "on_track"
                assert page.inner_text("#assessment-stage") == "waiting for the assessors' scores"
                assert not errors, errors

                # --- the mentor page: the session and the feedback it owes ------------------------------
                mentor_page = browser.new_context().new_page()
                mentor_page.on("pageerror", lambda e: errors.append(str(e)))
                mentor_page.goto(f"{lab.url}/")
                _login(mentor_page, mentor, lab.passwords[mentor])
                item = mentor_page.locator(f"#sessions li[data-session='{sid}']")
                item.wait_for(timeout=10_000)
                assert "closed" in item.inner_text() and PACK in item.inner_text()
                assert item.locator("a").get_attribute("href") == f"/session?id={sid}"
                mentor_page.wait_for_selector("#sla li.on_track", timeout=10_000)
                assert f"mentor feedback, session {sid}" in mentor_page.inner_text("#sla")
                page.screenshot(path=str(tmp_path / "session.png"), full_page=True)
                mentor_page.screenshot(path=str(tmp_path / "mentor.png"), full_page=True)

                # a session outside the learner's team: the page says so
                page.goto(f"{lab.url}/session?id=999")
                page.wait_for_selector("#page-error:not([hidden])", timeout=10_000)
                assert "Session 999 does not exist" in page.inner_text("#page-error") and page.is_hidden("#content")
                assert not errors, errors
        finally:
            browser.close()
            lab.stop()
    print(f"test took {time.monotonic() - t0:.1f} s")
