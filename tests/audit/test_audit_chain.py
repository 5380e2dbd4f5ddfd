"""The hash-chained audit trail: raw SQL edits, deletes and inserts on SQLite and PostgreSQL
make `audit verify` fail at that row; entries edited behind the service's back are named; a
month close records the head, and a recomputed or cut-short chain loses it."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text

from billing.months import Month
from service import Service
from service.errors import BadInput
from store import audit as audit_rows
from store.audit_chain import record_hash
from store.db import Database
from store.tables import audit_events
from tests.service.helpers import ADMIN, NURSE, log, seed

IN_OCTOBER = datetime(2026, 10, 20, 15, tzinfo=UTC)


@pytest.fixture
def seeded(svc: Service) -> Service:
    """Staff, a patient, three entries (one voided): 9 audit records."""
    seed(svc)
    log(svc, "20m", "call", started_at=IN_OCTOBER, note="called about readings")
    second = log(svc, "12m", "review", note="reviewed the week")
    log(svc, "5m", "education")
    svc.entries.void(second, reason="logged twice", by=NURSE)
    return svc


def _rows(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        return list(conn.execute(select(audit_events).order_by(audit_events.c.id)).all())


def _sql(db: Database, statement: str, **params: Any) -> None:
    """A change made with raw SQL, behind the service's back."""
    with db.engine.begin() as conn:
        conn.execute(text(statement), params)


def _only(svc: Service, kind: str) -> Any:
    report = svc.audit_trail.verify()
    assert not report.clean
    assert [f.kind for f in report.findings] == [kind], report.findings
    return report.findings[0]


def test_a_clean_trail_is_chained_in_id_order(seeded: Service) -> None:
    rows = _rows(seeded.ctx.db)
    assert [r.id for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_hash is None
    for before, row in zip(rows, rows[1:], strict=False):
        assert row.prev_hash == before.hash
    for row in rows:
        assert row.hash == record_hash(row._mapping)
    report = seeded.audit_trail.verify()
    assert report.clean, report.findings
    assert (report.records, report.entries) == (len(rows), 3)
    assert report.head is not None and report.head.hash == rows[-1].hash


@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET actor = 'someone else' WHERE id = :id",
    "UPDATE audit_events SET entity_id = '999' WHERE id = :id",
    "UPDATE audit_events SET after = NULL WHERE id = :id",
    "UPDATE audit_events SET at = :at WHERE id = :id",
], ids=["actor", "entity_id", "after", "at"])
def test_a_record_changed_in_place_is_named(seeded: Service, statement: str) -> None:
    target = _rows(seeded.ctx.db)[1].id  # a staff.add: no entry's trail changes with it
    _sql(seeded.ctx.db, statement, id=target, at=datetime(2026, 1, 1))
    finding = _only(seeded, "changed")
    assert finding.record_id == target and f"#{target} was changed" in finding.message


def test_a_record_rewritten_with_its_hash_recomputed_is_named(seeded: Service) -> None:
    rows = _rows(seeded.ctx.db)
    target = rows[2]
    forged = dict(target._mapping) | {"actor": "mallory"}
    _sql(seeded.ctx.db, "UPDATE audit_events SET actor = 'mallory', hash = :h WHERE id = :id",
         h=record_hash(forged), id=target.id)
    finding = _only(seeded, "changed")
    assert finding.record_id == target.id and "recomputed" in finding.message


def test_a_deleted_record_is_named(seeded: Service) -> None:
    rows = _rows(seeded.ctx.db)
    _sql(seeded.ctx.db, "DELETE FROM audit_events WHERE id = :id", id=rows[3].id)
    finding = _only(seeded, "deleted")
    assert finding.record_id == rows[4].id
    assert f"between #{rows[2].id} and #{rows[4].id}" in finding.message


def test_deleting_the_first_records_is_named(seeded: Service) -> None:
    _sql(seeded.ctx.db, "DELETE FROM audit_events WHERE id <= 2")
    finding = _only(seeded, "deleted")
    assert finding.record_id == 3 and "before #3" in finding.message


def test_a_record_inserted_out_of_order_is_named(seeded: Service) -> None:
    last = _rows(seeded.ctx.db)[-1]
    forged = {"id": last.id + 1, "at": datetime(2026, 11, 1, tzinfo=UTC), "actor": "mallory",
              "action": "entry.log", "entity": "entry", "entity_id": "77", "before": None,
              "after": {"note": "x"}, "prev_hash": None}
    _sql(seeded.ctx.db, "INSERT INTO audit_events (id, at, actor, action, entity, entity_id, "
         "before, after, prev_hash, hash) VALUES (:id, :at, :actor, :action, :entity, "
         ":entity_id, NULL, :after, NULL, :hash)",
         **(forged | {"after": json.dumps(forged["after"]), "hash": record_hash(forged),
                      "at": datetime(2026, 11, 1)}))
    report = seeded.audit_trail.verify()
    kinds = [f.kind for f in report.findings]
    assert kinds[0] == "inserted" and report.findings[0].record_id == last.id + 1
    # its made-up entry is not in the table: named as the inserted record's, not as deleted
    assert kinds == ["inserted", "entry_record_inserted"]


def test_a_record_slipped_in_before_the_first_is_named(seeded: Service) -> None:
    forged = {"id": 0, "at": datetime(2026, 11, 1, tzinfo=UTC), "actor": "mallory",
              "action": "staff.add", "entity": "staff", "entity_id": "9", "before": None,
              "after": None, "prev_hash": None}
    _sql(seeded.ctx.db, "INSERT INTO audit_events (id, at, actor, action, entity, entity_id, "
         "prev_hash, hash) VALUES (0, :at, 'mallory', 'staff.add', 'staff', '9', NULL, :h)",
         at=datetime(2026, 11, 1), h=record_hash(forged))
    finding = _only(seeded, "inserted")
    assert finding.record_id == 0 and "#0 and #1 both claim to start" in finding.message


def test_a_second_record_linked_to_the_same_one_is_refused(seeded: Service) -> None:
    """A fork cannot even be stored: prev_hash is unique."""
    rows = _rows(seeded.ctx.db)
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        _sql(seeded.ctx.db, "INSERT INTO audit_events (id, at, actor, action, entity, "
             "entity_id, prev_hash, hash) VALUES (:id, :at, 'm', 'x', 'x', '1', :prev, :h)",
             id=rows[-1].id + 1, at=datetime(2026, 11, 1), prev=rows[2].hash, h="0" * 64)


@pytest.mark.parametrize(("column", "value", "field"), [
    ("duration_seconds", 1500, "duration_seconds"),
    ("note", "a better note", "note"),
    ("voided_at", None, "voided_at"),
    ("created_at", datetime(2026, 11, 1), "created_at"),
    ("staff_role", "physician", "staff_role"),
])
def test_an_entry_edited_behind_the_services_back_is_named(
        seeded: Service, column: str, value: object, field: str) -> None:
    target = 2 if column == "voided_at" else 1  # entry 2 is the voided one
    _sql(seeded.ctx.db, f"UPDATE time_entries SET {column} = :v WHERE id = :id",
         v=value, id=target)
    finding = _only(seeded, "entry_changed")
    assert finding.entry_id == target
    assert f"entry #{target} was edited behind the service's back: {field} " in finding.message


def test_an_entry_inserted_or_deleted_behind_the_services_back_is_named(
        seeded: Service) -> None:
    _sql(seeded.ctx.db, "INSERT INTO time_entries (id, patient_id, staff_id, started_at, "
         "ended_at, duration_seconds, activity, source, live, clock_timed, staff_role, "
         "created_at, created_by) SELECT 50, patient_id, staff_id, started_at, ended_at, "
         "duration_seconds, activity, source, live, clock_timed, staff_role, created_at, "
         "created_by FROM time_entries WHERE id = 1")
    _sql(seeded.ctx.db, "DELETE FROM time_entries WHERE id = 3")
    report = seeded.audit_trail.verify()
    assert [(f.kind, f.entry_id) for f in report.findings] == [
        ("entry_unaudited", 50), ("entry_deleted", 3)]


def test_every_entry_write_path_leaves_the_entry_matching_its_trail(seeded: Service) -> None:
    """Logs (estimated and clock-timed), voids, and an amended late log and void."""
    from service.closes import Amendment

    seeded.closes.close(Month(2026, 10), by="office")
    amendment = Amendment(reason="late paper note", by=ADMIN)
    late = seeded.entries.log(_request(amendment)).entry.id
    seeded.entries.void(late, reason="duplicate", by=ADMIN, amendment=amendment)
    assert seeded.audit_trail.verify().clean


def _request(amendment: Any) -> Any:
    from service.entries import LogRequest

    return LogRequest(patient="P-1042", duration="7m", activity="review", staff=ADMIN,
                      source="cli", started_at=IN_OCTOBER, amendment=amendment)


def test_a_close_records_the_head_after_its_own_record(seeded: Service) -> None:
    seeded.closes.close(Month(2026, 10), by="office")
    rows = _rows(seeded.ctx.db)
    assert rows[-1].action == "month.close"
    with seeded.ctx.db.engine.connect() as conn:
        recorded = conn.execute(text("SELECT audit_head FROM month_close_events")).scalar()
    assert recorded == rows[-1].hash
    log(seeded, "3m")  # later appends keep the recorded head on the chain
    assert seeded.audit_trail.verify().clean


def test_a_recomputed_chain_loses_the_head_a_close_recorded(seeded: Service) -> None:
    """Rewrite one record and recompute every hash after it: the chain is consistent again,
    but the head the close recorded is gone."""
    seeded.closes.close(Month(2026, 10), by="office")
    log(seeded, "3m")
    rows = _rows(seeded.ctx.db)
    previous = rows[3].prev_hash
    for row in rows[3:]:
        values = dict(row._mapping) | {"prev_hash": previous}
        if row.id == rows[3].id:
            values["actor"] = "mallory"
        digest = record_hash(values)
        _sql(seeded.ctx.db, "UPDATE audit_events SET actor = :a, prev_hash = :p, hash = :h "
             "WHERE id = :id", a=values["actor"], p=previous, h=digest, id=row.id)
        previous = digest
    finding = _only(seeded, "head_missing")
    assert "close of 2026-10" in finding.message


def test_a_printed_head_is_checked(seeded: Service) -> None:
    printed = _rows(seeded.ctx.db)[-1]
    log(seeded, "3m")
    report = seeded.audit_trail.verify(printed.hash.upper())
    assert report.clean and report.checked_head_at == printed.id
    _sql(seeded.ctx.db, "DELETE FROM audit_events WHERE id >= :id", id=printed.id)
    report = seeded.audit_trail.verify(printed.hash)
    assert report.checked_head_at is None
    # and the entries those records described no longer match a trail
    assert [(f.kind, f.entry_id) for f in report.findings] == [
        ("head_missing", None), ("entry_changed", 2), ("entry_unaudited", 4)]


def test_a_head_that_is_no_hash_is_refused(seeded: Service) -> None:
    with pytest.raises(BadInput, match="64 hex digits"):
        seeded.audit_trail.verify("abc")


def test_the_head_is_read_once_per_transaction(db: Database) -> None:
    """Two appends in one transaction: written together at commit, one read of the last
    record (and on PostgreSQL one lock), the second linked to the first."""
    from sqlalchemy import event

    seen: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        seen.append(statement)

    at = datetime(2026, 11, 1, tzinfo=UTC)
    event.listen(db.engine, "before_cursor_execute", count)
    with db.write() as conn:
        audit_rows.append(conn, at=at, actor="a", action="x", entity="e", entity_id="1",
                          before=None, after={"n": (1, 2)})
        audit_rows.append(conn, at=at, actor="a", action="y", entity="e", entity_id="1",
                          before=None, after=None)
        assert not [s for s in seen if "audit_events" in s]  # nothing written yet
    event.remove(db.engine, "before_cursor_execute", count)
    reads = [s for s in seen if s.lstrip().upper().startswith("SELECT") and
             "FROM audit_events" in s]
    writes = [s for s in seen if "INSERT INTO audit_events" in s]
    locks = [s for s in seen if "pg_advisory_xact_lock" in s]
    assert (len(reads), len(writes)) == (1, 1)
    assert len(locks) == (1 if db.dialect == "postgresql" else 0)
    rows = _rows(db)
    assert [(r.id, r.prev_hash) for r in rows] == [(1, None), (2, rows[0].hash)]
    assert rows[0].after == {"n": [1, 2]}  # hashed as stored: the tuple is a list
    with db.read() as conn:
        head = audit_rows.head(conn)
    assert head is not None and (head.id, head.hash) == (2, rows[1].hash)


def test_a_transaction_that_fails_writes_no_record(db: Database) -> None:
    with pytest.raises(RuntimeError), db.write() as conn:
        audit_rows.append(conn, at=datetime(2026, 11, 1, tzinfo=UTC), actor="a",
                          action="x", entity="e", entity_id="1", before=None, after=None)
        raise RuntimeError("a fault before commit")
    with db.write() as conn:  # the same pooled connection: nothing left pending on it
        audit_rows.append(conn, at=datetime(2026, 11, 1, tzinfo=UTC), actor="b",
                          action="x", entity="e", entity_id="1", before=None, after=None)
    assert [(r.id, r.actor) for r in _rows(db)] == [(1, "b")]


def test_records_appended_outside_a_service_write_are_never_lost_silently(
        db: Database) -> None:
    """Only Database.write() writes a transaction's records before commit: any other
    transaction that appends one has its commit refused, and nothing is saved."""
    with pytest.raises(audit_rows.UnwrittenAuditRecords), db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
        audit_rows.append(conn, at=datetime(2026, 11, 1, tzinfo=UTC), actor="a",
                          action="x", entity="e", entity_id="1", before=None, after=None)
    assert _rows(db) == []



def _record_of(db: Database, action: str, entry_id: int) -> int:
    return next(r.id for r in _rows(db) if r.action == action and r.entity_id == str(entry_id))


def _insert_forged_log(db: Database) -> int:
    """An entry.log of a made-up entry #77 slipped in after the last record, claiming to
    start the chain: its id."""
    last = _rows(db)[-1]
    forged = {"id": last.id + 1, "at": datetime(2026, 11, 1, tzinfo=UTC), "actor": "mallory",
              "action": "entry.log", "entity": "entry", "entity_id": "77", "before": None,
              "after": {"note": "x"}, "prev_hash": None}
    _sql(db, "INSERT INTO audit_events (id, at, actor, action, entity, entity_id, before, "
         "after, prev_hash, hash) VALUES (:id, :at, 'mallory', 'entry.log', 'entry', '77', "
         "NULL, :after, NULL, :hash)", id=forged["id"], at=datetime(2026, 11, 1),
         after=json.dumps(forged["after"]), hash=record_hash(forged))
    return int(forged["id"])


def _edit_after(db: Database, record: int, **changes: Any) -> None:
    """A record's `after` rewritten in place (its hash left as written)."""
    after = next(r.after for r in _rows(db) if r.id == record)
    with db.engine.begin() as conn:
        conn.execute(audit_events.update().where(audit_events.c.id == record)
                     .values(after=after | changes))


TAMPERING = {
    # what is done -> what verify must name: (kind, record id, entry id) each
    "edit a record": lambda db: (
        _edit_after(db, _record_of(db, "entry.log", 1), duration_seconds=1500),
        [("changed", _record_of(db, "entry.log", 1), None),
         ("entry_record_changed", _record_of(db, "entry.log", 1), 1)])[1],
    "delete a log's record": lambda db: (
        rec := _record_of(db, "entry.log", 3),
        _sql(db, "DELETE FROM audit_events WHERE id = :id", id=rec),
        [("deleted", rec + 1, None), ("entry_record_missing", rec + 1, 3)])[2],
    "delete a void's record": lambda db: (
        rec := _record_of(db, "entry.void", 2),
        _sql(db, "DELETE FROM audit_events WHERE id = :id", id=rec),
        [("deleted", rec + 1, None), ("entry_record_missing", rec + 1, 2)])[2],
    "insert one": lambda db: (
        rec := _insert_forged_log(db),
        [("inserted", rec, None), ("entry_record_inserted", rec, 77)])[1],
    "edit an entry row": lambda db: (
        _sql(db, "UPDATE time_entries SET duration_seconds = 1500 WHERE id = 1"),
        [("entry_changed", None, 1)])[1],
    "two at once": lambda db: (
        rec := _record_of(db, "entry.log", 3),
        _sql(db, "DELETE FROM audit_events WHERE id = :id", id=rec),
        _sql(db, "UPDATE time_entries SET duration_seconds = 1500 WHERE id = 1"),
        [("deleted", rec + 1, None), ("entry_changed", None, 1),
         ("entry_record_missing", rec + 1, 3)])[3],
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_each_tampering_is_named_by_what_happened(seeded: Service, case: str) -> None:
    """Outside auditor: after a break, later findings were mislabelled (a deleted record's
    entry called 'inserted behind the service's back'). Each raw-SQL change is named for
    what it was, and nothing else is named."""
    log(seeded, "6m", "review", note="after the void")  # the void's record is not the last
    expected = TAMPERING[case](seeded.ctx.db)
    report = seeded.audit_trail.verify()
    assert [(f.kind, f.record_id, f.entry_id) for f in report.findings] == expected, \
        report.findings
    for finding in report.findings:
        if finding.kind.startswith("entry_record"):
            assert "behind the service's back" not in finding.message


def _append_chained_log(db: Database, entry_id: int, after: dict[str, Any]) -> int:
    """An entry.log for `entry_id` appended after the last record, chained and hashed as the
    service would (the chain has no secret): its id."""
    last = _rows(db)[-1]
    record = {"id": last.id + 1, "at": datetime(2026, 11, 20, tzinfo=UTC), "actor": "mallory",
              "action": "entry.log", "entity": "entry", "entity_id": str(entry_id),
              "before": None, "after": after, "prev_hash": last.hash}
    _sql(db, "INSERT INTO audit_events (id, at, actor, action, entity, entity_id, before, "
         "after, prev_hash, hash) VALUES (:id, :at, 'mallory', 'entry.log', 'entry', :eid, "
         "NULL, :after, :prev, :hash)", id=record["id"], at=datetime(2026, 11, 20),
         eid=str(entry_id), after=json.dumps(after), prev=last.hash, hash=record_hash(record))
    return int(record["id"])


@pytest.mark.parametrize("payload", ["the edited row", "empty"])
def test_an_edit_covered_by_an_appended_well_hashed_record_is_named(
        seeded: Service, payload: str) -> None:
    """Outside auditor: an entry edited with raw SQL, then one correctly chained entry.log
    appended for it (its edited row, or nothing), passed verify as intact. The service logs
    an entry once, with its columns: a second or empty log record is named."""
    original = next(r for r in _rows(seeded.ctx.db)
                    if r.action == "entry.log" and r.entity_id == "1")
    _sql(seeded.ctx.db, "UPDATE time_entries SET duration_seconds = 1500 WHERE id = 1")
    after = (original.after | {"duration_seconds": 1500}) if payload != "empty" else {}
    forged = _append_chained_log(seeded.ctx.db, 1, after)
    report = seeded.audit_trail.verify()
    assert not report.clean
    assert ("entry_relogged", forged, 1) in [(f.kind, f.record_id, f.entry_id)
                                             for f in report.findings], report.findings
    assert not any(f.kind in ("changed", "inserted", "deleted") for f in report.findings)
