"""A month close records as billed only what may be billed (outside auditor: a patient with
no consent or no order was counted as billed): the hold rule (billing.audit_checks.
hold_reasons, the report's "do not bill") decides, a held patient is recorded with no codes
and listed with its reasons in the confirmation and the close's audit record; on SQLite and
PostgreSQL."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.audit_checks import NO_CONSENT, NO_ORDER, hold_reasons
from billing.months import Month
from presentation import render
from service import Service
from service.patients import PatientFields
from store import audit as audit_rows
from tests.cli.runner import Cli
from tests.service.helpers import DOCTOR, log, seed

OCT = Month(2026, 10)
AT = datetime(2026, 10, 6, 14, tzinfo=UTC)
ORDER = {"ordered_by": DOCTOR, "order_on": date(2026, 9, 1)}


@pytest.mark.parametrize(("consent", "ordered_by", "order_on", "reasons"), [
    (date(2026, 9, 1), DOCTOR, date(2026, 9, 1), []),
    (None, DOCTOR, date(2026, 9, 1), [NO_CONSENT]),
    (date(2026, 9, 1), None, date(2026, 9, 1), [NO_ORDER]),
    (date(2026, 9, 1), DOCTOR, None, [NO_ORDER]),
    (None, None, None, [NO_CONSENT, NO_ORDER]),
])
def test_the_hold_rule(consent: date | None, ordered_by: str | None, order_on: date | None,
                       reasons: list[str]) -> None:
    assert hold_reasons(consent, ordered_by, order_on) == reasons


def _clinic(svc: Service) -> None:
    """P-1042 billable (seed: consent and order), P-2000 no consent, P-3000 no order; each
    supports 99457 in October."""
    seed(svc)
    svc.patients.add("P-2000", PatientFields(initials="AB", conditions=("I10",),
                                             provider=DOCTOR, **ORDER), actor="t")
    svc.patients.add("P-3000", PatientFields(initials="CD", consent_on=date(2026, 9, 1),
                                             provider=DOCTOR), actor="t")
    for patient in ("P-1042", "P-2000", "P-3000"):
        log(svc, "25m", "call", patient=patient, started_at=AT, note="talked it through")


HELD = ("P-2000 (AB): no consent on file",
        "P-3000 (CD): no order on file (ordering provider and order date)")


def test_the_close_bills_only_what_may_be_billed(svc: Service) -> None:
    _clinic(svc)
    assert {s.patient_id: bool(s.codes) for s in svc.months.report(OCT)} == {
        "P-1042": True, "P-2000": True, "P-3000": True}  # the month supports the code ...
    preview = svc.closes.preview(OCT)
    assert (preview.billable, preview.units, preview.held) == (1, {"99457": 1}, HELD)
    closed = svc.closes.close(OCT, by="billing")
    assert (closed.patients, closed.billable, closed.units, closed.amount, closed.held) == (
        3, 1, {"99457": 1}, preview.amount, HELD)
    assert svc.closes.get(OCT).billable == 1  # type: ignore[union-attr]  # ... as stored
    with svc.ctx.db.read() as conn:
        record = audit_rows.history(conn, "month", str(OCT))[-1]
    assert record.after["held"] == {"P-2000": [NO_CONSENT], "P-3000": [NO_ORDER]}
    text = render.close_figures(closed)
    assert text.startswith("3 patients (1 with billable codes; held, not billed: "
                           "P-2000 (AB): no consent on file | P-3000 (CD): no order")


def test_the_report_and_its_totals_agree_with_the_close(svc: Service) -> None:
    """Outside auditor: `report` said "3 with billable codes" and counted their dollars while
    the close billed one; the report now holds the same patients, for the same reasons."""
    _clinic(svc)
    rows = {s.patient_id: s for s in svc.months.report(OCT)}
    assert {pid: s.held for pid, s in rows.items()} == {
        "P-1042": (), "P-2000": (NO_CONSENT,), "P-3000": (NO_ORDER,)}
    assert any("no order on file" in w and "do not bill" in w for w in rows["P-3000"].warnings)
    assert not any("no order" in w for w in rows["P-1042"].warnings)
    totals = svc.months.totals(OCT)
    preview = svc.closes.preview(OCT)
    assert (totals.billable, totals.held, totals.units) == (1, 2, {"99457": 1})
    assert (totals.billable, totals.units, totals.expected_amount) == (
        preview.billable, preview.units, preview.amount)
    assert "1 with billable codes, 2 held (no consent or no order" in render.totals_text(totals)
    csv_rows = list(csv.DictReader(io.StringIO(render.report_csv(rows.values()))))
    assert {(r["patient_id"], r["codes"], r["expected_amount"], r["held"]) for r in csv_rows} == {
        ("P-1042", "99457", "52.00", ""), ("P-2000", "99457", "0.00", NO_CONSENT),
        ("P-3000", "99457", "0.00", NO_ORDER)}
    assert sum(Decimal(r["expected_amount"]) for r in csv_rows) == totals.expected_amount


def test_a_held_month_is_not_a_difference_until_it_may_be_billed(svc: Service) -> None:
    _clinic(svc)
    svc.closes.close(OCT, by="billing")
    rows = {s.patient_id: s for s in svc.months.report(OCT)}
    for held in ("P-2000", "P-3000"):
        billed = rows[held].billed_at_close
        assert billed is not None and billed.codes == () and not billed.differs
    svc.patients.update("P-2000", PatientFields(consent_on=date(2026, 9, 1)), actor="ops")
    billed = {s.patient_id: s for s in svc.months.report(OCT)}["P-2000"].billed_at_close
    assert billed is not None and billed.differs  # now billable: a claim is owed
    assert billed.cause.startswith("not billed at close: held")


def test_the_cli_confirmation_lists_the_held(staffed_cli: Cli) -> None:
    cli = staffed_cli
    cli("patient", "add", "P-1042", "--initials", "JD", "--consent", "2026-09-01",
        "--condition", "I10", "--provider", "U02DOC", "--ordered-by", "U02DOC",
        "--order-date", "2026-09-01")
    cli("patient", "add", "P-2000", "--initials", "AB", "--condition", "I10",
        "--provider", "U02DOC", "--ordered-by", "U02DOC", "--order-date", "2026-09-01")
    for patient in ("P-1042", "P-2000"):
        cli("log", patient, "25m", "call", "talked it through", "--staff", "U01NURSE",
            "--at", "2026-10-06T10:00")
    done = cli("month", "close", "2026-10", "--yes")
    assert "(1 with billable codes; held, not billed: P-2000 (AB): no consent on file)" \
        in done.stderr  # the preview
    assert done.stdout.startswith("closed 2026-10 by ")
    assert "held, not billed: P-2000 (AB): no consent on file" in done.stdout
    assert "99457 x1," in done.stdout
