"""Issue 27 item 2, as the attack report did it: a burst of signed `/rpm log` commands to a
running `rpm-logger serve`, then `kill -9`, then `serve` started again; how many commands
answered "Saving…" were lost, how many stored twice, how many never confirmed.

    .venv/bin/python -m bench.sigkill_burst [--db sqlite,postgres] [--commands 300]
        [--clients 50] [--hold-ms 0] [--runs 1] [--code DIR] [--wait 120]

Each run: a fresh database (SQLite file, or PostgreSQL database `rpm_bench_sigkill` through
BENCH_PG_ADMIN), one nurse and one patient, a loopback stand-in for Slack (response_url
posts and DMs are recorded), `serve` in its own process (tests/fakes/slow_serve.py; with
--hold-ms each work also sleeps that long before and after its dispatch), `--clients`
clients sending the `--commands` commands as fast as they are answered, the SIGKILL as soon
as the last is answered, and `serve` again at full speed, given `--wait` seconds to confirm.
Each command carries a note of its own, so its entries are counted by note.

Reported per run: what the acks said, how many "Saving…" commands were already stored and
confirmed when the kill came, how many were lost (no entry) and unconfirmed (no reply naming
their entry) after the restart, commands stored twice, the acks' p50/p99/max seconds; and
the journal's own cost: one fsync'd append alone (200 in a row) and 300 at once.

--code DIR runs `serve` from another checkout (e.g. a worktree of the commit before the
journal) for the "before" figures; the harness, database and Slack stand-in stay this one's.
Not part of the test suite (tests/test_faults_sigkill.py is the test); results:
docs/security.md, "Crashes".
"""

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.databases import recreate_postgres
from bot.journal import CommandJournal, JournaledCommand, SavingPromise, new_key
from service import Policy, Service, ServiceContext
from service.context import utc_now
from service.patients import PatientFields
from store.db import Database
from store.migrate import upgrade_to_head
from tests.fakes.slack_api import SlackApiRecorder
from tests.sigkill_burst import (
    ROOT,
    SAVING,
    ServeProcess,
    Tally,
    burst,
    entry_ids_by_note,
    posted,
    serve_env,
    tally,
    wait_for_confirmations,
)

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = "rpm_bench_sigkill"
NURSE, PATIENT = "U0BURST", "P-1042"


def _database(kind: str, folder: Path) -> str:
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'rpm.db'}"
    else:
        recreate_postgres(PG_ADMIN_URL, PG_DB)
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DB}"
    db = Database(url)
    upgrade_to_head(db.engine)
    svc = Service(ServiceContext(db, Policy(), utc_now))
    svc.staff.add(slack_user_id=NURSE, name="Nina Burst", role="clinical_staff", actor="bench")
    svc.patients.add(PATIENT, PatientFields(initials="JD"), actor="bench")
    db.dispose()
    return url


def _quantiles(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):.2f} s, p99 {p99:.2f} s, max {ordered[-1]:.2f} s"


def one_run(kind: str, args: argparse.Namespace) -> tuple[Tally, str]:
    with tempfile.TemporaryDirectory(prefix="sigkill-") as name:
        folder = Path(name)
        url = _database(kind, folder)
        slack_api = SlackApiRecorder().start()
        try:
            env = serve_env(url, folder / "data", slack_api)
            hold = (args.hold_ms / 1000, args.hold_ms / 1000)
            killed = ServeProcess(env, hold=hold, code=args.code)
            base = killed.start()
            try:
                answers = burst(base, slack_api, user=NURSE, patient=PATIENT,
                                commands=args.commands, clients=args.clients, kill=killed.kill,
                                kill_when=lambda a: len(a) >= args.commands)
            finally:
                killed.stop()
            saving = [a for a in answers if a.ack is not None and SAVING in a.ack]
            at_kill = entry_ids_by_note(url)
            kill = (f"at the kill {sum(a.note in at_kill for a in saving)} of them stored, "
                    f"{sum(bool(posted(slack_api, a.response_url)) for a in saving)} "
                    "confirmed")
            restarted = ServeProcess(env, code=args.code)
            restarted.start()
            try:
                wait_for_confirmations(slack_api, answers, timeout=args.wait)
                stored = entry_ids_by_note(url)
            finally:
                restarted.stop()
            result = tally(answers, stored, slack_api)
            acks = _quantiles([a.seconds for a in answers if a.ack is not None])
            return result, (f"{kill}; acks {acks}; 'Saving…' acks "
                            f"{_quantiles([a.seconds for a in saving])}")
        finally:
            slack_api.stop()


def journal_cost(folder: Path) -> str:
    """What `made` (the fsync'd append before a "Saving…" ack) takes: alone, 200 in a row,
    and 300 at once (one burst's worth, sharing fsyncs)."""
    def command() -> JournaledCommand:
        return JournaledCommand(new_key(), datetime.now(UTC), NURSE, "C0", "log P-1042 12m "
                                "review a note of ordinary length", "https://hooks.slack.test/x")

    async def run() -> str:
        journal = CommandJournal.open(folder)
        alone = []
        for _ in range(200):
            started = time.perf_counter()
            await SavingPromise(journal, command()).made()
            alone.append(time.perf_counter() - started)
        burst_start = time.perf_counter()
        took = []

        async def one() -> None:
            await SavingPromise(journal, command()).made()
            took.append(time.perf_counter() - burst_start)

        await asyncio.gather(*(one() for _ in range(300)))
        await journal.close()
        ordered = sorted(alone)
        return (f"journal: one append alone p50 {statistics.median(ordered) * 1000:.1f} ms, "
                f"p99 {ordered[197] * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms; 300 at "
                f"once all on disk after {max(took) * 1000:.0f} ms")

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--hold-ms", type=float, default=0.0)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--code", type=Path, default=ROOT)
    parser.add_argument("--wait", type=float, default=120.0,
                        help="seconds the restarted server gets to confirm")
    args = parser.parse_args()
    print(f"serve from {args.code.resolve()}; {args.commands} commands, {args.clients} "
          f"clients, hold {args.hold_ms} ms")
    for kind in args.db.split(","):
        for run in range(1, args.runs + 1):
            result, latency = one_run(kind, args)
            print(f"{kind} run {run}: {result.line()}\n    {latency}")
    with tempfile.TemporaryDirectory(prefix="journal-") as name:
        print(journal_cost(Path(name)))


if __name__ == "__main__":
    main()
