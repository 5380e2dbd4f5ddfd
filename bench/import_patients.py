"""What `rpm-logger import patients` costs for a clinic's whole list (issue 24 #1: 5,000
patients in under 30 s on SQLite).

    .venv/bin/python -m bench.import_patients [--patients 5000] [--postgres ADMIN_URL]
        [--process]

Writes a staff file (10 nurses, 2 physicians) and a patients file (every column filled: two
phones, a caregiver phone, assignee, consent, two conditions, provider, enrolment, order and
last visit) into a temporary folder, on a fresh SQLite file (and, with --postgres, a fresh
PostgreSQL database `rpm_bench_import` made through ADMIN_URL), then times, through the
service in this process (what the CLI calls; --process also runs the real console script on
the same file, start-up included):
  1. the dry run of the patients file (every row checked, rolled back);
  2. the import itself (one transaction: every row added, audited);
  3. the same file again (every row read and found unchanged; nothing written).
Prints wall and CPU seconds for each, and rows per second. Not part of the test suite.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.databases import recreate_postgres
from service import Service, ServiceContext
from store.db import Database
from store.migrate import upgrade_to_head

NURSES, DOCTORS = 10, 2
NOW = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)


def staff_csv() -> str:
    rows = ["slack_user_id,name,role,phones,npi,admin"]
    rows += [f"UN{i:04d},Nurse {i},clinical_staff,+1617555{3000 + i:04d},,no"
             for i in range(NURSES)]
    rows += [f"UD{i:04d},Doctor {i},physician,,{1234567890 + i},{'yes' if i == 0 else 'no'}"
             for i in range(DOCTORS)]
    return "\n".join(rows) + "\n"


def patients_csv(count: int) -> str:
    """`count` patients, every column filled; phones in the 508 area code, exchanges 2xx-4xx
    (valid numbers, three per patient, none shared)."""
    columns = ["patient_id", "initials", "phones", "caregiver_phones", "assign", "consent",
               "conditions", "provider", "enrolled", "ended", "ordered_by", "order_date",
               "last_visit"]
    lines = [",".join(columns)]
    for n in range(count):
        exchange, line = 200 + n // 10000, n % 10000

        def phone(offset: int, exchange: int = exchange, line: int = line) -> str:
            return f"(508) {exchange + offset}-{line:04d}"
        doctor = f"UD{n % DOCTORS:04d}"
        lines.append(",".join([
            f"P-{n:05d}", "AB", f"{phone(0)};{phone(100)}", phone(200), f"UN{n % NURSES:04d}",
            "2026-10-01", "I10;E11.9", doctor, "2026-10-01", "", doctor, "2026-09-15",
            "2026-09-01"]))
    return "\n".join(lines) + "\n"


def timed(label: str, rows: int, run: object) -> None:
    cpu, wall = time.process_time(), time.perf_counter()
    report = run()  # type: ignore[operator]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    outcome = ", ".join(f"{report.count(o)} {o}" for o in ("added", "updated", "unchanged"))
    print(f"  {label:<22} {wall:7.2f} s wall  {cpu:7.2f} s CPU  {rows / wall:8.0f} rows/s  "
          f"({outcome})", flush=True)


def bench(url: str, folder: Path, count: int, process: bool) -> None:
    database = Database(url)
    upgrade_to_head(database.engine)
    svc = Service(ServiceContext(database, clock=lambda: NOW))
    staff = staff_csv().encode()
    svc.imports.staff(staff, file_name="staff.csv", actor="bench")
    data = patients_csv(count).encode()
    (folder / "patients.csv").write_bytes(data)
    print(f"{database.dialect}: {count:,} patients, file {len(data) / 1e6:.2f} MB", flush=True)

    def run(dry_run: bool) -> object:
        return svc.imports.patients(data, file_name="patients.csv", actor="bench",
                                    dry_run=dry_run)
    timed("dry run", count, lambda: run(True))
    timed("import", count, lambda: run(False))
    timed("same file again", count, lambda: run(False))
    database.dispose()
    if process:
        script = Path(sys.executable).with_name("rpm-logger")
        env = {**os.environ, "DATABASE_URL": url}
        started = time.perf_counter()
        done = subprocess.run([str(script), "import", "patients", str(folder / "patients.csv")],
                              env=env, capture_output=True, text=True, check=False)
        print(f"  {'console script again':<22} {time.perf_counter() - started:7.2f} s wall  "
              f"exit {done.returncode}: {done.stdout.strip().splitlines()[-1]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--postgres", default=None, metavar="ADMIN_URL")
    parser.add_argument("--process", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        bench(f"sqlite:///{folder}/rpm.db", Path(folder), args.patients, args.process)
        if args.postgres:
            recreate_postgres(args.postgres, "rpm_bench_import")
            url = args.postgres.rsplit("/", 1)[0] + "/rpm_bench_import"
            bench(url, Path(folder), args.patients, args.process)


if __name__ == "__main__":
    main()
