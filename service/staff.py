"""Staff: who may log time, whose minutes count, who may administer.

Each public method is one use case in one transaction; the `*_in(conn, ...)` methods are the
same work inside a caller's transaction (the chat admin checks its actor in the same one).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from billing.codes import ALL_ROLES
from billing.digits import DIGIT
from billing.errors import quoted
from service import audit, lookups
from service.context import ServiceContext
from service.errors import BadInput, NotFound, Refusals
from service.lookups import clean_slack_user_id
from service.phones import mask_phone, normalize_phone, try_normalize_phone, valid_phone
from service.sessions import MADE_INACTIVE, STAFF, end_all_in
from service.views import StaffView
from store import patients as patient_rows
from store import phones as phone_rows
from store import staff as staff_rows
from store import timers as timer_rows
from store.db import Conn

__all__ = ["StaffChanged", "StaffChanges", "StaffService", "active_at", "check_role",
           "clean_slack_user_id", "snapshot", "view_of"]

_NPI = re.compile(rf"{DIGIT}{{10}}")  # 0-9 only: '١٢٣٤٥٦٧٨٩٠' is no NPI a payer reads
_CLIENT_IDENTITY = re.compile(r"[A-Za-z0-9_.@-]{1,120}")


def active_at(row: Any, instant: datetime | None) -> bool:
    """Whether the staff member (a staff row) was active at `instant`: an active member
    always; an inactive one only before their inactive-from instant (issue 24: calls from
    before it stay theirs). An inactive member with no instant recorded (made inactive
    before it was kept) is taken as inactive since ever, as `active` alone always said."""
    if row.active:
        return True
    since = row.inactive_from
    return since is not None and instant is not None and instant < since


def check_role(role: str) -> str:
    folded = (role or "").strip().lower().replace("-", "_")
    if folded not in ALL_ROLES:
        raise BadInput(f"Unknown role {quoted(role)}. Roles: {', '.join(ALL_ROLES)}.")
    return folded


def _check_npi(npi: str | None, role: str | None) -> str | None:
    """The NPI as typed (10 digits) for a physician or QHP; `role` None: its role was
    refused, so only the digits are checked."""
    if npi is None:
        return None
    if not _NPI.fullmatch(npi.strip()):
        raise BadInput(f"NPI {quoted(npi)} must be 10 digits, 0 to 9.")
    if role is not None and role not in ("physician", "qhp"):
        raise BadInput("Only physicians and QHPs carry an NPI here.")
    return npi.strip()


def _view(row: Any, phone_count: int, now: datetime | None = None) -> StaffView:
    """The view of a staff row; its voice lock only when `now` is given and it is in force."""
    locked = row.voice_locked_until
    in_force = locked if now is not None and locked is not None and locked > now else None
    return StaffView(row.slack_user_id, row.name, row.role, row.is_admin, row.active,
                     row.npi, int(phone_count), row.voice_pin_hash is not None, in_force,
                     None if row.active else row.inactive_from)


def _counted_view(row: Any, now: datetime | None = None) -> StaffView:
    """The view of a store/staff `view_*` row (it carries `phone_count`)."""
    return _view(row, row.phone_count, now)


def snapshot(row: Any, numbers: Mapping[str, str]) -> dict[str, Any]:
    """A staff row as its audit records keep it (service/record_checks.py reads them)."""
    return {
        "slack_user_id": row.slack_user_id, "name": row.name, "role": row.role,
        "npi": row.npi, "is_admin": row.is_admin, "active": row.active,
        "inactive_from": row.inactive_from,
        "staff_phones": sorted(numbers), "twilio_client": row.twilio_client,
        "email": row.email,
        "voice_pin": row.voice_pin_hash is not None,
    }


def view_of(conn: Conn, staff: Any, *, now: datetime | None = None) -> StaffView:
    """The view of a staff row, with how many phones they have (and, given `now`, the voice
    lock in force)."""
    return _view(staff, len(staff_rows.phones(conn, staff.id)), now)


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
    email: str | None = None  # the dashboard sign-in's email (issue 24); "" clears


@dataclass(frozen=True)
class StaffChanged:
    """An update as saved: the member now and the names of what it changed (`name`, `role`,
    `npi`, `is_admin`, `active`, `twilio_client`, `phones`, `twilio_numbers`; none: nothing)."""

    view: StaffView
    changed: tuple[str, ...]


def _of_kind(numbers: Mapping[str, str], kind: str) -> set[str]:
    return {e164 for e164, k in numbers.items() if k == kind}


def _claim(conn: Conn, numbers: dict[str, str], held: Mapping[str, list[Any]],
           staff_pk: int | None, e164: str, kind: str) -> None:
    """Give `e164` (as `kind`) to the member whose numbers are `numbers`, unless another
    member (named by Slack id, so the clash can be settled) or a patient holds it (`held`:
    store/phones.holders)."""
    holders = held.get(e164, [])
    other = next((h for h in holders if h.side == "staff" and h.owner_id != staff_pk), None)
    if other is not None:
        owner = staff_rows.by_pk(conn, other.owner_id)
        who = f" ({owner.slack_user_id})" if owner is not None else ""
        raise BadInput(f"Phone {mask_phone(e164)} already belongs to another staff "
                       f"member{who}.")
    if any(h.side == "patient" for h in holders):
        raise BadInput(f"Phone {mask_phone(e164)} is a patient's or caregiver's number.")
    numbers[e164] = kind


_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s.]{2,63}")


def _check_email(conn: Conn, text: str, staff_pk: int | None) -> str:
    """An email address for the dashboard's sign-in, lower case, unique among staff."""
    email = text.strip().lower()
    if not _EMAIL.fullmatch(email) or len(email) > 254:
        raise BadInput(f"{quoted(text.strip()[:80])} is not an email address.")
    other = staff_rows.by_email(conn, email)
    if other is not None and other.id != staff_pk:
        raise BadInput(f"{email} is already the email of {other.slack_user_id}.")
    return email


class StaffService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _phone(self, text: str, *, storing: bool = True) -> str:
        """E.164; a number to store must be valid, one to remove need only be readable."""
        check = valid_phone if storing else normalize_phone
        return check(text, region=self.ctx.policy.phone_region)

    def add(self, *, slack_user_id: str, name: str, role: str, phones: tuple[str, ...] = (),
            npi: str | None = None, is_admin: bool = False, email: str | None = None,
            actor: str) -> StaffView:
        with self.ctx.db.write() as conn:
            return self.add_in(conn, slack_user_id=slack_user_id, name=name, role=role,
                               phones=phones, npi=npi, is_admin=is_admin, email=email,
                               actor=actor)

    def add_in(self, conn: Conn, *, slack_user_id: str, name: str, role: str,
               phones: tuple[str, ...] = (), npi: str | None = None, is_admin: bool = False,
               email: str | None = None, actor: str,
               source: dict[str, Any] | None = None, twilio_numbers: tuple[str, ...] = (),
               twilio_client: str | None = None) -> StaffView:
        """`add` inside the caller's transaction; `source` (an import's file and line) is
        kept in the audit record. Every field is checked before any refusal is raised (an
        import's line lists each reason: a number or email another member holds with a
        bad role, say)."""
        user_id = clean_slack_user_id(slack_user_id)
        if staff_rows.by_slack_id(conn, user_id) is not None:
            raise BadInput(f"Staff {user_id} already exists: use `staff update`.")
        refusals = Refusals()  # every field refused is told at once (an import's line)
        with refusals.check("name"):
            if not (name or "").strip():
                raise BadInput(f"{user_id} is not on staff yet: a new member needs a name.")
        with refusals.check("role"):
            if not (role or "").strip():
                raise BadInput(f"{user_id} is not on staff yet: a new member needs a role "
                               f"({', '.join(ALL_ROLES)}).")
            role = check_role(role)
        checked_npi = None
        with refusals.check("npi"):
            checked_npi = _check_npi(npi, None if refusals.failed("role") else role)
        numbers: dict[str, str] = {}
        with refusals.check("phones"):
            wanted = [self._phone(p) for p in phones]
            held = phone_rows.holders(conn, wanted)
            for e164 in wanted:
                _claim(conn, numbers, held, None, e164, "phone")
        with refusals.check("twilio_numbers"):
            clinic_numbers = [self._phone(p) for p in twilio_numbers]
            held = self._from_leavers(conn, phone_rows.holders(conn, clinic_numbers), None,
                                      clinic_numbers, actor)
            for e164 in clinic_numbers:
                _claim(conn, numbers, held, None, e164, "twilio_number")
        client = None
        with refusals.check("twilio_client"):
            client = (self._client_identity(conn, None, twilio_client)
                      if twilio_client is not None else None)
        checked_email = None
        with refusals.check("email"):
            checked_email = _check_email(conn, email, None) if email else None
        refusals.done()
        row = staff_rows.insert_staff(conn, {
            "slack_user_id": user_id, "name": name.strip(), "role": role, "npi": checked_npi,
            "is_admin": is_admin, "active": True, "created_at": self.ctx.now(),
            "email": checked_email, "twilio_client": client})
        staff_rows.save_phones(conn, row.id, {}, numbers)
        audit.record(conn, at=self.ctx.now(), actor=actor, action="staff.add",
                     entity="staff", entity_id=user_id,
                     after=snapshot(row, numbers) | ({"import": source} if source else {}))
        return _view(row, len(numbers))

    def update(self, slack_user_id: str, changes: StaffChanges, *, actor: str) -> StaffView:
        add_numbers = [self._phone(p) for p in changes.add_phones]
        twilio_numbers = [self._phone(p) for p in changes.add_twilio_numbers]
        remove_numbers = [self._phone(p, storing=False) for p in changes.remove_phones]
        with self.ctx.db.write() as conn:
            return self._update_in(conn, slack_user_id, changes, add_numbers, twilio_numbers,
                                   remove_numbers, actor=actor, source=None).view

    def update_in(self, conn: Conn, slack_user_id: str, changes: StaffChanges, *, actor: str,
                  source: dict[str, Any] | None = None) -> StaffChanged:
        """`update` inside the caller's transaction, saying what changed. With `source` (an
        import's file and line) the audit record names it, and an update that changes
        nothing writes nothing."""
        return self._update_in(conn, slack_user_id, changes,
                               [self._phone(p) for p in changes.add_phones],
                               [self._phone(p) for p in changes.add_twilio_numbers],
                               [self._phone(p, storing=False) for p in changes.remove_phones],
                               actor=actor, source=source)

    def _update_in(self, conn: Conn, slack_user_id: str, changes: StaffChanges,
                   add_numbers: list[str], twilio_numbers: list[str],
                   remove_numbers: list[str], *, actor: str,
                   source: dict[str, Any] | None) -> StaffChanged:
        row = lookups.require_staff(conn, slack_user_id)
        before_numbers = staff_rows.phones(conn, row.id)
        refusals = Refusals()  # every field refused is told at once (an import's line)
        values = self._changed_columns(conn, row, changes, refusals)
        with refusals.check("active"):
            self._activity(conn, row, values, actor)
        numbers = dict(before_numbers)
        with refusals.check("remove_phone"):
            for e164 in remove_numbers:
                if e164 not in numbers:
                    raise BadInput(f"Staff {row.slack_user_id} has no phone ending "
                                   f"{e164[-4:]}.")
                del numbers[e164]
        claims = [(e164, "phone", "phones") for e164 in add_numbers] + [
            (e164, "twilio_number", "twilio_numbers") for e164 in twilio_numbers]
        held = phone_rows.holders(conn, [e164 for e164, _, _ in claims])
        # (a refusal below rolls the whole transaction back, these moves with it)
        held = self._from_leavers(conn, held, row.id, twilio_numbers, actor)
        for e164, kind, column in claims:
            with refusals.check(column):
                _claim(conn, numbers, held, row.id, e164, kind)
        with refusals.check("twilio_client"):
            if changes.twilio_client is not None:
                values["twilio_client"] = self._client_identity(conn, row,
                                                                changes.twilio_client)
        refusals.done()
        values = {name: value for name, value in values.items()
                  if getattr(row, name) != value}
        changed = (*values, *(name for name, kind in (("phones", "phone"),
                                                      ("twilio_numbers", "twilio_number"))
                              if _of_kind(numbers, kind) != _of_kind(before_numbers, kind)))
        if source is not None and not changed:
            return StaffChanged(_view(row, len(numbers), self.ctx.now()), ())
        after = staff_rows.update_staff(conn, row.id, values) if values else row
        staff_rows.save_phones(conn, row.id, before_numbers, numbers)
        audit.record(conn, at=self.ctx.now(), actor=actor, action="staff.update",
                     entity="staff", entity_id=row.slack_user_id,
                     before=snapshot(row, before_numbers),
                     after=snapshot(after, numbers) | ({"import": source} if source else {}))
        return StaffChanged(_view(after, len(numbers), self.ctx.now()), tuple(changed))

    @staticmethod
    def _changed_columns(conn: Conn, row: Any, changes: StaffChanges,
                         refusals: Refusals) -> dict[str, Any]:
        """The columns `changes` sets, checked (in the order people see the refusals; each
        refused field goes to `refusals`)."""
        values: dict[str, Any] = {}
        with refusals.check("name"):
            if changes.name is not None:
                if not changes.name.strip():
                    raise BadInput("A staff member needs a name.")
                values["name"] = changes.name.strip()
        with refusals.check("role"):
            if changes.role is not None:
                values["role"] = check_role(changes.role)
        with refusals.check("npi"):
            if changes.npi is not None:
                values["npi"] = _check_npi(changes.npi, None if refusals.failed("role")
                                           else values.get("role", row.role))
        if changes.is_admin is not None:
            values["is_admin"] = changes.is_admin
        if changes.active is not None:
            values["active"] = changes.active
        with refusals.check("email"):
            if changes.email is not None:
                values["email"] = _check_email(conn, changes.email, row.id) \
                    if changes.email.strip() else None
        return values

    def _from_leavers(self, conn: Conn, held: Mapping[str, list[Any]], staff_pk: int | None,
                      twilio_numbers: list[str], actor: str) -> dict[str, list[Any]]:
        """A clinic Twilio number still on an inactive member's record (a leaver's, issue 24)
        moves to member `staff_pk` (None: one being added) with `--twilio-number`: taken off
        the leaver's record, with its own audit record; an active member's stays refused
        (`_claim`). `held` without them."""
        left = {e164: list(rows) for e164, rows in held.items()}
        for e164 in twilio_numbers:
            for holder in held.get(e164, []):
                if holder.side != "staff" or holder.owner_id == staff_pk \
                        or holder.kind != "twilio_number":
                    continue
                leaver = staff_rows.by_pk(conn, holder.owner_id)
                if leaver is None or leaver.active:
                    continue
                before = staff_rows.phones(conn, leaver.id)
                after = {k: v for k, v in before.items() if k != e164}
                staff_rows.save_phones(conn, leaver.id, before, after)
                audit.record(conn, at=self.ctx.now(), actor=actor, action="staff.update",
                             entity="staff", entity_id=leaver.slack_user_id,
                             before=snapshot(leaver, before), after=snapshot(leaver, after))
                left[e164].remove(holder)
        return left

    def _activity(self, conn: Conn, row: Any, values: dict[str, Any], actor: str) -> None:
        """`--inactive` records the inactive-from instant (kept when they were inactive
        already with one) and `--active` clears it. `--inactive` is refused while the member
        still has patients or a running timer: `staff offboard` moves those in the same
        transaction (issue 24), so nothing is left with a member nobody can reach."""
        if "active" not in values:
            return
        if values["active"]:
            values["inactive_from"] = None
            return
        if not row.active and row.inactive_from is not None:
            return
        patients = patient_rows.assigned_to(conn, row.id)
        timer = timer_rows.running(conn, row.id)
        if patients or timer is not None:
            left = [f"{len(patients)} assigned patient{'s' if len(patients) != 1 else ''}"] \
                if patients else []
            left += ["a running timer"] if timer is not None else []
            raise BadInput(
                f"{row.slack_user_id} still has {' and '.join(left)}: run `rpm-logger staff "
                f"offboard {row.slack_user_id} --reassign-to SLACK_ID` instead (it moves "
                "their patients, ends the timer and removes the voice PIN in one go); "
                "nothing changed.")
        values["inactive_from"] = self.ctx.now()
        end_all_in(conn, STAFF, row.slack_user_id, now=self.ctx.now(), actor=actor,
                   why=MADE_INACTIVE)  # her dashboard sessions end with it

    @staticmethod
    def _client_identity(conn: Conn, row: Any | None, text: str) -> str | None:
        """A Twilio Client identity, with or without the 'client:' prefix; '' clears it."""
        name = text.strip().removeprefix("client:").strip()
        if not name:
            return None
        if not _CLIENT_IDENTITY.fullmatch(name):
            raise BadInput(f"{quoted(text)} is not a Twilio client identity (letters, digits, "
                           "'_', '.', '@', '-').")
        other = staff_rows.by_twilio_client(conn, name)
        if other is not None and (row is None or other.id != row.id):
            raise BadInput(f"Twilio client {quoted(name)} already belongs to "
                           f"{other.slack_user_id}.")
        return name

    @staticmethod
    def list_in(conn: Conn, *, include_inactive: bool = False,
                now: datetime | None = None) -> list[StaffView]:
        """`list` inside the caller's transaction (defined first: `list` names the method
        below once it is defined); given `now`, each view shows a voice lock in force."""
        return [_counted_view(r, now) for r in
                staff_rows.views(conn, include_inactive=include_inactive)]

    def get(self, slack_user_id: str) -> StaffView:
        with self.ctx.db.read() as conn:
            row = staff_rows.view_by_slack_id(conn, clean_slack_user_id(slack_user_id))
            if row is None:
                raise NotFound(lookups.unknown_staff_message(slack_user_id))
            return _counted_view(row, self.ctx.now())

    def find(self, slack_user_id: str) -> StaffView | None:
        """The staff member or None, for adapters that greet strangers politely."""
        with self.ctx.db.read() as conn:
            row = staff_rows.view_by_slack_id(conn, slack_user_id.strip().upper())
            return _counted_view(row) if row else None

    def by_phone(self, phone: str) -> StaffView | None:
        e164 = try_normalize_phone(phone, region=self.ctx.policy.phone_region)
        if e164 is None:
            return None
        with self.ctx.db.read() as conn:
            row = staff_rows.view_by_phone(conn, e164)
            return _counted_view(row) if row else None

    def list(self, *, include_inactive: bool = False) -> list[StaffView]:
        with self.ctx.db.read() as conn:
            return self.list_in(conn, include_inactive=include_inactive, now=self.ctx.now())
