"""The App Home: published on app_home_opened, with timers and Start/Stop buttons."""

import json
from typing import Any

from service import Service
from tests.bot.conftest import SlackSender, all_text
from tests.bot.helpers import entries
from tests.conftest import FrozenClock
from tests.fakes.slack_api import ScriptedReply
from tests.service.helpers import DOCTOR, NURSE


def _view(call_body: dict[str, Any]) -> dict[str, Any]:
    view = call_body["view"]
    return json.loads(view) if isinstance(view, str) else view


def _open_home(slack: SlackSender, user: str = NURSE, count: int = 1) -> dict[str, Any]:
    sent = slack.event({"type": "app_home_opened", "user": user, "channel": "D0HOME",
                        "tab": "home", "event_ts": "1.1"})
    assert sent.response.status_code == 200
    calls = slack.wait_for("views.publish", count)
    assert len(calls) == count
    assert calls[-1].body["user_id"] == user
    return _view(calls[-1].body)


def test_home_lists_assigned_patients_at_risk_first_with_progress(
    slack: SlackSender, seeded: Service
) -> None:
    slack.command("log P-1042 8m review")
    view = _open_home(slack)
    assert view["type"] == "home"
    text = all_text(view)
    assert "Your RPM month" in text
    assert "*P-1042 (JD)* `▓▓▓▓░░░░░░` 8/20 min · live ✗ · 11 days left" in text
    assert "needs 12 more minutes and a live call" in text
    [start] = [b["accessory"] for b in view["blocks"] if "accessory" in b]
    assert (start["action_id"], start["value"]) == ("home_start", "P-1042")


def test_home_start_and_stop_buttons_run_the_timer(slack: SlackSender, seeded: Service,
                                                   clock: FrozenClock) -> None:
    slack.command("log P-1042 1m review")
    clicked = slack.action("home_start", "P-1042", channel=None, container="view")
    assert clicked.response.status_code == 200
    [dm] = slack.wait_for("chat.postMessage")
    assert dm.body["channel"] == NURSE
    assert "Started your timer for *P-1042 (JD)*" in all_text(dm.body)
    [home] = slack.wait_for("views.publish")
    running = _view(home.body)
    assert "Timer for *P-1042 (JD)* (review) running" in all_text(running)
    stop = [e for b in running["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [(e["action_id"], e.get("style")) for e in stop] == [("home_stop", "primary")]
    clock.advance(minutes=5)
    slack.action("home_stop", "stop", channel=None, container="view")
    dms = slack.wait_for("chat.postMessage", 2)
    assert "Saved entry #2: 5 min of review for P-1042 (JD)" in all_text(dms[1].body)
    assert [e.duration_seconds for e in entries(seeded)] == [60, 300]
    homes = slack.wait_for("views.publish", 2)
    assert "Timer for" not in all_text(_view(homes[1].body))


def test_a_timer_over_the_limit_shows_red_on_home(slack: SlackSender,
                                                  clock: FrozenClock) -> None:
    slack.command("log P-1042 1m review")
    slack.command("start P-1042")
    clock.advance(minutes=300)
    view = _open_home(slack)
    assert "🔴 Timer for *P-1042 (JD)* (review) has run 300 min" in all_text(view)
    stop = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert stop[0]["style"] == "danger"


def test_home_for_staff_without_patients_and_for_strangers(slack: SlackSender) -> None:
    assert "No patients are assigned to you" in all_text(_open_home(slack, DOCTOR))
    stranger = _open_home(slack, "U09STRANGER", count=2)
    assert "not set up as clinic staff" in all_text(stranger)


def test_home_publish_is_retried_after_a_rate_limit(slack: SlackSender) -> None:
    slack.recorder.script("views.publish", ScriptedReply(
        status=429, body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "0"}))
    view = _open_home(slack, count=2)
    assert "Your RPM month" in all_text(view)
