"""CLI renderings a billing office reads: totals with dollars, closed state, unmatched calls."""

from decimal import Decimal

from presentation.render import totals_text
from service import Service
from service.views import MonthTotals


def _totals(**changes: object) -> MonthTotals:
    values: dict = dict(month="2026-11", patients=3, billable=1, units={"99457": 1},
                        expected_amount=Decimal("52.00"), at_risk=2,
                        at_risk_amount=Decimal("78.00"), closed_by=None)
    return MonthTotals(**(values | changes))


def test_totals_text() -> None:
    text = totals_text(_totals())
    assert "2026-11 (open)" in text and "3 patients enrolled, 1 with billable codes" in text
    assert "$52.00" in text and "2 patients, $78.00 still to win" in text
    assert "Unmatched calls" not in text
    closed = totals_text(_totals(closed_by="billing office", unmatched_calls=1))
    assert "2026-11 (closed by billing office)" in closed
    assert "1 call with no patient: attach them" in closed


def test_report_csv_is_written_row_by_row_as_summaries_arrive() -> None:
    """The CLI's CSV holds one row at a time: each row is written before the next is read."""
    import io
    from datetime import UTC, datetime

    from presentation.render import report_csv, write_report_csv
    from service.views import MonthSummary

    out = io.StringIO()

    def summaries():  # type: ignore[no-untyped-def]
        for n in range(3):
            # every earlier row is already written when the next one is asked for
            assert out.getvalue().count("\n") == 1 + n
            yield MonthSummary(
                patient_id=f"P-{n}", initials=None, month="2026-11", total_seconds=60 * n,
                uncounted_seconds=0, live_interactions=0,
                first_live_at=datetime(2026, 11, 2, tzinfo=UTC), codes=(), next_code="99457",
                seconds_to_next_code=1200 - 60 * n,
                needs_live_interaction=True, entries=n, assigned_to=None)

    write_report_csv(summaries(), out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("patient_id,initials,month,total_seconds")
    assert [line.split(",")[0] for line in lines[1:]] == ["P-0", "P-1", "P-2"]
    assert report_csv([]) == lines[0] + "\n"


def test_times_for_clinic_staff_are_clinic_time_with_the_zone() -> None:
    """Issue 13 item 10: `entries` printed 13:53Z; staff read clinic time and its zone."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from billing.months import clinic_time
    from presentation.render import entry_text
    from service.views import EntryView

    zone = ZoneInfo("America/New_York")
    at = datetime(2026, 11, 20, 18, 53, tzinfo=UTC)
    assert clinic_time(at, zone) == "2026-11-20 13:53 EST"
    assert clinic_time(datetime(2026, 7, 1, 3, 5, tzinfo=UTC), zone) == "2026-06-30 23:05 EDT"
    entry = EntryView(7, "P-1042", "U01NURSE", at, at, 720, "review", False, "cli", None,
                      "clinical_staff", None, at, "U01NURSE")
    line = entry_text(entry, zone)
    assert line.startswith("#7  2026-11-20 13:53 EST") and "Z " not in line



def test_an_entry_line_names_its_staff_member() -> None:
    """Outside auditor: `entries` said 'by U01NURSE' where the close says 'Name (id)'."""
    from dataclasses import replace
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from presentation.render import entry_text
    from service.views import EntryView

    at = datetime(2026, 11, 20, 18, 53, tzinfo=UTC)
    entry = EntryView(7, "P-1042", "U01NURSE", at, at, 720, "review", False, "cli", None,
                      "clinical_staff", None, at, "U01NURSE", staff_name="Nina Nurse")
    zone = ZoneInfo("America/New_York")
    assert "  by Nina Nurse (U01NURSE)  " in entry_text(entry, zone) + "  "
    assert "  by U01NURSE" in entry_text(replace(entry, staff_name=None), zone)


def test_report_table_and_csv_list_the_warnings(svc: Service) -> None:
    """Issue 13 #4: the report's Warnings column (table and CSV) says what each warning is,
    not only how many there are."""
    import csv
    import io

    from billing.months import Month
    from presentation.render import report_csv, report_table
    from service.entries import LogRequest
    from tests.web.support import seed_month

    seed_month(svc)
    wrong = svc.entries.log(LogRequest(patient="P-3003", duration="5m", activity="review",
                                       staff="U01NURSE", source="cli")).entry.id
    svc.entries.void(wrong, reason="wrong patient", by="U01NURSE")  # a second warning
    month = Month(2026, 11)
    summaries = svc.months.report(month)
    assert any(len(s.warnings) > 1 for s in summaries)
    lines = report_table(summaries, svc.months.totals(month)).splitlines()
    assert lines[0].split()[-1] == "Warnings"
    for summary in summaries:
        line = next(x for x in lines if x.startswith(summary.label + " "))
        assert line.endswith("; ".join(summary.warnings) or "-")
    rows = {r["patient_id"]: r["warnings"] for r in csv.DictReader(io.StringIO(
        report_csv(summaries)))}
    assert rows == {s.patient_id: "; ".join(s.warnings) for s in summaries}
