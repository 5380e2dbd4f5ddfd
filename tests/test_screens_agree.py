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


# The device half (issue 28): P-1042 17 reading days from 20 October (a period to 18
# November: 99453 + 99454 in November), P-2001 3 days from 1 November (99453 + 99445),
# P-2002 1 day (nothing).
DEVICE_CODES = {"P-1042": "99453;99454", "P-2001": "99453;99445"}


def _readings(clinic: Service) -> None:
    from datetime import timedelta

    from service.devices import reading_from

    plan = {"P-1042": (date(2026, 10, 20), 17), "P-2001": (date(2026, 11, 1), 3),
            "P-2002": (date(2026, 11, 18), 1)}
    for n, (patient, (first, days)) in enumerate(plan.items()):
        clinic.devices.add(f"DEV-{n}", patient_ref=patient, kind="bp_cuff",
                           from_day=date(2026, 10, 1), actor="t")
        clinic.devices.ingest([reading_from({
            "device_serial": f"DEV-{n}", "kind": "blood_pressure", "values": {"systolic": 1},
            "measured_at": f"{first + timedelta(days=i)}T12:00:00-05:00"})
            for i in range(days)], source="webhook", actor="t")


def test_every_screen_agrees_on_device_codes(clinic: Service, db_url: str, clock: object,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from billing.codes import format_codes

    _readings(clinic)

    def shown(codes: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in codes.items() if v}

    report = {s.patient_id: format_codes(s.device_codes) for s in clinic.months.report(NOV)}
    assert shown(report) == DEVICE_CODES
    status = {p: format_codes(clinic.months.summary(p, NOV).device_codes) for p in IN_NOVEMBER}
    assert shown(status) == DEVICE_CODES
    dashboard = {r.summary.patient_id: format_codes(r.summary.device_codes)
                 for r in clinic.dashboard.rows(NOV)}
    assert shown(dashboard) == DEVICE_CODES
    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=clinic)) as client:
        html = client.get("/?month=2026-11", headers={"Authorization": f"Bearer {TOKEN}"}).text
        # each patient's page: the month's device codes and the periods `status` lists
        pages = {p: Page(client.get(f"/patients/{p}?month=2026-11",
                                    headers={"Authorization": f"Bearer {TOKEN}"}).text)
                 for p in IN_NOVEMBER}
    cells = {e.attrs["data-patient"]: e.content for e in Page(html).find("tr", class_="patient")}
    for patient, codes in DEVICE_CODES.items():
        assert f" {codes} " in f" {cells[patient]} "
    patient_pages = {p: page.one("dd", id="device-codes").content.split(" ")[0]
                     for p, page in pages.items()}
    assert {p: c for p, c in patient_pages.items() if c != "none"} == DEVICE_CODES
    for patient, page in pages.items():
        summary = clinic.months.summary(patient, NOV)
        assert [(r.attrs["data-start"], r.attrs["data-end"], int(r.attrs["data-days"]))
                for r in page.find("tr", class_="device-period")] == [
            (str(p.start), str(p.end), p.day_count) for p in summary.device_periods]
    caller = dispatch.Caller(ADMIN, "D0ADMIN")
    sent = dispatch.report(clinic, grammar.Report("2026-11"), caller)
    assert isinstance(sent, dispatch.ReportFile)
    slack_csv = {r["patient_id"]: r["device_codes"]
                 for r in csv.DictReader(io.StringIO(sent.content))}
    assert shown(slack_csv) == DEVICE_CODES
    rpm_status = dispatch.run(clinic, grammar.parse("status P-2001"),
                              dispatch.Caller(DOCTOR, "D0DOC"))
    assert "device codes: 99453 + 99445" in str(rpm_status.blocks)
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    monkeypatch.setattr("rpm_logger.wiring.build_service", lambda settings, **_: clinic)
    table = CliRunner().invoke(cli, ["report", "--month", "2026-11", "--format", "json"])
    cli_json = {r["patient_id"]: r["device_codes_text"] for r in json.loads(table.output)}
    assert shown(cli_json) == DEVICE_CODES
    get_settings.cache_clear()
    packets = {p: clinic.audit_packets.packet(p, NOV).content["month"]["devices"]["codes_text"]
               for p in IN_NOVEMBER}
    assert shown(packets) == DEVICE_CODES
    # the close of November records the same codes (once the month has ended)
    clock.now = datetime(2026, 12, 3, 15, tzinfo=UTC)  # type: ignore[attr-defined]
    closed = clinic.closes.close(NOV, by="billing")
    assert closed.device_units == {"99453": 2, "99454": 1, "99445": 1}
