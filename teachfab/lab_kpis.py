"""What ``teachfab lab up`` shows of the KPIs: the month's figures of the lab once its session closed.

After the demonstration sign-off (:mod:`teachfab.lab_skills`) the hub
operator records the credential decision (``issued`` for a passing
outcome) and the mentor closes the challenge, as they would on the hub;
then the KPI report of the current month (``cloud.kpis``) is computed and
summarised: challenge closure, credential attainment, sign-off → credential
time, the remote-lab uptime of the teaching window. The same figures are
on the KPI page (``/kpis``) while the hub runs (``--stay``).
"""

from __future__ import annotations

from sqlalchemy import select

from cloud.accounts.models import User
from cloud.challenges import assessment, charters
from cloud.challenges.models import CharterStatus, Outcome
from cloud.database import utcnow
from cloud.kpis import service

LINES = (("challenge_closure", "challenge closure (acceptance criteria met)"),
         ("credential_attainment", "credential attainment within the planned duration"),
         ("signoff_to_credential_h", "sign-off → credential"),
         ("learnflow_offered", "learning units offered beside live events"))


def after(app, session_id: int, ids: dict, operator_email: str) -> dict:
    """Decide the credential, close the challenge and return this month's KPI report of the lab."""
    with app.state.sessions() as db:
        operator = db.scalar(select(User).where(User.email == operator_email))
        outcome = db.get(Outcome, session_id)
        if outcome is not None and outcome.credential_decided_at is None and outcome.result == "pass":
            assessment.record_credential_decision(db, session_id, operator, "issued")
        charter = charters.get_charter(db, ids["challenge"])
        if charter.status is CharterStatus.active:
            charters.close(db, ids["challenge"], db.get(User, ids["mentor"]))
        month = f"{utcnow():%Y-%m}"
        return service.report(db, app.state.store, app.state.kpi_sources, None, month, month,
                              extra=service.learnflow_figures)


def _show(f: dict) -> str:
    if f["value"] is None:
        return f"— ({f['note']})" if f.get("note") else "—"
    if f["unit"] == "count":
        return f"{f['value']:.0f}"
    v = f"{100 * f['value']:.0f} %" if f["unit"] == "ratio" else f"{f['value']:.2f} {f['unit']}"
    return f"{v} (n = {f['n']})"


def report(rep: dict) -> list[str]:
    """The lines ``lab up`` prints about the month's KPIs."""
    lines = [f"KPIs of {rep['periods'][0]} (docs/kpis.md; the KPI page shows them with plots and CSV):"]
    for key, label in LINES:
        lines.append(f"  {label:<52} {_show(rep['learning']['series'][key][0])}")
    lines.append(f"  {'remote-lab uptime in teaching windows':<52} {_show(rep['lab_uptime'][0])}")
    return lines
