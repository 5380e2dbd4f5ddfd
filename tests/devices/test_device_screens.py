"""Where the device half shows (issue 28): `status --json` (device_codes, device_days,
device_periods) and `report --format json` (device_codes), in the month of each period's
date of service, on both databases."""

import csv
import io
import json
from datetime import date, timedelta

import pytest

from billing.months import Month
from service import Service
from service.devices import reading_from
from service.patients import PatientFields
from tests.backup.conftest import cli_env
from tests.cli.runner import Cli
from tests.conftest import FrozenClock
from tests.service.helpers import seed


def lend_and_read(svc: Service, first: date, days: int, serial: str = "BP-0042") -> None:
    svc.devices.add(serial, patient_ref="P-1042", kind="bp_cuff", from_day=date(2026, 10, 1),
                    actor="test")
    svc.devices.ingest([reading_from({
        "device_serial": serial, "kind": "blood_pressure", "values": {"systolic": 120},
        "measured_at": f"{first + timedelta(days=i)}T07:00:00-05:00"}) for i in range(days)],
        source="webhook", actor="webhook")


@pytest.fixture
def cli(svc: Service, db_url: str, clock: FrozenClock) -> Cli:
    seed(svc)  # P-1042: consent 2026-10-01
    lend_and_read(svc, date(2026, 10, 20), 17)  # 20 Oct - 18 Nov: November's claim
    return Cli(cli_env(db_url), clock=clock)


def test_status_json_has_the_device_half(cli: Cli) -> None:
    november = json.loads(cli("status", "P-1042", "--month", "2026-11", "--json").stdout)
    assert november["device_codes"] == [{"code": "99453", "units": 1},
                                        {"code": "99454", "units": 1}]
    assert november["codes"] == []  # the time codes are apart
    assert november["device_days"] == 0  # today (20 Nov) is in the second period, no days
    assert november["device_periods"] == [
        {"start": "2026-10-20", "end": "2026-11-18", "days": 17, "code": "99454",
         "codes": [{"code": "99453", "units": 1}, {"code": "99454", "units": 1}]},
        {"start": "2026-11-19", "end": "2026-12-18", "days": 0, "code": None, "codes": []}]
    october = json.loads(cli("status", "P-1042", "--month", "2026-10", "--json").stdout)
    # October's device days: its last day's period, counted up to 31 October (12 of its 17)
    assert october["device_codes"] == [] and october["device_days"] == 12


def test_report_json_lists_device_codes(cli: Cli) -> None:
    rows = json.loads(cli("report", "--month", "2026-11", "--format", "json").stdout)
    [row] = [r for r in rows if r["patient_id"] == "P-1042"]
    assert [c["code"] for c in row["device_codes"]] == ["99453", "99454"]


def test_status_text_and_report_csv_and_table(cli: Cli) -> None:
    november = cli("status", "P-1042", "--month", "2026-11").stdout
    assert "Device codes  99453;99454 ($66.00)" in november
    assert ("Device days   0 reading days (period 2026-11-19 to 2026-12-18): needs 16 more "
            "reading days by 2026-12-18 for 99454") in november
    october = cli("status", "P-1042", "--month", "2026-10").stdout
    assert ("12 reading days by 2026-10-31 (period 2026-10-20 to 2026-11-18; its codes are "
            "2026-11's)") in october
    csv_text = cli("report", "--month", "2026-11", "--format", "csv").stdout
    header, row = csv_text.splitlines()[0].split(","), csv_text.splitlines()[1]
    assert header[-4:] == ["device_codes", "device_amount", "device_days", "device_days_text"]
    assert "99453;99454,66.00,0," in row
    assert "99453;99454 ($66.00)" in cli("report", "--month", "2026-11").stdout


def _report_csv(cli: Cli, month: str) -> dict[str, dict[str, str]]:
    text = cli("report", "--month", month, "--format", "csv").stdout
    return {row["patient_id"]: row for row in csv.DictReader(io.StringIO(text))}


def test_a_past_month_keeps_its_device_days_when_the_patient_ends_and_enrols_again(
        svc: Service, db_url: str, clock: FrozenClock) -> None:
    seed(svc)
    svc.patients.update("P-1042", PatientFields(enrolled_on=date(2026, 10, 1)), actor="t")
    lend_and_read(svc, date(2026, 10, 20), 32)  # every day, 20 October to 20 November (today)
    cli = Cli(cli_env(db_url), clock=clock)

    def october() -> tuple[object, ...]:
        status = json.loads(cli("status", "P-1042", "--month", "2026-10", "--json").stdout)
        [report] = [r for r in json.loads(cli("report", "--month", "2026-10", "--format",
                                              "json").stdout) if r["patient_id"] == "P-1042"]
        row = _report_csv(cli, "2026-10")["P-1042"]
        # the CSV gives JSON's number; its words go in a column of their own
        assert row["device_days"] == str(status["device_days"]) == str(report["device_days"])
        return (status["device_days"], status["device_codes"], row["device_days_text"],
                status["device_periods"][0])

    before = october()
    # no period ends in October: the one holding 31 October (20 October - 18 November),
    # counted to that day: 12 days; no device code
    assert before[:3] == (12, [], "12 reading days by 2026-10-31 (period 2026-10-20 to "
                          "2026-11-18; its codes are 2026-11's)")
    svc.patients.end("P-1042", on=date(2026, 11, 5), actor="t")
    svc.patients.enrol("P-1042", on=date(2026, 11, 10), actor="t")
    after = october()
    # the period is clipped to the first episode's end (5 November): its days after that
    # are the new episode's, and October's figure never counted them
    assert after[:2] == before[:2]
    assert after[2] == ("12 reading days by 2026-10-31 (period 2026-10-20 to 2026-11-05; its "
                        "codes are 2026-11's)")
    november = json.loads(cli("status", "P-1042", "--month", "2026-11", "--json").stdout)
    assert [(p["start"], p["end"], p["days"], p["code"]) for p in november["device_periods"]] \
        == [("2026-10-20", "2026-11-05", 17, "99454"), ("2026-11-10", "2026-12-09", 11, "99445")]
    assert november["device_days"] == 11  # the new episode's running period, to today
    assert november["device_codes"] == [{"code": "99453", "units": 1},
                                        {"code": "99454", "units": 1}]
    assert _report_csv(cli, "2026-11")["P-1042"]["device_days"] == "11"


def test_the_close_records_the_device_codes(svc: Service, db_url: str,
                                           clock: FrozenClock) -> None:
    seed(svc)
    svc.patients.update("P-1042", PatientFields(enrolled_on=date(2026, 10, 1)), actor="t")
    lend_and_read(svc, date(2026, 10, 1), 16)  # 1-30 October: October's claim
    cli = Cli(cli_env(db_url), clock=clock)
    from presentation import blocks, render

    preview = svc.closes.preview(Month(2026, 10))
    text = render.close_preview_text(preview)  # the device dollars beside the time's
    assert "$0.00, device codes 99453 x1, 99454 x1 ($66.00)" in text
    assert ("Later logs, voids, call attachments, reading imports, device attaches and "
            "back-dated device ends dated in it need an amendment") in text
    slack = str(blocks.close_confirm_reply(preview).blocks)
    assert "device codes 99453 ×1, 99454 ×1 ($66.00)" in slack and "reading imports" in slack
    closed = cli("month", "close", "2026-10", "--yes", "--by", "billing")
    assert "device codes 99453 x1, 99454 x1 ($66.00)" in closed.stdout + closed.stderr
    shown = cli("month", "show", "2026-10").stdout
    assert "closed by billing" in shown and "device codes 99453 x1, 99454 x1 ($66.00)" in shown
    status = json.loads(cli("status", "P-1042", "--month", "2026-10", "--json").stdout)
    assert status["billed_at_close"]["differs"] is False  # device codes are kept apart


def test_the_packet_lists_each_counted_day_and_older_formats_verify(
        svc: Service, db_url: str, clock: FrozenClock) -> None:
    from presentation import packet as printing
    from service.audit_packets import FORMAT, as_format

    seed(svc)
    lend_and_read(svc, date(2026, 10, 20), 17)
    svc.devices.ingest([reading_from({  # a second reading on one day: one day, two readings
        "device_serial": "BP-0042", "kind": "weight", "values": {"kg": 80.5},
        "measured_at": "2026-11-03T18:00:00-05:00"})], source="csv", actor="cli:t")
    packet = svc.audit_packets.packet("P-1042", Month(2026, 11))
    assert FORMAT == "rpm-logger audit packet v7"
    devices = packet.content["month"]["devices"]
    assert devices["codes_text"] == "99453;99454"
    # the period 19 Nov - 18 Dec has no reading day by 30 November: not listed (v7)
    assert devices["periods"] == [{"start": "2026-10-20", "end": "2026-11-18",
                                   "date_of_service": "2026-11-18", "days": 17,
                                   "counted_through": "2026-11-18",
                                   "codes_text": "99453;99454"}]
    assert {"day": "2026-11-03", "readings": 2, "sources": ["csv", "webhook"]} \
        in devices["days"]
    page = printing.html(packet)
    assert "Device readings (clinic days)" in page and "80.5" not in page
    older = as_format(packet.content, "rpm-logger audit packet v5")
    assert "devices" not in older["month"]
    check = svc.audit_packets.verify(json.loads(printing.canonical_json(older)))  # no head
    assert check.changes == ()  # a v5 packet printed before keeps verifying


def test_reminders_and_the_summary_name_patients_short_of_readings(cli: Cli,
                                                                   svc: Service) -> None:
    from presentation import blocks
    from reminders import messages
    from service.reminders import ReminderOptions

    # P-1042 (assigned to the nurse): the period from 19 November has no reading day yet
    plan = svc.reminders.plan(date(2026, 11, 20), ReminderOptions())
    [dm] = [m for m in plan.messages if m.recipient == "U01NURSE"]
    assert dm.short_of_readings == (("P-1042 (JD)", 16, date(2026, 12, 18), "99454"),)
    shown = messages.text(dm) + str(blocks.reminder_blocks(dm))
    assert "P-1042 (JD): needs 16 more reading days by 2026-12-18 for 99454" in shown
    assert "120" not in shown  # a reading's value, never
    summary = cli("report", "--month", "2026-11", "--summary").stdout
    assert "Device codes" in summary and "99453 x1, 99454 x1 ($66.00)" in summary
    assert "1 patient whose device period still needs reading days: 1 for 99454" in summary
    numbers = json.loads(cli("report", "--month", "2026-11", "--summary", "--format",
                             "json").stdout)
    assert numbers["device_units"] == {"99453": 1, "99454": 1}
    assert numbers["short_of_readings"] == 1


def test_the_summary_counts_short_of_readings_under_the_code_aimed_at(
        cli: Cli, svc: Service) -> None:
    # P-2000's period from 1 November has 1 day on 20 November: 16 is out of reach (at
    # most 12), 99445 is its aim; the summary never calls it short "for 99454"
    svc.patients.add("P-2000", PatientFields(initials="QQ", consent_on=date(2026, 10, 1)),
                     actor="test")
    svc.devices.add("SC-7", patient_ref="P-2000", kind="scale", from_day=date(2026, 11, 1),
                    actor="test")
    svc.devices.ingest([reading_from({
        "device_serial": "SC-7", "kind": "weight", "values": {"kg": 80},
        "measured_at": "2026-11-01T07:00:00-05:00"})], source="webhook", actor="webhook")
    summary = cli("report", "--month", "2026-11", "--summary").stdout
    assert ("2 patients whose device period still needs reading days: 1 for 99454, "
            "1 for 99445") in summary
    numbers = json.loads(cli("report", "--month", "2026-11", "--summary", "--format",
                             "json").stdout)
    assert (numbers["short_of_readings"], numbers["short_of_readings_for"]) == (
        2, {"99454": 1, "99445": 1})


def test_a_reminder_plans_device_section_is_judged_on_its_own_day(
        cli: Cli, svc: Service, clock: FrozenClock) -> None:
    from service.reminders import ReminderOptions

    # P-2000 (the nurse's too): 3 reading days from 2 November; its first period ends on
    # 1 December, the next starts on 2 December
    svc.patients.add("P-2000", PatientFields(initials="QQ", consent_on=date(2026, 10, 1),
                                             assign="U01NURSE"), actor="test")
    svc.devices.add("SC-7", patient_ref="P-2000", kind="scale", from_day=date(2026, 11, 1),
                    actor="test")
    svc.devices.ingest([reading_from({
        "device_serial": "SC-7", "kind": "weight", "values": {"kg": 80},
        "measured_at": f"2026-11-0{d}T07:00:00-05:00"}) for d in (2, 3, 4)],
        source="webhook", actor="webhook")

    def short(day: date) -> tuple[tuple[object, ...], ...]:
        plan = svc.reminders.plan(day, ReminderOptions())
        return next((m.short_of_readings for m in plan.messages
                     if m.recipient == "U01NURSE"), ())

    # a future day (today is 20 November): the periods as they will stand then, with the
    # readings measured by today; P-2000's new period from 2 December is judged too
    assert short(date(2026, 12, 15)) == (
        ("P-1042 (JD)", 2, date(2026, 12, 18), "99445"),
        ("P-2000 (QQ)", 16, date(2026, 12, 31), "99454"))
    preview = svc.reminders.preview(date(2026, 12, 15), ReminderOptions())
    assert any("device reading days measured by today" in n for n in preview.plan.notes)
    # a past day (today is 16 December): as it stood on 20 November, not "the month is over"
    clock.advance(days=26)
    svc.devices.ingest([reading_from({
        "device_serial": "BP-0042", "kind": "blood_pressure", "values": {"systolic": 120},
        "measured_at": f"2026-12-0{d}T07:00:00-05:00"}) for d in range(1, 4)],
        source="webhook", actor="webhook")  # measured after 20 November: not seen then
    # (P-2000's 3 days are 99445's; 16 is out of reach by 1 December: not short)
    assert short(date(2026, 11, 20)) == (("P-1042 (JD)", 16, date(2026, 12, 18), "99454"),)


def test_the_dashboard_says_how_many_reading_days_are_missing(cli: Cli, svc: Service) -> None:
    from fastapi.testclient import TestClient

    from configuration.settings import Settings
    from rpm_logger.app import create_app
    from tests.web.support import TOKEN, Page

    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=svc)) as client:
        html = client.get("/?month=2026-11", headers={"Authorization": f"Bearer {TOKEN}"}).text
    [cell] = [e for e in Page(html).find("td", class_="device-days")]
    assert cell.content == "0 needs 16 more reading days by 2026-12-18 for 99454"


def test_a_past_months_device_days_are_the_period_it_bills_on_every_screen(
        cli: Cli, svc: Service, clock: FrozenClock) -> None:
    from fastapi.testclient import TestClient

    from configuration.settings import Settings
    from rpm_logger.app import create_app
    from tests.web.support import TOKEN, Page

    clock.advance(days=15)  # 5 December: November is over
    words = ("period 2026-10-20 to 2026-11-18 ended with 17 reading days: "
             "earned 99453 + 99454")
    status = cli("status", "P-1042", "--month", "2026-11").stdout
    assert "Device codes  99453;99454 ($66.00)" in status
    assert f"Device days   {words}" in status  # not the next period's 0 days
    data = json.loads(cli("status", "P-1042", "--month", "2026-11", "--json").stdout)
    assert data["device_days"] == 17
    [report] = [r for r in json.loads(cli("report", "--month", "2026-11", "--format",
                                          "json").stdout) if r["patient_id"] == "P-1042"]
    assert report["device_days"] == 17
    row = _report_csv(cli, "2026-11")["P-1042"]
    assert (row["device_days"], row["device_days_text"]) == ("17", words)
    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=svc)) as client:
        html = client.get("/?month=2026-11", headers={"Authorization": f"Bearer {TOKEN}"}).text
    [cell] = [e for e in Page(html).find("td", class_="device-days")]
    assert cell.content == "17" and cell.attrs["title"] == words
    from service.month_words import device_words
    assert device_words(svc.months.summary("P-1042", Month(2026, 11), by_phone=False,
                                           reply=True)) == words  # Slack's reply
