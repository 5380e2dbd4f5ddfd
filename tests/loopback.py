"""How tests run the real app: in this process over ASGI (`in_process`), or on a real
uvicorn server on a free loopback port, in a thread (`served`); `connected` picks one per test.

Both run the app's lifespan (the Slack runtime, the schedulers) and take real HTTP requests,
signed as Slack and Twilio sign them; what the app sends out (Slack's Web API, response_url
posts, Twilio's REST API) goes over loopback sockets to the recording fakes either way. The
server costs ~0.2 s to start and ~0.3 s to stop (uvicorn polls its exit flag every 0.1 s and
waits 0.1 s more for connections): tests whose point is the socket or the server's own
behaviour (concurrent deliveries, the ack deadline, disconnects) are marked `real_server`.
"""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from anyio.from_thread import BlockingPortal, start_blocking_portal

from rpm_logger.app import SERVER_OPTIONS

# Where in-process requests say they go: the discard port, so a client that tries the URL
# over a socket (instead of through the test's client) is refused at once, loudly.
IN_PROCESS_URL = "http://127.0.0.1:9"


def address_elsewhere() -> str | None:
    """This machine's IPv4 address on its network (not loopback), if it has one: the source
    address of a route out (a UDP "connect" sends nothing). A client connecting to it is
    not on loopback, though on this machine."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.123", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """The ASGI app on a real uvicorn server (lifespan on), run as `serve` runs it
    (SERVER_OPTIONS); yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           lifespan="on", **SERVER_OPTIONS))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:  # uvicorn offers a flag, not an event, to wait on
        assert thread.is_alive(), "uvicorn stopped during start-up"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class _Lifespan:
    """The ASGI lifespan protocol, as uvicorn speaks it (startup, then shutdown)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def startup(self) -> None:
        self.to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
                 "state": {}}
        self.task = asyncio.ensure_future(self.app(scope, self.to_app.get, self.from_app.put))
        await self.to_app.put({"type": "lifespan.startup"})
        said = await self.from_app.get()
        assert said["type"] == "lifespan.startup.complete", f"app start-up failed: {said}"

    async def shutdown(self) -> None:
        await self.to_app.put({"type": "lifespan.shutdown"})
        async with asyncio.timeout(30):  # a hung shutdown fails the test's teardown
            said = await self.from_app.get()
            await self.task
        assert said["type"] == "lifespan.shutdown.complete", f"app shutdown failed: {said}"


class _PortalTransport(httpx.BaseTransport):
    """A sync httpx transport handing each request, through ASGI, to the app on the portal's
    event loop (the loop the lifespan started the app on); the client is on loopback, as
    for a real server. An exception in the app is a 500, as uvicorn answers it."""

    def __init__(self, portal: BlockingPortal, app: Any) -> None:
        self.portal = portal
        self.asgi = httpx.ASGITransport(app, raise_app_exceptions=False,
                                        client=("127.0.0.1", 50000))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()

        async def send() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            response = await self.asgi.handle_async_request(request)
            return response.status_code, response.headers.raw, await response.aread()

        status, headers, body = self.portal.call(send)
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body),
                              request=request)


@contextmanager
def in_process(app: Any, timeout: float = 30) -> Iterator[httpx.Client]:
    """The ASGI app in this process, lifespan on: an event loop in a thread (uvloop, as
    uvicorn picks it) runs the lifespan, every request and whatever the app leaves running
    after its answer (Bolt's listeners, "Saving…" work, DMs). Yields a client for it, whose
    base URL is IN_PROCESS_URL."""
    with start_blocking_portal("asyncio", {"use_uvloop": True}) as portal:
        lifespan = _Lifespan(app)
        portal.call(lifespan.startup)
        try:
            with httpx.Client(transport=_PortalTransport(portal, app), base_url=IN_PROCESS_URL,
                              timeout=timeout) as client:
                yield client
        finally:
            portal.call(lifespan.shutdown)


@contextmanager
def connected(app: Any, request: pytest.FixtureRequest,
              timeout: float = 30) -> Iterator[tuple[str, httpx.Client]]:
    """The app's base URL and a client for it: uvicorn on loopback for tests marked
    `real_server`, else in this process (`in_process`)."""
    if request.node.get_closest_marker("real_server") is not None:
        with served(app) as url, httpx.Client(timeout=timeout) as client:
            yield url, client
        return
    with in_process(app, timeout) as client:
        yield IN_PROCESS_URL, client
