"""The Slack side of telephony's `CallNotifier` (telephony/notify.py): a DM to the staff
member on a call, built in rpm_logger/blocks.py and sent with the sync Slack client. It
matches the protocol by shape; rpm_logger/app.py hands it to the Twilio routes."""

from slack_sdk import WebClient

from rpm_logger import blocks
from rpm_logger.settings import Settings
from rpm_logger.slack_client import make_web_client
from service.calls import CallView


class SlackCallDMs:
    def __init__(self, client: WebClient) -> None:
        self.client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> "SlackCallDMs | None":
        """None when SLACK_BOT_TOKEN is unset: there is no one to send with."""
        return cls(make_web_client(settings)) if settings.slack_bot_token else None

    def ask_if_live(self, call: CallView) -> None:
        self._dm(call, blocks.call_unconfirmed_dm(call))

    def tell_counted(self, call: CallView) -> None:
        self._dm(call, blocks.call_counted_dm(call))

    def _dm(self, call: CallView, reply: blocks.Reply) -> None:
        channel = self.client.conversations_open(users=call.staff)["channel"]["id"]
        self.client.chat_postMessage(channel=channel, text=reply.text, blocks=reply.blocks)
