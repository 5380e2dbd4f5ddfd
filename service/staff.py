"""Staff: who may log time, whose minutes count, who may administer."""

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func
from sqlmodel import Session, select

from billing.codes import ALL_ROLES
from billing.errors import quoted
from service import audit
from service.context import ServiceContext
from service.errors import BadInput, NotFound
from service.phones import mask_phone, normalize_phone, try_normalize_phone, valid_phone
from service.views import StaffView
from store.models import PatientPhone, Staff, StaffPhone

_SLACK_ID = re.compile(r"[UW][A-Z0-9]{2,31}")
_NPI = re.compile(r"\d{10}")


def clean_slack_user_id(text: str) -> str:
    """A Slack user id such as U0123ABCD; '<@U0123ABCD|name>' mentions are unwrapped."""
    raw = (text or "").strip()
    mention = re.fullmatch(r"<@([A-Za-z0-9]+)(?:\|[^>]*)?>", raw)
    value = (mention.group(1) if mention else raw.lstrip("@")).upper()
    if not _SLACK_ID.fullmatch(value):
        raise BadInput(f"{quoted(text or '')} is not a Slack user id (they look like "
                       "U0123ABCD).")
    return value


def check_role(role: str) -> str:
    folded = (role or "").strip().lower().replace("-", "_")
    if folded not in ALL_ROLES:
        raise BadInput(f"Unknown role {quoted(role)}. Roles: {', '.join(ALL_ROLES)}.")
    return folded


def _check_npi(npi: str | None, role: str) -> str | None:
    if npi is None:
        return None
    if not _NPI.fullmatch(npi.strip()):
        raise BadInput(f"NPI {quoted(npi)} must be 10 digits.")
    if role not in ("physician", "qhp"):
        raise BadInput("Only physicians and QHPs carry an NPI here.")
    return npi.strip()


# Looked up on every Slack request: built once, run with a bound id (building a statement
# costs more CPU than running it).
_STAFF_BY_ID = select(Staff).where(Staff.slack_user_id == bindparam("user"))
_ACTIVE_BY_ID = select(Staff.active).where(Staff.slack_user_id == bindparam("user"))


def find_staff(session: Session, slack_user_id: str) -> Staff | None:
    return session.exec(_STAFF_BY_ID, params={"user": slack_user_id}).first()


def require_staff(session: Session, slack_user_id: str) -> Staff:
    staff = find_staff(session, clean_slack_user_id(slack_user_id))
    if staff is None:
        raise NotFound(f"No staff member with Slack id {slack_user_id}. An admin adds staff "
                       "with `rpm-logger staff add`.")
    return staff


def view_of(session: Session, staff: Staff) -> StaffView:
    count = session.exec(
        select(func.count()).select_from(StaffPhone).where(StaffPhone.staff_id == staff.id)
    ).one()
    return StaffView(staff.slack_user_id, staff.name, staff.role, staff.is_admin, staff.active,
                     staff.npi, int(count))


def _snapshot(session: Session, staff: Staff) -> dict[str, Any]:
    phones = session.exec(select(StaffPhone.e164).where(StaffPhone.staff_id == staff.id)).all()
    return {
        "slack_user_id": staff.slack_user_id, "name": staff.name, "role": staff.role,
        "npi": staff.npi, "is_admin": staff.is_admin, "active": staff.active,
        "staff_phones": sorted(phones), "twilio_client": staff.twilio_client,
    }


@dataclass(frozen=True)
class StaffChanges:
    """Fields `update` may change; None leaves a field as it is."""

    name: str | None = None
    role: str | None = None
    npi: str | None = None
    is_admin: bool | None = None
    active: bool | None = None
    add_phones: tuple[str, ...] = ()
    remove_phones: tuple[str, ...] = ()
    add_twilio_numbers: tuple[str, ...] = ()  # clinic Twilio numbers assigned to them
    twilio_client: str | None = None  # Twilio Client identity (NAME of client:NAME); "" clears


class StaffService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _phone(self, text: str, *, storing: bool = True) -> str:
        """E.164; a number to store must be valid, one to remove need only be readable."""
        check = valid_phone if storing else normalize_phone
        return check(text, region=self.ctx.policy.phone_region)

    def _claim_phone(self, session: Session, staff: Staff, e164: str,
                     kind: str = "phone") -> None:
        owner = session.exec(select(StaffPhone).where(StaffPhone.e164 == e164)).first()
        if owner is not None and owner.staff_id != staff.id:
            raise BadInput(f"Phone {mask_phone(e164)} already belongs to another staff member.")
        if session.exec(select(PatientPhone).where(PatientPhone.e164 == e164)).first():
            raise BadInput(f"Phone {mask_phone(e164)} is a patient's or caregiver's number.")
        if owner is None:
            assert staff.id is not None  # flushed before phones are claimed
            session.add(StaffPhone(staff_id=staff.id, e164=e164, kind=kind))
        elif owner.kind != kind:
            owner.kind = kind
            session.add(owner)

    def add(self, *, slack_user_id: str, name: str, role: str, phones: tuple[str, ...] = (),
            npi: str | None = None, is_admin: bool = False, actor: str) -> StaffView:
        user_id = clean_slack_user_id(slack_user_id)
        role = check_role(role)
        if not (name or "").strip():
            raise BadInput("A staff member needs a name.")
        numbers = [self._phone(p) for p in phones]
        with self.ctx.db.write_session() as session:
            if find_staff(session, user_id) is not None:
                raise BadInput(f"Staff {user_id} already exists: use `staff update`.")
            staff = Staff(slack_user_id=user_id, name=name.strip(), role=role,
                          npi=_check_npi(npi, role), is_admin=is_admin, created_at=self.ctx.now())
            session.add(staff)
            session.flush()
            for e164 in numbers:
                self._claim_phone(session, staff, e164)
            session.flush()
            audit.record(session, at=self.ctx.now(), actor=actor, action="staff.add",
                         entity="staff", entity_id=user_id, after=_snapshot(session, staff))
            return view_of(session, staff)

    def update(self, slack_user_id: str, changes: StaffChanges, *, actor: str) -> StaffView:
        add_numbers = [self._phone(p) for p in changes.add_phones]
        twilio_numbers = [self._phone(p) for p in changes.add_twilio_numbers]
        remove_numbers = [self._phone(p, storing=False) for p in changes.remove_phones]
        with self.ctx.db.write_session() as session:
            staff = require_staff(session, slack_user_id)
            before = _snapshot(session, staff)
            if changes.name is not None:
                if not changes.name.strip():
                    raise BadInput("A staff member needs a name.")
                staff.name = changes.name.strip()
            if changes.role is not None:
                staff.role = check_role(changes.role)
            if changes.npi is not None:
                staff.npi = _check_npi(changes.npi, staff.role)
            if changes.is_admin is not None:
                staff.is_admin = changes.is_admin
            if changes.active is not None:
                staff.active = changes.active
            for e164 in remove_numbers:
                self._drop_phone(session, staff, e164)
            for e164 in add_numbers:
                self._claim_phone(session, staff, e164)
            for e164 in twilio_numbers:
                self._claim_phone(session, staff, e164, "twilio_number")
            if changes.twilio_client is not None:
                staff.twilio_client = self._client_identity(session, staff, changes.twilio_client)
            session.add(staff)
            session.flush()
            audit.record(session, at=self.ctx.now(), actor=actor, action="staff.update",
                         entity="staff", entity_id=staff.slack_user_id, before=before,
                         after=_snapshot(session, staff))
            return view_of(session, staff)

    @staticmethod
    def _client_identity(session: Session, staff: Staff, text: str) -> str | None:
        """A Twilio Client identity, with or without the 'client:' prefix; '' clears it."""
        name = text.strip().removeprefix("client:").strip()
        if not name:
            return None
        if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,120}", name):
            raise BadInput(f"{quoted(text)} is not a Twilio client identity (letters, digits, "
                           "'_', '.', '@', '-').")
        other = session.exec(select(Staff).where(Staff.twilio_client == name)).first()
        if other is not None and other.id != staff.id:
            raise BadInput(f"Twilio client {quoted(name)} already belongs to "
                           f"{other.slack_user_id}.")
        return name

    @staticmethod
    def _drop_phone(session: Session, staff: Staff, e164: str) -> None:
        row = session.exec(select(StaffPhone).where(
            StaffPhone.e164 == e164, StaffPhone.staff_id == staff.id)).first()
        if row is None:
            raise BadInput(f"Staff {staff.slack_user_id} has no phone ending {e164[-4:]}.")
        session.delete(row)

    def get(self, slack_user_id: str) -> StaffView:
        with self.ctx.db.read_session() as session:
            return view_of(session, require_staff(session, slack_user_id))

    def find(self, slack_user_id: str) -> StaffView | None:
        """The staff member or None, for adapters that greet strangers politely."""
        with self.ctx.db.read_session() as session:
            staff = find_staff(session, slack_user_id.strip().upper())
            return view_of(session, staff) if staff else None

    def is_active(self, slack_user_id: str) -> bool:
        """Whether chat should serve this user: one indexed lookup, no view (every Slack
        request asks it first)."""
        try:
            user = clean_slack_user_id(slack_user_id)
        except BadInput:
            return False
        with self.ctx.db.read_session() as session:
            return bool(session.exec(_ACTIVE_BY_ID, params={"user": user}).first())

    def by_phone(self, phone: str) -> StaffView | None:
        e164 = try_normalize_phone(phone, region=self.ctx.policy.phone_region)
        if e164 is None:
            return None
        with self.ctx.db.read_session() as session:
            staff = session.exec(select(Staff).join(StaffPhone).where(
                StaffPhone.e164 == e164)).first()
            return view_of(session, staff) if staff else None

    def list(self, *, include_inactive: bool = False) -> list[StaffView]:
        with self.ctx.db.read_session() as session:
            query = select(Staff).order_by(Staff.name)
            if not include_inactive:
                query = query.where(Staff.active.is_(True))  # type: ignore[attr-defined]
            return [view_of(session, s) for s in session.exec(query).all()]
