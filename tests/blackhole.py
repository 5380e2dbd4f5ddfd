"""A TCP proxy on loopback that can turn into a black hole (tests and bench/blackhole.py).

In front of the test PostgreSQL it forwards bytes both ways; `black_hole()` then stops
forwarding in both directions without closing anything: no FIN, no RST, nothing sent. What
each side sent stays in the kernel's buffers, unread, and new connections are accepted by
the kernel but get no answer, as when a path starts dropping packets. `heal()` forwards
again (what was held goes through, as TCP's retransmissions would deliver it).

One difference with packets dropped on a real network, and why the product bounds the wait
itself: this proxy's kernel still acknowledges what the client sends, so the client's own
kernel never sees unacknowledged data and `tcp_user_timeout` / keepalives never fire here.
That is the case of a connection pooler or proxy (PgBouncer) whose server went away, or a
stopped server; on a real dropped path those kernel timers fire as well.
"""

import socket
import threading
import time
from types import TracebackType

_POLL_S = 0.02  # how often a pump looks at the black-hole switch and its socket
_CHUNK = 65536


class BlackHoleProxy:
    """`with BlackHoleProxy(port) as proxy:` forwards 127.0.0.1:proxy.port to `port`."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self._open = threading.Event()  # set: forwarding; clear: a black hole
        self._open.set()
        self._stopped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(_POLL_S)
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.connections = 0  # accepted so far (a reconnecting pool makes more)

    def __enter__(self) -> "BlackHoleProxy":
        threading.Thread(target=self._accept, daemon=True, name="blackhole-accept").start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def black_hole(self) -> None:
        self._open.clear()

    def heal(self) -> None:
        self._open.set()

    def stop(self) -> None:
        self._stopped.set()
        self._open.set()
        with self._lock:
            for sock in [self._listener, *self._sockets]:
                sock.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # stopped
            self.connections += 1
            threading.Thread(target=self._connect, args=(client,), daemon=True,
                             name="blackhole-connect").start()

    def _connect(self, client: socket.socket) -> None:
        """Reach the server only once the path is open: a connection made into the black
        hole is accepted and then hears nothing, like a SYN whose answer never comes back."""
        while not self._open.is_set():
            time.sleep(_POLL_S)
        if self._stopped.is_set():
            client.close()
            return
        try:
            server = socket.create_connection(self.target)
        except OSError:
            client.close()
            return
        with self._lock:
            self._sockets += [client, server]
        for source, sink in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True,
                             name="blackhole-pump").start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        """Copies `source` to `sink` while the path is open; holds everything otherwise. An
        end of stream (the client gave its connection up) is passed on when open."""
        source.settimeout(_POLL_S)
        while not self._stopped.is_set():
            if not self._open.is_set():
                time.sleep(_POLL_S)
                continue
            try:
                data = source.recv(_CHUNK)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            while not self._open.is_set() and not self._stopped.is_set():
                time.sleep(_POLL_S)  # read as the path closed: held, as the rest
            try:
                if not data:
                    sink.shutdown(socket.SHUT_WR)
                    return
                sink.sendall(data)
            except OSError:
                return
