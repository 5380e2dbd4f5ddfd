"""Events: the App Home tab is published whenever the user opens it."""

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import dispatch
from service import Service


async def publish_home(client: AsyncWebClient, service: Service, user_id: str) -> None:
    view = await asyncio.to_thread(dispatch.home, service, user_id)
    await client.views_publish(user_id=user_id, view=view)


async def app_home_opened(event: dict[str, Any], client: AsyncWebClient,
                          context: dict[str, Any]) -> None:
    if event.get("tab", "home") != "home":
        return
    await publish_home(client, context["service"], event["user"])


def register(app: AsyncApp) -> None:
    app.event("app_home_opened")(app_home_opened)
