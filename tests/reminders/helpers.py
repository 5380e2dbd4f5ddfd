"""A clinic on 15 November 2026 with one patient per interesting case, and Slack helpers."""

import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr
from sqlalchemy import update

from configuration.settings import Settings
from reminders.slack import SlackReminderSender
from service import Service
from service.entries import LogRequest
from service.patients import PatientFields
from service.reminders import ReminderOptions
from store.tables import staff
from tests.fakes.slack_api import RecordedCall, SlackApiRecorder
from tests.snapshots import seeded

NURSE, DOCTOR, GONE, CALM = "U01NURSE", "U02DOCTOR", "U06GONE", "U07CALM"
CHANNEL_ID = "C0REMIND"
# 09:00 on the 15th in New York (EST, UTC-5)
NINE_AM_15TH = datetime(2026, 11, 15, 14, 0, tzinfo=UTC)
OPTIONS = ReminderOptions(channel=CHANNEL_ID)


def _log(svc: Service, patient: str, minutes: int, activity: str = "review", *,
         staff: str = NURSE, day: int = 10) -> None:
    svc.entries.log(LogRequest(patient=patient, duration=f"{minutes}m", activity=activity,
                               staff=staff, source="cli",
                               started_at=datetime(2026, 11, day, 15, 0, tzinfo=UTC)))


def seed_clinic(svc: Service) -> None:
    """The reminders clinic, built through the service once per test process and copied after that
    (tests/snapshots.py)."""
    return seeded(svc, "the reminders clinic", _seed_clinic)


def _seed_clinic(svc: Service) -> None:
    """Staff: NURSE and DOCTOR have patients at risk, CALM's patient is on track, GONE left.

    On the 15th (16 days left in November):
    - P-1 (AB) NURSE: 12 min, no live             -> watch, needs 8 more minutes and a live call
    - P-2 (CD) NURSE: nothing, ends on the 17th   -> critical (3 days left)
    - P-3 (EF) CALM: 25 min with a live call      -> ok (CALM gets no message)
    - P-4 (GH) DOCTOR: 20 min, no live            -> watch, needs a live call
    - P-5 (IJ) unassigned: 5 min with a live call -> watch, 15 more minutes
    - P-6 (KL) GONE (inactive): nothing           -> watch, goes to the channel as unassigned
    - P-7 (MN) DOCTOR: nothing, ends on the 20th  -> high (6 days left)
    - P-8 (OP) NURSE: ended on the 10th           -> window over: not in any reminder
    """
    for user, name in ((NURSE, "Nina Nurse"), (DOCTOR, "Dee Doctor"), (GONE, "Gus Gone"),
                       (CALM, "Cal Calm")):
        role = "physician" if user == DOCTOR else "clinical_staff"
        svc.staff.add(slack_user_id=user, name=name, role=role, actor="test")
    patients: list[tuple[str, str, str | None, date | None]] = [
        ("P-1", "AB", NURSE, None), ("P-2", "CD", NURSE, date(2026, 11, 17)),
        ("P-3", "EF", CALM, None), ("P-4", "GH", DOCTOR, None), ("P-5", "IJ", None, None),
        ("P-6", "KL", GONE, None), ("P-7", "MN", DOCTOR, date(2026, 11, 20)),
        ("P-8", "OP", NURSE, date(2026, 11, 10)),
    ]
    for clinic_id, initials, assign, ended in patients:
        svc.patients.add(clinic_id, PatientFields(
            initials=initials, assign=assign, consent_on=date(2026, 1, 1),
            enrolled_on=date(2026, 1, 1), ended_on=ended, ordered_by=DOCTOR,
            order_on=date(2026, 1, 1)), actor="test")
    # GONE is inactive with P-6 still theirs: neither `staff update --inactive` (refused while
    # they have patients) nor an assignment (refused to a leaver) makes that state now, but a
    # database from before offboarding existed may hold it; written as such a database has it
    with svc.ctx.db.write() as conn:
        conn.execute(update(staff).where(staff.c.slack_user_id == GONE).values(active=False))
    _log(svc, "P-1", 12)
    _log(svc, "P-3", 15)
    _log(svc, "P-3", 10, "call", day=11)
    _log(svc, "P-4", 20, staff=DOCTOR)
    _log(svc, "P-5", 5, "call")


def slack_settings(slack_api: SlackApiRecorder, **extra: Any) -> Settings:
    values: dict[str, Any] = {"slack_bot_token": SecretStr("xoxb-test"),
                              "slack_api_url": slack_api.base_url,
                              "reminder_channel": CHANNEL_ID}
    return Settings(**{**values, **extra})


def sender(slack_api: SlackApiRecorder) -> SlackReminderSender:
    return SlackReminderSender.from_settings(slack_settings(slack_api))


class SlackWorkspace:
    """The recorder made to behave like Slack for reminders: it keeps the messages it
    accepted (scripted failures are not accepted) and answers conversations.history with
    them, metadata included only when include_all_metadata is set, as Slack does."""

    def __init__(self, slack_api: SlackApiRecorder) -> None:
        self.api = slack_api
        self.accepted: list[RecordedCall] = []
        self.refuse: dict[str, str] = {}  # channel -> the error Slack answers with
        self._lock = threading.Lock()
        slack_api.on("chat.postMessage", self._post)
        slack_api.on("conversations.history", self._history)

    def _post(self, call: RecordedCall) -> dict[str, Any]:
        refused = self.refuse.get(str(call.body.get("channel")))
        if refused:
            return {"ok": False, "error": refused}
        with self._lock:
            self.accepted.append(call)
            ts = f"{len(self.accepted)}.000100"
        return {"ok": True, "channel": call.body.get("channel"), "ts": ts}

    def _history(self, call: RecordedCall) -> dict[str, Any]:
        # the sync client POSTs form fields; a GET would carry them in the query string
        fields = {k: v[0] for k, v in parse_qs(urlsplit(call.path).query).items()}
        fields.update(call.body)
        channel = fields["channel"]
        with_metadata = str(fields.get("include_all_metadata", "0")) in ("1", "true")
        found = []
        with self._lock:
            for position, posted in enumerate(self.accepted):
                if posted.body.get("channel") != channel:
                    continue
                item = {"type": "message", "ts": f"{position + 1}.000100",
                        "text": posted.body.get("text")}
                if with_metadata and posted.body.get("metadata"):
                    item["metadata"] = posted.body["metadata"]
                found.append(item)
        return {"ok": True, "messages": list(reversed(found)), "has_more": False}

    def channels(self) -> list[str]:
        """Where accepted messages went, sorted (a duplicate shows up twice)."""
        with self._lock:
            return sorted(c.body["channel"] for c in self.accepted)

    def to(self, channel: str) -> RecordedCall:
        (only,) = [c for c in self.accepted if c.body["channel"] == channel]
        return only


@dataclass
class SleepRecorder:
    """Stands in for the `time` module of slack_sdk's retry code: records, never waits."""

    slept: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def module(self) -> SimpleNamespace:
        return SimpleNamespace(sleep=self.sleep)
