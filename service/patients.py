"""Patients: enrolment, phones (E.164, unique across patients) and the one resolver."""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, select

from billing.codes import PROVIDER_ROLES
from billing.errors import quoted
from billing.months import Month
from service import audit
from service.closes import AMEND_PATIENT, Amendment, closed_for_write, refuse_unless_amended
from service.context import ServiceContext
from service.errors import BadInput, NotFound
from service.phones import mask_phone, normalize_phone, try_normalize_phone, valid_phone
from service.spelling import closest
from service.staff import require_staff
from service.views import PatientView
from store.models import Patient, PatientPhone, Staff, StaffPhone, text_limit
from store.month_totals import Scope, month_totals

_CLINIC_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_ICD10 = re.compile(r"([A-TV-Z][0-9][0-9A-Z])\.?([0-9A-Z]{1,4})?")


def patient_key(clinic_id: str) -> str:
    """The case-insensitive key: 'p-1042' and 'P-1042' are the same patient."""
    return clinic_id.strip().upper()


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


_PATIENT_BY_KEY = select(Patient).where(Patient.clinic_key == bindparam("key"))


def find_patient(session: Session, ref: str, *, region: str,
                 by_phone: bool = True) -> Patient | None:
    """The one patient resolver: clinic id (any case), else a patient or caregiver phone
    (`by_phone=False`: chat, where PHI such as a phone number is never typed)."""
    patient = session.exec(_PATIENT_BY_KEY, params={"key": patient_key(ref or "")}).first()
    if patient is not None or not by_phone:
        return patient
    e164 = try_normalize_phone(ref, region=region) if any(c.isdigit() for c in ref) else None
    if e164 is None:
        return None
    return session.exec(
        select(Patient).join(PatientPhone).where(PatientPhone.e164 == e164)
    ).first()


def require_patient(session: Session, ref: str, *, region: str,
                    by_phone: bool = True) -> Patient:
    patient = find_patient(session, ref, region=region, by_phone=by_phone)
    if patient is None:
        raise NotFound(_unknown_patient_message(session, ref))
    return patient


def _unknown_patient_message(session: Session, ref: str) -> str:
    if len(ref.strip()) > text_limit(Patient.clinic_id):  # no id is that long: no hints
        return f"No patient {quoted(ref.strip())}."
    keys = session.exec(select(Patient.clinic_id).order_by(Patient.clinic_id)).all()
    close = closest(ref, keys)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return f"No patient {quoted(ref.strip())}.{hint}"


def _phones(session: Session, patient: Patient) -> list[PatientPhone]:
    return list(session.exec(select(PatientPhone).where(PatientPhone.patient_id == patient.id)))


def _slack_id(session: Session, staff_id: int | None) -> str | None:
    if staff_id is None:
        return None
    staff = session.get(Staff, staff_id)
    return staff.slack_user_id if staff else None


def view_of(session: Session, patient: Patient) -> PatientView:
    phones = _phones(session, patient)
    return PatientView(
        patient.clinic_id, patient.initials, patient.consent_on, tuple(patient.conditions),
        _slack_id(session, patient.provider_id), _slack_id(session, patient.assigned_staff_id),
        patient.enrolled_on, patient.ended_on,
        sum(1 for p in phones if p.kind == "patient"),
        sum(1 for p in phones if p.kind == "caregiver"),
    )


def _snapshot(session: Session, patient: Patient) -> dict[str, Any]:
    phones = _phones(session, patient)
    return {
        "patient_id": patient.clinic_id, "initials": patient.initials,
        "consent_on": patient.consent_on, "conditions": list(patient.conditions),
        "provider": _slack_id(session, patient.provider_id),
        "assigned_to": _slack_id(session, patient.assigned_staff_id),
        "enrolled_on": patient.enrolled_on, "ended_on": patient.ended_on,
        "phones": sorted(p.e164 for p in phones if p.kind == "patient"),
        "caregiver_phones": sorted(p.e164 for p in phones if p.kind == "caregiver"),
    }


def _moves_limits(fields: "PatientFields") -> bool:
    """Whether a change touches what a month counts: the enrolment window or consent date."""
    return any(v is not None for v in (fields.enrolled_on, fields.ended_on, fields.consent_on))


# What a closed month billed of a patient, as far as a window or consent change can alter
# it: in the month's programme, counted seconds, live interactions, time left out and why.
_Figures = tuple[bool, int, int, tuple[Any, ...]]


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
        clinic_id = check_clinic_id(clinic_id)
        with self.ctx.db.write_session() as session:
            key = patient_key(clinic_id)
            if session.exec(select(Patient).where(Patient.clinic_key == key)).first():
                raise BadInput(f"Patient {clinic_id} already exists: use `patient update`.")
            patient = Patient(clinic_id=clinic_id, clinic_key=key,
                              conditions=[], created_at=self.ctx.now())
            session.add(patient)
            session.flush()
            self._apply(session, patient, fields)
            audit.record(session, at=self.ctx.now(), actor=actor, action="patient.add",
                         entity="patient", entity_id=clinic_id, after=_snapshot(session, patient))
            return view_of(session, patient)

    def update(self, ref: str, fields: PatientFields, *, actor: str,
               amendment: Amendment | None = None) -> PatientView:
        """Change a patient; a change of the enrolment window or consent date that moves days
        of a closed month in or out of what counts needs `amendment` (CLI: --amend REASON)."""
        with self.ctx.db.write_session() as session:
            patient = require_patient(session, ref, region=self._region)
            before = _snapshot(session, patient)
            assert patient.id is not None
            closed = self._closed_figures(session, patient.id) if _moves_limits(fields) else {}
            self._apply(session, patient, fields)
            reason = self._check_closed_months(session, patient.id, closed, amendment)
            after = _snapshot(session, patient) | ({"amendment_reason": reason} if reason else {})
            audit.record(session, at=self.ctx.now(), actor=actor, action="patient.update",
                         entity="patient", entity_id=patient.clinic_id, before=before,
                         after=after)
            return view_of(session, patient)

    def end(self, ref: str, *, on: date | None, actor: str,
            amendment: Amendment | None = None) -> PatientView:
        """End monitoring; `on` defaults to today in the clinic zone."""
        day = on or self.ctx.now().astimezone(self.ctx.policy.zone).date()
        return self.update(ref, PatientFields(ended_on=day), actor=actor, amendment=amendment)

    def _figures(self, session: Session, month: Month, patient_pk: int) -> _Figures:
        totals = next(month_totals(session, month=month, zone=self.ctx.policy.zone,
                                   min_live_seconds=self.ctx.policy.min_live_call_seconds,
                                   scope=Scope(patient_pk)))
        return (totals.in_programme, totals.counted_seconds, totals.live_interactions,
                totals.tally.not_counted)

    def _closed_figures(self, session: Session,
                        patient_pk: int) -> dict[Month, tuple[Any, _Figures]]:
        """Each month closed now: its close and the patient's figures in it (read before the
        change, under each month's lock, so a close cannot slip in between)."""
        return {m: (close, self._figures(session, m, patient_pk))
                for m, close in closed_for_write(session).items()}

    def _check_closed_months(self, session: Session, patient_pk: int,
                             closed: dict[Month, tuple[Any, _Figures]],
                             amendment: Amendment | None) -> str | None:
        """Refuse (unless amended) a change that alters what a closed month holds of the
        patient: whether they are in its programme, or what of their time counts. A change
        that leaves every closed month as it was billed needs nothing, whatever days it
        moves (billing office finding 4)."""
        zone = self.ctx.policy.zone
        changed = [(m, close) for m, (close, figures) in closed.items()
                   if self._figures(session, m, patient_pk) != figures]
        reasons = [refuse_unless_amended(session, month, close, amendment, zone=zone,
                                         way_out=AMEND_PATIENT) for month, close in changed]
        return next((r for r in reasons if r is not None), None)

    def _apply(self, session: Session, patient: Patient, fields: PatientFields) -> None:
        if fields.initials is not None:
            patient.initials = check_initials(fields.initials)
        if fields.consent_on is not None:
            patient.consent_on = fields.consent_on
        if fields.conditions:
            merged = list(patient.conditions) + [check_condition(c) for c in fields.conditions]
            patient.conditions = sorted(set(merged))
        if fields.provider is not None:
            patient.provider_id = self._provider_id(session, fields.provider)
        if fields.assign is not None:
            patient.assigned_staff_id = (
                require_staff(session, fields.assign).id if fields.assign.strip() else None
            )
        if fields.enrolled_on is not None:
            patient.enrolled_on = fields.enrolled_on
        if fields.ended_on is not None:
            patient.ended_on = fields.ended_on
        if patient.enrolled_on and patient.ended_on and patient.ended_on < patient.enrolled_on:
            raise BadInput(
                f"End date {patient.ended_on} is before enrolment {patient.enrolled_on}."
            )
        for e164 in self._normalized(fields.remove_phones):
            self._drop_phone(session, patient, e164)
        for kind, numbers in (("patient", fields.phones), ("caregiver", fields.caregiver_phones)):
            for e164 in self._normalized(numbers, storing=True):
                self._claim_phone(session, patient, e164, kind)
        session.add(patient)
        session.flush()

    @staticmethod
    def _provider_id(session: Session, slack_user_id: str) -> int | None:
        staff = require_staff(session, slack_user_id)
        if staff.role not in PROVIDER_ROLES:
            raise BadInput(f"{staff.slack_user_id} is {staff.role}: the billing provider must be "
                           "a physician or QHP.")
        return staff.id

    @staticmethod
    def _claim_phone(session: Session, patient: Patient, e164: str, kind: str) -> None:
        owner = session.exec(select(PatientPhone).where(PatientPhone.e164 == e164)).first()
        if owner is not None and owner.patient_id != patient.id:
            raise BadInput(f"Phone {mask_phone(e164)} already belongs to another patient.")
        if session.exec(select(StaffPhone).where(StaffPhone.e164 == e164)).first():
            raise BadInput(f"Phone {mask_phone(e164)} is a staff member's number.")
        if owner is None:
            assert patient.id is not None  # flushed before phones are claimed
            session.add(PatientPhone(patient_id=patient.id, e164=e164, kind=kind))
        elif owner.kind != kind:
            owner.kind = kind
            session.add(owner)

    @staticmethod
    def _drop_phone(session: Session, patient: Patient, e164: str) -> None:
        row = session.exec(select(PatientPhone).where(
            PatientPhone.e164 == e164, PatientPhone.patient_id == patient.id)).first()
        if row is None:
            raise BadInput(f"Patient {patient.clinic_id} has no phone {mask_phone(e164)}.")
        session.delete(row)

    def get(self, ref: str) -> PatientView:
        with self.ctx.db.read_session() as session:
            return view_of(session, require_patient(session, ref, region=self._region))

    def list(self, *, assigned_to: str | None = None) -> list[PatientView]:
        with self.ctx.db.read_session() as session:
            query = select(Patient).order_by(Patient.clinic_key)
            if assigned_to is not None:
                staff = require_staff(session, assigned_to)
                query = query.where(Patient.assigned_staff_id == staff.id)
            return [view_of(session, p) for p in session.exec(query).all()]
