"""Issue 12 #9: the same input behaves the same on SQLite and PostgreSQL. Every text the
service stores is bounded by its column (store/models.py) before any database sees it, ids
are bounded to the id columns, and durations take ASCII digits only."""

import pytest
from sqlmodel import func, select

from billing.errors import InvalidInput
from billing.months import Month
from bot import dispatch
from service import Service
from service.errors import BadInput
from service.staff import StaffChanges
from store.models import AuditEvent, Staff
from tests.service.helpers import ADMIN, NURSE, log, seed


def _rows(svc: Service) -> tuple[int, int]:
    with svc.ctx.db.read_session() as session:
        return (session.exec(select(func.count()).select_from(Staff)).one(),
                session.exec(select(func.count()).select_from(AuditEvent)).one())


def test_an_over_long_staff_name_is_refused_the_same_way_on_both_databases(
        svc: Service) -> None:
    before = _rows(svc)
    with pytest.raises(InvalidInput, match=r"The name is over 200 characters \(300\)"):
        svc.staff.add(slack_user_id="U07LONG", name="N" * 300, role="clinical_staff",
                      actor="test")
    assert _rows(svc) == before
    svc.staff.add(slack_user_id="U07LONG", name="N" * 200, role="clinical_staff", actor="test")
    with pytest.raises(InvalidInput, match="The name is over 200 characters"):
        svc.staff.update("U07LONG", StaffChanges(name="M" * 201), actor="test")
    assert svc.staff.get("U07LONG").name == "N" * 200


def test_every_stored_text_is_bounded_by_its_column(svc: Service) -> None:
    seed(svc)
    entry = log(svc, "12m")
    with pytest.raises(InvalidInput, match="over 500 characters"):
        svc.entries.void(entry, reason="r" * 501, by=NURSE)
    with pytest.raises(InvalidInput, match="over 2000 characters"):
        log(svc, "5m", note="n" * 2001)
    with pytest.raises(InvalidInput, match="over 120 characters"):  # who closed it
        svc.closes.close(Month(2026, 10), by="b" * 121)
    assert svc.closes.get(Month(2026, 10)) is None
    with pytest.raises(InvalidInput, match="over 120 characters"):  # the audit trail's actor
        svc.staff.update(NURSE, StaffChanges(name="Nina"), actor="cli:" + "o" * 200)
    assert svc.staff.get(NURSE).name == "Nina Nurse"


@pytest.mark.parametrize("ref", ["9" * 5000, "2147483648", "99999999999", "²", "٣", "1²"])
def test_ids_out_of_range_or_not_ascii_get_a_short_clear_refusal(svc: Service,
                                                                 ref: str) -> None:
    seed(svc)
    for attempt in (lambda: svc.entries.void(ref, reason="x", by=ADMIN),
                    lambda: svc.entries.get(ref), lambda: svc.calls.claim(ref, by=NURSE)):
        with pytest.raises(BadInput, match="is not an? (entry|call) id") as refusal:
            attempt()
        assert len(str(refusal.value)) < 120


def test_a_5000_digit_call_id_in_the_note_modal_gets_a_clear_reply(svc: Service) -> None:
    seed(svc)
    reply = dispatch.add_call_note(svc, dispatch.Caller(NURSE, "D0NOTE"), "9" * 5000, "spoke")
    assert isinstance(reply, dispatch.Reply)
    assert "is not a call id" in reply.text and len(reply.text) < 150
    assert "Something went wrong" not in reply.text


@pytest.mark.parametrize("text", ["٣m", "３m", "١٢", "1:٣٠", "٢h", "𝟓m", "1.٥m"])
def test_durations_with_non_ascii_digits_are_refused(svc: Service, text: str) -> None:
    from billing.durations import looks_like_duration, parse_duration

    assert not looks_like_duration(text)
    with pytest.raises(InvalidInput, match="Cannot use duration"):
        parse_duration(text, max_seconds=14400)
    seed(svc)
    with pytest.raises(InvalidInput, match="Cannot use duration"):
        log(svc, text)


def test_a_5000_character_patient_id_gets_a_short_refusal(svc: Service) -> None:
    seed(svc)
    with pytest.raises(BadInput, match="No patient 'PPP") as refusal:
        svc.patients.get("P" * 5000)
    assert len(str(refusal.value)) < 100
