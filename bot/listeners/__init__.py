"""Listener registration, one module per kind of Slack payload."""

from slack_bolt.async_app import AsyncApp

from bot.listeners import actions, calls, commands, events


def register(app: AsyncApp) -> None:
    commands.register(app)
    actions.register(app)
    calls.register(app)
    events.register(app)
