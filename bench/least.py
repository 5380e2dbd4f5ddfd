"""The least a correct implementation (issue 25): the yardstick `bench.http_load --versus`
measures the service against, side by side in the same minute.

It keeps the product's promises on the two hot paths and nothing else:

- Slack: a bare slack-bolt `AsyncApp` (its own signature check) whose `/rpm` handler, inline,
  in one SQLite transaction (WAL, `synchronous=NORMAL`), finds the active staff member and the
  patient, inserts the entry and a hash-chained audit record (reads the last hash, inserts
  the next), sums the patient's seconds since the month's start and acks one line ("saved"
  only after the commit); `/rpm status P` is the two lookups and the `SUM`.
- Twilio: a bare Starlette route that reads the form, checks `X-Twilio-Signature` with
  twilio's `RequestValidator` over the public URL, then in one transaction finds patient and
  staff by number, `INSERT OR IGNORE`s the call by CallSid and, for a new answered call of
  at least 30 s, its entry and audit record, and answers `<Response/>`.

Its database is its own file (`LEAST_DB`), seeded with the bench clinic's staff, numbers and
patients (bench.seed) by `create`.
"""

import hashlib
import json
import os
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from bench import seed
from bench.targets import BENCH_BOT_TOKEN, BENCH_SIGNING_SECRET

ZONE = ZoneInfo("America/New_York")
MIN_LIVE_SECONDS = 30
_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
_SCHEMA = """
CREATE TABLE staff (id INTEGER PRIMARY KEY, slack_id TEXT UNIQUE NOT NULL,
                    active INTEGER NOT NULL, phone TEXT UNIQUE);
CREATE TABLE patients (id INTEGER PRIMARY KEY, clinic_id TEXT UNIQUE NOT NULL,
                       phone TEXT UNIQUE);
CREATE TABLE entries (id INTEGER PRIMARY KEY, patient_id INTEGER NOT NULL, staff_id INTEGER
                      NOT NULL, started_at TEXT NOT NULL, seconds INTEGER NOT NULL,
                      activity TEXT NOT NULL, live INTEGER NOT NULL);
CREATE INDEX ix_entries_patient ON entries (patient_id, started_at);
CREATE TABLE calls (id INTEGER PRIMARY KEY, sid TEXT UNIQUE NOT NULL, patient_id INTEGER,
                    staff_id INTEGER, seconds INTEGER NOT NULL);
CREATE TABLE audit (id INTEGER PRIMARY KEY, prev_hash TEXT UNIQUE, hash TEXT NOT NULL,
                    record TEXT NOT NULL);
"""


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def create(path: Path) -> None:
    """A fresh database with the bench clinic (bench.seed's staff and patients)."""
    path.unlink(missing_ok=True)
    conn = connect(str(path))
    conn.executescript(_SCHEMA)
    conn.executemany("INSERT INTO staff (slack_id, active, phone) VALUES (?, 1, ?)",
                     [(seed.staff_id(s), seed.staff_twilio_number(s))
                      for s in range(seed.STAFF)])
    conn.executemany("INSERT INTO patients (clinic_id, phone) VALUES (?, ?)",
                     [(seed.patient_id(s, k), seed.patient_phone(s, k))
                      for s in range(seed.STAFF) for k in range(seed.PATIENTS_PER_STAFF)])
    conn.close()


def _audit(conn: sqlite3.Connection, record: dict[str, Any]) -> None:
    """The next link of the chain: the last record's hash, then this one's."""
    row = conn.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    prev = row[0] if row else ""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256((prev + text).encode()).hexdigest()
    conn.execute("INSERT INTO audit (prev_hash, hash, record) VALUES (?, ?, ?)",
                 (prev or None, digest, text))


def _month_start(now: datetime) -> str:
    local = now.astimezone(ZONE)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return first.astimezone(UTC).isoformat()


_LOG = re.compile(r"log\s+(\S+)\s+(\d+)m\s+(\S+)")


def _rpm(conn: sqlite3.Connection, user: str, text: str) -> str:
    now = datetime.now(UTC)
    words = text.split()
    command = words[0] if words else ""
    conn.execute("BEGIN IMMEDIATE" if command == "log" else "BEGIN")
    try:
        staff = conn.execute("SELECT id FROM staff WHERE slack_id = ? AND active = 1",
                             (user,)).fetchone()
        if staff is None:
            return "You are not on the clinic's staff list."
        if command == "log" and (match := _LOG.fullmatch(text.strip())):
            clinic_id, minutes, activity = match.groups()
        elif command == "status" and len(words) == 2:
            clinic_id, minutes, activity = words[1], "", ""
        else:
            return "Try `/rpm log P-1 5m review` or `/rpm status P-1`."
        patient = conn.execute("SELECT id FROM patients WHERE clinic_id = ?",
                               (clinic_id,)).fetchone()
        if patient is None:
            return f"No patient {clinic_id}."
        saved = ""
        if command == "log":
            seconds = int(minutes) * 60
            started = (now - timedelta(seconds=seconds)).isoformat()
            entry = conn.execute(
                "INSERT INTO entries (patient_id, staff_id, started_at, seconds, activity, "
                "live) VALUES (?, ?, ?, ?, ?, 0) RETURNING id",
                (patient[0], staff[0], started, seconds, activity)).fetchone()[0]
            _audit(conn, {"entry": entry, "patient": patient[0], "staff": staff[0],
                          "started_at": started, "seconds": seconds, "activity": activity})
            saved = f"Saved entry #{entry}. "
        total = conn.execute("SELECT COALESCE(SUM(seconds), 0) FROM entries WHERE "
                             "patient_id = ? AND started_at >= ?",
                             (patient[0], _month_start(now))).fetchone()[0]
        conn.execute("COMMIT")
        return f"{saved}{clinic_id}: {total // 60}/20 min this month."
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def _call(conn: sqlite3.Connection, form: dict[str, str]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        staff = conn.execute("SELECT id FROM staff WHERE phone = ? AND active = 1",
                             (form.get("From", ""),)).fetchone()
        patient = conn.execute("SELECT id FROM patients WHERE phone = ?",
                               (form.get("To", ""),)).fetchone()
        seconds = int(form.get("CallDuration") or 0)
        new = conn.execute(
            "INSERT OR IGNORE INTO calls (sid, patient_id, staff_id, seconds) "
            "VALUES (?, ?, ?, ?)", (form["CallSid"], patient and patient[0],
                                    staff and staff[0], seconds)).rowcount
        if (new and staff and patient and form.get("CallStatus") == "completed"
                and seconds >= MIN_LIVE_SECONDS):
            started = (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat()
            entry = conn.execute(
                "INSERT INTO entries (patient_id, staff_id, started_at, seconds, activity, "
                "live) VALUES (?, ?, ?, ?, 'call', 1) RETURNING id",
                (patient[0], staff[0], started, seconds)).fetchone()[0]
            _audit(conn, {"entry": entry, "call": form["CallSid"], "seconds": seconds})
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def app() -> Any:
    """The least implementation as one ASGI app on `LEAST_DB` (SLACK_API_URL: Bolt's one
    auth.test goes to the stand-in Slack API, as the service's does)."""
    conn = connect(os.environ["LEAST_DB"])
    client = AsyncWebClient(token=BENCH_BOT_TOKEN, base_url=os.environ["SLACK_API_URL"])
    bolt = AsyncApp(signing_secret=BENCH_SIGNING_SECRET, client=client)

    @bolt.command("/rpm")
    async def rpm(ack: Any, command: dict[str, Any]) -> None:
        await ack(_rpm(conn, command["user_id"], command.get("text", "")))

    handler = AsyncSlackRequestHandler(bolt)
    validator = RequestValidator(seed.AUTH_TOKEN)

    async def events(request: Request) -> Response:
        response: Response = await handler.handle(request)
        return response

    async def status(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        url = seed.PUBLIC_BASE_URL + request.url.path
        if not validator.validate(url, form, request.headers.get("X-Twilio-Signature", "")):
            return Response(status_code=403)
        _call(conn, form)
        return Response(_TWIML, media_type="application/xml")

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"]),
                             Route("/twilio/voice/status", status, methods=["POST"])])
