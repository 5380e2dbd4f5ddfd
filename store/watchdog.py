"""A client-side deadline on a database connection: its socket is shut down when a
transaction with a deadline outlives it (issue 27: PostgreSQL behind a black hole).

When the path to PostgreSQL goes silent while TCP stays up (a pooler or proxy in between
whose server is gone, a stopped server), nothing else ends the wait: the server's
statement_timeout never runs (it never got the statement), and the kernel's keepalives and
tcp_user_timeout see every byte acknowledged (by the pooler). psycopg then waits in poll()
for an answer that never comes, with the request's thread and pooled connection.

Shutting the socket down wakes that wait at once with "server closed the connection
unexpectedly", which SQLAlchemy takes as a disconnect: the connection is thrown away and the
pool starts afresh. The guard holds its own duplicate of the socket, so the descriptor it
shuts down is never one the driver has closed and the system has handed to something else.

One thread for the process; it sleeps on an event while nothing is armed and checks every
_TICK_S while something is (relative sleeps: a timed wait never runs out under faketime,
tests/README.md).
"""

import os
import socket
import threading
import time
from dataclasses import dataclass, field

_TICK_S = 0.02


@dataclass(eq=False)
class Guard:
    """One armed deadline: `at` on time.monotonic()."""

    sock: socket.socket
    at: float
    fired: bool = field(default=False)


class Watchdog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: set[Guard] = set()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def arm(self, fileno: int, at: float) -> Guard:
        """Shut the socket `fileno` down at `at` (time.monotonic()) unless disarmed first."""
        guard = Guard(socket.socket(fileno=os.dup(fileno)), at)
        with self._lock:
            self._armed.add(guard)
            self._wake.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="rpm-db-watchdog")
                self._thread.start()
        return guard

    def disarm(self, guard: Guard) -> bool:
        """Forget the guard; whether it had fired (its connection is then dead)."""
        with self._lock:
            if guard in self._armed:
                self._armed.discard(guard)
                guard.sock.close()
        return guard.fired

    def _run(self) -> None:
        while True:
            self._wake.wait()
            with self._lock:
                now = time.monotonic()
                for guard in [g for g in self._armed if g.at <= now]:
                    self._fire(guard)
                if not self._armed:
                    self._wake.clear()
                    continue
            time.sleep(_TICK_S)

    def _fire(self, guard: Guard) -> None:
        self._armed.discard(guard)
        guard.fired = True
        try:
            guard.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed by its peer: the driver has seen it
        guard.sock.close()


WATCHDOG = Watchdog()
