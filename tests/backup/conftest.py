"""A clinic with a row in every table, built through the service where the service writes
that table (entries, voids, closes, reopens, episodes, timers, contexts) and as the webhooks
and the scheduler would store the rest (calls, an SMS, reminder claims, a call DM, a voice
session, a wrong PIN); values chosen to trip a careless copy: microseconds, nested JSON, text in
several scripts with quotes and a newline, NULLs, booleans both ways."""

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlmodel import SQLModel
from sqlmodel import select as orm_select

import store.models as models
from billing.months import Month
from service import Service
from service.devices import reading_from
from service.patients import PatientFields
from store.db import Database
from store.migrate import upgrade_to_head
from tests.cli.runner import Cli
from tests.conftest import FrozenClock
from tests.service.helpers import ADMIN, DOCTOR, NURSE, log
from tests.snapshots import seeded
from tests.web.support import seed_month

NOTE = 'Bläser — ✓ "quoted" it\'s\nline two; 日本語; Ελληνικά'


def seed_clinic(svc: Service) -> dict[str, int]:
    """The backup clinic (tests/snapshots.py: built once per test process, copied after)."""
    return seeded(svc, "the backup clinic", _seed_clinic)


def _seed_clinic(svc: Service) -> dict[str, int]:
    ids = seed_month(svc)
    svc.patients.add("P-9001", PatientFields(
        initials="ÉL", consent_on=date(2026, 9, 1), conditions=("I10", "E11.9"),
        provider=DOCTOR, enrolled_on=date(2026, 9, 1), ordered_by=DOCTOR,
        order_on=date(2026, 8, 20), last_visit_on=date(2026, 8, 1)), actor="test")
    ids["october"] = log(svc, "25m", "call", patient="P-9001", staff=DOCTOR, note=NOTE,
                         started_at=datetime(2026, 10, 6, 14, 0, 1, 123456, tzinfo=UTC))
    october = Month(2026, 10)
    svc.closes.close(october, by="cli:test")
    svc.closes.reopen(october, reason="a late call", by="cli:test", billed=True)
    svc.closes.close(october, by=ADMIN)
    svc.patients.end("P-9001", on=date(2026, 11, 2), actor="test")
    svc.patients.enrol("P-9001", on=date(2026, 11, 10), actor="test")
    svc.timers.start(NURSE, "P-2002")
    svc.current_patient.use(channel_id="C0CLINIC", user_id=NURSE, patient_ref="P-1042")
    link = svc.auditors.grant(name="Payer — reviewer ✓", months="2026-10..2026-11",
                              patients="P-1042,P-9001", expires_on=date(2026, 12, 31),
                              actor="cli:test").link_token  # the signing key made too
    svc.auditors.redeem(link)
    svc.devices.add("BP-0042", patient_ref="P-1042", kind="bp_cuff",
                    from_day=date(2026, 11, 1), actor="test")
    svc.devices.ingest([reading_from({
        "reading_id": "vendor-ü-1", "device_serial": "BP-0042",
        "measured_at": "2026-11-03T07:12:00.123456-05:00", "kind": "blood_pressure",
        "values": {"systolic": 128, "diastolic": 82.5}})], source="webhook", actor="webhook")
    _store_the_rest(svc.ctx.db, ids["call"])
    return ids


def _store_the_rest(db: Database, entry_id: int) -> None:
    at = datetime(2026, 11, 20, 19, 59, 58, 654321, tzinfo=UTC)
    with db.write_session() as session:
        nurse = session.exec(orm_select(models.Staff).where(
            models.Staff.slack_user_id == NURSE)).one()
        patient = session.exec(orm_select(models.Patient).where(
            models.Patient.clinic_key == "P-1042")).one()
        session.add_all([
            models.Call(call_sid="CA" + "1" * 32, direction="outbound-api", status="completed",
                        from_number="+16175550199", to_number="+16175550123",
                        answered_by="human", duration_seconds=720, sequence_number=3,
                        event_at=at, started_at=at, ended_at=at, patient_id=patient.id,
                        matched_kind="patient", staff_id=nurse.id, bridged=True,
                        state="counted", after_close=False, entry_id=entry_id,
                        note="caller asked about 日本語 leaflets", source="click",
                        created_at=at, updated_at=at),
            models.Contact(external_ref="SM" + "2" * 32, from_number="+16175550123",
                           to_number="+16175550100", patient_id=patient.id,
                           matched_kind="patient", received_at=at),
            models.ReminderClaim(claim_id="0b5c6f1e-8a4d-4c1e-9f3b-2d7e6a5b4c3d",
                                 recipient=NURSE, kind="dm", day=date(2026, 11, 20),
                                 state="sent", attempts=2, patients=3, first_claimed_at=at,
                                 claimed_at=at, claimed_by="host-1:4242", sent_at=at,
                                 slack_channel="D0NURSE", slack_ts="1763668798.000200"),
            models.VoiceMenuState(call_sid="CA" + "3" * 32, staff_id=nurse.id, turn=4,
                                  step="minutes", tries=1,
                                  data={"patient": "P-1042", "minutes": None,
                                        "picked": [1, 2.5, True], "é": {"nested": "✓"}},
                                  reply={"say": ["Patient P 1 0 4 2"], "gather": True},
                                  created_at=at, expires_at=at),
            models.VoicePinAttempt(staff_id=nurse.id, call_sid="CA" + "3" * 32, at=at,
                                   pending=True),
        ])
        session.flush()
        call = session.exec(orm_select(models.Call)).one()
        session.add(models.Notice(claim_id="5d1e7c2a-9b3f-4e6d-8a1c-0f2b4d6e8a9c",
                                  kind="tell_counted", recipient=NURSE, call_id=call.id,
                                  state="sent", attempts=1, created_at=at,
                                  first_claimed_at=at, claimed_at=at, claimed_by="host-1:4242",
                                  sent_at=at, slack_channel="D0NURSE",
                                  slack_ts="1763668798.000300"))


def table_counts(url: str) -> dict[str, int]:
    """Every table of the schema and its rows, read with a plain engine."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                    for t in SQLModel.metadata.sorted_tables}
    finally:
        engine.dispose()


def cli_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    env.update(DATABASE_URL=url, CLINIC_TIMEZONE="America/New_York")
    return env


@pytest.fixture
def clinic(svc: Service) -> dict[str, int]:
    return seed_clinic(svc)


@pytest.fixture
def source_cli(db_url: str, clinic: dict[str, int], svc: Service, clock: FrozenClock) -> Cli:
    """The CLI on the seeded clinic's database (the service's engine let go first)."""
    svc.ctx.db.engine.dispose()
    return Cli(cli_env(db_url), clock=clock)


@pytest.fixture
def unmigrated_postgres_url(postgres_url: str) -> Iterator[str]:
    """This process's PostgreSQL test database with no tables at all, as nothing ever
    migrated it (a new database costs seconds to create and drop); brought back to the
    newest schema after the test, whatever it left (the next test empties it)."""
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        yield postgres_url
    finally:
        upgrade_to_head(engine)
        engine.dispose()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"
