"""Devices and their readings (issue 28): lend a device, end it, list; take readings in (the
signed webhook, FHIR, a CSV file), each request or file one transaction, stored once; list
and attach unmatched readings; a patient's reading days and device periods.

Reading values are PHI: checked and stored, never logged, never returned (only counts of
readings and days are). `reading_days` is the one place instants become clinic days;
billing.devices turns days into periods and codes.
"""

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from billing.codes import CodeUnits, format_codes
from billing.devices import (
    DEVICE_KINDS,
    READING_KINDS,
    DevicePeriod,
    PeriodVerdict,
    codes_in_month,
    current_period,
    period_verdict,
    periods_of,
    reading_days,
)
from billing.errors import quoted
from billing.months import Month, clinic_day, start_of_day_utc
from service import audit, import_csv, lookups
from service.closes import (
    AMEND_ATTACH,
    AMEND_DEVICE_END,
    AMEND_READINGS,
    Amendment,
    closed_from,
    refuse_unless_amended,
)
from service.context import ServiceContext
from service.errors import BadInput, NotFound
from store import devices as device_rows
from store import episodes as episode_rows
from store import patients as patient_rows
from store.closes import DEVICES_CHANGED, EventRow
from store.db import Conn

MAX_READINGS_PER_REQUEST = 500
MAX_FILE_BYTES = 64 * 1024 * 1024  # `import readings`: about 500,000 readings; split a bigger
SOURCES = ("webhook", "fhir", "csv")
# sources that cannot give an amendment's reason: a vendor's system pushing readings. What
# they send is kept even when it changes a closed month's device codes (device data is never
# dropped); the month then shows its device codes changed since close (docs/audit.md).
VENDOR_PUSH = ("webhook", "fhir")
_SERIAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")
_VALUE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
# a reading's fields; any other is refused (a vendor's note or name is nothing we keep)
READING_FIELDS = ("reading_id", "device_serial", "patient_id", "measured_at", "kind", "values")
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,39}")  # what may be echoed of a field
MAX_VALUES = 16  # named numbers per reading: a blood pressure has 2 or 3
MAX_VALUE = 1_000_000_000  # the largest size of one (a reading is no bigger than this)
_FUTURE_SLACK = timedelta(minutes=5)  # a device clock a little ahead is not refused


@dataclass(frozen=True)
class Place:
    """Where a reading was in its request or file, as a refusal names it: a prefix
    ("readings[3].", "line 4, ", "entry[2].resource.") and its fields' names there when the
    source calls them otherwise (FHIR: `subject` for patient_id, `device` for device_serial)."""

    where: str = ""
    names: Mapping[str, str] = field(default_factory=dict)

    def name(self, key: str) -> str:
        """The field as its source names it ("values.systolic" keeps its value's name)."""
        head, dot, rest = key.partition(".")
        if head in self.names and dot:
            return f"{self.names[head]} ({rest})"
        return f"{self.names.get(head, head)}{dot}{rest}"

    def of(self, key: str) -> str:
        """The field where it was: "readings[3].patient_id", "line 4, kind"."""
        return self.where + self.name(key)

    def bad(self, key: str, why: str) -> BadInput:
        return BadInput(f"{self.of(key)}: {why}")


@dataclass(frozen=True)
class ReadingIn:
    """One reading as checked, before it is matched and stored; `place` names its fields
    in a refusal the service makes later (the patient the serial is lent to differs)."""

    reading_id: str | None
    serial: str | None
    patient_ref: str | None
    measured_at: datetime
    kind: str
    values: Mapping[str, float | int]
    place: Place = field(default_factory=Place, compare=False)


@dataclass(frozen=True)
class DeviceCloseChange:
    """A closed month whose device codes a write changes for one patient: its codes before
    the write (as the month reads now) and after it."""

    month: str
    clinic_id: str
    patient: str  # clinic id and initials
    before: tuple[CodeUnits, ...]
    after: tuple[CodeUnits, ...]

    @property
    def text(self) -> str:
        """'P-1042 (JD) device codes 99453;99445 -> 99453;99454'."""
        return (f"{self.patient} device codes {format_codes(self.before) or 'none'} -> "
                f"{format_codes(self.after) or 'none'}")


@dataclass(frozen=True)
class IngestResult:
    """What a request or file did: readings stored now, replays already stored, and how many
    of those stored are unmatched (no device for their serial on that day); the closed
    months whose device codes they change (kept from a vendor's push, else amended)."""

    received: int
    stored: int
    replayed: int
    unmatched: int
    dry_run: bool = False
    closed_changes: tuple[DeviceCloseChange, ...] = ()
    amendment_reason: str | None = None


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


def check_serial(text: str) -> str:
    value = (text or "").strip()
    if not _SERIAL.fullmatch(value):
        raise BadInput(f"{quoted(text or '')} is not a device serial: letters, digits and "
                       "'.', '_', ':', '/', '-', up to 64 characters.")
    return value


def reading_from(fields: Mapping[str, Any], *, where: str = "",
                 names: Mapping[str, str] | None = None) -> ReadingIn:
    """A reading's fields (JSON, a FHIR mapping or a CSV row) checked; BadInput names the
    first bad field (prefixed by `where`, e.g. "readings[3].", and as `names` calls it in
    its source) and never repeats a value."""
    place = Place(where, dict(names or {}))
    if not isinstance(fields, Mapping):
        raise BadInput(f"{where.rstrip('.') or 'body'}: a reading is a JSON object")
    for number, name in enumerate(fields, start=1):
        if name not in READING_FIELDS:
            shown = name if isinstance(name, str) and _FIELD_NAME.fullmatch(name) \
                else f"field {number}"
            raise place.bad(shown, "unknown field; a reading has only "
                            + ", ".join(READING_FIELDS))
    reading_id = _optional_text(fields, "reading_id", 128, place)
    serial = _optional_text(fields, "device_serial", 64, place)
    if serial is not None and not _SERIAL.fullmatch(serial):
        raise place.bad("device_serial", "letters, digits and . _ : / - only")
    patient = _optional_text(fields, "patient_id", 64, place)
    if serial is None and patient is None:
        raise place.bad("device_serial", "device_serial or patient_id is needed")
    measured_at = _instant(fields.get("measured_at"), place)
    kind = fields.get("kind")
    if not isinstance(kind, str) or kind not in READING_KINDS:
        raise place.bad("kind", "one of " + ", ".join(READING_KINDS))
    values = fields.get("values")
    if not isinstance(values, Mapping) or not values or len(values) > MAX_VALUES:
        raise place.bad("values", f"an object of 1 to {MAX_VALUES} named numbers")
    clean: dict[str, float | int] = {}
    for name, number in values.items():
        if not isinstance(name, str) or not _VALUE_NAME.fullmatch(name):
            raise place.bad("values", "names are letters, digits and _ (up to 32)")
        # compared before any float conversion: a 400-digit integer is refused, not an error
        if isinstance(number, bool) or not isinstance(number, int | float) \
                or not abs(number) <= MAX_VALUE or not math.isfinite(number):
            raise place.bad(f"values.{name}", f"a number from -{MAX_VALUE:,} to {MAX_VALUE:,}")
        clean[name] = number
    return ReadingIn(reading_id, serial, patient, measured_at, kind, clean, place)


def _optional_text(fields: Mapping[str, Any], name: str, limit: int,
                   place: Place) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
        raise place.bad(name, f"text of 1 to {limit} characters")
    return value.strip()


def _instant(value: Any, place: Place) -> datetime:
    if not isinstance(value, str):
        raise place.bad("measured_at", "an ISO 8601 instant with its offset")
    try:
        instant = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise place.bad("measured_at", "an ISO 8601 instant with its offset") from None
    if instant.tzinfo is None:
        raise place.bad("measured_at", "needs its UTC offset (e.g. -05:00 or Z)")
    return instant


def _dedupe_key(reading: ReadingIn, serial_key: str | None) -> str:
    if reading.reading_id is not None:
        return "id:" + reading.reading_id
    who = f"s:{serial_key}" if serial_key else f"p:{lookups.patient_key(reading.patient_ref or '')}"
    instant = reading.measured_at.astimezone(UTC)
    return f"dk:{who}|{instant.isoformat(timespec='microseconds')}|{reading.kind}"


def _lending_on(lendings: Sequence[Any], day: date) -> Any:
    return next((d for d in lendings
                 if d.started_on <= day and (d.ended_on is None or day <= d.ended_on)), None)


def _patient_of(reading: ReadingIn, lent: Any, patients: Mapping[str, int]) -> int | None:
    """The patient a reading is stored for: the one its serial is lent to on its day, else
    the one its patient id names, else none (unmatched). Both given must agree: a reading
    the vendor says is one patient's, from a device lent to another that day, is refused
    (BadInput naming the patient id), as is a patient id no patient has, unless the serial
    is unknown that day (then the reading is kept unmatched for an admin)."""
    named = None
    if reading.patient_ref is not None:
        named = patients.get(lookups.patient_key(reading.patient_ref))
        if named is None and (reading.serial is None or lent is not None):
            raise reading.place.bad("patient_id", "no such patient")
    if lent is None:
        return named
    if named is not None and named != lent.patient_id:
        raise reading.place.bad("patient_id", "another patient than the one "
                                f"{reading.place.name('device_serial')} is lent to when the "
                                "reading was measured")
    return int(lent.patient_id)


def _view(row: Any, clinic_id: str) -> DeviceView:
    return DeviceView(row.serial, clinic_id, row.kind, row.started_on, row.ended_on)


class _ClosedDeviceCodes:
    """The device codes of the closed months a write may change, for the patients it
    touches: read before the write (under the months' locks), compared with them after.

    A reading dated on day D can change only months ending on or after D (its period ends
    after D; a new first reading day moves every later period; 99453 moves to an earlier
    period), so only the closed months from D's month on are read, and none when D is in
    the running month (no month from there on can be closed): the webhook's usual request
    reads nothing more."""

    def __init__(self, ctx: ServiceContext, conn: Conn, patient_pks: set[int],
                 earliest: date | None, *, for_write: bool) -> None:
        self.zone = ctx.policy.zone
        self.closed: dict[Month, EventRow] = {}
        self.windows: dict[int, device_rows.PatientWindow] = {}
        self.instants: dict[int, list[datetime]] = {}
        self.before: dict[int, dict[Month, tuple[CodeUnits, ...]]] = {}
        if earliest is None or not patient_pks:
            return
        self.closed = closed_from(conn, Month.of_day(earliest),
                                  Month.containing(ctx.now(), self.zone), for_write=for_write)
        if not self.closed:
            return
        self.windows = device_rows.windows_of(conn, patient_pks)
        self.instants = device_rows.instants_of(conn, patient_pks)
        self.before = {pk: self._codes(pk, self.instants[pk]) for pk in self.windows}

    def _codes(self, pk: int, instants: Sequence[datetime]) -> dict[Month, tuple[CodeUnits, ...]]:
        window = self.windows[pk]
        periods = periods_of(instants, window.enrolment, window.consent_on, self.zone,
                             through=None)
        return {month: codes_in_month(periods, month) for month in self.closed}

    def adding(self, new: Mapping[int, Sequence[datetime]]) -> list[DeviceCloseChange]:
        """The changes if the patients' readings at `new` instants were added."""
        return self._changes({pk: [*self.instants[pk], *new.get(pk, ())]
                              for pk in self.before})

    def reread(self, conn: Conn) -> list[DeviceCloseChange]:
        """The changes the write made, its readings read again."""
        if not self.before:
            return []
        return self._changes(device_rows.instants_of(conn, self.before))

    def _changes(self, after: Mapping[int, Sequence[datetime]]) -> list[DeviceCloseChange]:
        changes = []
        for pk, before in sorted(self.before.items(), key=lambda i: self.windows[i[0]].clinic_id):
            now = self._codes(pk, after[pk])
            window = self.windows[pk]
            label = (f"{window.clinic_id} ({window.initials})" if window.initials
                     else window.clinic_id)
            changes += [DeviceCloseChange(str(month), window.clinic_id, label, before[month],
                                          now[month])
                        for month in sorted(self.closed) if now[month] != before[month]]
        return changes


class DeviceService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _settle_closed(self, conn: Conn, watch: _ClosedDeviceCodes,
                       changes: list[DeviceCloseChange], *, amendment: Amendment | None,
                       keep: bool, what: str, after_words: str, way_out: str, source: str,
                       actor: str, readings: Mapping[int, int] | None = None,
                       record: bool = True) -> str | None:
        """A write that changes closed months' device codes: refused unless amended (as a
        late time entry is), or, `keep` (a vendor's push, which cannot give a reason), kept
        and recorded. Each patient's change is audited (`DEVICES_CHANGED`: months, codes
        before and after, source, the amendment's reason): the month's "changed since close"
        names it (service/close_records.py). Returns the amendment's reason."""
        if not changes:
            return None
        reason = None
        if amendment is not None or not keep:
            for month in sorted({c.month for c in changes}):
                listed = "; ".join(f"{c.patient}: {format_codes(c.before) or 'none'} now, "
                                   f"{format_codes(c.after) or 'none'} {after_words}"
                                   for c in changes if c.month == month)
                said = f"{what} its device codes ({listed}). {way_out}"
                reason = refuse_unless_amended(
                    conn, Month.parse(month), watch.closed[Month.parse(month)], amendment,
                    zone=self.ctx.policy.zone,
                    way_out=said.replace("{", "{{").replace("}", "}}")) or reason
        if not record:
            return reason
        by_patient: dict[str, list[DeviceCloseChange]] = {}
        for change in changes:
            by_patient.setdefault(change.clinic_id, []).append(change)
        counts = {watch.windows[pk].clinic_id: n for pk, n in (readings or {}).items()
                  if pk in watch.windows}
        for clinic_id, mine in by_patient.items():
            audit.record(conn, at=self.ctx.now(), actor=actor, action=DEVICES_CHANGED,
                         entity="patient", entity_id=clinic_id, after={
                             "source": source, "amendment_reason": reason,
                             "readings": counts.get(clinic_id),
                             "months": [{"month": c.month, "before": format_codes(c.before),
                                         "after": format_codes(c.after)} for c in mine]})
        return reason

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
        today = self._today()
        start = from_day or today
        if start > today:
            raise BadInput(f"--from {start} is after today ({today}): a device is lent from "
                           "the day the patient has it; add it on that day.")
        with self.ctx.db.write() as conn:
            patient = lookups.require_patient(conn, patient_ref,
                                              region=self.ctx.policy.phone_region)
            key = serial.upper()
            for lent in device_rows.by_serial(conn, key):
                if lent.ended_on is None or lent.ended_on >= start:
                    holder = patient_rows.detail_by_pk(conn, lent.patient_id)
                    to = f" to {holder.clinic_id}" if holder is not None else ""
                    raise BadInput(f"Device {lent.serial} is lent{to} until "
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

    def end(self, serial: str, *, on: date, actor: str,
            amendment: Amendment | None = None) -> DeviceView:
        """End the serial's open lending on `on` (its last day). Readings it measured after
        that day become unmatched: when that changes a closed month's device codes, the end
        needs `amendment` (CLI: --amend REASON)."""
        serial = check_serial(serial)
        with self.ctx.db.write() as conn:
            lent = next((d for d in device_rows.by_serial(conn, serial.upper())
                         if d.ended_on is None), None)
            if lent is None:
                raise NotFound(f"No device {quoted(serial)} is lent now.")
            if on < lent.started_on:
                raise BadInput(f"Device {lent.serial} was lent from {lent.started_on}: it "
                               "cannot end before.")
            after_day = on + timedelta(days=1)
            watch = _ClosedDeviceCodes(self.ctx, conn, {lent.patient_id}, after_day,
                                       for_write=True)
            row = device_rows.end_device(conn, lent.id, on)
            # readings it measured after its last day are no longer the patient's
            detached = device_rows.detach_from(
                conn, row.id, start_of_day_utc(after_day, self.ctx.policy.zone))
            reason = self._settle_closed(
                conn, watch, watch.reread(conn) if detached else [], amendment=amendment,
                keep=False, what="Ending it then changes", after_words="after the end",
                way_out=AMEND_DEVICE_END, source="device.end", actor=actor,
                readings={lent.patient_id: detached})
            audit.record(conn, at=self.ctx.now(), actor=actor, action="device.end",
                         entity="device", entity_id=row.id, before={"ended_on": None},
                         after={"ended_on": on, "readings_unmatched": detached}
                         | ({"amendment_reason": reason} if reason else {}))
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

    def attach(self, serial: str, *, actor: str,
               amendment: Amendment | None = None) -> tuple[int, int]:
        """Give the serial's unmatched readings the patient its lending on each reading's
        day names (lend it first: `device add`); (attached, still unmatched). When that
        changes a closed month's device codes, it needs `amendment` (CLI: --amend REASON),
        as a late time entry does."""
        serial = check_serial(serial)
        zone = self.ctx.policy.zone
        with self.ctx.db.write() as conn:
            key = serial.upper()
            lendings = device_rows.by_serial(conn, key)
            if not lendings:
                raise NotFound(f"No device {quoted(serial)} is registered: lend it first "
                               "(`rpm-logger device add`).")
            pairs = []
            new: dict[int, list[datetime]] = {}
            waiting = device_rows.unmatched_of(conn, key)
            for reading in waiting:
                lent = _lending_on(lendings, clinic_day(reading.measured_at, zone))
                if lent is not None:
                    pairs.append({"reading_pk": reading.id, "device_pk": lent.id,
                                  "patient_pk": lent.patient_id, "by": actor})
                    new.setdefault(lent.patient_id, []).append(reading.measured_at)
            earliest = min((clinic_day(i, zone) for got in new.values() for i in got),
                           default=None)
            watch = _ClosedDeviceCodes(self.ctx, conn, set(new), earliest, for_write=True)
            reason = self._settle_closed(
                conn, watch, watch.adding(new), amendment=amendment, keep=False,
                what="Attaching them changes", after_words="once attached",
                way_out=AMEND_ATTACH, source="attach", actor=actor,
                readings={pk: len(got) for pk, got in new.items()})
            device_rows.attach(conn, pairs)
            if pairs:
                audit.record(conn, at=self.ctx.now(), actor=actor, action="readings.attach",
                             entity="device", entity_id=lendings[-1].id,
                             after={"serial": serial, "readings": len(pairs)}
                             | ({"amendment_reason": reason} if reason else {}))
            return len(pairs), len(waiting) - len(pairs)

    # -- readings --------------------------------------------------------------------------

    def ingest(self, readings: Sequence[ReadingIn], *, source: str, actor: str,
               dry_run: bool = False, amendment: Amendment | None = None) -> IngestResult:
        """Store the readings in one transaction, each once (a replay is counted, not
        stored again); a reading whose serial no device is lent for on its day is stored
        unmatched. Refused, nothing stored: a patient id no patient has (with no serial, or
        with a serial lent on the reading's day), and a patient id naming another patient
        than the one the serial is lent to on that day. `dry_run`: everything checked and
        counted, nothing written.

        Readings that change a closed month's device codes: from a vendor's push
        (`VENDOR_PUSH`, no reason possible) they are kept and the change recorded, so the
        month shows it since close; from a file they are refused unless `amendment` (CLI:
        --amend REASON), as a late time entry is, and a dry run says so too."""
        if source not in SOURCES:
            raise ValueError(source)
        zone = self.ctx.policy.zone
        now = self.ctx.now()
        late = now + _FUTURE_SLACK
        for reading in readings:
            if reading.measured_at > late:
                raise reading.place.bad("measured_at", "in the future")
        with (self.ctx.db.read() if dry_run else self.ctx.db.write()) as conn:
            serials = device_rows.lendings(
                conn, (r.serial.upper() for r in readings if r.serial))
            patients = device_rows.patient_pks(
                conn, (lookups.patient_key(r.patient_ref) for r in readings if r.patient_ref))
            rows: list[dict[str, Any]] = []
            keys: set[str] = set()
            for reading in readings:
                serial_key = reading.serial.upper() if reading.serial else None
                lent = _lending_on(serials.get(serial_key, []) if serial_key else [],
                                   clinic_day(reading.measured_at, zone))
                patient_pk = _patient_of(reading, lent, patients)
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
            matched: dict[int, list[datetime]] = {}
            for row in new:
                if row["patient_id"] is not None:
                    matched.setdefault(row["patient_id"], []).append(row["measured_at"])
            earliest = min((clinic_day(i, zone) for got in matched.values() for i in got),
                           default=None)
            watch = _ClosedDeviceCodes(self.ctx, conn, set(matched), earliest,
                                       for_write=not dry_run)
            changes = watch.adding(matched)
            reason = self._settle_closed(
                conn, watch, changes, amendment=amendment, keep=source in VENDOR_PUSH,
                what="These readings change", after_words="with them",
                way_out=AMEND_READINGS, source=source, actor=actor,
                readings={pk: len(got) for pk, got in matched.items()}, record=not dry_run)
            result = IngestResult(len(readings), len(new), len(readings) - len(new),
                                  unmatched, dry_run, tuple(changes), reason)
            if dry_run or not new:
                return result
            device_rows.insert_readings(conn, new)
            audit.record(conn, at=now, actor=actor, action="readings.ingest",
                         entity="device_readings", entity_id=source,
                         after={"source": source, "stored": len(new),
                                "replayed": result.replayed, "unmatched": unmatched}
                         | ({"closed_months": sorted({c.month for c in changes})}
                            if changes else {})
                         | ({"amendment_reason": reason} if reason else {}))
            return result

    def import_file(self, data: bytes, *, actor: str, dry_run: bool = False,
                    amendment: Amendment | None = None) -> IngestResult:
        """A vendor's readings file (`import readings`: CSV, UTF-8, header first: `rpm-logger
        import template readings`) read and stored as `ingest` stores a request's: all its
        readings, or, at its first bad line, none (BadInput naming the line and field).
        Readings that change a closed month's device codes need `amendment`."""
        if len(data) > MAX_FILE_BYTES:
            raise BadInput(f"the file is over {MAX_FILE_BYTES // (1024 * 1024)} MiB: split it; "
                           "nothing was stored")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise BadInput(f"line {line}: not UTF-8 text: save the file as \"CSV UTF-8\"; "
                           "nothing was stored") from None
        try:
            readings = [reading_from(fields, where=where)
                        for where, fields in import_csv.reading_rows(text)]
            return self.ingest(readings, source="csv", actor=actor, dry_run=dry_run,
                               amendment=amendment)
        except BadInput as exc:
            raise BadInput(f"{exc}; nothing was stored") from None

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
    """The verdict of a patient's month device period (a month summary's) while it runs and
    still aims at a code (billing.devices.period_verdict: "needs N more reading days by
    DATE"), or None: no readings, the period has its best code or nothing more is reachable,
    it has ended (its episode did), or the month is over. `today`: judged on that day
    instead of the summary's (a reminder plan's day). The one rule reminders, the summary and
    the dashboard share."""
    period = summary.current_device_period
    if period is None or summary.month_ended or not summary.device_period_runs:
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


__all__ = ["MAX_FILE_BYTES", "MAX_READINGS_PER_REQUEST", "MAX_VALUE", "MAX_VALUES",
           "READING_FIELDS", "VENDOR_PUSH", "DeviceCloseChange", "DeviceService",
           "DeviceStatus", "DeviceView", "IngestResult", "PeriodReadings", "Place",
           "ReadingIn", "UnmatchedSerial", "check_serial", "period_readings", "periods_in",
           "periods_of", "reading_days", "reading_from", "short_of_readings"]
