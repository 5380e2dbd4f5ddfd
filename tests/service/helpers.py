"""Small builders so each service test states only what it is about."""

from datetime import date

from service import Service
from service.entries import LogRequest
from service.patients import PatientFields
from tests.snapshots import seeded

NURSE = "U01NURSE"
DOCTOR = "U02DOCTOR"
CLERK = "U03CLERK"
ADMIN = "U04ADMIN"


def seed(svc: Service) -> None:
    """The shared seed, built through the service once per test process and copied after that
    (tests/snapshots.py)."""
    return seeded(svc, "the shared seed", _seed)


def _seed(svc: Service) -> None:
    svc.staff.add(slack_user_id=NURSE, name="Nina Nurse", role="clinical_staff",
                  phones=("+1 617 555 0101",), actor="test")
    svc.staff.add(slack_user_id=DOCTOR, name="Dee Doctor", role="physician", npi="1234567890",
                  actor="test")
    svc.staff.add(slack_user_id=CLERK, name="Cal Clerk", role="non_clinical", actor="test")
    svc.staff.add(slack_user_id=ADMIN, name="Ada Admin", role="clinical_staff", is_admin=True,
                  actor="test")
    svc.patients.add("P-1042", PatientFields(
        initials="JD", phones=("(617) 555-0123",), caregiver_phones=("617.555.0124",),
        assign=NURSE, consent_on=date(2026, 10, 1), conditions=("I10",), provider=DOCTOR,
        ordered_by=DOCTOR, order_on=date(2026, 9, 1),  # billable: a month close bills it
    ), actor="test")


def log(svc: Service, duration: str, activity: str = "review", *, patient: str = "P-1042",
        staff: str = NURSE, **extra: object) -> int:
    request = LogRequest(patient=patient, duration=duration, activity=activity, staff=staff,
                         source="cli", **extra)  # type: ignore[arg-type]
    return svc.entries.log(request).entry.id
