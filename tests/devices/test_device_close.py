"""Device codes and closed months (outside billing office's findings on issue 28), on both
databases.

1. A reading that arrives after a month's close and would change the month's device codes is
   treated like a late time entry: the vendor's webhook (which cannot give a reason) keeps
   it and the month shows its device codes changed since close; a CSV import, an attach or
   a back-dated device end is refused unless it is an amendment (`--amend REASON`).
2. The close preview lists each patient's device codes beside the time codes, and a month
   whose only codes are device codes is not "nothing to bill"; preview, close record and
   `report --format json` agree on the device codes.
"""

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest

from billing.audit_checks import NO_ORDER
from billing.codes import format_codes
from billing.months import Month
from presentation import blocks, render
from service import Service
from service.devices import reading_from
from service.patients import PatientFields
from tests.backup.conftest import cli_env
from tests.cli.runner import Cli
from tests.conftest import FrozenClock
from tests.service.helpers import DOCTOR, seed

OCT = Month(2026, 10)
CHANGED = ("device codes changed since close: billed 99453;99445 at close, supports "
           "99453;99454 now")


def _readings(days: range, serial: str = "BP-0042") -> list[dict[str, object]]:
    return [{"device_serial": serial, "kind": "blood_pressure", "values": {"systolic": 120},
             "measured_at": f"2026-10-{day:02d}T07:00:00-04:00"} for day in days]


def _ingest(svc: Service, days: range, source: str = "webhook", serial: str = "BP-0042"):  # type: ignore[no-untyped-def]
    return svc.devices.ingest([reading_from(r) for r in _readings(days, serial)],
                              source=source, actor=f"devices:{source}")


def _csv(path: Path, days: range, serial: str = "BP-0042") -> str:
    lines = ["device_serial,measured_at,kind,systolic"]
    lines += [f"{serial},2026-10-{day:02d}T07:00:00-04:00,blood_pressure,120" for day in days]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _enrolled_in_october(svc: Service) -> None:
    seed(svc)  # P-1042: consent 2026-10-01, order on file
    svc.patients.update("P-1042", PatientFields(enrolled_on=date(2026, 10, 1)), actor="t")


@pytest.fixture
def closed(svc: Service, clock: FrozenClock) -> Service:
    """P-1042's period 1-30 October with 10 reading days (99453 + 99445), October closed."""
    _enrolled_in_october(svc)
    svc.devices.add("BP-0042", patient_ref="P-1042", kind="bp_cuff",
                    from_day=date(2026, 10, 1), actor="test")
    _ingest(svc, range(1, 11))
    svc.closes.close(OCT, by="cli:billing")
    clock.advance(minutes=5)
    return svc


def _october(svc: Service):  # type: ignore[no-untyped-def]
    return next(r for r in svc.months.report(OCT) if r.patient_id == "P-1042")


def test_a_vendor_reading_after_close_is_kept_and_the_month_shows_the_change(
        closed: Service) -> None:
    before = _october(closed).billed_at_close
    assert before is not None and not before.differs
    assert format_codes(before.device_codes or ()) == "99453;99445"

    result = _ingest(closed, range(11, 17))  # 16 days now: 99454 instead of 99445
    assert result.stored == 6  # never dropped: the webhook cannot give a reason
    assert [(c.month, c.patient, format_codes(c.before), format_codes(c.after))
            for c in result.closed_changes] == [
        ("2026-10", "P-1042 (JD)", "99453;99445", "99453;99454")]

    row = _october(closed)
    assert [c.code for c in row.device_codes] == ["99453", "99454"]
    billed = row.billed_at_close
    assert billed is not None and billed.differs and billed.device_differs
    assert billed.codes_text == "none"  # the time codes did not change
    assert "6 device readings received after close (webhook" in billed.cause
    assert billed.follow_up == "corrected claim replacing 99445 with 99454 (+$0.00)"
    # every surface that says "changed since close" says it of the device codes too
    assert CHANGED in render.summary_text(row)
    since = next(csv.DictReader(io.StringIO(render.report_csv([row]))))["since_close"]
    assert CHANGED in since and "webhook" in since
    data = row.as_json()["billed_at_close"]
    assert (data["device_codes_text"], data["device_differs"]) == ("99453;99445", True)
    totals = closed.months.totals(OCT)
    [difference] = totals.changed_since_close
    assert (difference.device_billed, difference.device_supported) == ("99453;99445",
                                                                       "99453;99454")
    assert CHANGED in render.totals_text(totals)
    assert difference.as_json()["device_supported"] == "99453;99454"
    assert "device codes changed since close" in blocks.totals_text(totals)
    assert "99454" in blocks.totals_text(totals)


def test_the_dashboard_month_and_patient_pages_show_a_device_change(closed: Service) -> None:
    from fastapi.testclient import TestClient

    from configuration.settings import Settings
    from rpm_logger.app import create_app
    from tests.web.support import TOKEN, Page

    _ingest(closed, range(11, 17))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=closed)) as client:
        month = Page(client.get("/?month=2026-10", headers=auth).text)
        patient = Page(client.get("/patients/P-1042?month=2026-10", headers=auth).text)
    table = month.one("div", id="changed-since-close").content
    assert "P-1042" in table and "99453;99445" in table and "99453;99454" in table
    block = patient.one("div", id="changed-since-close").content
    assert CHANGED in block and "webhook" in block


def test_an_import_attach_or_end_that_changes_a_closed_month_needs_an_amendment(
        closed: Service, db_url: str, clock: FrozenClock, tmp_path: Path) -> None:
    cli = Cli(cli_env(db_url), clock=clock)
    # a reading that leaves October's codes as billed needs nothing (11 days: still 99445)
    assert "stored 1" in cli("import", "readings", _csv(tmp_path / "a.csv", range(11, 12))
                             ).stdout
    late = _csv(tmp_path / "b.csv", range(12, 17))
    for dry in ((), ("--dry-run",)):
        refused = cli("import", "readings", late, *dry, code=2)
        assert "2026-10 is closed (billed)" in refused.stderr
        assert "P-1042 (JD): 99453;99445 now, 99453;99454 with them" in refused.stderr
        assert "--amend REASON" in refused.stderr
    assert closed.devices.status("P-1042").periods[0].day_count == 11  # nothing stored
    amended = cli("import", "readings", late, "--amend", "vendor exported October late")
    assert "stored 5" in amended.stdout
    assert "amends 2026-10: P-1042 (JD) device codes 99453;99445 -> 99453;99454" \
        in amended.stdout
    cause = _october(closed).billed_at_close.cause  # type: ignore[union-attr]
    assert cause == ("amendment: device readings imported after close "
                     "(vendor exported October late)")
    shown = cli("month", "show", "2026-10").stdout
    assert CHANGED in shown and "vendor exported October late" in shown
    assert CHANGED in cli("status", "P-1042", "--month", "2026-10").stdout
    assert CHANGED in cli("report", "--month", "2026-10").stdout

    # a back-dated end takes readings out of October: 12 days left of 16, 99454 -> 99445
    refused = cli("device", "end", "BP-0042", "--on", "2026-10-12", code=2)
    assert "2026-10 is closed (billed)" in refused.stderr and "--amend REASON" in refused.stderr
    assert closed.devices.status("P-1042").periods[0].day_count == 16
    cli("device", "end", "BP-0042", "--on", "2026-10-12", "--amend", "cuff returned early")
    assert closed.devices.status("P-1042").periods[0].day_count == 12

    # an unknown serial's readings wait unmatched; attaching them to October is an amendment
    _ingest(closed, range(20, 26), serial="SC-9")
    cli("device", "add", "SC-9", "--patient", "P-1042", "--kind", "scale", "--from",
        "2026-10-13")
    refused = cli("device", "attach", "SC-9", code=2)
    assert "2026-10 is closed (billed)" in refused.stderr
    assert "0 readings attached" not in refused.stdout
    attached = cli("device", "attach", "SC-9", "--amend", "scale registered late")
    assert "6 readings attached" in attached.stdout
    cause = _october(closed).billed_at_close.cause  # type: ignore[union-attr]
    assert "scale registered late" in cause and "cuff returned early" in cause
    # the audit packet lists them among October's amendments, and November's lists none
    amendments = closed.audit_packets.packet("P-1042", OCT).content["amendments"]
    assert [(a["kind"], a["reason"]) for a in amendments] == [
        ("device codes changed", "vendor exported October late"),
        ("device codes changed", "cuff returned early"),
        ("device codes changed", "scale registered late")]
    assert "device codes 99453;99445 -> 99453;99454" in amendments[0]["fields"]
    assert closed.audit_packets.packet("P-1042", Month(2026, 11)).content["amendments"] == []


def test_a_month_of_device_codes_only_is_billed_and_the_screens_agree(
        svc: Service, db_url: str, clock: FrozenClock) -> None:
    _enrolled_in_october(svc)
    svc.patients.add("P-2000", PatientFields(  # no order on file: held, device codes too
        initials="QQ", consent_on=date(2026, 9, 1), enrolled_on=date(2026, 10, 1),
        provider=DOCTOR), actor="t")
    for serial, patient in (("BP-0042", "P-1042"), ("BP-0043", "P-2000")):
        svc.devices.add(serial, patient_ref=patient, kind="bp_cuff",
                        from_day=date(2026, 10, 1), actor="test")
        _ingest(svc, range(1, 17), serial=serial)  # 16 days: 99453 + 99454, no time at all
    cli = Cli(cli_env(db_url), clock=clock)
    report = {r["patient_id"]: r for r in json.loads(
        cli("report", "--month", "2026-10", "--format", "json").stdout)}
    assert [c["code"] for c in report["P-1042"]["device_codes"]] == ["99453", "99454"]
    assert report["P-2000"]["held"] == [NO_ORDER]

    preview = svc.closes.preview(OCT)
    assert (preview.billable, preview.units, preview.device_units) == (
        1, {}, {"99453": 1, "99454": 1})
    assert [(p.patient, format_codes(p.codes), format_codes(p.device_codes))
            for p in preview.by_patient] == [("P-1042 (JD)", "", "99453;99454")]
    text = render.close_preview_text(preview)
    assert "Nothing in 2026-10 to bill" not in text
    assert "P-1042 (JD): time codes none; device codes 99453;99454" in text
    assert "P-2000 (QQ): no order on file" in text  # held, listed as held
    slack = blocks.close_confirm_reply(preview)
    assert "Nothing in" not in str(slack.blocks) and "99453" in str(slack.blocks)

    closing = cli("month", "close", "2026-10", "--yes")
    assert "Nothing in 2026-10 to bill" not in closing.stderr
    assert "P-1042 (JD): time codes none; device codes 99453;99454" in closing.stderr
    closed = svc.closes.get(OCT)
    assert closed is not None
    assert (closed.billable, closed.device_units) == (preview.billable, preview.device_units)
    assert {k: v["device_codes"] for k, v in report.items() if not v["held"]} == {
        "P-1042": [{"code": code, "units": n} for code, n in closed.device_units.items()]}


def test_an_enrolment_change_that_moves_a_closed_months_device_codes_needs_an_amendment(
        closed: Service) -> None:
    """No time in October, so a back-dated end leaves its minutes as billed; but its device
    period, clipped to the end day (1 October), keeps one reading day: no device code."""
    from service.closes import Amendment
    from service.errors import BadInput

    with pytest.raises(BadInput, match="2026-10 is closed"):
        closed.patients.end("P-1042", on=date(2026, 10, 1), actor="t")
    assert closed.patients.get("P-1042").ended_on is None  # nothing changed
    closed.patients.end("P-1042", on=date(2026, 10, 1), actor="t",
                        amendment=Amendment("left the programme on the 1st", "cli:t",
                                            operator=True))
    billed = _october(closed).billed_at_close
    assert billed is not None and billed.device_differs
    assert billed.cause == "amendment: enrolment ended (left the programme on the 1st)"
    assert billed.follow_up == "refund owed for 99445;99453 ($66.00)"
