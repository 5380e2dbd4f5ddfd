"""How long a request waits for the service: work given up, not waited for, at a deadline.

The service runs in worker threads. Starlette's `run_in_threadpool` waits for its thread to
finish whatever happens, so a database that stopped answering held /healthz and a patient's
call for as long as the wait lasted (issue 27: over 70 s). Here the request stops waiting
at its deadline and answers without the service; the thread is left to end on its own (the
store bounds it too: store/postgres.py) and the service's own deadline, given the same
value, keeps it from saving anything after it (store/db.py, `Database.write`).
"""

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")

# past the service's deadline, how long a request still waits for the service to say so
# itself (a refusal it can word better, a commit already under way) before answering
ANSWER_MARGIN_S = 0.25


class NoAnswer(TimeoutError):
    """The service did not answer within the request's deadline."""


async def within(seconds: float, work: Callable[[], T],
                 threads: anyio.CapacityLimiter | None = None) -> T:
    """`work()` in a worker thread (of `threads`, else the requests' shared ones); NoAnswer
    once `seconds` have passed without its result."""
    with anyio.move_on_after(seconds):
        return await anyio.to_thread.run_sync(work, abandon_on_cancel=True, limiter=threads)
    raise NoAnswer(f"no answer within {seconds:g} s")
