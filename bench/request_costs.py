"""Where a request's CPU goes, without HTTP: each hot operation run in-process against the
benchmark clinic, with its SQL statement count and CPU time split into executing SQL
(driver) and everything else (SQLAlchemy statement building, ORM, our code).

    .venv/bin/python -m bench.request_costs [--db sqlite|postgres] [--runs 200]
        [--pg-database rpm_bench_costs]  (recreated: give each concurrent bench its own)
        [--profile "/rpm log"]  (cProfile of that operation's runs instead of the table)

CPU time, not wall time: comparable across runs on a busy machine.
"""

import argparse
import cProfile
import pstats
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from starlette.datastructures import FormData

from bench import seed
from bench.databases import recreate_postgres
from bench.http_load import PG_ADMIN_URL
from bot import dispatch, grammar
from configuration.settings import Settings
from rpm_logger.wiring import build_service
from service import Service
from telephony import payloads


class Meter:
    """Counts statements and the CPU spent inside the driver's execute."""

    def __init__(self, service: Service) -> None:
        self.statements = 0
        self.driver_cpu = 0.0
        engine = service.ctx.db.engine

        @event.listens_for(engine, "before_cursor_execute")
        def _before(*args: Any) -> None:
            self._started = time.process_time()

        @event.listens_for(engine, "after_cursor_execute")
        def _after(*args: Any) -> None:
            self.statements += 1
            self.driver_cpu += time.process_time() - self._started


def operations(svc: Service) -> dict[str, Callable[[int], object]]:
    def slack(text: str) -> Callable[[int], object]:
        def run(i: int) -> object:
            s, k = i % seed.STAFF, (i // seed.STAFF) % seed.PATIENTS_PER_STAFF
            command = text.format(patient=seed.patient_id(s, k), minutes=1 + i % 45)
            return dispatch.run(svc, grammar.parse(command),
                               dispatch.Caller(seed.staff_id(s), "D1"))
        return run

    base = int(time.time() * 1000) % 10**9

    def twilio(i: int) -> object:
        form = FormData(seed.twilio_form(base + i, datetime.now(UTC)))
        return svc.calls.record_status(payloads.call_event(form, received=datetime.now(UTC)))

    return {"/rpm log": slack("log {patient} {minutes}m review"),
            "/rpm status (caseload)": slack("status"),
            "/rpm status PATIENT": slack("status {patient}"),
            "twilio completed call": twilio}


def profile(run: Callable[[int], object], runs: int) -> None:
    """Where one operation's CPU goes: cProfile of `runs` warm runs, top 40 by own time.
    Timed by this process's CPU clock, so waiting for PostgreSQL's answer is not counted."""
    for i in range(20):
        run(i)
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for i in range(20, 20 + runs):
        run(i)
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--pg-database", default="rpm_bench_costs")
    parser.add_argument("--profile", metavar="OPERATION")
    args = parser.parse_args()
    if args.db == "sqlite":
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'costs.db'}"
    else:
        recreate_postgres(PG_ADMIN_URL, args.pg_database)
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{args.pg_database}"
    svc = build_service(Settings(database_url=url, reminders_enabled=False))
    seed.seed(svc)
    if args.profile:
        profile(operations(svc)[args.profile], args.runs)
        return
    meter = Meter(svc)
    print(f"| operation ({args.db}) | statements | CPU ms | in driver ms | other ms |")
    print("|---|---:|---:|---:|---:|")
    for name, run in operations(svc).items():
        for i in range(20):
            run(i)  # warm: compiled-statement cache, pools
        meter.statements, meter.driver_cpu = 0, 0.0
        started = time.process_time()
        for i in range(20, 20 + args.runs):
            run(i)
        cpu = (time.process_time() - started) * 1000 / args.runs
        driver = meter.driver_cpu * 1000 / args.runs
        print(f"| {name} | {meter.statements / args.runs:.1f} | {cpu:.2f} | {driver:.2f} "
              f"| {cpu - driver:.2f} |")


if __name__ == "__main__":
    main()
