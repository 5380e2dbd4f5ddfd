"""Benchmarks 1, 2 and 4 of issue 7, side by side in one run:

    .venv/bin/python -m bench.http_load [--seconds 10] [--connections 32] [--db sqlite,postgres]

Each target runs in its own `python -m bench.serve_target` process (uvicorn, uvloop,
httptools, one process, access log off); wrk (Debian's package) replays pre-signed Slack
and Twilio requests at it from one thread over `--connections` keep-alive connections.
Reported: throughput, p50/p99 latency, the ratio to the bare app measured in the same run,
and the server's peak RSS (VmHWM). After each write scenario the rows are counted, so a
benchmark that "went fast" by not storing fails loudly; answers saying "not saved" (the bot
refusing a burst past its backlog bound) are counted apart, by replay.lua, and need no row.

    .venv/bin/python -m bench.http_load --replicas 2 [--seconds 5] [--connections 32]

is the other scenario of issue 14: two `serve` replicas on one PostgreSQL, each taking
`/rpm log` and Twilio completed calls at the same time (four wrk processes, a quarter of the
connections each, distinct calls per replica); every request must be answered 2xx and every
entry and call stored once (rows counted as the fault suite does: stored == answered).
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from bench import seed
from bench.databases import recreate_postgres
from bench.targets import BENCH_BOT_TOKEN, BENCH_SIGNING_SECRET
from configuration.settings import Settings
from rpm_logger.wiring import build_service
from tests.fakes.slack_api import SlackApiRecorder
from tests.loopback import free_port

HERE = Path(__file__).parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = "rpm_bench_http"


@dataclass
class Result:
    name: str
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    rss_mb: float | None = None
    cpu_ms: float | None = None  # server CPU (user + system) per answered request
    note: str = ""
    not_saved: int = 0  # answers saying "not saved" (busy, database down): nothing to store
    saving: int = 0  # answers "Saving…": stored afterwards, confirmed at response_url


@contextmanager
def serving(target: str, env: dict[str, str], workers: int = 1,
            command: list[str] | None = None,
            log: Path | None = None) -> Iterator[tuple[str, int]]:
    """The target in its own process (`command` + the port, else bench.serve_target with
    `workers`); yields (base URL, pid). `log`: where its output goes."""
    port = free_port()
    argv = ([*command, str(port)] if command else
            [sys.executable, "-m", "bench.serve_target", target, str(port), str(workers)])
    output = log.open("ab") if log else None
    process = subprocess.Popen(argv, env={**os.environ, **env}, cwd=HERE.parent,
                               stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{target} did not start") from None
            time.sleep(0.1)
    try:
        yield url, process.pid
    finally:
        process.terminate()  # the app finishes its "Saving…" backlog first (bot budget)
        process.wait(timeout=40)
        if output:
            output.close()


def cpu_seconds(pid: int) -> float:
    """The server's user + system CPU so far (its worker processes' too): per request, it
    is what a run costs whatever else the machine is doing (wall-clock numbers are only
    comparable within one run)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):  # it, or its child
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measured(pid: int, url: str, requests_file: Path, args: argparse.Namespace,
             name: str) -> Result:
    before = cpu_seconds(pid)
    result = run_wrk(url, requests_file, args.seconds, args.connections, name)
    result.cpu_ms = (cpu_seconds(pid) - before) * 1000 / max(result.requests, 1)
    return result


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def run_wrk(url: str, requests_file: Path, seconds: int, connections: int, name: str) -> Result:
    env = {**os.environ, "BENCH_REQUESTS": str(requests_file), "BENCH_THREADS": "1"}
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "--timeout", "10s", "-s", str(HERE / "replay.lua"), url],
                         env=env, capture_output=True, text=True, check=True).stdout
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)$", out, re.M)
    result = Result(name, int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore
                    float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore
                    _ms(percentiles["50"]), _ms(percentiles["99"]),
                    int(errors.group(1)) if errors else 0)
    if socket_errors:
        result.note = "socket errors: " + socket_errors.group(1)
    result.not_saved = int(re.search(r"^Not saved: (\d+)", out, re.M).group(1))  # type: ignore
    result.saving = int(re.search(r"^Saving: (\d+)", out, re.M).group(1))  # type: ignore
    return result


def _database_url(kind: str, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'bench.db'}"
    recreate_postgres(PG_ADMIN_URL, PG_DB)
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DB}"


def _app_env(database_url: str, slack_api: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "SLACK_SIGNING_SECRET": BENCH_SIGNING_SECRET,
            "SLACK_BOT_TOKEN": BENCH_BOT_TOKEN, "SLACK_API_URL": slack_api,
            "TWILIO_ACCOUNT_SID": seed.ACCOUNT_SID, "TWILIO_AUTH_TOKEN": seed.AUTH_TOKEN,
            "PUBLIC_BASE_URL": seed.PUBLIC_BASE_URL, "REMINDERS_ENABLED": "false",
            "RECONCILE_ENABLED": "false", "LOG_LEVEL": "WARNING"}


def _count(database_url: str, table: str) -> int:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        value = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    engine.dispose()
    return int(value)


def _settled_count(database_url: str, table: str) -> int:
    """The row count once it stops moving: a reply acked as "saving…" commits after wrk has
    counted the answer."""
    last, deadline = -1, time.monotonic() + 30
    while time.monotonic() < deadline:
        count = _count(database_url, table)
        if count == last:
            return count
        last = count
        time.sleep(1)
    return last


def _warm(url: str, requests_file: Path) -> None:
    """One request first (Bolt's auth.test, pools, imports), then a short burst."""
    line = requests_file.read_text().split("\n", 1)[0].split("\t")
    headers = dict(pair.split(":", 1) for pair in line[1].split("|"))
    httpx.post(url + line[0], content=line[2].encode(), headers=headers, timeout=30)


def bench_app(kind: str, folder: Path, slack_api: str, args: argparse.Namespace,
              make_files: Callable[[], dict[str, Path]]) -> list[Result]:
    database_url = _database_url(kind, folder)
    settings = Settings(database_url=database_url, reminders_enabled=False)
    service = build_service(settings)
    seed.seed(service)
    service.ctx.db.dispose()
    files = make_files()
    results = []
    with serving("app", _app_env(database_url, slack_api)) as (url, pid):
        _warm(url, files["status"])
        for scenario, table in (("log", "time_entries"), ("status", None), ("twilio", "calls")):
            before = _count(database_url, table) if table else 0
            result = measured(pid, url, files[scenario], args, f"{scenario} ({kind})")
            if table:
                stored = _settled_count(database_url, table) - before
                ok = result.requests - result.errors - result.not_saved
                result.note = (result.note + f" {stored} rows stored for {ok} answers"
                               f" ({result.saving} Saving…, {result.not_saved} not saved)"
                               ).strip()
                if stored < ok:
                    raise SystemExit(f"{scenario}: answered {ok}, stored only {stored}")
            results.append(result)
        for result in results:
            result.rss_mb = peak_rss_mb(pid)
    return results


def bench_bare(target: str, requests_file: Path, slack_api: str,
               args: argparse.Namespace) -> Result:
    with serving(target, {"SLACK_API_URL": slack_api}) as (url, pid):
        _warm(url, requests_file)
        result = measured(pid, url, requests_file, args, target)
        result.rss_mb = peak_rss_mb(pid)
    return result


def bench_replicas(folder: Path, slack_api: str, response_url: str, args: argparse.Namespace,
                   replicas: int) -> list[Result]:
    """`replicas` app processes on one PostgreSQL, Slack log and Twilio load on each at once."""
    folder.mkdir(parents=True, exist_ok=True)
    database_url = _database_url("postgres", folder)
    service = build_service(Settings(database_url=database_url, reminders_enabled=False))
    seed.seed(service)
    service.ctx.db.dispose()
    env = _app_env(database_url, slack_api)
    loads: list[tuple[str, int, Path]] = []
    for replica in range(replicas):
        loads.append(("log", replica, seed.write_slack(folder / f"log{replica}.txt", "log",
                                                       60_000, response_url)))
        loads.append(("twilio", replica, seed.write_twilio(folder / f"twilio{replica}.txt",
                                                           60_000, start=replica * 60_000)))
    per_wrk = max(1, args.connections // len(loads))
    # a completed call logs its own time entry: only the Slack ones answer the log requests
    counted = {"log": "time_entries WHERE source = 'slack'", "twilio": "calls"}
    with ExitStackOf(serving("app", env) for _ in range(replicas)) as servers:
        for url, _ in servers:
            _warm(url, loads[0][2])
        before = {kind: _count(database_url, table) for kind, table in counted.items()}
        results: list[Result | None] = [None] * len(loads)

        def run(i: int) -> None:
            kind, replica, requests_file = loads[i]
            results[i] = run_wrk(servers[replica][0], requests_file, args.seconds, per_wrk,
                                 f"{kind} (postgres, replica {replica + 1}/{replicas})")

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(loads))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        done = [r for r in results if r is not None]
        for kind, table in counted.items():
            answered = sum(r.requests - r.not_saved for r in done if r.name.startswith(kind))
            failed = sum(r.errors for r in done if r.name.startswith(kind))
            refused = sum(r.not_saved for r in done if r.name.startswith(kind))
            stored = _settled_count(database_url, table) - before[kind]
            for r in done:
                if r.name.startswith(kind):
                    r.note = (r.note + f" {kind}: {stored} rows stored for "
                              f"{answered - failed} answers ({refused} more not saved), "
                              "both replicas").strip()
            # wrk stops with up to one request per connection in flight: stored, not counted
            in_flight = per_wrk * sum(1 for k, _, _ in loads if k == kind)
            if failed or not answered <= stored <= answered + in_flight:
                raise SystemExit(f"replicas, {kind}: {answered} answered ({failed} non-2xx), "
                                 f"{stored} rows stored")
        for r, (_, replica, _) in zip(done, loads, strict=True):
            r.rss_mb = peak_rss_mb(servers[replica][1])
    return done


# --versus (issue 25): the service against the least a correct implementation (bench.least)

SPREAD = 16  # patients the load is spread over, as 32 nurses would spread it
VERSUS = (("log", "time_entries WHERE source = 'slack'", "entries"),
          ("status", None, None),
          ("twilio", "calls", "calls"))


def _service_env(database_url: str, slack_api: str) -> dict[str, str]:
    """`serve`'s production defaults (INFO: the access line of every request), the bench's
    secrets and stand-in APIs."""
    return {**_app_env(database_url, slack_api), "LOG_LEVEL": "INFO"}


def _stored(check: Callable[[], int], before: int, result: Result, connections: int,
            what: str) -> None:
    """Every answered request stored once: at least the answers that said saved, at most
    those plus one request per connection in flight when wrk stopped (stored, not
    counted); a request stored twice would pass the upper bound."""
    stored = _settled(check) - before
    ok = result.requests - result.errors - result.not_saved
    result.note = (result.note + f" {stored} stored for {ok} answers").strip()
    if not ok <= stored <= ok + connections:
        raise SystemExit(f"{what}: answered {ok}, stored {stored}")


def _settled(count: Callable[[], int]) -> int:
    last, deadline = -1, time.monotonic() + 30
    while time.monotonic() < deadline:
        now = count()
        if now == last:
            return now
        last = now
        time.sleep(1)
    return last


def _least_count(path: Path, table: str) -> int:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _service_database(folder: Path, kind: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    database_url = _database_url(kind, folder)
    service = build_service(Settings(database_url=database_url, reminders_enabled=False))
    seed.seed(service)
    service.ctx.db.dispose()
    return database_url


def versus_round(folder: Path, slack_api: SlackApiRecorder, args: argparse.Namespace,
                 number: int, workers: int) -> dict[str, tuple[Result, Result]]:
    """One round: a freshly seeded service (`rpm-logger serve`, or `workers` processes) and
    least implementation, each scenario run on one then the other within the same minute
    (the order alternates by round); every answered log and call counted in each one's
    database."""
    from bench import least

    database_url = _service_database(folder / "service", args.db.split(",")[0])
    least_db = folder / "least.db"
    least.create(least_db)
    env = _service_env(database_url, slack_api.base_url)
    command = ([str(Path(sys.executable).with_name("rpm-logger")), "serve", "--host",
                "127.0.0.1", "--port"] if workers == 1 else None)
    response_url = slack_api.root_url + "/response"
    twilio = seed.write_twilio(folder / "twilio.txt", 100_000, start=number * 100_000,
                               patients=SPREAD)
    out: dict[str, tuple[Result, Result]] = {}
    with serving("service", env, workers, command, folder / "service.log") as (s_url, s_pid), \
            serving("least", {"LEAST_DB": str(least_db), "SLACK_API_URL": slack_api.base_url},
                    workers) as (l_url, l_pid):
        for scenario, service_table, least_table in VERSUS:
            requests = (twilio if scenario == "twilio" else seed.write_slack(
                folder / f"{scenario}.txt", scenario, 100_000, response_url, SPREAD))
            _warm(s_url, requests)
            _warm(l_url, requests)
            results: dict[str, Result] = {}
            sides = [("least", l_url, l_pid), ("service", s_url, s_pid)]
            for side, url, pid in sides if number % 2 == 0 else sides[::-1]:
                table = service_table if side == "service" else least_table

                def rows(side: str = side, table: str | None = table) -> int:
                    if table is None:
                        return 0
                    if side == "service":
                        return _count(database_url, table)
                    return _least_count(least_db, table)

                before = rows()
                result = measured(pid, url, requests, args, f"{scenario} ({side})")
                if table:
                    _stored(rows, before, result, args.connections, f"{scenario} ({side})")
                results[side] = result
            out[scenario] = (results["service"], results["least"])
    return out


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def versus_table(rounds: list[dict[str, tuple[Result, Result]]]) -> str:
    rows = ["| path | service req/s | service p99 ms | least req/s | least p99 ms "
            "| ratio per round | ratio (median) | Saving… | not saved | non-2xx | CPU ms/req "
            "service / least |", "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    for scenario, _, _ in VERSUS:
        pairs = [r[scenario] for r in rounds]
        ratios = [svc.rps / least.rps for svc, least in pairs]
        rows.append(
            f"| {scenario} | {_median([s.rps for s, _ in pairs]):.0f} "
            f"| {_median([s.p99_ms for s, _ in pairs]):.1f} "
            f"| {_median([x.rps for _, x in pairs]):.0f} "
            f"| {_median([x.p99_ms for _, x in pairs]):.1f} "
            f"| {' '.join(f'{r:.2f}' for r in ratios)} | **{_median(ratios):.2f}** "
            f"| {sum(s.saving for s, _ in pairs)} of {sum(s.requests for s, _ in pairs)} "
            f"| {sum(s.not_saved for s, _ in pairs)} / {sum(x.not_saved for _, x in pairs)} "
            f"| {sum(s.errors for s, _ in pairs)} / {sum(x.errors for _, x in pairs)} "
            f"| {_median([s.cpu_ms or 0 for s, _ in pairs]):.2f} / "
            f"{_median([x.cpu_ms or 0 for _, x in pairs]):.2f} |")
    return "\n".join(rows)


def _signed_post(client: httpx.Client, url: str, user: str, text: str,
                 response_url: str) -> tuple[float, str]:
    line = seed._slack_line(text, user, int(time.time()), response_url).split("\t")
    headers = dict(pair.split(":", 1) for pair in line[1].split("|"))
    began = time.perf_counter()
    response = client.post(url + line[0], content=line[2].encode(), headers=headers)
    elapsed = (time.perf_counter() - began) * 1000
    response.raise_for_status()
    return elapsed, response.text


BUSY_ENTRIES = 1000


def month_cost(folder: Path, slack_api: SlackApiRecorder, args: argparse.Namespace) -> str:
    """`/rpm status P` and `/rpm log P` on a month with BUSY_ENTRIES entries against an empty
    month, one request at a time over HTTP (`rpm-logger serve`), interleaved, median of
    `--month-runs`: a reply's figures should cost the same on day 1 and day 31."""
    from datetime import UTC, datetime, timedelta

    from billing.months import Month
    from service.entries import LogRequest

    database_url = _service_database(folder / "month", args.db.split(",")[0])
    service = build_service(Settings(database_url=database_url, reminders_enabled=False))
    busy, empty = seed.patient_id(0, 1), seed.patient_id(1, 1)
    now = datetime.now(UTC)
    start = Month.containing(now, service.ctx.policy.zone).bounds_utc(
        service.ctx.policy.zone)[0]
    step = (now - start - timedelta(hours=1)) / BUSY_ENTRIES
    for i in range(BUSY_ENTRIES):  # estimated, spread over the month so far, many nurses
        service.entries.log(LogRequest(
            staff=seed.staff_id(i % seed.STAFF), patient=busy, duration=f"{1 + i % 9}m",
            activity="review", source="cli", started_at=start + step * i,
            clock_timed=False))
    service.ctx.db.dispose()
    # the statistics autovacuum would have within a minute: the server starts at once, and on
    # PostgreSQL a plan made for the tables as they were before the load cost ~190 ms a reply
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()
    response_url = slack_api.root_url + "/response"
    times: dict[str, list[float]] = {}
    command = [str(Path(sys.executable).with_name("rpm-logger")), "serve", "--host",
               "127.0.0.1", "--port"]
    with serving("service", _service_env(database_url, slack_api.base_url), 1, command,
                 folder / "month.log") as (url, _), httpx.Client(timeout=30) as client:
        for i in range(args.month_runs + 2):  # two warm-up rounds
            for name, patient in (("busy", busy), ("empty", empty)):
                user = seed.staff_id(i % seed.STAFF)
                for verb, text in (("status", f"status {patient}"),
                                   ("log", f"log {patient} {1 + i % 30}m review")):
                    elapsed, body = _signed_post(client, url, user, text, response_url)
                    if verb == "log" and "Saved entry" not in body:
                        raise SystemExit(f"month: a log was not saved: {body[:200]}")
                    if i >= 2:
                        times.setdefault(f"{verb} {name}", []).append(elapsed)
    medians = {key: _median(values) for key, values in times.items()}
    return "\n".join(
        [f"| a month with {BUSY_ENTRIES} entries vs an empty one, median of {args.month_runs} "
         "| busy ms | empty ms | ratio |", "|---|---:|---:|---:|"]
        + [f"| {verb} | {medians[f'{verb} busy']:.2f} | {medians[f'{verb} empty']:.2f} "
           f"| **{medians[f'{verb} busy'] / medians[f'{verb} empty']:.2f}** |"
           for verb in ("status", "log")])


def versus(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="rpm-versus-"))
    slack_api = SlackApiRecorder().start()
    load = os.getloadavg()
    try:
        rounds = [versus_round(folder / f"round{n}", slack_api, args, n, args.workers)
                  for n in range(args.rounds)]
        month = month_cost(folder, slack_api, args) if args.month_runs else ""
    finally:
        slack_api.stop()
        shutil.rmtree(folder, ignore_errors=True)  # ~400 MB of request files and databases
    print(f"\n{os.cpu_count()} CPUs, load average before {load[0]:.1f} {load[1]:.1f} "
          f"{load[2]:.1f}, after {' '.join(f'{x:.1f}' for x in os.getloadavg())}; wrk -t1 "
          f"-c{args.connections} -d{args.seconds}s, {args.rounds} rounds, {args.workers} "
          f"process(es) each, {args.db.split(',')[0]}, load over {SPREAD} patients\n")
    if rounds:
        print(versus_table(rounds))
    if month:
        print("\n" + month)


@contextmanager
def ExitStackOf(contexts: Iterator[Any]) -> Iterator[list[Any]]:  # noqa: N802
    """Enter every context manager (the replicas), exit them all afterwards."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        yield [stack.enter_context(context) for context in contexts]


def table(results: list[Result], bare: dict[str, Result]) -> str:
    rows = ["| scenario | requests | req/s | vs bare | p50 ms | p99 ms | non-2xx | CPU ms/req "
            "| peak RSS MB | note |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        yardstick = bare["bare-twilio" if r.name.startswith(("twilio", "bare-twilio"))
                         else "bare-slack"]
        rows.append(f"| {r.name} | {r.requests} | {r.rps:.0f} | {r.rps / yardstick.rps:.2f} "
                    f"| {r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.errors} | {r.cpu_ms or 0:.2f} "
                    f"| {r.rss_mb or 0:.0f} "
                    f"| {r.note} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--replicas", type=int, default=0,
                        help="run only the replicas scenario, with this many app processes")
    parser.add_argument("--versus", action="store_true",
                        help="issue 25: `rpm-logger serve` against the least a correct "
                             "implementation (bench.least), side by side, median of --rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1,
                        help="--versus: worker processes of each side")
    parser.add_argument("--month-runs", type=int, default=40,
                        help="--versus: requests per kind on a busy and an empty month "
                             "(0: skip)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    if args.versus:
        args.db = args.db if args.db != "sqlite,postgres" else "sqlite"
        versus(args)
        return
    folder = Path(tempfile.mkdtemp(prefix="rpm-bench-"))
    twilio = seed.write_twilio(folder / "twilio.txt", 60_000)
    slack_api = SlackApiRecorder().start()
    try:
        def files() -> dict[str, Path]:  # Slack signatures are fresh for 5 minutes only
            response_url = slack_api.root_url + "/response"
            return {"log": seed.write_slack(folder / "log.txt", "log", 60_000, response_url),
                    "status": seed.write_slack(folder / "status.txt", "status", 2_000,
                                               response_url), "twilio": twilio}

        if args.replicas:
            results = bench_replicas(folder / "replicas", slack_api.base_url,
                                     slack_api.root_url + "/response", args, args.replicas)
            print(f"\n{os.cpu_count()} CPUs, {len(results)} wrk -t1 "
                  f"-c{max(1, args.connections // len(results))} -d{args.seconds}s at once\n")
            print(replica_table(results))
            return
        bare = {name: bench_bare(name, files()[scenario], slack_api.base_url, args)
                for name, scenario in (("bare-slack", "status"), ("bare-twilio", "twilio"))}
        results = [bare["bare-slack"], bare["bare-twilio"]]
        for kind in args.db.split(","):
            results += bench_app(kind, folder / kind, slack_api.base_url, args, files)
    finally:
        slack_api.stop()
    print(f"\n{os.cpu_count()} CPUs, wrk -t1 -c{args.connections} -d{args.seconds}s\n")
    print(table(results, bare))


def replica_table(results: list[Result]) -> str:
    rows = ["| load | requests | req/s | p50 ms | p99 ms | non-2xx | peak RSS MB | note |",
            "|---|---:|---:|---:|---:|---:|---:|---|"]
    rows += [f"| {r.name} | {r.requests} | {r.rps:.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} "
             f"| {r.errors} | {r.rss_mb or 0:.0f} | {r.note} |" for r in results]
    return "\n".join(rows)


if __name__ == "__main__":
    main()

