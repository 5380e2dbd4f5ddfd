"""One dataset, every screen: the same patients and the same counts (issue 13 #3).

Each screen is read through what it calls: the service functions behind the report,
`--summary`, `/rpm risk`, reminders, App Home and the dashboard, plus the dashboard's HTML,
`/rpm report` and the CLI report through their adapters. The reproduction: a patient added
with `/rpm patient add P-2000 QQ` (no enrolment date, nothing logged) was at risk on the
dashboard but missing from the report, and the dashboard counted 7 enrolled where the CLI and
Slack counted 6.
"""

import csv
import io
import json
from datetime import UTC, date, datetime

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from billing.months import Month
from bot import dispatch, grammar
from configuration.settings import Settings, get_settings
from rpm_logger.app import create_app
from rpm_logger.cli import cli
from service import Service
from service.patients import PatientFields
from service.reminders import ReminderOptions
from tests.service.helpers import ADMIN, DOCTOR, NURSE, log, seed
from tests.web.support import TOKEN, Page

NOV = Month(2026, 11)
TODAY = date(2026, 11, 20)  # the test clock's clinic day

IN_NOVEMBER = {"P-1042", "P-2000", "P-2001", "P-2002", "P-NOCONSENT"}
AT_RISK = IN_NOVEMBER - {"P-1042"}
BILLABLE = {"P-1042", "P-2001"}


@pytest.fixture
def clinic(svc: Service) -> Service:
    """In November: P-1042 (no enrolment date, 25 min live: 99457), P-2001 (enrolled, 12 min
    live: 99470), P-2002 (no enrolment date, 5 min), P-NOCONSENT (enrolled on the 1st,
    nothing logged) and P-2000 (added from Slack with nothing else). Not in it: P-OLD (ended
    in October, with October time) and P-LATER (enrolled from December)."""
    seed(svc)
    log(svc, "25m", "call", started_at=datetime(2026, 11, 3, 15, tzinfo=UTC))
    svc.patients.add("P-2001", PatientFields(initials="AB", assign=DOCTOR,
                                             enrolled_on=date(2026, 1, 1),
                                             consent_on=date(2026, 9, 1), ordered_by=DOCTOR,
                                             order_on=date(2026, 9, 1)), actor="t")
    log(svc, "12m", "call", patient="P-2001", staff=DOCTOR,
        started_at=datetime(2026, 11, 5, 15, tzinfo=UTC))
    svc.patients.add("P-2002", PatientFields(initials="CK", assign=NURSE,
                                             consent_on=date(2026, 9, 2)), actor="t")
    log(svc, "5m", patient="P-2002", started_at=datetime(2026, 11, 18, 15, tzinfo=UTC))
    svc.patients.add("P-OLD", PatientFields(initials="OL", enrolled_on=date(2026, 1, 1),
                                            consent_on=date(2026, 1, 1)), actor="t")
    log(svc, "30m", "call", patient="P-OLD", started_at=datetime(2026, 10, 5, 15, tzinfo=UTC))
    svc.patients.update("P-OLD", PatientFields(ended_on=date(2026, 10, 31)), actor="t")
    svc.patients.add("P-LATER", PatientFields(initials="LA", enrolled_on=date(2026, 12, 1)),
                     actor="t")
    svc.patients.add("P-NOCONSENT", PatientFields(initials="NC", assign=DOCTOR,
                                                  enrolled_on=date(2026, 11, 1)), actor="t")
    svc.admin.add_patient(ADMIN, "P-2000", "QQ")  # what `/rpm patient add P-2000 QQ` runs
    return svc


def _ids(rows: object) -> set[str]:
    return {r.summary.patient_id for r in rows}  # type: ignore[attr-defined]


def test_service_screens_agree(clinic: Service) -> None:
    report = clinic.months.report(NOV)
    assert {s.patient_id for s in report} == IN_NOVEMBER
    totals = clinic.months.totals(NOV, TODAY)  # --summary, /rpm report, reminders' channel
    assert (totals.patients, totals.billable, totals.at_risk) == (
        len(IN_NOVEMBER), len(BILLABLE), len(AT_RISK))
    assert {s.patient_id for s in report if s.codes} == BILLABLE
    assert _ids(clinic.months.with_risk(NOV, TODAY)) == IN_NOVEMBER  # dashboard rows
    assert _ids(clinic.dashboard.rows(NOV)) == IN_NOVEMBER
    assert _ids(clinic.months.at_risk(NOV, TODAY)) == AT_RISK  # /rpm risk
    plan = clinic.reminders.plan(TODAY, ReminderOptions(channel="C0REMIND"))
    reminded = {p.summary.patient_id for m in plan.messages if m.kind == "dm"
                for p in m.patients}
    channel = next(m for m in plan.messages if m.kind == "channel")
    assert reminded | _ids(channel.patients) == AT_RISK
    assert sum(channel.counts.values()) == totals.at_risk
    for staff in (NURSE, DOCTOR):  # App Home and /rpm mine: the report's rows, assigned
        assert _ids(clinic.chat_entries.caseload(staff, NOV)) == {
            s.patient_id for s in report if s.assigned_to == staff}
    assert clinic.dashboard.code_series(NOV).patients == len(IN_NOVEMBER)


def test_adapters_agree(clinic: Service, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # the dashboard's HTML
    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=clinic)) as client:
        html = client.get("/?month=2026-11", headers={"Authorization": f"Bearer {TOKEN}"}).text
    page = Page(html)
    assert {e.attrs["data-patient"] for e in page.find("tr", class_="patient")} == IN_NOVEMBER
    assert tuple(page.one("div", id="count-" + name).content
                 for name in ("patients", "billable", "at-risk")) == (
        str(len(IN_NOVEMBER)), str(len(BILLABLE)), str(len(AT_RISK)))
    assert page.one("svg").attrs["data-patients"] == str(len(IN_NOVEMBER))
    # /rpm report (the Slack CSV and its totals)
    caller = dispatch.Caller(ADMIN, "D0ADMIN")
    sent = dispatch.report(clinic, grammar.Report("2026-11"), caller)
    assert isinstance(sent, dispatch.ReportFile)
    assert {r["patient_id"] for r in csv.DictReader(io.StringIO(sent.content))} == IN_NOVEMBER
    assert (sent.totals.patients, sent.totals.at_risk) == (len(IN_NOVEMBER), len(AT_RISK))
    # /rpm risk
    risk = dispatch.run(clinic, grammar.parse("risk"), caller)
    assert risk.text == f"{len(AT_RISK)} patients at risk this month"
    # the CLI report, in process on the same service (and its frozen clock)
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    monkeypatch.setattr("rpm_logger.wiring.build_service", lambda settings, **_: clinic)
    runner = CliRunner()
    table = runner.invoke(cli, ["report", "--month", "2026-11", "--format", "json"])
    assert table.exit_code == 0, table.output
    assert {row["patient_id"] for row in json.loads(table.output)} == IN_NOVEMBER
    summary = runner.invoke(cli, ["report", "--month", "2026-11", "--summary", "--format",
                                  "json"])
    assert summary.exit_code == 0, summary.output
    numbers = json.loads(summary.output)
    assert (numbers["patients"], numbers["billable"], numbers["at_risk"]) == (
        len(IN_NOVEMBER), len(BILLABLE), len(AT_RISK))
    get_settings.cache_clear()
