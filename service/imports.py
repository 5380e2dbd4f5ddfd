"""Bulk onboarding: a CSV of patients or staff saved in one transaction (issue 24 #1).

Each row is the `add` or `update` of its key (a patient's clinic id, a staff member's Slack
id), checked and saved by the same service code as `patient add/update` and `staff
add/update` (service/patients.py, service/staff.py); the file is read by
service/import_csv.py. Every bad row is listed with its line and reason and nothing is
saved (ImportRefused); a dry run saves nothing either. A row that changes nothing writes
nothing, so the same file imported twice changes nothing the second time. Each change's
audit record names the file (its name, SHA-256 and line); one more record sums the import.

Enrolment columns describe the patient's latest enrolment episode (store/episodes.py):
- a new patient gets one episode, `enrolled` to `ended` (open without `ended`);
- `ended` sets the latest episode's end, as `patient end --on` does;
- `enrolled` after the latest episode's end starts a new episode (the patient comes back,
  as `patient enrol --on` does, `ended` its end if given); any other `enrolled` moves the
  latest episode's start, as `patient update --enrolled` does. Earlier episodes are never
  changed by a file.
A change that alters what a closed month billed needs `amendment`, as each command does.
"""

from dataclasses import dataclass
from typing import Any

from billing.errors import InvalidInput
from service import audit, import_csv, lookups
from service.closes import Amendment
from service.context import ServiceContext
from service.errors import reasons_of
from service.import_csv import ImportRefused, Line, Problem
from service.patients import PatientFields, PatientService, episodes_of
from service.phones import redact_phones
from service.staff import StaffChanges, StaffService
from store import patients as patient_rows
from store import staff as staff_rows
from store.db import Conn

__all__ = ["ImportRefused", "ImportReport", "ImportService", "Problem", "RowResult"]

# what a change names (its audit snapshot's keys) as the file's columns name it
_PATIENT_COLUMNS = {"initials": "initials", "phones": "phones",
                    "caregiver_phones": "caregiver_phones", "assigned_to": "assign",
                    "consent_on": "consent", "conditions": "conditions",
                    "provider": "provider", "enrolled_on": "enrolled", "ended_on": "ended",
                    "ordered_by": "ordered_by", "order_on": "order_date",
                    "last_visit_on": "last_visit"}
_STAFF_COLUMNS = {"name": "name", "role": "role", "npi": "npi", "is_admin": "admin",
                  "phones": "phones", "twilio_numbers": "twilio_numbers",
                  "twilio_client": "twilio_client", "email": "email"}


@dataclass(frozen=True)
class RowResult:
    """What one row did (or, in a dry run, would do): added, updated (which columns) or
    unchanged."""

    line: int
    key: str
    outcome: str  # added | updated | unchanged
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportReport:
    kind: str  # patients | staff
    file: str
    sha256: str
    rows: tuple[RowResult, ...]
    dry_run: bool

    def count(self, outcome: str) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)

    @property
    def changes(self) -> int:
        return len(self.rows) - self.count("unchanged")


class _Discard(Exception):
    """Leaves the write transaction by rolling it back (a dry run, or nothing to save)."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__("discarded")
        self.report = report


class ImportService:
    def __init__(self, ctx: ServiceContext, patients: PatientService,
                 staff: StaffService) -> None:
        self.ctx = ctx
        self.patients_service = patients
        self.staff_service = staff

    def patients(self, data: bytes, *, file_name: str, actor: str, dry_run: bool = False,
                 replace_lists: bool = False,
                 amendment: Amendment | None = None) -> ImportReport:
        """Add or update every patient of the file, in one transaction, or none."""
        parsed = import_csv.read(data, name=file_name, kind="patients")
        phones = import_csv.phone_book(self.ctx.policy.phone_region)
        rows = [(line, import_csv.patient_fields(line, phones, replace_lists=replace_lists))
                for line in parsed.lines]

        def save(conn: Conn, line: Line, fields: PatientFields) -> RowResult:
            return self._patient(conn, line, fields, actor=actor, amendment=amendment,
                                 source=self._source(parsed, line))
        return self._run("patients", parsed, rows, save, actor=actor, dry_run=dry_run,
                         extra={"replace_lists": replace_lists})

    def staff(self, data: bytes, *, file_name: str, actor: str,
              dry_run: bool = False) -> ImportReport:
        """Add or update every staff member of the file, in one transaction, or none."""
        parsed = import_csv.read(data, name=file_name, kind="staff")
        phones = import_csv.phone_book(self.ctx.policy.phone_region)
        rows = [(line, import_csv.staff_row(line, phones)) for line in parsed.lines]

        def save(conn: Conn, line: Line, changes: StaffChanges) -> RowResult:
            return self._member(conn, line, changes, actor=actor,
                                source=self._source(parsed, line))
        return self._run("staff", parsed, rows, save, actor=actor, dry_run=dry_run, extra={})

    @staticmethod
    def template(kind: str) -> dict[str, str]:
        """The columns of a `kind` (patients | staff | readings) file with an example cell
        each."""
        return import_csv.template(kind)

    @staticmethod
    def _source(parsed: import_csv.ParsedFile, line: Line) -> dict[str, Any]:
        return {"file": parsed.name, "sha256": parsed.sha256, "line": line.number}

    def _run(self, kind: str, parsed: import_csv.ParsedFile, rows: list[tuple[Line, Any]],
             save: Any, *, actor: str, dry_run: bool, extra: dict[str, Any]) -> ImportReport:
        """Every row saved in one transaction; any problem (the file's or a row's) refuses
        the whole file; a dry run, or a file that changes nothing, is rolled back."""
        problems = parsed.problems()
        try:
            with self.ctx.db.write() as conn:
                results = []
                for line, fields in rows:
                    if line.unreadable:
                        continue  # its cells are not known, or not its own key's
                    try:
                        # a line with a bad cell is still checked by the service, without
                        # that cell, so that every reason it has is listed at once
                        result = save(conn, line, fields)
                    except InvalidInput as exc:
                        problems.extend(Problem(line.number, line.key, self._said(reason))
                                        for reason in reasons_of(exc))
                        continue
                    if not line.problems:
                        results.append(result)
                if problems:
                    raise ImportRefused(parsed.name, problems)
                report = ImportReport(kind, parsed.name, parsed.sha256, tuple(results),
                                      dry_run)
                if dry_run or not report.changes:
                    raise _Discard(report)
                audit.record(conn, at=self.ctx.now(), actor=actor, action=f"import.{kind}",
                             entity="import", entity_id=parsed.name, after={
                                 "file": parsed.name, "sha256": parsed.sha256,
                                 "rows": len(results), "added": report.count("added"),
                                 "updated": report.count("updated"),
                                 "unchanged": report.count("unchanged"), **extra})
                return report
        except _Discard as discarded:
            return discarded.report

    def _said(self, reason: str) -> str:
        """A service refusal as the list of bad rows shows it: any phone number in it
        masked (the service's own refusals mask theirs; this is the backstop)."""
        return redact_phones(reason, region=self.ctx.policy.phone_region) or ""

    def _patient(self, conn: Conn, line: Line, fields: PatientFields, *, actor: str,
                 amendment: Amendment | None, source: dict[str, Any]) -> RowResult:
        row = patient_rows.by_key(conn, lookups.patient_key(line.key))
        if row is None:
            view = self.patients_service.add_in(conn, line.key, fields, actor=actor,
                                                source=source)
            return RowResult(line.number, view.patient_id, "added")
        _, latest_end = episodes_of(conn, row)[-1]
        comes_back = (fields.enrolled_on is not None and latest_end is not None
                      and fields.enrolled_on > latest_end)
        change = self.patients_service.change_in(conn, row.clinic_id, fields, actor=actor,
                                                 amendment=amendment, source=source,
                                                 new_episode=comes_back)
        columns = [_PATIENT_COLUMNS[name] for name in change.changed
                   if name in _PATIENT_COLUMNS]
        if comes_back:  # the new episode's end is the file's (none when not given)
            columns = ["enrolled (a new episode)", *(c for c in columns if c != "enrolled" and (
                c != "ended" or "ended" in line.cells))]
        return RowResult(line.number, row.clinic_id, "updated" if change.changed else
                         "unchanged", tuple(columns))

    def _member(self, conn: Conn, line: Line, changes: StaffChanges, *, actor: str,
                source: dict[str, Any]) -> RowResult:
        user_id = lookups.clean_slack_user_id(line.key)
        if staff_rows.by_slack_id(conn, user_id) is None:
            self.staff_service.add_in(conn, slack_user_id=user_id, name=changes.name or "",
                                      role=changes.role or "", phones=changes.add_phones,
                                      npi=changes.npi, is_admin=bool(changes.is_admin),
                                      email=changes.email, actor=actor, source=source,
                                      twilio_numbers=changes.add_twilio_numbers,
                                      twilio_client=changes.twilio_client)
            return RowResult(line.number, user_id, "added")
        change = self.staff_service.update_in(conn, user_id, changes, actor=actor,
                                              source=source)
        columns = tuple(_STAFF_COLUMNS[name] for name in change.changed
                        if name in _STAFF_COLUMNS)
        return RowResult(line.number, user_id, "updated" if change.changed else "unchanged",
                         columns)
