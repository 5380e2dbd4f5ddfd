"""Every HTTP request: its id, route template, status and duration, counted into the app's
metrics and written as one access line.

The request id is the proxy's `X-Request-ID` when it sends one shaped like an id (a UUID,
Caddy's `{http.request.uuid}`), else a new one; either way it goes back in the response's
`X-Request-ID` and onto every log record made while the request is answered
(observability/logs.py), so an operator can find one request's lines. The route is the
template the request matched (`/patients/{patient_id}`), never the path, which can hold a
patient id or a phone number; a request that matched no route is "unmatched".
"""

import logging
import re
import time
import uuid
from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from observability.logs import REQUEST_ID
from observability.metrics import Metrics, http_method

access_log = logging.getLogger("rpm_logger.access")

HEADER = b"x-request-id"
_GIVEN_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
UNMATCHED = "unmatched"


def request_id(scope: Scope) -> str:
    """The proxy's id for this request, when it gave one we can log as it is; else a new one."""
    for name, value in scope.get("headers", ()):
        if name == HEADER:
            return value.decode("ascii") if _GIVEN_ID.fullmatch(value) else uuid.uuid4().hex
    return uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """The template of the route that answered (the router records it in the scope), or of
    the one that would have (a body refused before routing), else "unmatched"."""
    route: Any = scope.get("route") or _matching(scope)
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


def _matching(scope: Scope) -> Any:
    router = getattr(scope.get("app"), "router", None)
    return _matching_in(getattr(router, "routes", ()), scope)


def _matching_in(routes: Any, scope: Scope) -> Any:
    """The route of `routes` the request matches, looking inside included routers: FastAPI
    keeps an `include_router`'s routes behind one entry (its `original_router`) that has no
    template of its own, so the route a body-size refusal would have reached (the device
    readings webhook's, the dashboard's) is found in there."""
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.NONE:
            continue
        included = getattr(route, "original_router", None)
        if included is None:
            return route
        inner = _matching_in(getattr(included, "routes", ()), scope)
        if inner is not None:
            return inner
    return None


class RequestTelemetry:
    """ASGI middleware, outermost: times the whole answer, sizes refused included."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = request_id(scope)
        token = REQUEST_ID.set(given)
        started = time.perf_counter()
        status = 500  # what the server answers when the app raised before answering

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()),
                                                  (HEADER, given.encode("ascii"))]}
            await send(message)

        try:
            await self.app(scope, receive, answer)
        finally:
            self._done(scope, status, time.perf_counter() - started, given)
            REQUEST_ID.reset(token)

    def _done(self, scope: Scope, status: int, seconds: float, given: str) -> None:
        route, method = route_template(scope), http_method(scope.get("method", ""))
        self.metrics.request(route, method, status, seconds)
        duration_ms = round(seconds * 1000, 1)
        access_log.info("%s %s %d %.1f ms (request %s)", method, route, status, duration_ms,
                        given, extra={"request_id": given, "route": route, "method": method,
                                      "status": status, "duration_ms": duration_ms})
