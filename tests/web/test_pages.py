"""The dashboard's HTML against the data: rows, bars, filter, month picker, patient page, CSV."""

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from billing.codes import format_codes
from billing.months import Month
from configuration.settings import Settings
from presentation.render import report_csv
from rpm_logger.app import create_app
from service import Service
from service.patients import PatientFields
from store.db import Database
from tests.conftest import FrozenClock
from tests.service.helpers import DOCTOR, NURSE, log
from tests.web.support import RAW_PHONE_DIGITS, TOKEN, Page, seed_month

NOVEMBER = Month(2026, 11)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def entry_ids(svc: Service) -> dict[str, int]:
    return seed_month(svc)


@pytest.fixture
def client(svc: Service, entry_ids: dict[str, int]) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=svc),
                    headers=AUTH) as test_client:
        yield test_client


def _rows(page: Page) -> list[dict[str, str]]:
    return [row.attrs for row in page.find("tr", class_="patient")]


def test_month_rows_match_the_report_at_risk_first(client: TestClient, svc: Service) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = Page(response.text)
    rows = _rows(page)
    report = {s.patient_id: s for s in svc.months.report(NOVEMBER)}
    assert [r["data-patient"] for r in rows] == ["P-3003", "P-2002", "P-1042", "P-2001"]
    assert [r["data-severity"] for r in rows] == ["watch", "watch", "ok", "ok"]
    at_risk = svc.months.at_risk(NOVEMBER)  # the same verdicts, in the same order, as /rpm risk
    assert [(r["data-patient"], r["data-severity"]) for r in rows[:len(at_risk)]] == \
        [(r.summary.patient_id, r.risk.severity) for r in at_risk]
    for row in rows:
        summary = report[row["data-patient"]]
        assert int(row["data-seconds"]) == summary.total_seconds
        assert int(row["data-live"]) == summary.live_interactions
        assert row["data-codes"] == format_codes(summary.codes)
        assert row["data-assigned"] == summary.assigned_to
    assert report["P-1042"].total_seconds == 21 * 60  # the voided 30 minutes do not count


def test_bars_are_the_share_of_20_minutes_with_the_10_minute_mark(client: TestClient) -> None:
    page = Page(client.get("/?month=2026-11").text)
    bars = {b.attrs["data-patient"]: b for b in page.find("div", class_="bar")}
    fills = page.find("div", class_="fill")
    assert len(bars) == 4 and len(fills) == 4 and len(page.find("div", class_="mark")) == 4
    expected = {"P-1042": "100.0", "P-2001": "100.0", "P-2002": "20.0", "P-3003": "0.0"}
    assert {k: b.attrs["data-percent"] for k, b in bars.items()} == expected
    widths = [f.attrs["style"] for f in fills]
    assert widths == ["width: 0.0%", "width: 20.0%", "width: 100.0%", "width: 100.0%"]


def test_row_cells_show_minutes_live_codes_days_left(client: TestClient) -> None:
    page = Page(client.get("/").text)
    cells = {row.attrs["data-patient"]: row.content for row in page.find("tr", class_="patient")}
    assert cells["P-1042"].startswith("P-1042 JD 21 ✓ 99457 11 ok")
    # held (no order on file): not "ok" (outside auditor's retry of issue 26)
    assert cells["P-2001"].startswith("P-2001 AB 47 ✓ 99457;99458 11 held: do not bill")
    # then the device days and device codes (no readings: 0, —)
    assert cells["P-2002"] == ("P-2002 CK 4 ✗ — 11 watch needs 16 more minutes and a live call"
                               " 0 —")
    assert cells["P-3003"] == ("P-3003 EF 0 ✗ — 11 watch needs 20 more minutes and a live call"
                               " 0 — no consent on file: do not bill until consent is recorded")
    assert page.one("div", id="count-patients").content == "4"
    # P-2001 has no order on file: its 99457+99458 are held (billing.audit_checks.hold_reasons),
    # as the report's totals and the close leave them out
    assert page.one("div", id="count-billable").content == "1"
    assert page.one("div", id="count-at-risk").content == "2"
    # 99457 at the default fees; two at-risk patients with nothing: 2 x 99457
    assert page.one("div", id="amount-earned").content == "$52.00"
    assert page.one("div", id="amount-at-risk").content == "$104.00"
    assert not page.find("p", id="month-closed")


def test_a_closed_month_says_so(client: TestClient, svc: Service, clock: FrozenClock) -> None:
    clock.now = datetime(2026, 12, 3, 15, tzinfo=UTC)
    svc.closes.close(NOVEMBER, by="billing office")
    page = Page(client.get("/?month=2026-11").text)
    assert "closed (billed) by billing office" in page.one("p", id="month-closed").content


def test_a_month_closed_by_an_admin_names_them(client: TestClient, svc: Service,
                                               clock: FrozenClock) -> None:
    """Outside auditor: the banner said 'closed (billed) by U01DOC'."""
    clock.now = datetime(2026, 12, 3, 15, tzinfo=UTC)
    admin = next(m for m in svc.staff.list() if m.is_admin)
    svc.closes.close(NOVEMBER, by=admin.slack_user_id, as_admin=True)
    page = Page(client.get("/?month=2026-11").text)
    assert (f"closed (billed) by {admin.name} ({admin.slack_user_id})"
            in page.one("p", id="month-closed").content)


def test_a_change_since_close_shows_on_month_and_patient_pages(
        client: TestClient, svc: Service, clock: FrozenClock, entry_ids: dict[str, int]) -> None:
    from service.closes import Amendment

    clock.now = datetime(2026, 12, 3, 15, tzinfo=UTC)
    svc.closes.close(NOVEMBER, by="billing office")
    assert Page(client.get("/?month=2026-11").text).find("div", id="changed-since-close") == []
    clock.advance(minutes=5)
    svc.entries.void(entry_ids["review"], reason="wrong patient", by="U04ADMIN",
                     amendment=Amendment(reason="wrong patient", by="cli:root", operator=True))
    month = Page(client.get("/?month=2026-11").text).one("div", id="changed-since-close")
    assert "P-1042" in month.content and "99457" in month.content
    assert "wrong patient" in month.content and "refund owed" in month.content
    patient = Page(client.get("/patients/P-1042?month=2026-11").text)
    block = patient.one("div", id="changed-since-close").content
    assert "billed 99457 at close" in block and "refund owed" in block
    assert f"#{entry_ids['review']} voided after close (wrong patient)" in block
    assert patient.one("dd", id="billed-at-close").content == "99457"


def test_a_phone_number_in_an_amendments_reason_is_masked_on_every_screen(
        client: TestClient, svc: Service, clock: FrozenClock, entry_ids: dict[str, int]) -> None:
    """Outside auditor's retry of issue 26: a void's amendment reason "entered twice call
    617-555-0104" went unmasked to Slack's report, the dashboard, the packet and `export`,
    where the void's own reason was masked."""
    from presentation import blocks, render
    from presentation.packet import html as packet_html
    from service.closes import Amendment

    clock.now = datetime(2026, 12, 3, 15, tzinfo=UTC)
    svc.closes.close(NOVEMBER, by="billing office")
    clock.advance(minutes=5)
    typed = "entered twice call 617-555-0104"
    svc.entries.void(entry_ids["review"], reason=typed, by="U04ADMIN",
                     amendment=Amendment(reason=typed, by="cli:root", operator=True))
    totals = svc.months.totals(NOVEMBER)
    entries = svc.entries.for_month(NOVEMBER)
    screens = {
        "month page": client.get("/?month=2026-11").text,
        "patient page": client.get("/patients/P-1042?month=2026-11").text,
        "Slack report": blocks.totals_text(totals),
        "report --summary": render.totals_text(totals),
        "report csv": client.get("/reports/2026-11.csv").text,
        "packet": packet_html(svc.audit_packets.packet("P-1042", NOVEMBER)),
        "export": render.export_csv(entries, svc.ctx.policy.zone,
                                    region=svc.ctx.policy.phone_region),
    }
    for screen, text in screens.items():
        assert "555-0104" not in text and "5550104" not in text, screen
    assert "entered twice call ***0104" in screens["Slack report"]
    assert "entered twice call ***0104" in screens["export"]


def test_no_phi_beyond_clinic_id_and_initials(client: TestClient, svc: Service) -> None:
    text = client.get("/").text
    for digits in RAW_PHONE_DIGITS:
        assert digits not in text
    assert "Nina Nurse" in text  # staff names are fine (the staff picker)
    assert "left a message" not in text  # notes stay on the patient page


def test_staff_filter(client: TestClient) -> None:
    nurse = Page(client.get(f"/?staff={NURSE.lower()}").text)
    assert [r["data-patient"] for r in _rows(nurse)] == ["P-2002", "P-1042"]
    selected = [o.attrs["value"] for o in nurse.find("option") if "selected" in o.attrs]
    assert selected == [NURSE]
    doctor = Page(client.get(f"/?staff={DOCTOR}").text)
    assert [r["data-patient"] for r in _rows(doctor)] == ["P-3003", "P-2001"]
    nobody = Page(client.get("/?staff=U09NOBODY").text)
    assert _rows(nobody) == [] and nobody.one("p", id="no-patients")


def test_an_ended_month_says_what_each_row_missed(client: TestClient, svc: Service) -> None:
    """Tester finding 7: October's dashboard said "0 at risk" above rows reading "critical —
    needs 8 more minutes (no days left)". An ended month has no risk, only what it missed."""
    log(svc, "12m", "call", started_at=datetime(2026, 10, 14, 15, tzinfo=UTC))
    page = Page(client.get("/?month=2026-10").text)
    assert page.one("div", id="count-at-risk").content == "0"
    row = page.one("tr", data_patient="P-1042").content
    assert "missed 99457: 8 minutes short (the month supports 99470)" in row
    # clinic finding (issue 26 item 14): the status cell said a red "missed" for a month that
    # earned 99470; it says what was earned, in green
    status = page.one("span", **{"class": "sev"})  # the only row: P-1042's
    assert (status.content, status.attrs["class"]) == ("earned 99470", "sev sev-ok")
    assert row.count("missed") == 1
    assert "needs" not in row and "critical" not in row


def test_an_ended_month_says_earned_not_on_track(client: TestClient, svc: Service) -> None:
    """Clinic finding (issue 26 item 14): a finished month said "on track" for earned months
    and a red "missed" for a patient with no code at all is still red."""
    log(svc, "25m", "call", started_at=datetime(2026, 10, 14, 15, tzinfo=UTC))
    log(svc, "5m", "review", patient="P-2002", started_at=datetime(2026, 10, 14, 16, tzinfo=UTC))
    page = Page(client.get("/?month=2026-10").text)
    earned = page.one("tr", data_patient="P-1042").content
    assert "earned: 20 minutes and a live contact are in" in earned and "on track" not in earned
    assert "earned 99457" in earned
    missed = page.one("tr", data_patient="P-2002").content
    assert "missed 99457: 15 minutes short and no live call" in missed
    assert {(s.content, s.attrs["class"]) for s in page.find("span", **{"class": "sev"})} == {
        ("earned 99457", "sev sev-ok"), ("missed", "sev sev-critical")}


def test_a_held_month_that_earned_a_code_says_held_not_earned(client: TestClient,
                                                              svc: Service) -> None:
    """Outside auditor's retry of issue 26: P-3003 (no consent on file) read "earned 99457"
    in the status cell, "do not bill" only in the warnings column."""
    log(svc, "25m", "call", patient="P-3003", staff=DOCTOR,
        started_at=datetime(2026, 11, 14, 15, tzinfo=UTC))
    row = Page(client.get("/?month=2026-11").text).one("tr", data_patient="P-3003").content
    assert "held: do not bill" in row and "earned 99457" not in row


def test_month_picker_shows_another_month(client: TestClient, svc: Service) -> None:
    page = Page(client.get("/?month=2026-10").text)
    assert page.one("input", name="month").attrs["value"] == "2026-10"
    assert _rows(page) == []  # nobody has entries or enrolment in October
    current = Page(client.get("/").text)
    assert current.one("input", name="month").attrs["value"] == "2026-11"


@pytest.mark.parametrize(("path", "status", "message"), [
    ("/?month=2026-13", 400, "Cannot read month"),
    ("/?month=nov", 400, "Cannot read month"),
    ("/?month=0001-01", 400, "Not a month: 0001-01"),  # was a 500 (OverflowError)
    ("/?month=9999-12", 400, "Not a month: 9999-12"),
    ("/patients/P-1042?month=0001-01", 400, "Not a month: 0001-01"),
    ("/reports/0001-01.csv", 400, "Not a month: 0001-01"),
    ("/?staff=not-an-id", 400, "is not a Slack user id"),
    ("/patients/P-9999", 404, "No patient"),
    ("/patients/P-1042?month=11-2026", 400, "Cannot read month"),
    ("/reports/2026-13.csv", 400, "Cannot read month"),
])
def test_bad_input_is_a_clear_page(client: TestClient, path: str, status: int,
                                   message: str) -> None:
    response = client.get(path)
    assert response.status_code == status and message in response.text


def test_database_down_is_a_503_page(svc: Service) -> None:
    down = Service(svc.ctx.__class__(Database("postgresql+psycopg://nobody@127.0.0.1:1/x"),
                                     svc.ctx.policy, svc.ctx.clock))
    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=down),
                    headers=AUTH) as test_client:
        for path in ("/", "/patients/P-1042", "/reports/2026-11.csv"):
            response = test_client.get(path)
            assert response.status_code == 503 and "Database unavailable" in response.text


def test_csv_route_is_the_report_csv(client: TestClient, svc: Service) -> None:
    response = client.get("/reports/2026-11.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == \
        'attachment; filename="rpm-report-2026-11.csv"'
    assert response.text == report_csv(svc.months.report(NOVEMBER))
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 4
    assert (rows[0]["patient_id"], rows[0]["total_seconds"], rows[0]["codes"]) == \
        ("P-1042", "1260", "99457")


def test_patient_page_entries_voids_and_facts(client: TestClient, svc: Service,
                                              entry_ids: dict[str, int]) -> None:
    page = Page(client.get("/patients/p-1042?month=2026-11").text)
    assert page.one("h2", id="patient").attrs["data-seconds"] == "1260"
    entries = {int(e.attrs["data-entry"]): e for e in page.find("tr", class_="entry")}
    expected = svc.entries.for_patient_month("P-1042", NOVEMBER)
    assert sorted(entries) == [e.id for e in expected]
    for entry in expected:
        row = entries[entry.id]
        assert int(row.attrs["data-seconds"]) == entry.duration_seconds
        assert row.attrs["data-voided"] == ("yes" if entry.voided_at else "no")
    voided = entries[entry_ids["wrong"]]
    assert "voided" in voided.attrs["class"].split()
    # who voided it by name too (outside auditor's retry of issue 26: the raw id)
    assert ("by Nina Nurse (U01NURSE): logged for the wrong patient, caller ***0124"
            in voided.content)
    assert "2026-11-12 10:00" in voided.content  # clinic time (New York)
    assert "left a message at ***0123" in entries[entry_ids["review"]].content
    # who logged it, by name beside the id (outside auditor's retry of issue 26.15)
    assert "Nina Nurse (U01NURSE)" in entries[entry_ids["review"]].content
    assert page.one("dd", id="consent").content == "2026-10-01"
    assert page.one("dd", id="conditions").content == "I10"
    assert page.one("dd", id="provider").content == "Dee Doctor (U02DOCTOR), NPI 1234567890"
    assert page.one("dd", id="codes").content == "99457"
    assert page.find("div", id="consent-warning") == []


def test_month_table_lists_each_rows_warnings_in_the_reports_words(
    client: TestClient, svc: Service
) -> None:
    """Issue 13 #4: what blocks billing (missing consent, voids, overlaps, calls) is on the
    month table, the same words as the report, each row its own."""
    page = Page(client.get("/").text)
    assert "Warnings" in [th.content for th in page.find("th")]
    items = [li.content for li in page.find("li", class_="warning")]
    shown: dict[str, list[str]] = {}
    for row, cell in zip(_rows(page), page.find("td", class_="warnings"), strict=True):
        count = int(cell.attrs["data-count"])
        shown[row["data-patient"]], items = items[:count], items[count:]
    assert items == []
    report = {s.patient_id: list(s.warnings) for s in svc.months.report(NOVEMBER)}
    assert shown == report
    assert "no consent on file: do not bill until consent is recorded" in shown["P-3003"]
    assert "1 voided entry not counted" in shown["P-1042"]


def test_patient_page_audit_history(client: TestClient, entry_ids: dict[str, int]) -> None:
    page = Page(client.get("/patients/P-1042").text)
    events = [(a.attrs["data-action"], a.attrs["data-entity-id"])
              for a in page.find("tr", class_="audit")]
    assert events == [
        ("patient.add", "P-1042"),
        ("entry.log", str(entry_ids["call"])),
        ("entry.log", str(entry_ids["review"])),
        ("entry.log", str(entry_ids["wrong"])),
        ("entry.void", str(entry_ids["wrong"])),
    ]  # P-2001's entries and the staff events are not this patient's history
    rows = page.find("tr", class_="audit")
    assert "phones: +1******0123" in rows[0].content
    assert "caregiver_phones: +1******0124" in rows[0].content
    assert "void_reason: logged for the wrong patient, caller ***0124" in rows[4].content
    # who did it, by name beside the id; an actor that is no staff member's id as written
    # (outside auditor's retry of issue 26: the audit history showed raw ids)
    assert all("Nina Nurse (U01NURSE)" in row.content for row in rows[1:])
    assert "Nina Nurse" not in rows[0].content  # added by "test", no staff member


def test_patient_page_marks_time_the_month_does_not_count(client: TestClient,
                                                           svc: Service) -> None:
    """Outside auditor's retry of issue 26: an overlapping entry read as counted on the
    dashboard while `entries` said "not counted"; the page says it in the CLI's words."""
    overlapping = log(svc, "10m", started_at=datetime(2026, 11, 10, 15, 5, tzinfo=UTC))
    page = Page(client.get("/patients/P-1042?month=2026-11").text)
    entries = {int(e.attrs["data-entry"]): e for e in page.find("tr", class_="entry")}
    listed = {e.id: e for e in svc.entries.for_patient_month("P-1042", NOVEMBER)}
    marked = {i for i, row in entries.items() if "not-counted" in row.attrs["class"].split()}
    assert marked == {i for i, e in listed.items() if e.count and e.count.not_counted_seconds
                      and not e.voided_at}
    assert overlapping in marked
    assert [d.content for d in page.find("div", class_="left-out")] == [
        f"not counted: {note}" for note in (
            f"{e.count.not_counted_seconds // 60} min ({'; '.join(e.count.reasons)})"
            for i, e in sorted(listed.items()) if i in marked and e.count)]


def test_an_ended_month_without_a_live_contact_says_none_not_none_yet(
        client: TestClient, svc: Service) -> None:
    """Outside auditor's retry of issue 26: October (over) said "Live contact ✗ none yet"."""
    log(svc, "5m", started_at=datetime(2026, 10, 14, 15, tzinfo=UTC))
    page = Page(client.get("/patients/P-1042?month=2026-10").text)
    facts = page.one("dl", class_="facts").content
    assert "Live contact✗ none Codes" in facts and "yet" not in facts
    assert page.one("dd", id="codes").content == "none"
    running = Page(client.get("/patients/P-2002?month=2026-11").text)
    assert "Live contact✗ none yet Codes" in running.one("dl", class_="facts").content
    # the nurse it is assigned to is named too
    assert "Assigned toNina Nurse (U01NURSE)" in facts


def test_patient_page_audit_history_is_the_months(client: TestClient, svc: Service,
                                                  entry_ids: dict[str, int]) -> None:
    """Outside try of issue 24: an auditor granted October saw a December entry's duration
    and note in the October page's audit history. The history is the patient's own events
    and those of the month's entries."""
    other = log(svc, "25m", started_at=datetime(2026, 10, 14, 15, tzinfo=UTC),
                note="reviewed readings")
    page = Page(client.get("/patients/P-1042?month=2026-11").text)
    shown = {a.attrs["data-entity-id"] for a in page.find("tr", class_="audit")}
    assert str(other) not in shown and str(entry_ids["call"]) in shown
    assert "reviewed readings" not in page.one("table", id="audit").content
    its = Page(client.get("/patients/P-1042?month=2026-10").text)
    assert str(other) in {a.attrs["data-entity-id"] for a in its.find("tr", class_="audit")}


def test_patient_page_prints_no_phone_number(client: TestClient, svc: Service) -> None:
    # a removed phone stays in the audit trail, masked
    svc.patients.update("P-1042", PatientFields(remove_phones=("+16175550123",)), actor="test")
    for path in ("/patients/P-1042", "/patients/P-1042?month=2026-10", "/"):
        text = client.get(path).text
        for digits in RAW_PHONE_DIGITS:
            assert digits not in text, (path, digits)


def test_patient_without_consent_is_warned_once(client: TestClient, svc: Service) -> None:
    """Issue 13 #4: each warning once, in the report's words (consent was shown twice)."""
    text = client.get("/patients/P-3003").text
    page = Page(text)
    warnings = [li.content for li in page.find("li", class_="warning")]
    assert warnings == list(svc.months.summary("P-3003").warnings)
    assert sum("consent" in w for w in warnings) == 1
    assert text.lower().count("no consent on file") == 1
    assert page.one("dd", id="consent").content == "not on file"
    assert page.one("dd", id="provider").content == "not set"


def test_patient_page_follows_the_clock_month(client: TestClient, clock: FrozenClock) -> None:
    clock.now = datetime(2026, 12, 2, 15, tzinfo=UTC)
    page = Page(client.get("/patients/P-1042").text)
    assert page.find("tr", class_="entry") == []
    assert page.one("input", name="month").attrs["value"] == "2026-12"


@pytest.mark.parametrize("path", ["/", "/patients/P-1042", "/reports/2026-11.csv",
                                  "/patients/P-9999"])
def test_pages_forbid_scripts_framing_and_caching(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    assert headers["cache-control"] == "no-store"
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


def test_refusals_carry_the_same_headers(svc: Service) -> None:
    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=svc)) as anonymous:
        response = anonymous.get("/")
    assert response.status_code == 401 and response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("ref", ["617-ALE-ADAD", "%2B1617ALEADAD", "(617)%20ALE-ADAD",
                                 "1-617-ALEADAD"])
def test_a_phone_spelled_in_letters_finds_no_patient(client: TestClient, svc: Service,
                                                     ref: str) -> None:
    """Attack finding 5: phonenumbers reads letters as keypad digits (ALEADAD = 253 2323), so
    a vanity spelling found the patient, and the access log's digit rule missed it."""
    svc.patients.add("P-2323", PatientFields(initials="AL", phones=("+1 617 253 2323",)),
                     actor="test")
    assert client.get("/patients/617-253-2323").status_code == 200  # digits still find her
    response = client.get(f"/patients/{ref}")
    assert response.status_code == 404 and "P-2323" not in response.text
