"""PostgreSQL advisory locks that more than one part of the product takes, each key here
once. (The locks one module takes alone keep their keys there: the audit chain's, a month's,
the PIN checks'.)

The scheduler leader's lock: the one `serve` replica that runs the scheduler (reminders,
reconciliation) holds it, session-level, for as long as it leads. A restore takes it for its
own transaction: refused while a service leads (the target is in use), and no service can
start leading while the restore writes. A single bigint key, so it never meets the
two-key locks (store/audit.py, store/closes.py)."""

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

SCHEDULER_LEADER_LOCK_KEY = 0x72706D5F6C656164  # "rpm_lead"

_TRY_LEADER_FOR_TRANSACTION = select(func.pg_try_advisory_xact_lock(SCHEDULER_LEADER_LOCK_KEY))


def leader_lock_taken_for_transaction(conn: Connection) -> bool:
    """Take the scheduler leader's lock until this transaction ends, without waiting; False
    when someone (a leading service) holds it."""
    return bool(conn.execute(_TRY_LEADER_FOR_TRANSACTION).scalar())
