"""Refuse oversized request bodies before anyone parses them.

Slack and Twilio payloads are a few kilobytes; a megabyte form is an attack or a mistake,
and parsing it (form decoding, signature hashing) would cost memory and time first. A
declared Content-Length over the limit is answered 413 without reading the body; a body
without one (chunked) is counted as it arrives and cut off at the limit.
"""

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_TOO_LARGE = b'{"error":"request body too large"}'


class _BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """ASGI middleware: 413 for any HTTP request body over `max_bytes`, or over the limit
    `by_path` gives its exact path (the device readings webhook takes batches: 2 MiB)."""

    def __init__(self, app: ASGIApp, max_bytes: int,
                 by_path: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.by_path = dict(by_path or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.by_path.get(scope.get("path", ""), self.max_bytes)
        declared = _content_length(scope)
        if declared is not None and declared > max_bytes:
            await _refuse(send)
            return
        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _BodyTooLarge:
            if not started:
                await _refuse(send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Any) -> None:
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(_TOO_LARGE)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": _TOO_LARGE})
