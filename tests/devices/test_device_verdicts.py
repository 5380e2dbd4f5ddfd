"""The device verdict on every screen (issue 28, an outside billing office's try): "needs N
more reading days by DATE" aims at 99454 only while 16 days are still reachable, else at
99445, else says nothing more is reachable; an ended period says what it earned, never a
date in the past. The same verdict (billing.devices.period_verdict, carried by the month
summary) on `status`, the dashboard, the reminders and their dry run, `/rpm risk`,
`/rpm status` and App Home; and the dashboard's patient page lists the device periods as
`status --json` does. Today is 20 November 2026 (the test clock); counts only, never a
value."""

import json
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from bot import dispatch, grammar
from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service
from service.devices import reading_from
from service.patients import PatientFields
from service.reminders import ReminderOptions
from tests.backup.conftest import cli_env
from tests.cli.runner import Cli
from tests.conftest import FrozenClock
from tests.service.helpers import ADMIN, NURSE, seed
from tests.web.support import TOKEN, Page

VALUE = 187  # every reading's value: it must show nowhere

# P-1042: period 25 Oct - 23 Nov, 2 days: 4 days left, 16 out of reach, 99445 in
OUT_OF_REACH = ("99445 is in; nothing more is reachable this period (6 reading days at most "
                "by 2026-11-23)")
# P-2: episode ended 10 Nov, period 1-10 Nov with 3 days: it has ended
ENDED = "ended with 3 reading days: earned 99453 + 99445"
# P-3: period 1-30 Nov, 1 day: 11 days left, 12 at most: 99445 needs 1 more
AIM_99445 = "needs 1 more reading day by 2026-11-30 for 99445 (99454 is out of reach)"


def _read(svc: Service, patient: str, first: date, days: int, source: str = "webhook") -> None:
    serial = f"DEV-{patient}"
    svc.devices.add(serial, patient_ref=patient, kind="bp_cuff", from_day=date(2026, 10, 1),
                    actor="t")
    svc.devices.ingest([reading_from({
        "device_serial": serial, "kind": "blood_pressure", "values": {"systolic": VALUE},
        "measured_at": f"{first + timedelta(days=i)}T07:00:00-05:00"}) for i in range(days)],
        source=source, actor="t")


@pytest.fixture
def clinic(svc: Service) -> Service:
    seed(svc)  # P-1042, assigned to the nurse, no enrolment date
    _read(svc, "P-1042", date(2026, 10, 25), 2)
    for patient in ("P-2", "P-3"):
        svc.patients.add(patient, PatientFields(initials="EE" if patient == "P-2" else "FF",
                                                assign=NURSE, enrolled_on=date(2026, 10, 1),
                                                consent_on=date(2026, 10, 1)), actor="t")
    _read(svc, "P-2", date(2026, 11, 1), 3, source="csv")
    svc.patients.update("P-2", PatientFields(ended_on=date(2026, 11, 10)), actor="t")
    _read(svc, "P-3", date(2026, 11, 1), 1)
    return svc


def test_status_and_the_dashboard_aim_at_what_is_reachable(clinic: Service, db_url: str,
                                                          clock: FrozenClock) -> None:
    cli = Cli(cli_env(db_url), clock=clock)
    said = {p: cli("status", p, "--month", "2026-11").stdout for p in ("P-1042", "P-2", "P-3")}
    assert ("2 reading days (period 2026-10-25 to 2026-11-23): " + OUT_OF_REACH) \
        in said["P-1042"]
    assert "period 2026-11-01 to 2026-11-10 " + ENDED in said["P-2"]
    assert "1 reading day (period 2026-11-01 to 2026-11-30): " + AIM_99445 in said["P-3"]
    assert "by 2026-11-10" not in said["P-2"]  # was: needs 13 more ... by 2026-11-10
    verdict = json.loads(cli("status", "P-3", "--month", "2026-11", "--json").stdout)
    assert verdict["device_verdict"] == {
        "advice": AIM_99445, "ended": False, "days_left": 11, "aim": "99445",
        "reading_days_needed": 1, "by": "2026-11-30"}
    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=clinic)) as client:
        html = client.get("/?month=2026-11", headers={"Authorization": f"Bearer {TOKEN}"}).text
    days = [c.content for c in Page(html).find("td", class_="device-days")]
    # the ended period's cell counts its days (billing.devices.month_period), not 0
    assert sorted(days) == sorted(["2 " + OUT_OF_REACH, "3 " + ENDED, "1 " + AIM_99445])
    assert str(VALUE) not in html


def test_reminders_and_their_dry_run_name_only_what_a_call_can_still_win(
        clinic: Service, db_url: str, clock: FrozenClock) -> None:
    from presentation import blocks
    from reminders import messages

    plan = clinic.reminders.plan(date(2026, 11, 20), ReminderOptions())
    [dm] = [m for m in plan.messages if m.recipient == NURSE]
    # P-1042 (16 out of reach, 99445 in) and P-2 (ended 10 Nov) are not short of anything
    assert dm.short_of_readings == (("P-3 (FF)", 1, date(2026, 11, 30), "99445"),)
    sent = messages.text(dm) + str(blocks.reminder_blocks(dm))
    assert "P-3 (FF): needs 1 more reading day by 2026-11-30 for 99445" in sent
    # the dry run prints the device section the real message carries, line for line
    dry = Cli(cli_env(db_url), clock=clock)("remind", "--date", "2026-11-20", "--dry-run")
    assert f"dm {NURSE}: 2 patients, 1 short of device readings: would send" in dry.stdout
    for line in messages.short_of_readings_text(dm).replace("*", "").splitlines():
        assert f"    {line}\n" in dry.stdout, line
    assert str(VALUE) not in dry.stdout + sent


def test_slack_risk_status_and_home_show_device_days(clinic: Service) -> None:
    risk = str(dispatch.run(clinic, grammar.parse("risk"),
                            dispatch.Caller(ADMIN, "D0ADMIN")).blocks)
    assert "*P-1042 (JD)*" in risk and "*P-3 (FF)*" in risk  # at risk, each with its device
    assert "device 2 days: 99445, nothing more reachable this period" in risk
    assert "device 1/2 days by 2026-11-30 (99445)" in risk
    mine = str(dispatch.run(clinic, grammar.parse("status"),
                            dispatch.Caller(NURSE, "D0NURSE")).blocks)
    home = str(dispatch.home(clinic, NURSE))
    for shown in (mine, home):
        assert "device 1/2 days by 2026-11-30 (99445)" in shown
        assert "device period ended with 3 days: 99453 + 99445" in shown  # P-2
        assert "2026-11-10" not in shown and str(VALUE) not in shown
    one = str(dispatch.run(clinic, grammar.parse("status P-3"),
                           dispatch.Caller(NURSE, "D0NURSE")).blocks)
    assert AIM_99445 in one


def test_the_patient_page_lists_the_device_periods_as_status_json_does(
        clinic: Service, db_url: str, clock: FrozenClock) -> None:
    cli = Cli(cli_env(db_url), clock=clock)
    pages = {}
    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=clinic)) as client:
        for patient in ("P-1042", "P-2", "P-3"):
            status = json.loads(cli("status", patient, "--month", "2026-11", "--json").stdout)
            html = client.get(f"/patients/{patient}?month=2026-11",
                              headers={"Authorization": f"Bearer {TOKEN}"}).text
            assert str(VALUE) not in html
            page = pages[patient] = Page(html)
            assert [{"start": r.attrs["data-start"], "end": r.attrs["data-end"],
                     "days": int(r.attrs["data-days"]), "code": r.attrs["data-code"] or None}
                    for r in page.find("tr", class_="device-period")] == [
                {k: p[k] for k in ("start", "end", "days", "code")}
                for p in status["device_periods"]]
            assert page.one("dd", id="device-codes").content.split(" ")[0] == (
                status["device_codes_text"] or "none")
            assert page.one("dd", id="device-days").attrs["data-days"] == \
                str(status["device_days"])
    # each period with where its readings came from; the last one with its verdict
    [ended] = pages["P-2"].find("tr", class_="device-period")
    assert "csv (3 readings)" in ended.content and ENDED in ended.content
    assert pages["P-2"].one("dd", id="device-codes").content == "99453;99445 ($66.00)"
    [running] = pages["P-3"].find("tr", class_="device-period")
    assert "webhook (1 reading)" in running.content and AIM_99445 in running.content
    assert pages["P-3"].one("dd", id="device-codes").content == "none"
    assert OUT_OF_REACH in pages["P-1042"].one("dd", id="device-days").content
