"""Devices and their readings (issue 28): lend a device, end it, list; take readings in (the
signed webhook, FHIR, a CSV file), each request or file one transaction, stored once; list
and attach unmatched readings; a patient's reading days and device periods.

Reading values are PHI: checked and stored, never logged, never returned (only counts of
readings and days are). `reading_days` is the one place instants become clinic days;
billing.devices turns days into periods and codes.
"""

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from billing.devices import (
    DEVICE_KINDS,
    READING_KINDS,
    DevicePeriod,
    PeriodVerdict,
    current_period,
    device_periods,
    period_verdict,
)
from billing.errors import quoted
from billing.months import clinic_day, start_of_day_utc
from billing.programme import Enrolment
from service import audit, lookups
from service.context import ServiceContext
from service.errors import BadInput, NotFound
from store import devices as device_rows
from store import episodes as episode_rows
from store.db import Conn

MAX_READINGS_PER_REQUEST = 500
SOURCES = ("webhook", "fhir", "csv")
_SERIAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")
_VALUE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
_MAX_VALUES = 16
_FUTURE_SLACK = timedelta(minutes=5)  # a device clock a little ahead is not refused


@dataclass(frozen=True)
class ReadingIn:
    """One reading as checked, before it is matched and stored."""

    reading_id: str | None
    serial: str | None
    patient_ref: str | None
    measured_at: datetime
    kind: str
    values: Mapping[str, float | int]


@dataclass(frozen=True)
class IngestResult:
    """What a request or file did: readings stored now, replays already stored, and how many
    of those stored are unmatched (no device for their serial on that day)."""

    received: int
    stored: int
    replayed: int
    unmatched: int
    dry_run: bool = False


@dataclass(frozen=True)
class DeviceView:
    serial: str
    patient_id: str
    kind: str
    started_on: date
    ended_on: date | None


@dataclass(frozen=True)
class UnmatchedSerial:
    serial: str | None
    readings: int
    first: datetime
    last: datetime


@dataclass(frozen=True)
class DeviceStatus:
    """A patient's device periods (oldest first) and the one holding today."""

    patient_id: str
    periods: tuple[DevicePeriod, ...]
    current: DevicePeriod | None


def _bad(where: str, field: str, why: str) -> BadInput:
    return BadInput(f"{where}{field}: {why}")


def check_serial(text: str) -> str:
    value = (text or "").strip()
    if not _SERIAL.fullmatch(value):
        raise BadInput(f"{quoted(text or '')} is not a device serial: letters, digits and "
                       "'.', '_', ':', '/', '-', up to 64 characters.")
    return value


def reading_from(fields: Mapping[str, Any], *, where: str = "") -> ReadingIn:
    """A reading's fields (JSON, a FHIR mapping or a CSV row) checked; BadInput names the
    first bad field (prefixed by `where`, e.g. "readings[3].") and never repeats a value."""
    if not isinstance(fields, Mapping):
        raise BadInput(f"{where.rstrip('.') or 'body'}: a reading is a JSON object")
    reading_id = _optional_text(fields, "reading_id", 128, where)
    serial = _optional_text(fields, "device_serial", 64, where)
    if serial is not None and not _SERIAL.fullmatch(serial):
        raise _bad(where, "device_serial", "letters, digits and . _ : / - only")
    patient = _optional_text(fields, "patient_id", 64, where)
    if serial is None and patient is None:
        raise _bad(where, "device_serial", "device_serial or patient_id is needed")
    measured_at = _instant(fields.get("measured_at"), where)
    kind = fields.get("kind")
    if not isinstance(kind, str) or kind not in READING_KINDS:
        raise _bad(where, "kind", "one of " + ", ".join(READING_KINDS))
    values = fields.get("values")
    if not isinstance(values, Mapping) or not values or len(values) > _MAX_VALUES:
        raise _bad(where, "values", f"an object of 1 to {_MAX_VALUES} named numbers")
    clean: dict[str, float | int] = {}
    for name, number in values.items():
        if not isinstance(name, str) or not _VALUE_NAME.fullmatch(name):
            raise _bad(where, "values", "names are letters, digits and _ (up to 32)")
        if isinstance(number, bool) or not isinstance(number, int | float) \
                or not math.isfinite(number):
            raise _bad(where, f"values.{name}", "a number")
        clean[name] = number
    return ReadingIn(reading_id, serial, patient, measured_at, kind, clean)


def _optional_text(fields: Mapping[str, Any], name: str, limit: int, where: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
        raise _bad(where, name, f"text of 1 to {limit} characters")
    return value.strip()


def _instant(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise _bad(where, "measured_at", "an ISO 8601 instant with its offset")
    try:
        instant = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _bad(where, "measured_at", "an ISO 8601 instant with its offset") from None
    if instant.tzinfo is None:
        raise _bad(where, "measured_at", "needs its UTC offset (e.g. -05:00 or Z)")
    return instant


def reading_days(instants: Iterable[datetime], zone: ZoneInfo) -> list[date]:
    """The clinic days of reading instants: the one place readings become days."""
    return [clinic_day(instant, zone) for instant in instants]


def periods_of(instants: Iterable[datetime], enrolment: Enrolment, consent_on: date | None,
               zone: ZoneInfo, *, through: date | None) -> tuple[DevicePeriod, ...]:
    """A patient's device periods from their reading instants (billing.devices' rules)."""
    return device_periods(reading_days(instants, zone), enrolment, consent_on, through=through)


def _dedupe_key(reading: ReadingIn, serial_key: str | None) -> str:
    if reading.reading_id is not None:
        return "id:" + reading.reading_id
    who = f"s:{serial_key}" if serial_key else f"p:{lookups.patient_key(reading.patient_ref or '')}"
    instant = reading.measured_at.astimezone(UTC)
    return f"dk:{who}|{instant.isoformat(timespec='microseconds')}|{reading.kind}"


def _lending_on(lendings: Sequence[Any], day: date) -> Any:
    return next((d for d in lendings
                 if d.started_on <= day and (d.ended_on is None or day <= d.ended_on)), None)


def _view(row: Any, clinic_id: str) -> DeviceView:
    return DeviceView(row.serial, clinic_id, row.kind, row.started_on, row.ended_on)


class DeviceService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _today(self) -> date:
        return clinic_day(self.ctx.now(), self.ctx.policy.zone)

    # -- devices ---------------------------------------------------------------------------

    def add(self, serial: str, *, patient_ref: str, kind: str, from_day: date | None,
            actor: str) -> DeviceView:
        """Lend the device to the patient from `from_day` (default today); refused while
        the serial is lent (an open lending, or one ending on or after that day)."""
        serial = check_serial(serial)
        if kind not in DEVICE_KINDS:
            raise BadInput(f"{quoted(kind)} is not a device kind: "
                           + ", ".join(DEVICE_KINDS) + ".")
        start = from_day or self._today()
        with self.ctx.db.write() as conn:
            patient = lookups.require_patient(conn, patient_ref,
                                              region=self.ctx.policy.phone_region)
            key = serial.upper()
            for lent in device_rows.by_serial(conn, key):
                if lent.ended_on is None or lent.ended_on >= start:
                    raise BadInput(f"Device {lent.serial} is lent until "
                                   f"{lent.ended_on or 'it is ended'}: end it first "
                                   f"(`rpm-logger device end {lent.serial} --on DATE`).")
            row = device_rows.insert_device(conn, {
                "serial": serial, "serial_key": key, "patient_id": patient.id, "kind": kind,
                "started_on": start, "ended_on": None, "created_at": self.ctx.now(),
                "created_by": actor})
            audit.record(conn, at=self.ctx.now(), actor=actor, action="device.add",
                         entity="device", entity_id=row.id,
                         after={"serial": serial, "patient": patient.clinic_id, "kind": kind,
                                "started_on": start})
            return _view(row, patient.clinic_id)

    def end(self, serial: str, *, on: date, actor: str) -> DeviceView:
        """End the serial's open lending on `on` (its last day)."""
        serial = check_serial(serial)
        with self.ctx.db.write() as conn:
            lent = next((d for d in device_rows.by_serial(conn, serial.upper())
                         if d.ended_on is None), None)
            if lent is None:
                raise NotFound(f"No device {quoted(serial)} is lent now.")
            if on < lent.started_on:
                raise BadInput(f"Device {lent.serial} was lent from {lent.started_on}: it "
                               "cannot end before.")
            row = device_rows.end_device(conn, lent.id, on)
            # readings it measured after its last day are no longer the patient's
            detached = device_rows.detach_from(
                conn, row.id, start_of_day_utc(on + timedelta(days=1), self.ctx.policy.zone))
            audit.record(conn, at=self.ctx.now(), actor=actor, action="device.end",
                         entity="device", entity_id=row.id, before={"ended_on": None},
                         after={"ended_on": on, "readings_unmatched": detached})
            clinic_id = next(r.clinic_id for r in device_rows.listed(
                conn, patient_pk=row.patient_id) if r.id == row.id)
            return _view(row, clinic_id)

    def listed(self, patient_ref: str | None = None) -> list[DeviceView]:
        with self.ctx.db.read() as conn:
            pk = None
            if patient_ref is not None:
                pk = lookups.require_patient(conn, patient_ref,
                                             region=self.ctx.policy.phone_region).id
            return [_view(r, r.clinic_id) for r in device_rows.listed(conn, patient_pk=pk)]

    def unmatched(self) -> list[UnmatchedSerial]:
        with self.ctx.db.read() as conn:
            return [UnmatchedSerial(r.serial, int(r.readings), r.first, r.last)
                    for r in device_rows.unmatched(conn)]

    def attach(self, serial: str, *, actor: str) -> tuple[int, int]:
        """Give the serial's unmatched readings the patient its lending on each reading's
        day names (lend it first: `device add`); (attached, still unmatched)."""
        serial = check_serial(serial)
        zone = self.ctx.policy.zone
        with self.ctx.db.write() as conn:
            key = serial.upper()
            lendings = device_rows.by_serial(conn, key)
            if not lendings:
                raise NotFound(f"No device {quoted(serial)} is registered: lend it first "
                               "(`rpm-logger device add`).")
            pairs = []
            waiting = device_rows.unmatched_of(conn, key)
            for reading in waiting:
                lent = _lending_on(lendings, clinic_day(reading.measured_at, zone))
                if lent is not None:
                    pairs.append({"reading_pk": reading.id, "device_pk": lent.id,
                                  "patient_pk": lent.patient_id, "by": actor})
            device_rows.attach(conn, pairs)
            if pairs:
                audit.record(conn, at=self.ctx.now(), actor=actor, action="readings.attach",
                             entity="device", entity_id=lendings[-1].id,
                             after={"serial": serial, "readings": len(pairs)})
            return len(pairs), len(waiting) - len(pairs)

    # -- readings --------------------------------------------------------------------------

    def ingest(self, readings: Sequence[ReadingIn], *, source: str, actor: str,
               dry_run: bool = False) -> IngestResult:
        """Store the readings in one transaction, each once (a replay is counted, not
        stored again); a reading whose serial no device is lent for on its day is stored
        unmatched. A patient id no patient has, with no serial, is refused (nothing
        stored). `dry_run`: everything checked and counted, nothing written."""
        if source not in SOURCES:
            raise ValueError(source)
        zone = self.ctx.policy.zone
        now = self.ctx.now()
        late = now + _FUTURE_SLACK
        for index, reading in enumerate(readings):
            if reading.measured_at > late:
                raise BadInput(f"readings[{index}].measured_at: in the future")
        with (self.ctx.db.read() if dry_run else self.ctx.db.write()) as conn:
            serials = device_rows.lendings(
                conn, (r.serial.upper() for r in readings if r.serial))
            patients = device_rows.patient_pks(
                conn, (lookups.patient_key(r.patient_ref) for r in readings if r.patient_ref))
            rows: list[dict[str, Any]] = []
            keys: set[str] = set()
            for index, reading in enumerate(readings):
                serial_key = reading.serial.upper() if reading.serial else None
                lent = _lending_on(serials.get(serial_key, []) if serial_key else [],
                                   clinic_day(reading.measured_at, zone))
                patient_pk = lent.patient_id if lent is not None else None
                if patient_pk is None and reading.patient_ref is not None:
                    patient_pk = patients.get(lookups.patient_key(reading.patient_ref))
                    if patient_pk is None and serial_key is None:
                        raise BadInput(f"readings[{index}].patient_id: no such patient")
                key = _dedupe_key(reading, serial_key)
                if key in keys:
                    continue
                keys.add(key)
                rows.append({
                    "dedupe_key": key, "reading_id": reading.reading_id,
                    "serial": reading.serial, "serial_key": serial_key,
                    "device_id": lent.id if lent is not None else None,
                    "patient_id": patient_pk, "measured_at": reading.measured_at,
                    "kind": reading.kind, "values": dict(reading.values), "source": source,
                    "received_at": now, "attached_by": None})
            known = device_rows.known_keys(conn, [r["dedupe_key"] for r in rows])
            new = [r for r in rows if r["dedupe_key"] not in known]
            unmatched = sum(1 for r in new if r["patient_id"] is None)
            result = IngestResult(len(readings), len(new), len(readings) - len(new),
                                  unmatched, dry_run)
            if dry_run or not new:
                return result
            device_rows.insert_readings(conn, new)
            audit.record(conn, at=now, actor=actor, action="readings.ingest",
                         entity="device_readings", entity_id=source,
                         after={"source": source, "stored": len(new),
                                "replayed": result.replayed, "unmatched": unmatched})
            return result

    # -- periods ---------------------------------------------------------------------------

    def status(self, patient_ref: str) -> DeviceStatus:
        """The patient's device periods through today and the current one."""
        today = self._today()
        with self.ctx.db.read() as conn:
            patient = lookups.require_patient(conn, patient_ref,
                                              region=self.ctx.policy.phone_region)
            periods = periods_in(conn, patient, self.ctx.policy.zone, through=today)
            return DeviceStatus(patient.clinic_id, periods, current_period(periods, today))


def short_of_readings(summary: Any, today: date | None = None) -> PeriodVerdict | None:
    """The verdict of a patient's current device period (a month summary's) while it still
    aims at a code (billing.devices.period_verdict: "needs N more reading days by DATE"),
    or None: no readings, the period has its best code or nothing more is reachable, it
    has ended, or the month is over. `today`: judged on that day instead of the summary's
    (a reminder plan's day). The one rule reminders, the summary and the dashboard share."""
    period = summary.current_device_period
    if period is None or summary.month_ended:
        return None
    verdict = period_verdict(period, today) if today is not None else summary.device_verdict
    return verdict if verdict is not None and verdict.aim is not None else None


@dataclass(frozen=True)
class PeriodReadings:
    """A device period as the dashboard's patient page lists it: the period (its days and
    codes, as the month summary has it) and where its counted days' readings came from
    (webhook, fhir, csv) with how many there were; never a reading's value."""

    period: DevicePeriod
    readings: int
    sources: tuple[str, ...]


def period_readings(conn: Conn, patient_pk: int, periods: Sequence[DevicePeriod],
                    zone: ZoneInfo) -> tuple[PeriodReadings, ...]:
    """Each of `periods` with the count and sources of the readings on its counted days,
    read in the caller's transaction (one statement)."""
    per_day: dict[date, list[str]] = {}
    for row in device_rows.instants(conn, patient_pk):
        per_day.setdefault(clinic_day(row.measured_at, zone), []).append(row.source)
    shown = []
    for period in periods:
        sources = [source for day in period.days for source in per_day.get(day, ())]
        shown.append(PeriodReadings(period, len(sources), tuple(sorted(set(sources)))))
    return tuple(shown)


def periods_in(conn: Conn, patient: Any, zone: ZoneInfo, *,
               through: date | None) -> tuple[DevicePeriod, ...]:
    """A patient row's device periods (its episodes, consent and readings), read in the
    caller's transaction."""
    enrolment = episode_rows.enrolment(conn, patient)
    instants = [r.measured_at for r in device_rows.instants(conn, patient.id)]
    return periods_of(instants, enrolment, patient.consent_on, zone, through=through)


__all__ = ["MAX_READINGS_PER_REQUEST", "DeviceService", "DeviceStatus", "DeviceView",
           "IngestResult", "PeriodReadings", "ReadingIn", "UnmatchedSerial", "check_serial",
           "period_readings", "periods_in", "periods_of", "reading_days", "reading_from",
           "short_of_readings"]
