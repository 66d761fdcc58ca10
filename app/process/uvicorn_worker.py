"""The gunicorn worker: uvicorn with uvloop/httptools, our lifespan, gunicorn's grace period and
the connection limits of ``server.*`` (``app.process.http_limits``).

On SIGTERM the worker keeps accepting connections for ``DRAIN_GRACE`` seconds before it closes
its listening socket, and answers what comes on them with ``connection: close``; then it takes
what is still in the kernel's accept queue as it closes the socket. A client cannot tell a
draining server from a live one until the listener is gone: a connection left in the queue of
a listening socket that closes is reset with its request unread, where one answered is done
and one refused is known never to have been sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import sys
from typing import Any

from gunicorn.arbiter import Arbiter
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

from app.process.http_limits import LINGER_BYTES, LimitedHttpToolsProtocol, Limits
from app.process.http_protocol import DRAIN_GRACE, CoalescingHttpToolsProtocol


class DrainingServer(Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        CoalescingHttpToolsProtocol.drain(self.server_state)
        for connection in list(self.server_state.connections):
            connection.shutdown()
        await asyncio.sleep(DRAIN_GRACE)
        # What the kernel queued for us is taken in the same turn as the listener is closed:
        # closed with them queued, it would reset each. Other workers take what comes next.
        queued = take_queued(sockets or [])
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        loop = asyncio.get_running_loop()
        protocol = functools.partial(
            self.config.http_protocol_class,  # type: ignore[call-arg]  # the kwargs of uvicorn's protocols
            config=self.config,
            server_state=self.server_state,
            app_state=self.lifespan.state,
        )
        for conn in queued:
            with contextlib.suppress(OSError):
                await loop.connect_accepted_socket(protocol, conn)
        await super().shutdown(sockets)


def take_queued(listeners: list[socket.socket]) -> list[socket.socket]:
    """The connections waiting in ``listeners``' accept queues, accepted (without blocking)."""
    taken = []
    for listener in listeners:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # BlockingIOError once the queue is empty
                break
            conn.setblocking(False)
            taken.append(conn)
    return taken


class TiffinWorker(UvicornWorker):
    CONFIG_KWARGS: dict[str, Any] = {
        "loop": "auto",
        "http": "app.process.http_limits:LimitedHttpToolsProtocol",  # httptools, one write per answer, limits
        "lifespan": "on",
        "access_log": False,
        "server_header": False,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn's default is to wait forever for open connections; the master kills us after
        # graceful_timeout anyway, so finish in-flight requests within that instead.
        self.config.timeout_graceful_shutdown = max(0.0, float(self.cfg.graceful_timeout) - 0.5 - 2 * DRAIN_GRACE)
        server = getattr(getattr(self.app, "config", None), "server", None)  # ApiServer's TiffinConfig
        if server is not None:
            self.config.timeout_keep_alive = server.keepalive_timeout
            self.config.http = LimitedHttpToolsProtocol.with_limits(
                Limits(
                    header_timeout=server.header_timeout,
                    body_timeout=server.body_timeout,
                    max_header_size=server.max_header_size,
                    max_headers=server.max_headers,
                    linger_bytes=server.max_request_size + LINGER_BYTES,
                )
            )

    async def _serve(self) -> None:  # uvicorn-worker's, with the server above
        self.config.app = self.wsgi
        server = DrainingServer(config=self.config)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
