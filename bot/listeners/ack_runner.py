"""Bolt's listener runner, answering the moment the listener acks instead of polling for it.

With `process_before_response=False`, Bolt (1.x `AsyncioListenerRunner`) starts the listener
as a task and then checks `ack.response` every 10 ms for up to 3 seconds. At 32 clients that
is a wake-up per request every 10 ms on the event loop, and every answer is up to 10 ms late.
Here the ack signals an event and the runner waits on it (or on the listener finishing, or
Bolt's 3 s, whichever is first); everything else is Bolt's: the same start, error and
completion handlers, the same "didn't call ack()" warning, the same response.

Lazy listeners (none here) and `process_before_response=True` go to Bolt's own runner.
"""

import asyncio
import time
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.listener.async_listener import AsyncListener
from slack_bolt.listener.asyncio_runner import AsyncioListenerRunner
from slack_bolt.logger.messages import warning_did_not_call_ack
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

_running: set["asyncio.Future[None]"] = set()  # listener tasks: a reference until they finish


class SignallingAck(AsyncAck):
    """Bolt's ack, which also says when it has been called."""

    def __init__(self) -> None:
        super().__init__()
        self.given = asyncio.Event()

    async def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        try:
            return await super().__call__(*args, **kwargs)
        finally:
            self.given.set()


def signalling_ack(request: AsyncBoltRequest) -> None:
    """Give the request the ack the runner below can wait on (before Bolt dispatches it)."""
    request.context["ack"] = SignallingAck()


class AckWaitingRunner(AsyncioListenerRunner):
    async def run(self, request: AsyncBoltRequest, response: BoltResponse, listener_name: str,
                  listener: AsyncListener, starting_time: float | None = None,
                  ) -> BoltResponse | None:
        ack = request.context.ack
        if (self.process_before_response or request.lazy_only or listener.lazy_functions
                or not isinstance(ack, SignallingAck)):
            return await super().run(request, response, listener_name, listener, starting_time)
        starting_time = starting_time if starting_time is not None else time.time()
        if listener.auto_acknowledgement:
            await ack()  # Events API: acknowledged at once, as Bolt does
        task = asyncio.ensure_future(self._listen(ack, request, response, listener))
        _running.add(task)
        task.add_done_callback(_running.discard)
        if ack.response is None and not task.done():
            given = asyncio.ensure_future(ack.given.wait())
            left = listener.ack_timeout - (time.time() - starting_time)
            await asyncio.wait({given, task}, timeout=max(left, 0),
                               return_when=asyncio.FIRST_COMPLETED)
            given.cancel()
        if response is None and ack.response is None:
            self.logger.warning(warning_did_not_call_ack(listener_name))
            return None
        if response is None:
            return ack.response
        return response

    async def _listen(self, ack: AsyncAck, request: AsyncBoltRequest, response: BoltResponse,
                      listener: AsyncListener) -> None:
        """Bolt's `run_ack_function_asynchronously`, unchanged."""
        try:
            await self.listener_start_handler.handle(request=request, response=response)
            await listener.run_ack_function(request=request, response=response)
        except Exception as e:  # noqa: BLE001 - Bolt's error handler logs it, as before
            if response is None:
                response = BoltResponse(status=500)
            response.status = 500
            if ack.response is not None:  # already acknowledged
                response = None  # type: ignore[assignment]
            await self.listener_error_handler.handle(error=e, request=request,
                                                     response=response)
            ack.response = response
        finally:
            await self.listener_completion_handler.handle(request=request, response=response)


def install(app: Any) -> None:
    """Replace the Bolt app's runner with the one above, keeping its handlers."""
    old: AsyncioListenerRunner = app._async_listener_runner
    app._async_listener_runner = AckWaitingRunner(
        logger=old.logger, process_before_response=old.process_before_response,
        listener_error_handler=old.listener_error_handler,
        listener_start_handler=old.listener_start_handler,
        listener_completion_handler=old.listener_completion_handler,
        lazy_listener_runner=old.lazy_listener_runner)
