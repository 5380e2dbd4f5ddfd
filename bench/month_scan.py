"""Benchmark 3 (issue 7): the month risk scan and the month report against a raw SQL GROUP BY.

    .venv/bin/python bench/month_scan.py --db sqlite|postgres [--patients 100000 --entries 1000000]

Builds (once, then reuses) a dataset of PATIENTS patients and ENTRIES time entries spread over
November 2026 and its neighbours in the clinic zone (America/New_York), with voided entries
and live interactions, through bulk inserts (executemany on SQLite, COPY on PostgreSQL) into
a database migrated by the project's own Alembic chain. Then times, side by side:

  (a) raw SQL: one GROUP BY over time_entries (non-voided seconds per patient in the month and
      whether a live interaction exists), every row fetched by the DB-API cursor;
  (a2) raw SQL computing the same rules (issue 14's reference): per patient, counted seconds
      (clinical roles, clipped to the month, enrolment window and consent) and the live flag
      (MIN_LIVE_CALL_SECONDS); all but the clock-timed union, which a GROUP BY cannot state;
  (b) the service's risk scan: MonthService.at_risk (what `/rpm risk` and reminders call;
      its per-patient figures come from store.month_risk's one aggregate statement);
  (c) the CLI `report --format csv`, run in-process with stdout sent to /dev/null.

Prints median of --runs runs, the ratios to (a) and (a2), and the tracemalloc peak of (b) and
(c), measured in one extra run each (tracemalloc slows Python, so timed runs go without it).
--drivers (PostgreSQL) instead times psycopg against asyncpg on the same statements: (a2) and
the report's month statement and the risk scan's figures statement, every row fetched.
--no-report leaves (c) out (a risk-scan measurement under load: the report takes longest).

SQLite data: bench/data/month-P-E.db (git-ignored). PostgreSQL: database rpm_bench_P_E (or
--pg-name) on the server at RPM_BENCH_POSTGRES_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
--rebuild drops and builds again. A new migration needs no rebuild: the bench upgrades a
cached database to head and runs ANALYZE before timing.
"""

import argparse
import contextlib
import gc
import os
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.databases import recreate_postgres  # noqa: E402
from billing.months import Month  # noqa: E402
from service import Policy, Service, ServiceContext  # noqa: E402
from store.db import Database  # noqa: E402
from store.migrate import upgrade_to_head  # noqa: E402

ZONE = ZoneInfo("America/New_York")
MONTH = Month(2026, 11)
TODAY = date(2026, 11, 20)  # mid-month: the risk scan has something to say
DATA = ROOT / "bench" / "data"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ROLES = ("clinical_staff",) * 6 + ("qhp",) * 2 + ("physician", "non_clinical")
ACTIVITIES = ("review", "coordination", "adjustment", "education", "other")
STAFF = 200
SEED = 7


# ---------------------------------------------------------------------------- the dataset


def staff_rows(now: datetime) -> Iterator[tuple[Any, ...]]:
    for n in range(1, STAFF + 1):
        role = ROLES[n % len(ROLES)]
        yield (n, f"UBENCH{n:05d}", f"Staff {n}", role, f"{1000000000 + n}" if role in
               ("physician", "qhp") else None, None, n == 1, True, now)


def patient_rows(count: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    """Mostly enrolled before the month; some with no enrolment date, some ended before it,
    some enrolled after it (not in the report), some without consent."""
    rng = random.Random(SEED)
    providers = [n for n in range(1, STAFF + 1) if ROLES[n % len(ROLES)] in ("physician", "qhp")]
    for n in range(1, count + 1):
        kind = rng.random()
        enrolled: date | None = date(2026, 1, 1) + timedelta(days=rng.randrange(300))
        ended: date | None = None
        if kind < 0.05:
            enrolled = None
        elif kind < 0.08:
            ended = date(2026, 10, 1) + timedelta(days=rng.randrange(25))
        elif kind < 0.10:
            enrolled = date(2026, 12, 1) + timedelta(days=rng.randrange(20))
        consent = None if rng.random() < 0.02 else date(2025, 12, 1)
        yield (n, f"P-{n:06d}", f"P-{n:06d}", "AB", consent, '["I10", "E11.9"]',
               rng.choice(providers), 1 + rng.randrange(STAFF), enrolled, ended, now)


def entry_rows(count: int, patients: int, stamp: Callable[[datetime], Any],
               ) -> Iterator[tuple[Any, ...]]:
    """Entries of 1-30 minutes starting on whole minutes: 60 % in the month, 20 % in each
    neighbour; 5 % live calls, 3 % voided an hour later, 0.5 % flagged as overlapping.
    `stamp` formats an instant for the database; every minute of the three months is
    formatted once (the build's hot spot)."""
    rng = random.Random(SEED + 1)
    base = MONTH.previous().bounds_utc(ZONE)[0]
    spans = [tuple(int((t - base).total_seconds()) // 60 for t in month.bounds_utc(ZONE))
             for month in (MONTH.previous(), MONTH, MONTH.next())]
    stamps = [stamp(base + timedelta(minutes=m)) for m in range(spans[2][1] + 120)]
    for n in range(1, count + 1):
        roll = rng.random()
        first, last = spans[1] if roll < 0.6 else spans[0] if roll < 0.8 else spans[2]
        minute = first + int(rng.random() * (last - first))
        staff = 1 + int(rng.random() * STAFF)
        minutes = 1 + int(rng.random() * 30)
        live = rng.random() < 0.05
        voided = stamps[minute + 60] if rng.random() < 0.03 else None
        yield (n, 1 + int(rng.random() * patients), staff, stamps[minute],
               stamps[minute + minutes], 60 * minutes,
               "call" if live else ACTIVITIES[n % len(ACTIVITIES)], "cli", live,
               ROLES[staff % len(ROLES)], stamps[minute], f"UBENCH{staff:05d}", voided,
               "bench" if voided else None, "typo" if voided else None,
               n - 1 if n % 200 == 0 else None)  # 0.5 % flagged as overlapping


STAFF_COLUMNS = "id, slack_user_id, name, role, npi, twilio_client, is_admin, active, created_at"
PATIENT_COLUMNS = ("id, clinic_id, clinic_key, initials, consent_on, conditions, provider_id, "
                   "assigned_staff_id, enrolled_on, ended_on, created_at")
ENTRY_COLUMNS = ("id, patient_id, staff_id, started_at, ended_at, duration_seconds, activity, "
                 "source, live, staff_role, created_at, created_by, voided_at, voided_by, "
                 "void_reason, overlaps_entry_id")


def _sqlite_value(value: Any) -> Any:
    """What SQLAlchemy's UTCDateTime/Date/Boolean bind on SQLite: naive UTC text, ISO dates."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def _sqlite_rows(rows: Iterator[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    for row in rows:
        yield tuple(_sqlite_value(v) for v in row)


def build_sqlite(path: Path, patients: int, entries: int) -> None:
    import sqlite3

    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    database = Database(f"sqlite:///{path}")
    upgrade_to_head(database.engine)
    database.dispose()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("BEGIN")
    for table, columns, rows in (
        ("staff", STAFF_COLUMNS, staff_rows(now)),
        ("patients", PATIENT_COLUMNS, patient_rows(patients, now)),
    ):
        marks = ", ".join("?" * (columns.count(",") + 1))
        connection.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                               _sqlite_rows(rows))
    connection.executemany(  # already in SQLite's form: no conversion per value
        f"INSERT INTO time_entries ({ENTRY_COLUMNS}) VALUES "
        f"({', '.join('?' * (ENTRY_COLUMNS.count(',') + 1))})",
        entry_rows(entries, patients, _sqlite_value))
    connection.execute("COMMIT")
    connection.execute("ANALYZE")
    connection.close()


def _pg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def build_postgres(admin_url: str, url: str, name: str, patients: int, entries: int) -> None:
    import psycopg

    recreate_postgres(admin_url, name)
    database = Database(url)
    upgrade_to_head(database.engine)
    database.dispose()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with psycopg.connect(_pg_dsn(url)) as connection:
        for table, columns, rows in (
            ("staff", STAFF_COLUMNS, staff_rows(now)),
            ("patients", PATIENT_COLUMNS, patient_rows(patients, now)),
            ("time_entries", ENTRY_COLUMNS, entry_rows(entries, patients, str)),
        ):
            with connection.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            connection.execute(  # the serial ids were given: move each sequence past them
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))")
    with psycopg.connect(_pg_dsn(url), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def _count(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return (connection.execute(text("SELECT count(*) FROM patients")).scalar_one(),
                    connection.execute(text("SELECT count(*) FROM time_entries")).scalar_one())
    except Exception:  # noqa: BLE001 - missing database or table: build it
        return (-1, -1)
    finally:
        engine.dispose()


def dataset(kind: str, patients: int, entries: int, rebuild: bool, name: str = "") -> str:
    """The URL of a database holding the dataset, built unless a cached one matches
    (`name`: the PostgreSQL database, default rpm_bench_P_E)."""
    if kind == "sqlite":
        path = DATA / f"month-{patients}-{entries}.db"
        url = f"sqlite:///{path}"
        if rebuild or not path.exists() or _count(url) != (patients, entries):
            began = time.perf_counter()
            build_sqlite(path, patients, entries)
            print(f"built {path.relative_to(ROOT)} in {time.perf_counter() - began:.1f} s")
        return url
    admin_url = os.environ.get("RPM_BENCH_POSTGRES_URL", PG_DEFAULT)
    name = name or f"rpm_bench_{patients}_{entries}"
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    if rebuild or _count(url) != (patients, entries):
        began = time.perf_counter()
        build_postgres(admin_url, url, name, patients, entries)
        print(f"built PostgreSQL database {name} in {time.perf_counter() - began:.1f} s")
    return url


# ---------------------------------------------------------------------------- the timings


RAW_SQL = """
SELECT patient_id, SUM(duration_seconds) AS seconds, MAX(CASE WHEN live THEN 1 ELSE 0 END)
FROM time_entries
WHERE voided_at IS NULL AND started_at >= :start AND started_at < :end
GROUP BY patient_id
"""


def raw_group_by(db: Database) -> int:
    start, end = MONTH.bounds_utc(ZONE)
    if db.dialect == "sqlite":
        start, end = (_sqlite_value(start), _sqlite_value(end))
    with db.engine.connect() as connection:
        cursor = connection.connection.driver_connection.cursor()
        sql = RAW_SQL.replace(":start", "?" if db.dialect == "sqlite" else "%s")
        sql = sql.replace(":end", "?" if db.dialect == "sqlite" else "%s")
        cursor.execute(sql, (start, end))
        rows = cursor.fetchall()
        cursor.close()
    return len(rows)


# (a2) the same rules in raw SQL (issue 14's reference): per patient, the seconds of standing
# clinical-role entries clipped to the month, the enrolment window and consent (clinic
# midnights), and whether a clinical live entry of at least MIN_LIVE_CALL_SECONDS started in
# the month inside both. It leaves out the one rule SQL cannot state in a GROUP BY: the union
# of overlapping clock-timed entries (billing.tally counts an overlap once).
COUNTED = "('clinical_staff', 'physician', 'qhp')"
RULES_PG = f"""
SELECT e.patient_id,
  SUM(CASE WHEN e.staff_role IN {COUNTED} AND w.consent IS NOT NULL THEN GREATEST(0,
      EXTRACT(EPOCH FROM
      LEAST(e.ended_at, %(end)s, w.hi) - GREATEST(e.started_at, %(start)s, w.lo, w.consent)))
      ELSE 0 END),
  MAX(CASE WHEN e.live AND e.staff_role IN {COUNTED} AND w.consent IS NOT NULL
      AND e.started_at >= GREATEST(%(start)s, w.lo, w.consent)
      AND e.started_at < LEAST(%(end)s, w.hi)
      AND e.ended_at - e.started_at >= make_interval(secs => %(min_live)s) THEN 1 ELSE 0 END)
FROM time_entries e JOIN (
  SELECT id,
    enrolled_on::timestamp AT TIME ZONE %(zone)s AS lo,
    (ended_on + 1)::timestamp AT TIME ZONE %(zone)s AS hi,
    consent_on::timestamp AT TIME ZONE %(zone)s AS consent
  FROM patients) w ON w.id = e.patient_id
WHERE e.voided_at IS NULL AND e.started_at >= %(reach)s AND e.started_at < %(end)s
  AND e.ended_at > %(start)s
GROUP BY e.patient_id
"""
# SQLite has no zones: clinic midnight is taken as 05:00 UTC (EST, November's offset).
RULES_SQLITE = f"""
SELECT patient_id,
  SUM(CASE WHEN staff_role IN {COUNTED} THEN MAX(0, (MIN(e_hi, :end_jd, hi) -
      MAX(e_lo, :start_jd, lo, consent)) * 86400.0) ELSE 0 END),
  MAX(CASE WHEN live AND staff_role IN {COUNTED} AND e_lo >= MAX(:start_jd, lo, consent)
      AND e_lo < MIN(:end_jd, hi) AND (e_hi - e_lo) * 86400.0 >= :min_live THEN 1 ELSE 0 END)
FROM (SELECT e.patient_id, e.staff_role, e.live, julianday(e.started_at) AS e_lo,
        julianday(e.ended_at) AS e_hi,
        COALESCE(julianday(p.enrolled_on) + 5 / 24.0, 0) AS lo,
        COALESCE(julianday(p.ended_on) + 1 + 5 / 24.0, 1e9) AS hi,
        COALESCE(julianday(p.consent_on) + 5 / 24.0, 1e9) AS consent
      FROM time_entries e JOIN patients p ON p.id = e.patient_id
      WHERE e.voided_at IS NULL AND e.started_at >= :reach AND e.started_at < :end
        AND e.ended_at > :start)
GROUP BY patient_id
"""


def _rules_params() -> dict[str, Any]:
    start, end = MONTH.bounds_utc(ZONE)
    return {"start": start, "end": end, "reach": start - timedelta(days=1), "min_live": 30,
            "zone": str(ZONE)}


def raw_rules(db: Database) -> int:
    """(a2): the rules query through the DB-API cursor, every row fetched."""
    params = _rules_params()
    with db.engine.connect() as connection:
        cursor = connection.connection.driver_connection.cursor()
        if db.dialect == "sqlite":
            sqlite_params = {k: _sqlite_value(v) for k, v in params.items() if k != "zone"}
            cursor.execute("SELECT julianday(?), julianday(?)",
                           (sqlite_params["start"], sqlite_params["end"]))
            sqlite_params["start_jd"], sqlite_params["end_jd"] = cursor.fetchone()
            cursor.execute(RULES_SQLITE, sqlite_params)
        else:
            cursor.execute(RULES_PG, params)
        rows = cursor.fetchall()
        cursor.close()
    return len(rows)


def risk_scan(svc: Service) -> int:
    return len(svc.months.at_risk(MONTH, TODAY))


def cli_report(url: str) -> int:
    """`rpm-logger report --month 2026-11 --format csv > /dev/null`, in this process (the
    CLI builds its service and checks the schema on each run, as it does from a shell)."""
    from configuration.settings import get_settings
    from rpm_logger.cli import cli

    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        cli.main(["report", "--month", str(MONTH), "--format", "csv"], standalone_mode=False)
    return 0


# ---------------------------------------------------------------------------- psycopg / asyncpg


def _driver_statements() -> dict[str, tuple[str, dict[str, Any], str, list[Any]]]:
    """label -> (SQL for psycopg, its parameters, SQL for asyncpg, its parameters): the rules
    query and the two month statements the report and the risk scan run, compiled once."""
    from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg
    from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg

    from store.month_risk import risk_statement
    from store.month_totals import _month_rows_statement, _scan_params

    values = _scan_params(MONTH, ZONE, 30)
    out: dict[str, tuple[str, dict[str, Any], str, list[Any]]] = {}
    names: list[str] = []

    def dollar(match: Any) -> str:
        names.append(match.group(1))
        return f"${len(names)}"

    import re

    rules = re.sub(r"%\((\w+)\)s", dollar, RULES_PG)
    params = _rules_params()
    out["raw SQL rules"] = (RULES_PG, params, rules, [params[n] for n in names])
    for label, statement in (("report month statement", _month_rows_statement("clinic")),
                             ("risk figures statement", risk_statement("clinic"))):
        ps = statement.compile(dialect=pg_psycopg.dialect()).construct_expanded_state(values)
        ap = statement.compile(dialect=pg_asyncpg.dialect()).construct_expanded_state(values)
        out[label] = (ps.statement, dict(ps.parameters), ap.statement,
                      list(ap.positional_parameters))
    return out


def compare_drivers(url: str, runs: int) -> None:
    """The same statements through psycopg (our driver) and asyncpg: every row fetched."""
    import asyncio

    import asyncpg
    import psycopg

    dsn = _pg_dsn(url)
    statements = _driver_statements()

    async def with_asyncpg(sql: str, args: list[Any]) -> int:
        connection = await asyncpg.connect(dsn)
        try:
            return len(await connection.fetch(sql, *args))
        finally:
            await connection.close()

    def with_psycopg(sql: str, params: dict[str, Any]) -> int:
        with psycopg.connect(dsn) as connection:
            return len(connection.execute(sql, params).fetchall())

    print(f"\n{'statement (PostgreSQL)':26} {'psycopg s':>9} {'cpu s':>6} "
          f"{'asyncpg s':>9} {'cpu s':>6} {'rows':>8}")
    for label, (ps_sql, ps_params, ap_sql, ap_args) in statements.items():
        psy = timed(lambda: with_psycopg(ps_sql, ps_params), runs)  # noqa: B023
        apg = timed(lambda: asyncio.run(with_asyncpg(ap_sql, ap_args)), runs)  # noqa: B023
        print(f"{label:26} {psy[0]:9.3f} {psy[1]:6.3f} {apg[0]:9.3f} {apg[1]:6.3f} "
              f"{psy[2]:8d}{'' if psy[2] == apg[2] else f' (asyncpg: {apg[2]})'}")


def timed(work: Callable[[], int], runs: int) -> tuple[float, float, int]:
    """Median wall-clock seconds, median CPU seconds of this process, and the row count."""
    walls, cpus = [], []
    result = 0
    for _ in range(runs):
        gc.collect()
        began, began_cpu = time.perf_counter(), time.process_time()
        result = work()
        walls.append(time.perf_counter() - began)
        cpus.append(time.process_time() - began_cpu)
    return statistics.median(walls), statistics.median(cpus), result


def peak_mib(work: Callable[[], int]) -> float:
    gc.collect()
    tracemalloc.start()
    work()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def profile(work: Callable[[], int], label: str) -> None:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.005)
    profiler.start()
    work()
    profiler.stop()
    print(f"\n--- profile: {label}")
    print(profiler.output_text(unicode=False, color=False, show_all=False))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--pg-name", default="", help="PostgreSQL database (rpm_bench_P_E)")
    parser.add_argument("--profile", action="store_true", help="pyinstrument (b) and (c)")
    parser.add_argument("--no-report", action="store_true", help="leave out (c)")
    parser.add_argument("--drivers", action="store_true",
                        help="PostgreSQL: psycopg against asyncpg on the same statements")
    args = parser.parse_args(argv)

    url = dataset(args.db, args.patients, args.entries, args.rebuild, args.pg_name)
    db = Database(url)
    upgrade_to_head(db.engine)  # a cached database gets new migrations (indexes) too
    with db.engine.begin() as connection:  # fresh planner statistics for every index
        connection.exec_driver_sql("ANALYZE")
    svc = Service(ServiceContext(db, Policy(zone=ZONE), lambda: datetime(2026, 11, 20, 17,
                                                                          tzinfo=UTC)))
    if args.drivers:
        compare_drivers(url, args.runs)
        return
    work: dict[str, Callable[[], int]] = {
        "raw SQL GROUP BY": lambda: raw_group_by(db),
        "raw SQL rules": lambda: raw_rules(db),
        "risk scan (at_risk)": lambda: risk_scan(svc),
        "report CSV (CLI)": lambda: cli_report(url),
    }
    if args.no_report:
        del work["report CSV (CLI)"]
    if args.profile:
        for label in list(work)[2:]:
            profile(work[label], label)
        return
    for label in work:  # warm the caches (pages, plans, imports) once
        work[label]()
    results = {label: timed(fn, args.runs) for label, fn in work.items()}
    peaks = {label: peak_mib(work[label]) for label in list(work)[2:]}
    base, rules = results["raw SQL GROUP BY"][0], results["raw SQL rules"][0]
    print(f"\n{args.db}: {args.patients} patients, {args.entries} entries, month {MONTH}, "
          f"median of {args.runs} runs")
    print(f"{'what':22} {'wall s':>8} {'x raw':>6} {'x rules':>7} {'cpu s':>7} {'rows':>7} "
          f"{'peak MiB':>9}")
    for label, (seconds, cpu, rows) in results.items():
        peak = f"{peaks[label]:9.1f}" if label in peaks else f"{'-':>9}"
        print(f"{label:22} {seconds:8.3f} {seconds / base:6.2f} {seconds / rules:7.2f} "
              f"{cpu:7.3f} {rows:7d} {peak}")
    db.dispose()


if __name__ == "__main__":
    main()
