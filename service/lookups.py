"""The one place a use case finds its actor and its patient, inside its own transaction.

Each returns a store row (attribute access: `.id`, `.slack_user_id`, `.clinic_id`, ...) or
raises the error an adapter shows as it is; nothing here opens a transaction.
"""

import re
from typing import Any

from billing.digits import is_digits
from billing.errors import quoted
from service.errors import BadInput, NotAdmin, NotFound, NotStaff, UnknownStaff
from service.phones import try_normalize_phone
from service.spelling import closest
from store import patients, staff
from store.db import Conn

LONGEST_CLINIC_ID = 64  # store/models.py Patient.clinic_id
_SLACK_ID = re.compile(r"[UW][A-Z0-9]{2,31}")
_MENTION = re.compile(r"<@([A-Za-z0-9]+)(?:\|[^>]*)?>")


def clean_slack_user_id(text: str) -> str:
    """A Slack user id such as U0123ABCD; '<@U0123ABCD|name>' mentions are unwrapped."""
    raw = (text or "").strip()
    mention = _MENTION.fullmatch(raw)
    value = (mention.group(1) if mention else raw.lstrip("@")).upper()
    if not _SLACK_ID.fullmatch(value):
        raise BadInput(f"{quoted(text or '')} is not a Slack user id (they look like "
                       "U0123ABCD).")
    return value


def find_staff(conn: Conn, slack_user_id: str) -> Any:
    """The staff row with this (already clean) Slack id, or None."""
    return staff.by_slack_id(conn, slack_user_id)


class StaffOnRecords:
    """Who the Slack ids on a page's records are (logged by, voided by, the audit's actor),
    each read once per page: screens name people, and the ids stay beside the names. Free
    text that is no staff member's id (an operator's "cli:ops", "twilio") finds no row."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.known: dict[str, Any] = {}

    def row(self, slack_id: str) -> Any:
        if slack_id not in self.known:
            self.known[slack_id] = find_staff(self.conn, slack_id)
        return self.known[slack_id]

    def name(self, slack_id: str | None) -> str | None:
        found = self.row(slack_id) if slack_id else None
        return found.name if found else None


def require_staff(conn: Conn, slack_user_id: str) -> Any:
    """The staff member with this Slack id (active or not: history keeps leavers)."""
    row = staff.by_slack_id(conn, clean_slack_user_id(slack_user_id))
    if row is None:
        raise NotFound(unknown_staff_message(slack_user_id))
    return row


def unknown_staff_message(slack_user_id: str) -> str:
    return (f"No staff member with Slack id {slack_user_id}. An admin adds staff "
            "with `rpm-logger staff add`.")


def require_active_staff(conn: Conn, slack_user_id: str, *, doing: str) -> Any:
    """The actor of a use case, checked in its own transaction (no adapter gate before it):
    an unknown id, a malformed one or an inactive member raises NotStaff, which chat turns
    into the stranger reply naming the admins (`doing` says what they cannot do)."""
    try:
        user = clean_slack_user_id(slack_user_id)
    except BadInput as exc:
        raise NotStaff(str(exc), admins=staff.admin_ids(conn)) from None
    row = staff.by_slack_id(conn, user)
    if row is None:
        raise UnknownStaff(unknown_staff_message(slack_user_id),
                           admins=staff.admin_ids(conn))
    if not row.active:
        raise NotStaff(f"{row.slack_user_id} is inactive and cannot {doing}.",
                       admins=staff.admin_ids(conn), deactivated=True)
    return row


def require_admin(conn: Conn, slack_user_id: str) -> str:
    """An active admin's Slack id (a stranger: NotStaff; staff who are not admins:
    NotAllowed naming who is)."""
    row = require_active_staff(conn, slack_user_id, doing="administer")
    if not row.is_admin:
        raise NotAdmin(staff.admin_ids(conn))
    return str(row.slack_user_id)


def signature(conn: Conn, by: str) -> tuple[str, str | None]:
    """Who signs a close or reopen: (Slack id, name) when `by` is a staff member's Slack id
    or the whole name of exactly one member (the CLI's --by "Bea Billing"), else (`by`, None):
    an operator's free text. One admin's closes then read alike from Slack and the CLI. A
    member who is not an active admin is refused: the record would read as their close."""
    text = (by or "").strip()
    value = _MENTION.fullmatch(text)
    candidate = value.group(1) if value else text.lstrip("@")
    row = staff.by_slack_id(conn, candidate.upper()) \
        if _SLACK_ID.fullmatch(candidate.upper()) else None
    if row is None:
        named = staff.by_name(conn, text)
        row = named[0] if len(named) == 1 else None
    if row is None:
        return text, None
    if not (row.is_admin and row.active):  # a nurse's name would read as her close
        raise BadInput(f"{row.name} ({row.slack_user_id}) is not an active admin: a close or "
                       "reopen is signed by an admin, or by the operator (leave --by out).")
    return str(row.slack_user_id), str(row.name)


def find_patient(conn: Conn, ref: str, *, region: str, by_phone: bool = True) -> Any:
    """The one patient resolver: clinic id (any case), else a patient or caregiver phone
    (`by_phone=False`: chat, where PHI such as a phone number is never typed)."""
    row = patients.by_key(conn, patient_key(ref or ""))
    if row is not None or not by_phone:
        return row
    return find_patient_by_phone(conn, ref, region=region)


def find_patient_by_phone(conn: Conn, ref: str, *, region: str) -> Any:
    """The patient whose patient or caregiver number `ref` reads as, or None (the second half
    of `find_patient`)."""
    e164 = phone_in(ref, region=region)
    return patients.by_phone(conn, e164) if e164 is not None else None


def phone_in(ref: str, *, region: str) -> str | None:
    """The E.164 number a patient reference reads as, or None (a clinic id, say)."""
    return try_normalize_phone(ref, region=region) if any(c.isdigit() for c in ref) else None


def require_patient(conn: Conn, ref: str, *, region: str, by_phone: bool = True) -> Any:
    row = find_patient(conn, ref, region=region, by_phone=by_phone)
    if row is None:
        raise NotFound(unknown_patient_message(conn, ref))
    return row


def unknown_patient_message(conn: Conn, ref: str) -> str:
    if len(ref.strip()) > LONGEST_CLINIC_ID:  # no id is that long: no hints
        return f"No patient {quoted(ref.strip())}."
    close = closest(ref, patients.clinic_ids(conn))
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return f"No patient {quoted(ref.strip())}.{hint}"


def patient_key(clinic_id: str) -> str:
    """The case-insensitive key: 'p-1042' and 'P-1042' are the same patient."""
    return clinic_id.strip().upper()


def patients_by_digits(conn: Conn, digits: str, *, limit: int) -> list[Any]:
    """Patients whose clinic id's digits are exactly `digits`, in order (`1042` finds
    `P-1042` and `A10-42`, not `P-10423`): how a phone keypad names a patient. At most
    `limit` (the caller asks one more than it can offer, to know there are more); a clinic
    id without digits cannot be keyed."""
    found = []
    for row in patients.with_digits_in_order(conn, digits):
        if "".join(c for c in row.clinic_id if is_digits(c)) == digits:
            found.append(row)
            if len(found) == limit:
                break
    return found
