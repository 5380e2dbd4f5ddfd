"""Reading the database state the bot left behind, through the service."""

from billing.months import Month
from service import Service
from service.views import EntryView


def entries(svc: Service, patient: str = "P-1042") -> list[EntryView]:
    return svc.entries.for_patient_month(patient, Month(2026, 11))


def standing(svc: Service, patient: str = "P-1042") -> list[EntryView]:
    return [e for e in entries(svc, patient) if e.voided_at is None]
