"""The benchmark clinic: staff with Twilio numbers, patients with phones, seeded through the
service (as an admin would), and the signed requests that wrk replays against it."""

import hashlib
import hmac
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from bench.targets import BENCH_SIGNING_SECRET
from service import Service
from service.patients import PatientFields

STAFF = 32
PATIENTS_PER_STAFF = 30
ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench0123456789abcdef0123456789ab"
PUBLIC_BASE_URL = "https://rpm.bench.example"


def staff_id(i: int) -> str:
    return f"UB{i:05d}"


def staff_twilio_number(i: int) -> str:
    return f"+1617555{2000 + i:04d}"


def patient_id(s: int, k: int) -> str:
    return f"P-{s:02d}{k:03d}"


def patient_phone(s: int, k: int) -> str:
    return f"+1508{200 + s:03d}{k:04d}"  # exchange 2xx: a number phonenumbers holds valid


def seed(svc: Service) -> None:
    """One admin-made clinic: STAFF nurses, each with PATIENTS_PER_STAFF patients."""
    for s in range(STAFF):
        svc.staff.add(slack_user_id=staff_id(s), name=f"Nurse {s}", role="clinical_staff",
                      phones=(staff_twilio_number(s),), actor="bench")
        for k in range(PATIENTS_PER_STAFF):
            svc.patients.add(patient_id(s, k), PatientFields(
                initials="AB", phones=(patient_phone(s, k),), assign=staff_id(s),
                consent_on=date(2026, 1, 5)), actor="bench")


def _slack_line(text: str, user: str, now: int, response_url: str) -> str:
    body = urlencode({"token": "x", "team_id": "T1", "channel_id": f"D{user[1:]}",
                      "user_id": user, "command": "/rpm", "text": text,
                      "response_url": response_url, "trigger_id": "1.2.3"})
    base = f"v0:{now}:{body}".encode()
    signature = "v0=" + hmac.new(BENCH_SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()
    headers = (f"Content-Type:application/x-www-form-urlencoded|X-Slack-Request-Timestamp:{now}"
               f"|X-Slack-Signature:{signature}")
    return f"/slack/events\t{headers}\t{body}"


def spread_patient(i: int, patients: int) -> tuple[int, int]:
    """The (s, k) of request i's patient when the load is spread over `patients` patients
    (the first patient of each of the first `patients` nurses), as many nurses would spread
    it: every nurse logs for each of them in turn."""
    return (i + i // STAFF) % patients, 0


def slack_texts(kind: str, count: int, patients: int | None = None
                ) -> Iterator[tuple[str, str]]:
    """(user, text) pairs: `log` spreads over users, patients and durations; `status`
    alternates a caseload and one patient's month. With `patients`, both name one of that
    many patients (`spread_patient`), `status` always one patient's month."""
    for i in range(count):
        s, k = i % STAFF, (i // STAFF) % PATIENTS_PER_STAFF
        if patients:
            verb = "log" if kind == "log" else "status"
            tail = f" {1 + i % 45}m review" if kind == "log" else ""
            yield staff_id(s), f"{verb} {patient_id(*spread_patient(i, patients))}{tail}"
        elif kind == "log":
            yield staff_id(s), f"log {patient_id(s, k)} {1 + i % 45}m review"
        else:
            yield staff_id(s), "status" if i % 2 else f"status {patient_id(s, k)}"


def write_slack(path: Path, kind: str, count: int, response_url: str,
                patients: int | None = None) -> Path:
    """Signed now: Bolt accepts them for five minutes, so write them just before a run."""
    now = int(time.time())
    lines = [_slack_line(text, user, now, response_url)
             for user, text in slack_texts(kind, count, patients)]
    path.write_text("\n".join(lines) + "\n")
    return path


def twilio_form(i: int, at: datetime, patients: int | None = None) -> dict[str, str]:
    """A completed outbound call from a nurse's Twilio number to a patient, as Twilio posts
    its final status callback; a distinct CallSid per i (`patients`: `spread_patient`)."""
    s, k = i % STAFF, (i // STAFF) % PATIENTS_PER_STAFF
    if patients:
        callee = patient_phone(*spread_patient(i, patients))
        return {**twilio_form(i, at), "Called": callee, "To": callee}
    return {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": f"CA{i:032x}",
            "CallStatus": "completed", "AnsweredBy": "human", "Called": patient_phone(s, k),
            "Caller": staff_twilio_number(s), "CallbackSource": "call-progress-events",
            "CallDuration": str(60 + i % 600), "Direction": "outbound-api",
            "From": staff_twilio_number(s), "To": patient_phone(s, k), "SequenceNumber": "3",
            "SipResponseCode": "200", "Timestamp": format_datetime(at, usegmt=True),
            "ToCity": "BOSTON", "ToCountry": "US", "ToState": "MA", "ToZip": "02108"}


def write_twilio(path: Path, count: int, start: int = 0, patients: int | None = None) -> Path:
    validator = RequestValidator(AUTH_TOKEN)
    url = PUBLIC_BASE_URL + "/twilio/voice/status"
    at = datetime.now(UTC)
    lines = []
    for i in range(start, start + count):
        form = twilio_form(i, at, patients)
        signature = validator.compute_signature(url, form)
        lines.append("/twilio/voice/status\tContent-Type:application/x-www-form-urlencoded"
                     f"|X-Twilio-Signature:{signature}\t{urlencode(form)}")
    path.write_text("\n".join(lines) + "\n")
    return path
