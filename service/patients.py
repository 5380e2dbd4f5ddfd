"""Patients: enrolment, phones (E.164, unique across patients and staff), and the patient as
people read it.

Each public method is one use case in one transaction; `add_in` / `update_in` are the same
work inside a caller's transaction (the chat admin checks its actor in the same one). The
resolver itself is service/lookups.py.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from billing.codes import PROVIDER_ROLES
from billing.devices import codes_in_month, periods_of
from billing.errors import quoted
from billing.months import Month, start_of_day_utc
from billing.programme import Enrolment
from service import audit, lookups
from service.closes import (
    AMEND_IMPORT_PATIENTS,
    AMEND_PATIENT,
    Amendment,
    closed_for_write,
    refuse_unless_amended,
)
from service.context import ServiceContext
from service.errors import BadInput, NotFound, Refusals
from service.phones import mask_phone, normalize_phone, valid_phone
from service.views import PatientView
from store import entries as entry_rows
from store import episodes as episode_rows
from store import patients as patient_rows
from store import phones as phone_rows
from store.db import Conn
from store.month_totals import Scope, month_totals

__all__ = ["Changed", "PatientFields", "PatientService", "check_clinic_id", "check_condition",
           "check_initials", "require_detail", "view_of"]

_CLINIC_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_ICD10 = re.compile(r"([A-TV-Z][0-9][0-9A-Z])\.?([0-9A-Z]{1,4})?")
# The columns a change may set, as a patient's draft carries them.
_MUTABLE = ("initials", "consent_on", "conditions", "provider_id", "assigned_staff_id",
            "enrolled_on", "ended_on", "ordering_provider_id", "order_on", "last_visit_on")


def check_clinic_id(text: str) -> str:
    value = (text or "").strip()
    if not _CLINIC_ID.fullmatch(value):
        raise BadInput(f"{quoted(text or '')} is not a clinic patient id: use letters, digits, "
                       "'-', '_' "
                       "or '.', up to 64 characters (e.g. P-1042).")
    return value


def check_initials(text: str | None) -> str | None:
    """1 to 4 letters of any script (JÉ, ØS, ИП), composed (NFC) so an accent typed as a
    separate mark is one letter; digits, spaces and punctuation are refused."""
    if text is None or not text.strip():
        return None
    initials = unicodedata.normalize("NFC", text.strip())
    if not (1 <= len(initials) <= 4 and all(c.isalpha() for c in initials)):
        raise BadInput(f"Initials {quoted(text)} must be 1 to 4 letters "
                       "(initials only, never a name).")
    return initials.upper()


def check_condition(text: str) -> str:
    match = _ICD10.fullmatch((text or "").strip().upper())
    if not match:
        raise BadInput(f"{quoted(text)} is not an ICD-10 code (e.g. I10, E11.9).")
    return match.group(1) + (f".{match.group(2)}" if match.group(2) else "")


# How far past now an end preview looks for logged time (entries are never dated later).
_FAR = timedelta(days=366)


@dataclass(frozen=True)
class EndPreview:
    """What ending a patient on `ended_on` takes out of the months: the standing entries
    logged after that day (they stop counting) and the closed months they are in."""

    patient: str  # clinic id and initials
    ended_on: date
    entries: int
    seconds: int
    closed_months: tuple[str, ...]


@dataclass(frozen=True)
class PatientFields:
    """What `add` and `update` may set; None leaves a field as it is on update."""

    initials: str | None = None
    phones: tuple[str, ...] = ()
    caregiver_phones: tuple[str, ...] = ()
    remove_phones: tuple[str, ...] = ()
    assign: str | None = None  # Slack user id; "" unassigns
    consent_on: date | None = None
    conditions: tuple[str, ...] = ()
    provider: str | None = None  # Slack user id of a physician/QHP
    enrolled_on: date | None = None
    ended_on: date | None = None
    ordered_by: str | None = None  # Slack user id of the ordering physician/QHP
    order_on: date | None = None
    last_visit_on: date | None = None  # the last established-patient visit
    # phones, caregiver phones and conditions given replace the patient's (else: added)
    replace_lists: bool = False


@dataclass(frozen=True)
class Changed:
    """A change as saved: the patient now, and the names of what it changed (the audit
    snapshot's keys: `phones`, `consent_on`, `episodes`, ...; none: nothing changed)."""

    view: PatientView
    changed: tuple[str, ...]


def require_detail(conn: Conn, ref: str, *, region: str, by_phone: bool = True) -> Any:
    """The patient's detail row (store/patients.py: the row, provider and assignee Slack ids,
    phone counts) by the one resolver's rules (service/lookups.py), in one statement when
    found; else NotFound with the resolver's "did you mean"."""
    row = patient_rows.detail_by_key(conn, lookups.patient_key(ref or ""))
    if row is not None:
        return row
    e164 = lookups.phone_in(ref, region=region) if by_phone else None
    row = patient_rows.detail_by_phone(conn, e164) if e164 is not None else None
    if row is None:
        raise NotFound(lookups.unknown_patient_message(conn, ref))
    return row


_Span = tuple[date | None, date | None]


def detail_view(row: Any, episodes: tuple[_Span, ...] = ()) -> PatientView:
    """The view of a detail row (store/patients.py `detail_*`), with the enrolment
    episodes when the caller read them (`episodes_of`)."""
    return PatientView(row.clinic_id, row.initials, row.consent_on, tuple(row.conditions),
                       row.provider_slack_id, row.assigned_slack_id, row.enrolled_on,
                       row.ended_on, int(row.patient_phones), int(row.caregiver_phones),
                       ordered_by=row.ordered_by_slack_id, order_on=row.order_on,
                       last_visit_on=row.last_visit_on, episodes=episodes,
                       provider_name=row.provider_name, assigned_name=row.assigned_name,
                       ordered_by_name=row.ordered_by_name)


def episodes_of(conn: Conn, patient: Any) -> tuple[_Span, ...]:
    """The patient's enrolment episodes, oldest first; a patient row with none on record
    (written before them, or straight into the table) has its own window as the one."""
    rows = episode_rows.of_patient(conn, patient.id)
    if not rows:
        return ((patient.enrolled_on, patient.ended_on),)
    return tuple((r.started_on, r.ended_on) for r in rows)


def view_of(conn: Conn, patient: Any) -> PatientView:
    """The view of a patient row (provider, assignee, phone counts, enrolment episodes)."""
    row = patient_rows.detail_by_pk(conn, patient.id)
    assert row is not None, "a patient just read is still there in the same transaction"
    return detail_view(row, episodes_of(conn, row))


@dataclass
class _Draft:
    """A patient as a change will leave them: the columns a change may set, the provider's and
    assignee's Slack ids, and the numbers (E.164 -> patient | caregiver)."""

    clinic_id: str
    pk: int | None
    columns: dict[str, Any]
    provider: str | None = None
    assigned_to: str | None = None
    numbers: dict[str, str] = field(default_factory=dict)
    ordered_by: str | None = None
    # the enrolment episodes before the latest; the latest is enrolled_on/ended_on
    earlier: tuple[_Span, ...] = ()

    @classmethod
    def new(cls, clinic_id: str) -> "_Draft":
        return cls(clinic_id, None, {name: None for name in _MUTABLE} | {"conditions": []})

    @classmethod
    def of(cls, row: Any, numbers: dict[str, str], episodes: tuple[_Span, ...]) -> "_Draft":
        return cls(row.clinic_id, row.id, {name: getattr(row, name) for name in _MUTABLE},
                   row.provider_slack_id, row.assigned_slack_id, dict(numbers),
                   row.ordered_by_slack_id, episodes[:-1])

    @property
    def episodes(self) -> tuple[_Span, ...]:
        return (*self.earlier, (self.columns["enrolled_on"], self.columns["ended_on"]))

    def snapshot(self) -> dict[str, Any]:
        c = self.columns
        return {
            "patient_id": self.clinic_id, "initials": c["initials"],
            "consent_on": c["consent_on"], "conditions": list(c["conditions"]),
            "provider": self.provider, "assigned_to": self.assigned_to,
            "enrolled_on": c["enrolled_on"], "ended_on": c["ended_on"],
            "ordered_by": self.ordered_by, "order_on": c["order_on"],
            "last_visit_on": c["last_visit_on"],
            "episodes": [[start.isoformat() if start else None,
                          end.isoformat() if end else None] for start, end in self.episodes],
            "phones": sorted(e for e, kind in self.numbers.items() if kind == "patient"),
            "caregiver_phones": sorted(e for e, kind in self.numbers.items()
                                       if kind == "caregiver"),
        }

    def view(self) -> PatientView:
        c = self.columns
        kinds = list(self.numbers.values())
        return PatientView(self.clinic_id, c["initials"], c["consent_on"],
                           tuple(c["conditions"]), self.provider, self.assigned_to,
                           c["enrolled_on"], c["ended_on"], kinds.count("patient"),
                           kinds.count("caregiver"), ordered_by=self.ordered_by,
                           order_on=c["order_on"], last_visit_on=c["last_visit_on"],
                           episodes=self.episodes)


def _check_after_earlier(draft: _Draft) -> None:
    """The latest episode starts after the one before it ended: episodes never overlap."""
    if not draft.earlier:
        return
    ended = draft.earlier[-1][1]
    start = draft.columns["enrolled_on"]
    if ended is not None and (start is None or start <= ended):
        raise BadInput(f"Enrolment {start} is not after {draft.clinic_id}'s previous episode, "
                       f"which ended on {ended}: episodes never overlap (see `rpm-logger "
                       f"patient show {draft.clinic_id}`).")


def _moves_limits(fields: "PatientFields", row: Any) -> bool:
    """Whether a change moves what a month counts: the enrolment window or consent date set
    to another day than the patient's (the same day again moves nothing)."""
    return any(new is not None and new != getattr(row, name)
               for new, name in ((fields.enrolled_on, "enrolled_on"),
                                 (fields.ended_on, "ended_on"),
                                 (fields.consent_on, "consent_on")))


def _changed_names(before: dict[str, Any], after: dict[str, Any]) -> tuple[str, ...]:
    return tuple(name for name, value in after.items() if before.get(name) != value)


# What a closed month billed of a patient, as far as a window or consent change can alter
# it: in the month's programme, counted seconds, live interactions, time left out and why,
# and the month's device codes.
_Figures = tuple[bool, int, int, tuple[Any, ...], tuple[Any, ...]]


def _still_active(member: Any, current_pk: int | None, as_what: str) -> Any:
    """`member`, unless a change would name a member who is no longer active (an onboarding
    file imported again after an offboarding gave the leaver her patients back: outside try
    of issue 24). Naming whoever the patient already has changes nothing and passes."""
    if not member.active and member.id != current_pk:
        raise BadInput(f"{member.slack_user_id} is no longer active: a patient's {as_what} must "
                       "be an active member (an offboarding reassigned their patients).")
    return member


class PatientService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @property
    def _region(self) -> str:
        return self.ctx.policy.phone_region

    def _normalized(self, numbers: tuple[str, ...], *, storing: bool = False) -> list[str]:
        """E.164 numbers; those about to be stored must be valid (a call can come from them),
        those to remove need only be readable (an older, invalid one can still go)."""
        check = valid_phone if storing else normalize_phone
        return [check(n, region=self._region) for n in numbers]

    def add(self, clinic_id: str, fields: PatientFields, *, actor: str) -> PatientView:
        with self.ctx.db.write() as conn:
            return self.add_in(conn, clinic_id, fields, actor=actor)

    def add_in(self, conn: Conn, clinic_id: str, fields: PatientFields, *,
               actor: str, source: dict[str, Any] | None = None) -> PatientView:
        """`add` inside the caller's transaction; `source` (an import's file and line) is
        kept in the audit record."""
        clinic_id = check_clinic_id(clinic_id)
        key = lookups.patient_key(clinic_id)
        if patient_rows.by_key(conn, key) is not None:
            raise BadInput(f"Patient {clinic_id} already exists: use `patient update`.")
        draft = _Draft.new(clinic_id)
        self._apply(conn, draft, fields)
        row = patient_rows.insert_patient(conn, {"clinic_id": clinic_id, "clinic_key": key,
                                                 "created_at": self.ctx.now(),
                                                 **draft.columns})
        patient_rows.save_phones(conn, row.id, {}, draft.numbers)
        episode_rows.insert_episode(conn, {
            "patient_id": row.id, "started_on": draft.columns["enrolled_on"],
            "ended_on": draft.columns["ended_on"], "created_at": self.ctx.now(),
            "created_by": actor})
        audit.record(conn, at=self.ctx.now(), actor=actor, action="patient.add",
                     entity="patient", entity_id=clinic_id,
                     after=draft.snapshot() | ({"import": source} if source else {}))
        return draft.view()

    def update(self, ref: str, fields: PatientFields, *, actor: str,
               amendment: Amendment | None = None) -> PatientView:
        """Change a patient; a change of the enrolment window or consent date that moves days
        of a closed month in or out of what counts needs `amendment` (CLI: --amend REASON)."""
        with self.ctx.db.write() as conn:
            return self.update_in(conn, ref, fields, actor=actor, amendment=amendment)

    def update_in(self, conn: Conn, ref: str, fields: PatientFields, *, actor: str,
                  amendment: Amendment | None = None) -> PatientView:
        """`update` inside the caller's transaction."""
        return self.change_in(conn, ref, fields, actor=actor, amendment=amendment).view

    def change_in(self, conn: Conn, ref: str, fields: PatientFields, *, actor: str,
                  amendment: Amendment | None = None, source: dict[str, Any] | None = None,
                  new_episode: bool = False) -> Changed:
        """`update_in`, saying what changed. With `source` (an import's file and line) the
        audit record names it, and a change that changes nothing writes nothing.
        `new_episode`: `fields.enrolled_on` starts a new episode after the latest one (which
        must have ended before it), as `enrol` does, instead of moving the latest's start."""
        row = require_detail(conn, ref, region=self._region)
        numbers = patient_rows.phones(conn, row.id)
        episodes = episodes_of(conn, row)
        before = _Draft.of(row, numbers, episodes)
        closed = (self._closed_figures(conn, row.id)
                  if new_episode or _moves_limits(fields, row) else {})
        draft = _Draft.of(row, numbers, episodes)
        if new_episode:
            draft.earlier = episodes
            draft.columns["enrolled_on"] = draft.columns["ended_on"] = None
        self._apply(conn, draft, fields)
        _check_after_earlier(draft)
        changed = {name: value for name, value in draft.columns.items()
                   if value != before.columns[name]}
        names = _changed_names(before.snapshot(), draft.snapshot())
        if source is not None and not names:
            return Changed(draft.view(), ())
        if changed:
            patient_rows.update_patient(conn, row.id, changed)
        self._save_latest_episode(conn, row.id, draft, actor=actor)
        patient_rows.save_phones(conn, row.id, numbers, draft.numbers)
        view = self._recorded(conn, row, before, draft, closed, amendment, actor=actor,
                              action="patient.enrol" if new_episode else "patient.update",
                              source=source)
        return Changed(view, names)

    def _recorded(self, conn: Conn, row: Any, before: "_Draft", draft: "_Draft",
                  closed: Any, amendment: Any, *, actor: str, action: str,
                  source: dict[str, Any] | None = None) -> PatientView:
        """A patient write's last steps: closed months checked (an amendment's reason kept),
        the audit record with the before and after (and the import it came from), the
        patient as now saved."""
        # an import's row is amended by re-running the import, not by `patient update`
        reason = self._check_closed_months(
            conn, row.id, closed, amendment,
            way_out=AMEND_IMPORT_PATIENTS if source is not None else AMEND_PATIENT)
        after = (draft.snapshot() | ({"amendment_reason": reason} if reason else {})
                 | ({"import": source} if source else {}))
        audit.record(conn, at=self.ctx.now(), actor=actor, action=action, entity="patient",
                     entity_id=row.clinic_id, before=before.snapshot(), after=after)
        return draft.view()

    def _save_latest_episode(self, conn: Conn, patient_pk: int, draft: _Draft, *,
                             actor: str) -> None:
        """Write the latest episode as the draft's enrolment and end dates: a new one when
        the draft has one more than is on record (a patient row with none on record gets
        its own)."""
        rows = episode_rows.of_patient(conn, patient_pk)
        spans = draft.episodes
        if rows and len(rows) == len(spans):
            start, end = spans[-1]
            if (rows[-1].started_on, rows[-1].ended_on) != (start, end):
                episode_rows.update_episode(conn, rows[-1].id, {"started_on": start,
                                                                "ended_on": end})
            return
        for start, end in spans[len(rows):]:
            episode_rows.insert_episode(conn, {"patient_id": patient_pk, "started_on": start,
                                               "ended_on": end, "created_at": self.ctx.now(),
                                               "created_by": actor})

    def enrol(self, ref: str, *, on: date, actor: str,
              amendment: Amendment | None = None) -> PatientView:
        """Enrol a patient again after their latest episode ended: a new episode from `on`
        (after that end day), open. The earlier episodes keep counting their own days; the
        days between count for nothing. A new episode that brings days of a closed month
        into what counts needs `amendment`, as `update` does."""
        with self.ctx.db.write() as conn:
            row = require_detail(conn, ref, region=self._region)
            numbers = patient_rows.phones(conn, row.id)
            episodes = episodes_of(conn, row)
            before = _Draft.of(row, numbers, episodes)
            start, end = episodes[-1]
            if end is None:
                since = f"since {start}" if start else "since they were added"
                raise BadInput(f"{row.clinic_id} is enrolled {since} and has not ended: a new "
                               "episode starts only after the current one ends "
                               f"(`rpm-logger patient end {row.clinic_id} --on DATE`).")
            if on <= end:
                raise BadInput(f"{row.clinic_id}'s enrolment ended on {end}: a new episode "
                               f"starts after that day ({end + timedelta(days=1)} or later), "
                               "episodes never overlap.")
            closed = self._closed_figures(conn, row.id)
            if not episode_rows.of_patient(conn, row.id):  # written before episodes
                self._save_latest_episode(conn, row.id, before, actor=actor)
            episode_rows.insert_episode(conn, {"patient_id": row.id, "started_on": on,
                                               "ended_on": None, "created_at": self.ctx.now(),
                                               "created_by": actor})
            patient_rows.update_patient(conn, row.id, {"enrolled_on": on, "ended_on": None})
            draft = _Draft.of(row, numbers, (*episodes, (on, None)))
            draft.columns["enrolled_on"], draft.columns["ended_on"] = on, None
            return self._recorded(conn, row, before, draft, closed, amendment, actor=actor,
                                  action="patient.enrol")

    def end(self, ref: str, *, on: date | None, actor: str,
            amendment: Amendment | None = None) -> PatientView:
        """End monitoring; `on` defaults to today in the clinic zone."""
        return self.update(ref, PatientFields(ended_on=self._end_day(on)), actor=actor,
                           amendment=amendment)

    def end_preview(self, ref: str, *, on: date | None) -> EndPreview:
        """Before a (backdated) end: how much logged time after the end day would stop
        counting, and in which closed months, so the operator confirms it knowingly. One
        read; the end itself is the `end` use case."""
        day, zone = self._end_day(on), self.ctx.policy.zone
        after = start_of_day_utc(day + timedelta(days=1), zone)
        with self.ctx.db.read() as conn:
            patient = require_detail(conn, ref, region=self._region)
            rows = [r for r in entry_rows.touching_with_names(
                        conn, start=after, end=max(after, self.ctx.now()) + _FAR,
                        patient_pk=patient.id)
                    if r.voided_at is None and r.started_at >= after]
            closed = {str(m) for m in closed_for_write(conn)}
        months = {str(Month.containing(r.started_at, zone)) for r in rows}
        return EndPreview(detail_view(patient).label, day, len(rows),
                          sum(r.duration_seconds for r in rows), tuple(sorted(months & closed)))

    def _end_day(self, on: date | None) -> date:
        return on or self.ctx.now().astimezone(self.ctx.policy.zone).date()

    def _figures(self, conn: Conn, month: Month, patient_pk: int) -> _Figures:
        totals = next(month_totals(conn, month=month, zone=self.ctx.policy.zone,
                                   min_live_seconds=self.ctx.policy.min_live_call_seconds,
                                   scope=Scope(patient_pk)))
        # the month's device codes (issue 28): a window or consent change moves device
        # periods too, whose codes may change with no minute moving (the readings were read
        # with the month's row)
        enrolment = totals.enrolment or Enrolment.single(totals.enrolled_on, totals.ended_on)
        periods = periods_of(totals.readings or (), enrolment, totals.consent_on,
                             self.ctx.policy.zone, through=None)
        return (totals.in_programme, totals.counted_seconds, totals.live_interactions,
                totals.tally.not_counted, codes_in_month(periods, month))

    def _closed_figures(self, conn: Conn,
                        patient_pk: int) -> dict[Month, tuple[Any, _Figures]]:
        """Each month closed now: its close and the patient's figures in it (read before the
        change, under each month's lock, so a close cannot slip in between)."""
        return {m: (close, self._figures(conn, m, patient_pk))
                for m, close in closed_for_write(conn).items()}

    def _check_closed_months(self, conn: Conn, patient_pk: int,
                             closed: dict[Month, tuple[Any, _Figures]],
                             amendment: Amendment | None, *,
                             way_out: str = AMEND_PATIENT) -> str | None:
        """Refuse (unless amended) a change that alters what a closed month holds of the
        patient: whether they are in its programme, or what of their time counts. A change
        that leaves every closed month as it was billed needs nothing, whatever days it
        moves (billing office finding 4)."""
        if not closed:
            return None
        zone = self.ctx.policy.zone
        changed = [(m, close) for m, (close, figures) in closed.items()
                   if self._figures(conn, m, patient_pk) != figures]
        reasons = [refuse_unless_amended(conn, month, close, amendment, zone=zone,
                                         way_out=way_out) for month, close in changed]
        return next((r for r in reasons if r is not None), None)

    def _apply(self, conn: Conn, draft: _Draft, fields: PatientFields) -> None:
        """Check `fields` and set them on `draft`: every field refused is told at once (an
        import lists each bad cell's reason), in the order people see the fields."""
        columns = draft.columns
        refusals = Refusals()
        with refusals.check("initials"):
            if fields.initials is not None:
                columns["initials"] = check_initials(fields.initials)
        if fields.consent_on is not None:
            columns["consent_on"] = fields.consent_on
        with refusals.check("conditions"):
            if fields.conditions:
                given = [check_condition(c) for c in fields.conditions]
                kept = [] if fields.replace_lists else list(columns["conditions"])
                columns["conditions"] = sorted(set(kept + given))
        with refusals.check("provider"):
            if fields.provider is not None:
                provider = _still_active(self._provider(conn, fields.provider),
                                         columns["provider_id"], "billing provider")
                columns["provider_id"], draft.provider = provider.id, provider.slack_user_id
        self._apply_order(conn, draft, fields, refusals)
        with refusals.check("assign"):
            if fields.assign is not None:
                assignee = (_still_active(lookups.require_staff(conn, fields.assign),
                                          columns["assigned_staff_id"], "assignee")
                            if fields.assign.strip() else None)
                columns["assigned_staff_id"] = assignee.id if assignee else None
                draft.assigned_to = assignee.slack_user_id if assignee else None
        if fields.enrolled_on is not None:
            columns["enrolled_on"] = fields.enrolled_on
        if fields.ended_on is not None:
            columns["ended_on"] = fields.ended_on
        enrolled, ended = columns["enrolled_on"], columns["ended_on"]
        with refusals.check("ended"):
            if enrolled and ended and ended < enrolled:
                again = (f" To enrol {draft.clinic_id} again after an end, start a new "
                         f"episode: `rpm-logger patient enrol {draft.clinic_id} --on DATE`."
                         if fields.enrolled_on is not None and fields.ended_on is None else "")
                raise BadInput(f"End date {ended} is before enrolment {enrolled}.{again}")
        with refusals.check("remove_phone"):
            for e164 in self._normalized(fields.remove_phones):
                if e164 not in draft.numbers:
                    raise BadInput(f"Patient {draft.clinic_id} has no phone "
                                   f"{mask_phone(e164)}.")
                del draft.numbers[e164]
        for kind, column, typed in (("patient", "phones", fields.phones),
                                    ("caregiver", "caregiver_phones", fields.caregiver_phones)):
            with refusals.check(column):
                wanted = self._normalized(typed, storing=True)
                if fields.replace_lists and wanted:
                    for e164 in [e for e, k in draft.numbers.items() if k == kind]:
                        del draft.numbers[e164]
                held = phone_rows.holders(conn, wanted)
                for e164 in wanted:
                    self._claim(draft, held, e164, kind)
        refusals.done()

    def _apply_order(self, conn: Conn, draft: _Draft, fields: PatientFields,
                     refusals: Refusals) -> None:
        """The order: by a physician or QHP (checked as the billing provider is), on a day
        that has happened, as has the last visit."""
        with refusals.check("ordered_by"):
            if fields.ordered_by is not None:
                orderer = _still_active(
                    self._provider(conn, fields.ordered_by, as_what="ordering provider"),
                    draft.columns["ordering_provider_id"], "ordering provider")
                draft.columns["ordering_provider_id"] = orderer.id
                draft.ordered_by = orderer.slack_user_id
        today = self.ctx.now().astimezone(self.ctx.policy.zone).date()
        for name, column, value, what in (
                ("order_on", "order_date", fields.order_on, "Order date"),
                ("last_visit_on", "last_visit", fields.last_visit_on, "Last visit")):
            with refusals.check(column):
                if value is not None and value > today:
                    raise BadInput(f"{what} {value} is in the future (today is {today}).")
                if value is not None:
                    draft.columns[name] = value

    @staticmethod
    def _provider(conn: Conn, slack_user_id: str, *, as_what: str = "billing provider") -> Any:
        staff = lookups.require_staff(conn, slack_user_id)
        if staff.role not in PROVIDER_ROLES:
            raise BadInput(f"{staff.slack_user_id} is {staff.role}: the {as_what} must be "
                           "a physician or QHP.")
        return staff

    @staticmethod
    def _claim(draft: _Draft, held: dict[str, list[Any]], e164: str, kind: str) -> None:
        holders = held.get(e164, [])
        if any(h.side == "patient" and h.owner_id != draft.pk for h in holders):
            raise BadInput(f"Phone {mask_phone(e164)} already belongs to another patient.")
        if any(h.side == "staff" for h in holders):
            raise BadInput(f"Phone {mask_phone(e164)} is a staff member's number.")
        draft.numbers[e164] = kind

    def get(self, ref: str) -> PatientView:
        """The patient with every enrolment episode."""
        with self.ctx.db.read() as conn:
            row = require_detail(conn, ref, region=self._region)
            return detail_view(row, episodes_of(conn, row))

    def list(self, *, assigned_to: str | None = None) -> list[PatientView]:
        with self.ctx.db.read() as conn:
            staff_pk = (lookups.require_staff(conn, assigned_to).id
                        if assigned_to is not None else None)
            return [detail_view(r) for r in patient_rows.details(conn, assigned_pk=staff_pk)]
