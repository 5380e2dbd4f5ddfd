"""Patients and staff: ids, phones in E.164, uniqueness, audit with masked phones."""

from datetime import date

import pytest
from sqlmodel import select

from service import Service
from service.errors import BadInput, BadInputs, InvalidInput, NotFound
from service.patients import PatientFields
from service.phones import normalize_phone
from service.staff import StaffChanges
from store.models import AuditEvent, Patient, PatientPhone, StaffPhone
from tests.service.helpers import CLERK, DOCTOR, NURSE, seed


@pytest.fixture
def seeded(svc: Service) -> Service:
    seed(svc)
    return svc


def _all(svc: Service, model: type) -> list:
    with svc.ctx.db.read_session() as session:
        return list(session.exec(select(model)).all())


def test_phones_in_any_common_format_are_stored_as_e164(seeded: Service) -> None:
    phones = {p.e164: p.kind for p in _all(seeded, PatientPhone)}
    assert phones == {"+16175550123": "patient", "+16175550124": "caregiver"}
    assert {p.e164 for p in _all(seeded, StaffPhone)} == {"+16175550101"}


@pytest.mark.parametrize("ref", ["P-1042", "p-1042", "+1 (617) 555-0123", "6175550124"])
def test_one_resolver_by_id_any_case_or_phone(seeded: Service, ref: str) -> None:
    assert seeded.patients.get(ref).patient_id == "P-1042"


def test_patient_ids_are_unique_case_insensitively(seeded: Service) -> None:
    with pytest.raises(BadInput, match="already exists"):
        seeded.patients.add("p-1042", PatientFields(), actor="t")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (PatientFields(phones=("555",)),
         r"'555' is not a valid phone number: 3 digits after \+1: too few"),
        # issue 13 item 11: stored as +15550000, no call could ever have matched it
        (PatientFields(phones=("555-0000",)),
         "not a valid phone number: 7 digits after \\+1: a local number without its area code"),
        (PatientFields(caregiver_phones=("+1 555 555 0100",)),
         r"not a valid phone number: \+1 555 555 is not an area code and exchange in use"),
        (PatientFields(phones=("call me",)), "Cannot read phone number"),
        (PatientFields(phones=("617-555-0123",)), "already belongs to another patient"),
        (PatientFields(caregiver_phones=("+16175550101",)), "staff member's number"),
        (PatientFields(initials="John Doe"), "1 to 4 letters"),
        (PatientFields(conditions=("hypertension",)), "not an ICD-10 code"),
        (PatientFields(assign="U09NOBODY"), "No staff member"),
        (PatientFields(provider=NURSE), "must be a physician or QHP"),
        (PatientFields(enrolled_on=date(2026, 5, 1), ended_on=date(2026, 4, 1)),
         "before enrolment"),
    ],
)
def test_bad_patient_input_is_refused_and_changes_nothing(
    seeded: Service, fields: PatientFields, message: str
) -> None:
    audits = len(_all(seeded, AuditEvent))
    with pytest.raises(InvalidInput, match=message):
        seeded.patients.add("P-2000", fields, actor="t")
    assert [p.clinic_id for p in _all(seeded, Patient)] == ["P-1042"]
    assert len(_all(seeded, PatientPhone)) == 2
    assert len(_all(seeded, AuditEvent)) == audits


def test_bad_clinic_ids_are_refused(svc: Service) -> None:
    for bad in ("", "P 1042", "x" * 65, "<script>"):
        with pytest.raises(BadInput, match="not a clinic patient id"):
            svc.patients.add(bad, PatientFields(), actor="t")


def test_update_adds_and_removes_phones_and_conditions(seeded: Service) -> None:
    view = seeded.patients.update("P-1042", PatientFields(
        phones=("+16175550199",), remove_phones=("617-555-0123",), conditions=("e11.9",),
    ), actor="t")
    assert view.conditions == ("E11.9", "I10")
    assert {p.e164 for p in _all(seeded, PatientPhone)} == {"+16175550199", "+16175550124"}
    with pytest.raises(BadInput, match="has no phone"):
        seeded.patients.update("P-1042", PatientFields(remove_phones=("+16175550123",)),
                               actor="t")


def test_audit_masks_phone_numbers(seeded: Service) -> None:
    event = next(a for a in _all(seeded, AuditEvent) if a.action == "patient.add")
    assert event.after["phones"] == ["+1******0123"]
    assert event.after["caregiver_phones"] == ["+1******0124"]
    serialized = repr([(a.before, a.after) for a in _all(seeded, AuditEvent)])
    assert "6175550123" not in serialized and "6175550101" not in serialized


def test_end_defaults_to_today_in_the_clinic_zone(seeded: Service) -> None:
    view = seeded.patients.end("P-1042", on=None, actor="t")
    assert view.ended_on == date(2026, 11, 20)  # 20:00 UTC is 15:00 in New York


def test_staff_rules(seeded: Service) -> None:
    with pytest.raises(BadInput, match="already exists"):
        seeded.staff.add(slack_user_id=NURSE, name="Again", role="qhp", actor="t")
    with pytest.raises(BadInput, match="Unknown role"):
        seeded.staff.add(slack_user_id="U05NEW", name="New", role="janitor", actor="t")
    with pytest.raises(BadInput, match="10 digits"):
        seeded.staff.add(slack_user_id="U05NEW", name="New", role="qhp", npi="123", actor="t")
    with pytest.raises(BadInput, match="Only physicians and QHPs"):
        seeded.staff.update(CLERK, StaffChanges(npi="1234567890"), actor="t")
    with pytest.raises(BadInput, match="patient's or caregiver's number"):
        seeded.staff.add(slack_user_id="U05NEW", name="New", role="qhp",
                         phones=("6175550123",), actor="t")
    with pytest.raises(NotFound):
        seeded.staff.get("U05NEW")


def test_staff_update_and_lookup_by_phone(seeded: Service) -> None:
    view = seeded.staff.update("<@u01nurse|nina>", StaffChanges(is_admin=True,
                               add_phones=("617 555 0150",)), actor="t")
    assert view.is_admin and view.phone_count == 2
    found = seeded.staff.by_phone("+16175550150")
    assert found is not None and found.slack_user_id == NURSE
    assert seeded.staff.by_phone("not a phone") is None
    assert seeded.staff.find("U09NOBODY") is None
    assert [s.slack_user_id for s in seeded.staff.list()] == \
        sorted([s.slack_user_id for s in seeded.staff.list()], key=lambda i: {
            "U04ADMIN": "Ada", "U03CLERK": "Cal", DOCTOR: "Dee", NURSE: "Nina"}[i])
    seeded.staff.update(CLERK, StaffChanges(active=False), actor="t")
    assert CLERK not in [s.slack_user_id for s in seeded.staff.list()]
    assert CLERK in [s.slack_user_id for s in seeded.staff.list(include_inactive=True)]


def test_patients_listed_by_assignment(seeded: Service) -> None:
    seeded.patients.add("P-2000", PatientFields(assign=DOCTOR), actor="t")
    assert [p.patient_id for p in seeded.patients.list(assigned_to=NURSE)] == ["P-1042"]
    assert [p.patient_id for p in seeded.patients.list()] == ["P-1042", "P-2000"]


def test_typo_suggestions_rank_transpositions_and_single_changes_first(seeded: Service) -> None:
    """Issue 13 item 9: `log P-1024` suggested P-1047, P-1046, P-1045 but not P-1042."""
    for clinic_id in ("P-1045", "P-1046", "P-1047"):
        seeded.patients.add(clinic_id, PatientFields(), actor="t")
    with pytest.raises(NotFound) as transposed:
        seeded.patients.get("P-1024")
    assert str(transposed.value).startswith("No patient 'P-1024'. Did you mean P-1042,")
    with pytest.raises(NotFound) as swapped:
        seeded.patients.get("p-1064")  # P-1046 swapped; the rest two changes away, in order
    assert str(swapped.value) == "No patient 'p-1064'. Did you mean P-1046, P-1042, P-1045?"
    with pytest.raises(NotFound) as far:
        seeded.patients.get("Q-9999")
    assert str(far.value) == "No patient 'Q-9999'."


def test_invalid_staff_numbers_are_refused_and_old_ones_can_still_be_removed(
    seeded: Service,
) -> None:
    """Issue 13 item 11: a number no call can come from is refused with the reason; one
    stored before the check can still be removed (removal needs only a readable number)."""
    with pytest.raises(BadInput, match=r"'555-0000' is not a valid phone number"):
        seeded.staff.add(slack_user_id="U09NEW", name="N", role="clinical_staff",
                         phones=("555-0000",), actor="t")
    with pytest.raises(BadInput, match="not a valid phone number"):
        seeded.staff.update(NURSE, StaffChanges(add_twilio_numbers=("+15551234567",)),
                            actor="t")
    with seeded.ctx.db.write_session() as session:
        patient = session.exec(select(Patient)).one()
        session.add(PatientPhone(patient_id=patient.id, e164="+15550000", kind="patient"))
    seeded.patients.update("P-1042", PatientFields(remove_phones=("+15550000",)), actor="t")
    assert {p.e164 for p in _all(seeded, PatientPhone)} == {"+16175550123", "+16175550124"}


@pytest.mark.parametrize(("typed", "stored"), [
    ("JÉ", "JÉ"), ("je\u0301", "JÉ"), ("øs", "ØS"), ("ип", "ИП"), ("王", "王"), ("ABCD", "ABCD")])
def test_initials_are_letters_of_any_script(svc: Service, typed: str, stored: str) -> None:
    """Issue 13 item 12: `JÉ` was refused; an accent typed as its own mark is one letter."""
    assert svc.patients.add("P-1", PatientFields(initials=typed), actor="t").label == (
        f"P-1 ({stored})")


@pytest.mark.parametrize("typed", ["J0", "J.D", "J D", "ABCDE", "é\u0301\u0301xyz", "J-"])
def test_initials_that_are_not_1_to_4_letters_are_refused(svc: Service, typed: str) -> None:
    with pytest.raises(BadInput, match="must be 1 to 4 letters"):
        svc.patients.add("P-1", PatientFields(initials=typed), actor="t")


@pytest.mark.parametrize("typed", ["617-ALE-ADAD", "+1617ALEADAD", "1-800-FLOWERS",
                                   "(617) 555-O123"])
def test_a_phone_spelled_in_letters_is_refused_with_a_reason(seeded: Service,
                                                           typed: str) -> None:
    """Attack finding 5: letters are refused wherever a phone is typed, not read as keys."""
    with pytest.raises(BadInput, match="letters"):
        normalize_phone(typed, region="US")
    with pytest.raises(BadInput, match="letters"):
        seeded.patients.add("P-77", PatientFields(phones=(typed,)), actor="t")
    assert seeded.staff.by_phone(typed) is None


def test_every_refused_field_is_named_at_once(seeded: Service) -> None:
    """One refusal is raised as it was (its type kept); several as one BadInputs naming each
    field, so a person fixes them all in one go (outside try of issue 24, an import's line).
    Nothing is written either way."""
    before = len(_all(seeded, AuditEvent))
    with pytest.raises(NotFound, match="^No staff member with Slack id U09NOBODY") as one:
        seeded.patients.add("P-9", PatientFields(assign="U09NOBODY"), actor="test")
    assert one.value.field == "assign"
    with pytest.raises(BadInputs) as many:
        seeded.patients.update("P-1042", PatientFields(
            initials="A1", assign="U09NOBODY", provider=NURSE, enrolled_on=date(2026, 10, 1),
            ended_on=date(2026, 1, 1)),
            actor="test")
    assert [r.split(":")[0] for r in many.value.reasons] == ["initials", "provider",
                                                             "assign", "ended"]
    with pytest.raises(BadInputs, match="^role: Unknown role 'surgeon'.*; email: 'x' is not"):
        seeded.staff.update(NURSE, StaffChanges(role="surgeon", email="x"), actor="test")
    assert len(_all(seeded, AuditEvent)) == before
