"""Reading the database state the bot left behind, through the service."""

from collections.abc import Iterator
from contextlib import contextmanager

from billing.months import Month
from service import Service
from service.views import EntryView
from store.db import Database, StoreUnavailable


def entries(svc: Service, patient: str = "P-1042") -> list[EntryView]:
    return svc.entries.for_patient_month(patient, Month(2026, 11))


def standing(svc: Service, patient: str = "P-1042") -> list[EntryView]:
    return [e for e in entries(svc, patient) if e.voided_at is None]


@contextmanager
def writes_fail(db: Database) -> Iterator[None]:
    """The database stops accepting writes (reads still work): a mid-request outage."""
    original, original_session = db.write, db.write_session

    @contextmanager
    def broken(**_options: object) -> Iterator[None]:
        raise StoreUnavailable("database unavailable: connection refused")
        yield  # pragma: no cover

    db.write = broken  # type: ignore[method-assign]
    db.write_session = broken  # type: ignore[method-assign]  # nothing writes without failing
    try:
        yield
    finally:
        db.write = original  # type: ignore[method-assign]
        db.write_session = original_session  # type: ignore[method-assign]
