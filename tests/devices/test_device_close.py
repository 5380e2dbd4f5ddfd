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

import json
from datetime import date
from pathlib import Path

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
