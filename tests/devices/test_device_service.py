"""Devices and readings through the service, on both databases: lend, end, ingest once,
unmatched then attached, periods from the readings (issue 28)."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from billing.codes import format_codes
from service import Service
from service.devices import reading_from
from service.errors import BadInput
from tests.service.helpers import seed

NY = ZoneInfo("America/New_York")


def reading(day: date, *, serial: str = "BP-0042", rid: str | None = None,
            hour: int = 7) -> dict[str, object]:
    fields: dict[str, object] = {
        "device_serial": serial, "kind": "blood_pressure",
        "measured_at": datetime(day.year, day.month, day.day, hour, 12, tzinfo=NY).isoformat(),
        "values": {"systolic": 128, "diastolic": 82}}
    if rid:
        fields["reading_id"] = rid
    return fields


def ingest(svc: Service, readings: list[dict[str, object]], source: str = "webhook"):  # type: ignore[no-untyped-def]
    return svc.devices.ingest([reading_from(r) for r in readings], source=source,
                              actor="webhook")


def test_readings_are_stored_once_and_make_periods(svc: Service) -> None:
    seed(svc)
    svc.devices.add("BP-0042", patient_ref="P-1042", kind="bp_cuff",
                    from_day=date(2026, 10, 1), actor="test")
    days = [date(2026, 10, 20) + timedelta(days=i) for i in range(16)]
    first = ingest(svc, [reading(d, rid=f"v-{d}") for d in days])
    assert (first.stored, first.replayed, first.unmatched) == (16, 0, 0)
    again = ingest(svc, [reading(d, rid=f"v-{d}") for d in days[:3]]
                   + [reading(days[0], hour=9), reading(days[0], hour=9)])
    assert (again.stored, again.replayed) == (1, 4)  # by reading id, else serial+instant+kind
    status = svc.devices.status("P-1042")
    assert [(p.start, p.end, p.day_count, format_codes(p.codes)) for p in status.periods] == [
        (date(2026, 10, 20), date(2026, 11, 18), 16, "99453;99454"),
        (date(2026, 11, 19), date(2026, 12, 18), 0, "")]
    assert status.current is not None and status.current.start == date(2026, 11, 19)


def test_an_unknown_serial_is_kept_unmatched_then_attached(svc: Service) -> None:
    seed(svc)
    result = ingest(svc, [reading(date(2026, 11, 2), serial="sc-9"),
                          reading(date(2026, 11, 3), serial="SC-9")])
    assert (result.stored, result.unmatched) == (2, 2)
    [waiting] = svc.devices.unmatched()
    assert (waiting.serial, waiting.readings) == ("SC-9", 2)  # one spelling of the serial
    svc.devices.add("SC-9", patient_ref="P-1042", kind="scale", from_day=date(2026, 11, 3),
                    actor="test")
    assert svc.devices.attach("sc-9", actor="test") == (1, 1)  # the 2nd predates the lending
    assert svc.devices.status("P-1042").periods[0].day_count == 1


def test_a_bad_field_is_named_and_nothing_is_stored(svc: Service) -> None:
    seed(svc)
    good = reading(date(2026, 11, 2))
    for broken, field in [({**good, "kind": "mood"}, "kind"),
                          ({**good, "measured_at": "2026-11-02T07:00:00"}, "measured_at"),
                          ({**good, "values": {"systolic": "high"}}, "values.systolic"),
                          ({k: v for k, v in good.items() if k != "device_serial"},
                           "device_serial")]:
        with pytest.raises(BadInput, match=field):
            reading_from(broken, where="readings[1].")
    with pytest.raises(BadInput, match="patient_id"):
        ingest(svc, [{**{k: v for k, v in good.items() if k != "device_serial"},
                      "patient_id": "P-0000"}])
    assert svc.devices.unmatched() == []


def test_lending_twice_is_refused_and_end_closes_it(svc: Service) -> None:
    seed(svc)
    svc.devices.add("BP-1", patient_ref="P-1042", kind="bp_cuff", from_day=date(2026, 11, 1),
                    actor="test")
    with pytest.raises(BadInput, match="lent"):
        svc.devices.add("bp-1", patient_ref="P-1042", kind="bp_cuff", from_day=None,
                        actor="test")
    ended = svc.devices.end("BP-1", on=date(2026, 11, 10), actor="test")
    assert ended.ended_on == date(2026, 11, 10)
    assert [d.serial for d in svc.devices.listed("P-1042")] == ["BP-1"]


def test_a_back_dated_end_leaves_later_readings_unmatched(svc: Service) -> None:
    seed(svc)
    svc.devices.add("BP-0042", patient_ref="P-1042", kind="bp_cuff",
                    from_day=date(2026, 11, 1), actor="test")
    ingest(svc, [reading(date(2026, 11, d)) for d in (2, 3, 12)])
    svc.devices.end("BP-0042", on=date(2026, 11, 10), actor="test")
    assert svc.devices.status("P-1042").periods[0].day_count == 2
    [waiting] = svc.devices.unmatched()
    assert (waiting.serial, waiting.readings) == ("BP-0042", 1)
