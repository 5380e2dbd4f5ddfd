"""The bot's loopback fixtures (the real app signed like Slack), for the packet's Slack tests."""

from tests.bot.conftest import seeded, server_url, slack  # noqa: F401
