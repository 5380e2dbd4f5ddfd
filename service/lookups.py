"""The one place a use case finds its actor and its patient, inside its own transaction.

Each returns a store row (attribute access: `.id`, `.slack_user_id`, `.clinic_id`, ...) or
raises the error an adapter shows as it is; nothing here opens a transaction.
"""

from typing import Any

from sqlalchemy.engine import Connection, Row

from billing.errors import quoted
from service.errors import NotAllowed, NotFound
from service.phones import try_normalize_phone
from service.spelling import closest
from service.staff import clean_slack_user_id
from store import patients, staff

LONGEST_CLINIC_ID = 64  # store/models.py Patient.clinic_id


def find_staff(conn: Connection, slack_user_id: str) -> Row[Any] | None:
    return staff.by_slack_id(conn, slack_user_id)


def require_staff(conn: Connection, slack_user_id: str) -> Row[Any]:
    """The staff member with this Slack id (active or not: history keeps leavers)."""
    row = staff.by_slack_id(conn, clean_slack_user_id(slack_user_id))
    if row is None:
        raise NotFound(f"No staff member with Slack id {slack_user_id}. An admin adds staff "
                       "with `rpm-logger staff add`.")
    return row


def require_active_staff(conn: Connection, slack_user_id: str, *, doing: str) -> Row[Any]:
    """The actor of a write: an inactive member can no longer act (`doing` says what)."""
    row = require_staff(conn, slack_user_id)
    if not row.active:
        raise NotAllowed(f"{row.slack_user_id} is inactive and cannot {doing}.")
    return row


def find_patient(conn: Connection, ref: str, *, region: str,
                 by_phone: bool = True) -> Row[Any] | None:
    """The one patient resolver: clinic id (any case), else a patient or caregiver phone
    (`by_phone=False`: chat, where PHI such as a phone number is never typed)."""
    row = patients.by_key(conn, patient_key(ref or ""))
    if row is not None or not by_phone:
        return row
    e164 = try_normalize_phone(ref, region=region) if any(c.isdigit() for c in ref) else None
    return patients.by_phone(conn, e164) if e164 is not None else None


def require_patient(conn: Connection, ref: str, *, region: str,
                    by_phone: bool = True) -> Row[Any]:
    row = find_patient(conn, ref, region=region, by_phone=by_phone)
    if row is None:
        raise NotFound(unknown_patient_message(conn, ref))
    return row


def unknown_patient_message(conn: Connection, ref: str) -> str:
    if len(ref.strip()) > LONGEST_CLINIC_ID:  # no id is that long: no hints
        return f"No patient {quoted(ref.strip())}."
    close = closest(ref, patients.clinic_ids(conn))
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return f"No patient {quoted(ref.strip())}.{hint}"


def patient_key(clinic_id: str) -> str:
    """The case-insensitive key: 'p-1042' and 'P-1042' are the same patient."""
    return clinic_id.strip().upper()
