"""The deployment drill (issue 23 §4): the reference deployment of docs/deploy.md, run here.

Caddy (Debian's 2.6) runs deploy/Caddyfile with its name, ports and timings swapped for
loopback ones and `tls internal` (its own CA, in a folder of its own; nothing installed in
the system's trust store), in front of two `rpm-logger serve` processes on one fresh
PostgreSQL database (made by deploy/postgres-setup.sql: the app's role owns its schema and
is no superuser; everything connects as that role). Through HTTPS, trusting Caddy's local CA only:

1. signed Slack `/rpm log`s and signed Twilio completed calls (signed over the public https
   URL, PUBLIC_BASE_URL), from several clients at once; `kill -9` of the first process (the
   scheduler leader) in the middle; more requests while it is down; it starts again on its
   port; more requests;
2. every log answered "Saved" is stored once, every log answered "Saving…" is stored once
   and confirmed at its response_url naming that entry, a log answered "not saved" is not
   stored, and a request Caddy answered 502 (the process died under it) is stored at most
   once; every call answered 200 is stored once (one call record, one entry);
3. the reminder job ran once across the processes: one summary in the reminder channel, one
   claim per recipient (the leader's lock, store/leadership.py, and the claims);
4. each live process's `/metrics` counted the Slack and Twilio requests Caddy says it
   answered (Caddy names the upstream in a response header, in this drill only); through
   Caddy the dashboard serves a browser on this machine and refuses one elsewhere (this
   machine's network address), whatever X-Forwarded-For it sends; /metrics is not proxied;
   every answer carries Caddy's request id;
5. `rpm-logger backup` while logging goes on; the archive restored into a fresh PostgreSQL
   database and into a fresh SQLite file: every table's count is the archive's on both,
   and `audit verify` is intact with the archive's head on both.

Without the `caddy` binary the drill skips, except under CI (CI set), where it fails; so
does a missing PostgreSQL under --require-postgres."""

import gzip
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from service import Policy, Service, ServiceContext
from service.context import utc_now
from service.patients import PatientFields
from service.staff import StaffChanges
from store.db import Database
from store.migrate import upgrade_to_head
from store.tables import calls, reminder_claims, time_entries
from tests.bot.conftest import SlackSender
from tests.conftest import PG_ENV
from tests.fakes.ids import unique_sid
from tests.fakes.slack_api import SlackApiRecorder
from tests.loopback import address_elsewhere, free_port
from tests.sigkill_burst import (
    NOT_SAVED,
    SAVED,
    SAVING,
    Answer,
    ServeProcess,
    confirmed_entry,
    posted,
    serve_env,
)
from tests.telephony.conftest import ACCOUNT_SID, AUTH_TOKEN, sign, status_form

# Caddy, two servers, a restart, a backup and two restores: load of its own, in the serial step
pytestmark = pytest.mark.serial

ROOT = Path(__file__).resolve().parent.parent
CADDYFILE = ROOT / "deploy" / "Caddyfile"
POSTGRES_SETUP = ROOT / "deploy" / "postgres-setup.sql"
SCRIPT = Path(sys.executable).with_name("rpm-logger")
NURSE, PATIENT = "U0DRILL", "P-1042"
NURSE_PHONE, NURSE_TWILIO = "+16175550101", "+16175550199"
PATIENT_PHONE = "+16175550123"
CHANNEL = "C0DRILL"  # REMINDER_CHANNEL: its summary is sent every day from the start day
UPSTREAM = "X-Rpm-Upstream"  # the drill's Caddy names the process that answered
CLIENTS = 6
# the first life of the killed process holds each log's work 1.6 s after its commit
# (tests/fakes/slow_serve.py): past the 1.5 s ack deadline, so its logs are answered
# "Saving…" and the kill finds some committed and not yet confirmed
HOLD = (0.0, 1.6)


def caddy_or_skip() -> str:
    """The caddy binary; skip without it, except in CI (CI set), where that fails."""
    found = shutil.which("caddy")
    if not found:
        message = "caddy is not installed (apt-get install caddy): the deployment drill needs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@contextmanager
def app_role(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """A role for the app made as docs/deploy.md makes it: (the server's admin URL, the
    role's name); the role and every database made for it are dropped afterwards."""
    base = os.environ.get(PG_ENV)
    if not base:
        message = f"{PG_ENV} is not set: the drill runs on PostgreSQL"
        if request.config.getoption("--require-postgres"):
            pytest.fail(message)
        pytest.skip(message)
    role = f"rpm_test_drill_{uuid.uuid4().hex[:12]}"
    made: list[str] = []
    request.node.stash[_MADE] = made
    try:
        yield base, role
    finally:
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for name in made:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


_MADE = pytest.StashKey[list[str]]()


def fresh_database(request: pytest.FixtureRequest, base: str, role: str) -> str:
    """A new empty database for the app's role, made by deploy/postgres-setup.sql (the role
    owns the schema its tables go in, and is no superuser); its URL, as the role."""
    name = f"{role}_{len(request.node.stash[_MADE])}"
    request.node.stash[_MADE].append(name)
    admin = make_url(base)
    libpq = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    made = subprocess.run(["psql", "-q", "-d", libpq, "-v", f"role={role}", "-v", f"db={name}",
                           "-f", str(POSTGRES_SETUP)], capture_output=True, text=True,
                          timeout=60)
    assert made.returncode == 0, made.stderr
    password = uuid.uuid4().hex  # psql's \password, as docs/deploy.md sets it
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"ALTER ROLE \"{role}\" PASSWORD '{password}'"))
    engine.dispose()
    return admin.set(username=role, password=password, database=name).render_as_string(
        hide_password=False)


def drill_caddyfile(storage: Path, https_port: int, http_port: int,
                    upstreams: tuple[int, int], elsewhere: str | None = None) -> str:
    """deploy/Caddyfile, on loopback (and on this machine's network address `elsewhere`,
    when it has one, for a client that is not on loopback): its own CA (`tls internal`), its
    own storage, no admin API, nothing installed in the system's trust store; health checks
    every second and a failed process left out 1 s (the file's 5 s and 10 s would make the
    drill wait); the upstream named in a response header (to check each process's metrics)."""
    hosts = ["127.0.0.1", *([elsewhere] if elsewhere else [])]
    sites = ", ".join(f"https://{host}:{https_port}" for host in hosts)
    source = CADDYFILE.read_text()
    swaps = [
        (re.compile(r"^\{\n.*?^\}\n", re.S | re.M),
         "{\n\tadmin off\n\tskip_install_trust\n\tlocal_certs\n"
         f"\thttp_port {http_port}\n\thttps_port {https_port}\n"
         f"\tstorage file_system {{\n\t\troot {storage}\n\t}}\n}}\n"),
        (re.compile(r"^rpm\.clinic\.example \{$", re.M),
         f"{sites} {{\n\tbind {' '.join(hosts)}\n\ttls internal"),
        (re.compile(r"127\.0\.0\.1:8001 127\.0\.0\.1:8002"),
         f"127.0.0.1:{upstreams[0]} 127.0.0.1:{upstreams[1]}"),
        (re.compile(r"health_interval \S+"), "health_interval 1s"),
        (re.compile(r"fail_duration \S+"), "fail_duration 1s"),
        (re.compile(r"^(\t\theader_up X-Request-ID .*)$", re.M),
         "\\1\n\t\theader_down " + UPSTREAM + " {http.reverse_proxy.upstream.hostport}"),
    ]
    for pattern, replacement in swaps:
        source, found = pattern.subn(replacement, source)
        assert found == 1, f"deploy/Caddyfile no longer has what the drill swaps: {pattern}"
    return source


class Caddy:
    def __init__(self, binary: str, folder: Path, upstreams: tuple[int, int]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.https_port = free_port()
        self.elsewhere = address_elsewhere()
        storage = folder / "storage"
        self.config = folder / "Caddyfile"
        self.config.write_text(drill_caddyfile(storage, self.https_port, free_port(),
                                               upstreams, self.elsewhere))
        self.root_ca = storage / "pki" / "authorities" / "local" / "root.crt"
        self.url = f"https://127.0.0.1:{self.https_port}"
        self.log = folder / "caddy.log"
        env = {**os.environ, "XDG_DATA_HOME": str(folder / "data"),
               "XDG_CONFIG_HOME": str(folder / "config"), "HOME": str(folder)}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [binary, "run", "--config", str(self.config), "--adapter", "caddyfile"],
                env=env, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 30) -> None:
        """Until its CA exists and it answers /healthz over HTTPS through a process."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            if self.root_ca.exists():
                try:
                    trust = ssl.create_default_context(cafile=self.root_ca)
                    if httpx.get(self.url + "/healthz", verify=trust,
                                 timeout=5).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
            time.sleep(0.1)
        raise AssertionError("caddy did not come up:\n" + self.log.read_text())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Sent:
    kind: str  # "slack" or "twilio"
    key: str  # the log's note, or the call's CallSid
    status: int | None  # None: no HTTP answer at all
    text: str
    upstream: str  # the process's port as Caddy named it; "" when Caddy answered itself
    response_url: str
    phase: str


class Traffic:
    """Signed Slack logs and Twilio completed calls through Caddy, numbered, remembered."""

    def __init__(self, base: str, root_ca: Path, slack_api: SlackApiRecorder) -> None:
        limits = httpx.Limits(max_connections=CLIENTS * 2)
        self.http = httpx.Client(verify=ssl.create_default_context(cafile=root_ca), timeout=30,
                                 limits=limits)
        self.base = base
        self.slack = SlackSender(base, slack_api, self.http)
        self.sent: list[Sent] = []
        self._lock = threading.Lock()
        self._numbers = iter(range(1_000_000))
        self.phase = "both"

    def one(self) -> Sent:
        with self._lock:
            i = next(self._numbers)
        phase = self.phase
        if i % 3 == 2:
            sid = unique_sid()
            form = status_form(sid=sid, status="completed", from_=PATIENT_PHONE, to=NURSE_TWILIO,
                               direction="inbound", sequence=3, at=datetime.now(UTC),
                               duration=120)
            url = self.base + "/twilio/voice/status"  # the public URL: Caddy's
            try:
                response = self.http.post(url, data=form,
                                          headers={"X-Twilio-Signature": sign(url, form)})
                sent = Sent("twilio", sid, response.status_code, response.text,
                            _port(response), "", phase)
            except httpx.TransportError:
                sent = Sent("twilio", sid, None, "", "", "", phase)
        else:
            note = f"drill-{i}"
            try:
                answer = self.slack.command(f"log {PATIENT} {1 + i % 20}m review {note}",
                                            user=NURSE)
                sent = Sent("slack", note, answer.response.status_code,
                            answer.text if answer.response.status_code == 200 else "",
                            _port(answer.response), answer.response_url or "", phase)
            except httpx.TransportError:
                sent = Sent("slack", note, None, "", "", "", phase)
        with self._lock:
            self.sent.append(sent)
        return sent

    def run(self, count: int, *, when: Any = None, then: Any = None) -> None:
        """`count` requests from CLIENTS clients at once; `then()` runs once, as soon as
        `when(answers so far in this call)` holds, while the rest are still being sent."""
        start = len(self.sent)
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            futures = [pool.submit(self.one) for _ in range(count)]
            if then is not None:
                while not when(len(self.sent) - start) and not all(f.done() for f in futures):
                    time.sleep(0.005)
                then()
            for future in futures:
                future.result()


def _clients_as_caddy_names_them(caddy: Caddy) -> None:
    """Through Caddy every peer of the processes is 127.0.0.1; the dashboard's no-token mode
    judges the client Caddy names in X-Forwarded-For: a browser on this machine is served, one
    elsewhere (this machine's network address: not loopback) is refused, whatever it claims.
    /metrics is not served through Caddy. Each answer carries Caddy's request id."""
    trust = ssl.create_default_context(cafile=caddy.root_ca)
    with httpx.Client(verify=trust, timeout=10) as browser:
        here = browser.get(caddy.url + "/")
        assert here.status_code == 200 and 'data-patient="P-1042"' in here.text
        assert re.fullmatch(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}",
                            here.headers["x-request-id"])  # Caddy's {http.request.uuid}
        assert browser.get(caddy.url + "/metrics").status_code == 404
        if caddy.elsewhere is None:
            return  # no address but loopback here: test_access.py covers the rule itself
        away = f"https://{caddy.elsewhere}:{caddy.https_port}"
        for claim in ({}, {"X-Forwarded-For": "127.0.0.1"}):
            refused = browser.get(away + "/", headers=claim)
            assert refused.status_code == 403, (claim, refused.status_code)
            assert "P-1042" not in refused.text


def _port(response: httpx.Response) -> str:
    return response.headers.get(UPSTREAM, "").rsplit(":", 1)[-1]


def _clinic(db: Database) -> None:
    """One nurse with a phone and a Twilio number, one patient of hers with a phone and
    consent, on the real clock (the servers log at the real time)."""
    svc = Service(ServiceContext(db, Policy(), utc_now))
    svc.staff.add(slack_user_id=NURSE, name="Nina Drill", role="clinical_staff",
                  phones=(NURSE_PHONE,), actor="test")
    svc.staff.update(NURSE, StaffChanges(add_twilio_numbers=(NURSE_TWILIO,)), actor="test")
    consent = (datetime.now(UTC) - timedelta(days=62)).date()
    svc.patients.add(PATIENT, PatientFields(initials="JD", phones=(PATIENT_PHONE,),
                                            assign=NURSE, consent_on=consent), actor="test")


def _metric(url: str, name: str, **labels: str) -> float:
    """The sum of a counter's samples with these labels, read from a process's /metrics."""
    body = httpx.get(url + "/metrics", timeout=10).text
    total = 0.0
    for line in body.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _cli(database_url: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], env={**env, "DATABASE_URL": database_url},
                          capture_output=True, text=True, timeout=120)


def _counts(database_url: str) -> dict[str, int]:
    db = Database(database_url)
    try:
        with db.engine.connect() as connection:
            return {t.name: int(connection.execute(select(func.count()).select_from(t))
                                .scalar_one()) for t in SQLModel.metadata.sorted_tables}
    finally:
        db.dispose()


def _stored(database_url: str) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """Entries by note, entries by external ref (a call's sid), call records by sid."""
    db = Database(database_url)
    try:
        with db.engine.connect() as connection:
            notes = Counter(str(n) for (n,) in connection.execute(
                select(time_entries.c.note)) if n)
            refs = Counter(str(r) for (r,) in connection.execute(
                select(time_entries.c.external_ref)) if r)
            sids = Counter(str(s) for (s,) in connection.execute(select(calls.c.call_sid)))
    finally:
        db.dispose()
    return notes, refs, sids


@pytest.mark.timeout(300)
def test_the_deployment_drill(request: pytest.FixtureRequest, tmp_path: Path,
                              slack_api: SlackApiRecorder) -> None:
    started = time.monotonic()
    marks: list[str] = []

    def mark(what: str) -> None:
        marks.append(f"{what} {time.monotonic() - started:.1f}")

    binary = caddy_or_skip()
    with app_role(request) as (admin_url, role):
        db_url = fresh_database(request, admin_url, role)
        restored_url = fresh_database(request, admin_url, role)
        database = Database(db_url)
        upgrade_to_head(database.engine)  # as `rpm-logger db upgrade` before the first start
        _clinic(database)
        database.dispose()
        ports = (free_port(), free_port())
        caddy = Caddy(binary, tmp_path / "caddy", ports)
        env = {**serve_env(db_url, tmp_path / "data", slack_api),
               "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
               "PUBLIC_BASE_URL": caddy.url, "TWILIO_API_URL": "http://127.0.0.1:9",
               "RECONCILE_ENABLED": "false", "REMINDERS_ENABLED": "true",
               "REMINDER_START_DAY": "1", "REMINDER_TIME": "00:00",
               "REMINDER_CHANNEL": CHANNEL}
        first = ServeProcess(env, hold=HOLD, port=ports[0])
        second = ServeProcess(env, port=ports[1])
        again = ServeProcess(env, port=ports[0])
        traffic: Traffic | None = None
        try:
            first.start()
            # the first process leads: its start-up run sends the day's reminders
            deadline = time.monotonic() + 30
            while not [c for c in slack_api.calls_to("chat.postMessage")
                       if c.body.get("channel") == CHANNEL]:
                assert time.monotonic() < deadline, "the leader sent no reminder summary"
                time.sleep(0.05)
            mark("first up")
            second.start()
            caddy.wait_ready()
            mark("second and caddy up")
            traffic = Traffic(caddy.url, caddy.root_ca, slack_api)
            _clients_as_caddy_names_them(caddy)
            assert _metric(first.url, "rpm_reminders_total", outcome="sent") >= 1

            # 1. both up; kill -9 the leader in the middle
            traffic.run(45, when=lambda n: n >= 15, then=first.kill)
            mark("killed")
            traffic.phase = "one down"
            traffic.run(24)
            again.start()
            mark("restarted")
            time.sleep(1.5)  # Caddy's next health check finds it back
            traffic.phase = "restarted"
            traffic.run(36)

            # 2. a backup while logging goes on
            mark("sent")
            archive = tmp_path / "drill.rpm-backup"
            traffic.phase = "backup"
            backup_env = {k: v for k, v in env.items() if not k.startswith(("SLACK_", "TWILIO_"))}
            done = threading.Event()

            def keep_logging() -> None:
                while not done.is_set():  # two clients: enough to write during it
                    traffic.run(2)

            logging_on = threading.Thread(target=keep_logging)
            logging_on.start()
            try:
                before = len(traffic.sent)
                backup = _cli(db_url, "backup", "--out", str(archive), env=backup_env)
                during = len(traffic.sent) - before
            finally:
                done.set()
                logging_on.join()
            assert backup.returncode == 0, backup.stderr
            assert during > 0, "nothing was answered while the backup ran"
            mark("backed up")

            # every "Saving…" confirmed at its response_url before the servers stop
            deadline = time.monotonic() + 60
            while any(s.kind == "slack" and SAVING in s.text
                      and not posted(slack_api, s.response_url) for s in traffic.sent):
                assert time.monotonic() < deadline, "a 'Saving…' was never confirmed"
                time.sleep(0.05)
            metrics = {
                port: {route: _metric(url, "rpm_http_requests_total", route=route)
                       for route in ("/slack/events", "/twilio/voice/status")}
                for port, url in ((ports[1], second.url), (ports[0], again.url))}
            reminders_after = (_metric(second.url, "rpm_reminders_total", outcome="sent"),
                               _metric(again.url, "rpm_reminders_total", outcome="sent"))
        finally:
            for server in (again, second, first):
                if server.process is not None:
                    server.stop()
            caddy.stop()
            if traffic is not None:
                traffic.http.close()

        sent = traffic.sent
        notes, refs, sids = _stored(db_url)
        kinds = Counter(
            (s.kind, s.status, "saved" if SAVED in s.text else "saving" if SAVING in s.text
             else "not saved" if NOT_SAVED in s.text else "") for s in sent)
        summary = f"{len(sent)} sent: {dict(kinds)}"
        # 2. every answer is what was stored, once
        for s in sent:
            if s.kind == "slack":
                stored = notes[s.key]
                if s.status == 200 and SAVED in s.text and SAVING not in s.text:
                    assert stored == 1, (s, summary)
                    assert "Saved entry #" in s.text
                elif s.status == 200 and SAVING in s.text:
                    assert stored == 1, (s, summary)
                    entry = confirmed_entry(slack_api, Answer(s.key, s.response_url, s.text))
                    assert entry is not None, (s, summary)
                elif s.status == 200:
                    assert NOT_SAVED in s.text and stored == 0, (s, summary)
                else:  # Caddy's 502: the process died under it
                    assert s.upstream == "" and s.status in (502, None) and stored <= 1, \
                        (s, summary)
            else:
                if s.status == 200:
                    assert (sids[s.key], refs[s.key]) == (1, 1), (s, summary)
                elif s.upstream:  # the app's own refusal (503 past its deadline): nothing
                    assert (sids[s.key], refs[s.key]) == (0, 0), (s, summary)
                else:
                    assert s.status in (502, None) and sids[s.key] <= 1 and refs[s.key] <= 1, \
                        (s, summary)
        assert max(notes.values()) == 1 and max(refs.values()) == 1, summary
        assert kinds[("slack", 200, "saving")] >= 1, summary  # the held process said "Saving…"
        assert sum(s.status == 200 for s in sent if s.phase == "one down") == \
            sum(s.phase == "one down" for s in sent), summary  # the survivor took them all

        # 3. the reminder job ran once across the processes
        summaries = [c for c in slack_api.calls_to("chat.postMessage")
                     if c.body.get("channel") == CHANNEL]
        assert len(summaries) == 1, summaries
        claims = _claims(db_url)
        assert claims and max(claims.values()) == 1, claims
        assert reminders_after == (0.0, 0.0)

        # 4. each live process counted the requests Caddy says it answered
        for port, counted in metrics.items():
            for route, kind in (("/slack/events", "slack"), ("/twilio/voice/status", "twilio")):
                answered = [s for s in sent if s.kind == kind and s.upstream == str(port)
                            and (port != ports[0] or s.phase in ("restarted", "backup"))]
                assert counted[route] == len(answered), \
                    (port, route, counted[route], len(answered))
        assert all(sum(v.values()) > 0 for v in metrics.values()), metrics

        # 5. the archive restores into fresh PostgreSQL and SQLite, whole and verified
        header = json.loads(gzip.open(archive).readline())
        in_archive = {t["name"]: t["rows"] for t in header["tables"]}
        live = _counts(db_url)
        assert live["time_entries"] > in_archive["time_entries"], "logging went on"
        sqlite_url = f"sqlite:///{tmp_path / 'restored.db'}"
        for target in (restored_url, sqlite_url):
            restored = _cli(target, "restore", str(archive), "--yes", env=backup_env)
            assert restored.returncode == 0, restored.stderr
            mark("restored")
            counts = _counts(target)
            assert {k: counts[k] for k in in_archive} == in_archive, target
            verify = _cli(target, "audit", "verify", "--json", env=backup_env)
            assert verify.returncode == 0, verify.stdout + verify.stderr
            assert header["audit_head"]["hash"] in verify.stdout
            mark("verified")
    seconds = time.monotonic() - started
    print(f"\ndeployment drill: {summary}; {seconds:.1f} s ({', '.join(marks)})")


def _claims(database_url: str) -> Counter[tuple[str, str]]:
    db = Database(database_url)
    try:
        with db.engine.connect() as connection:
            rows = connection.execute(select(reminder_claims.c.recipient,
                                             reminder_claims.c.day)).all()
    finally:
        db.dispose()
    return Counter((str(r), str(d)) for r, d in rows)
