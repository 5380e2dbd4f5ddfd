"""The Slack side of telephony's `CallNotifier` (telephony/notify.py): a DM to the staff
member on a call, built in presentation/blocks.py and sent with the sync Slack client. It
matches the protocol by shape; rpm_logger/app.py hands it to the Twilio routes."""

from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk import WebClient

from billing.months import clinic_zone
from configuration.settings import Settings
from configuration.slack_client import make_web_client
from observability.metrics import Metrics
from presentation import blocks
from service.offboarding import TimerDropped


class SlackCallDMs:
    def __init__(self, client: WebClient, zone: ZoneInfo) -> None:
        self.client = client
        self.zone = zone  # the clinic's: a lock's end is said in clinic time

    @classmethod
    def from_settings(cls, settings: Settings,
                      metrics: Metrics | None = None) -> "SlackCallDMs | None":
        """None when SLACK_BOT_TOKEN is unset: there is no one to send with. Slack's refusals
        are counted into `metrics`."""
        if not settings.slack_bot_token:
            return None
        errors = metrics.slack_api_error if metrics is not None else None
        return cls(make_web_client(settings, errors=errors),
                   clinic_zone(settings.clinic_timezone))

    def voice_locked(self, slack_user_id: str, until: datetime) -> None:
        self._dm_user(slack_user_id, blocks.voice_locked_dm(slack_user_id, until, self.zone))

    def voice_locked_to_admin(self, admin: str, member: str, until: datetime) -> None:
        self._dm_user(admin, blocks.voice_locked_admin_dm(member, until, self.zone))

    def voice_paused(self, admin: str, until: datetime, wrong_pins: int) -> None:
        self._dm_user(admin, blocks.voice_paused_dm(until, wrong_pins, self.zone))

    def timer_dropped_to_admin(self, admin: str, dropped: TimerDropped) -> None:
        """Offboarding dropped a leaver's running timer unlogged: tell admin `admin`."""
        self._dm_user(admin, blocks.timer_dropped_admin_dm(dropped, self.zone))

    def _dm_user(self, slack_user_id: str, reply: blocks.Reply) -> None:
        channel = self.client.conversations_open(users=slack_user_id)["channel"]["id"]
        self.client.chat_postMessage(channel=channel, text=reply.text, blocks=reply.blocks)
