"""The sidecar's Unix socket: a small HTTP/1.1 server for the hop from API workers on this machine.

uvicorn serves the sidecar over TCP: probes, ``/metrics`` for Prometheus, ``/info``, and calls
from API workers elsewhere. ``tiffin serve`` points the API workers it starts at a Unix socket
instead, served by this module, because the hop is on every request's path: uvicorn spends some
55 µs of CPU per request (a task and an ASGI scope per request, the answer's head and body in
two writes, so the caller wakes twice); this server, with the same httptools parser, about 18 µs,
and a round trip takes ~90 µs instead of ~150 µs (1×4 ``.npy`` echo, one client, 2-core VM).

What it answers, in the formats of ``runners.wire.protocol``::

    POST /<method>            a call of the model (``runners.sidecar.calls.answer``), as over TCP
    GET  /livez, /healthz     200
    GET  /readyz              200 once the model is loaded; 503 while it loads or drains
    anything else             404, or 405 for a known path with the wrong HTTP method

Each answer is one write: head and body together. Connections are kept alive (HTTP/1.1;
``connection: close`` is honoured) and requests on one connection are answered in order; a
request that does not parse is answered 400 and its connection closed. ``close(grace)`` stops
accepting, lets calls in progress finish for up to ``grace`` seconds, then closes every
connection and removes the socket file.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import os
import socket
import stat
import time
from collections import deque
from dataclasses import dataclass
from typing import cast

import httptools
import orjson

from runners.wire import protocol
from runners.sidecar.calls import answer, observe
from runners.sidecar.host import ModelHost

__all__ = ["HopServer", "bind_unix"]

logger = logging.getLogger("runners.hop")

_PROBES = (b"/livez", b"/healthz", b"/readyz")
_JSON = protocol.JSON.encode()
_NOT_ALLOWED = {"error": "Method Not Allowed", "type": "MethodNotAllowed"}
Headers = list[tuple[bytes, bytes]]


def bind_unix(path: str) -> socket.socket:
    """A bound Unix socket at ``path``, replacing a stale socket file left by a dead run."""
    if os.path.exists(path) and stat.S_ISSOCK(os.stat(path).st_mode):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, 0o660)
    except OSError:
        sock.close()
        raise
    return sock


def _response(status: int, headers: Headers, body: bytes, *, keep_alive: bool, head_only: bool = False) -> bytes:
    parts = [b"HTTP/1.1 %d %s\r\n" % (status, http.HTTPStatus(status).phrase.encode())]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"content-length: %d\r\n" % len(body))
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    if not head_only:
        parts.append(body)
    return b"".join(parts)


def _json(status: int, body: object, headers: Headers | None = None) -> tuple[int, Headers, bytes]:
    return status, [(b"content-type", _JSON), *(headers or [])], orjson.dumps(body)


@dataclass(slots=True)
class _Request:
    method: bytes
    target: bytes
    headers: Headers
    body: bytes
    keep_alive: bool


class HopServer:
    def __init__(self, host: ModelHost) -> None:
        self.host = host
        self.path: str | None = None
        self.closing = False
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[_Connection] = set()
        self._calls: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self, path: str) -> None:
        sock = bind_unix(path)
        self.path = path
        self._loop = loop = asyncio.get_running_loop()  # kept: each lookup is a getpid call in 3.11
        self._server = await loop.create_unix_server(lambda: _Connection(self), sock=sock)

    async def close(self, grace: float) -> None:
        self.closing = True
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            connection.close_if_idle()
        if self._calls:
            await asyncio.wait(set(self._calls), timeout=grace)
        for connection in list(self._connections):
            connection.abort()
        if self.path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    # -- used by the connections ---------------------------------------------------------------

    def opened(self, connection: _Connection) -> None:
        self._connections.add(connection)

    def closed(self, connection: _Connection) -> None:
        self._connections.discard(connection)

    def serve(self, connection: _Connection) -> None:
        assert self._loop is not None
        task = self._loop.create_task(connection.serve())
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def respond(self, request: _Request) -> tuple[int, Headers, bytes]:
        path = request.target.partition(b"?")[0]
        if path in _PROBES:
            if request.method not in (b"GET", b"HEAD"):
                return _json(405, _NOT_ALLOWED, [(b"allow", b"GET, HEAD")])
            if path != b"/readyz":
                return _json(200, {"status": "alive"})
            if self.host.ready and not self.closing:
                return _json(200, {"status": "ready"})
            state = "draining" if self.closing and self.host.ready else self.host.state
            return _json(503, {"status": state, "error": self.host.error}, [(b"retry-after", b"1")])
        name = path[1:].decode("latin-1")
        if not name or "/" in name:
            return _json(404, {"error": "Not Found", "type": "NotFound"})
        if request.method != b"POST":
            return _json(405, _NOT_ALLOWED, [(b"allow", b"POST")])
        return await answer(self.host, name, request.headers, request.body)


class _Connection(asyncio.Protocol):
    """One client connection: requests parsed by httptools, answered in order by one task at a time."""

    def __init__(self, server: HopServer) -> None:
        self._server = server
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._queue: deque[_Request] = deque()
        self._serving = False
        self._target = b""
        self._headers: Headers = []
        self._body: list[bytes] = []

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        self._server.opened(self)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:  # also an upgrade: not spoken here
            logger.debug("bad request on the runner's socket: %s", exc)
            self._write(_response(*_json(400, {"error": "Bad Request", "type": "InvalidInput"}), keep_alive=False))
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._queue.clear()
        self._server.closed(self)

    # -- httptools callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._target, self._headers, self._body = b"", [], []

    def on_url(self, url: bytes) -> None:
        self._target += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        request = _Request(
            self._parser.get_method(), self._target, self._headers, body, self._parser.should_keep_alive()
        )
        self._queue.append(request)
        if not self._serving:
            self._serving = True
            self._server.serve(self)

    # -- serving -------------------------------------------------------------------------------

    async def serve(self) -> None:
        try:
            while self._queue and self._transport is not None:
                request = self._queue.popleft()
                started = time.perf_counter()
                status, headers, body = await self._server.respond(request)
                keep_alive = request.keep_alive and not self._server.closing
                head_only = request.method == b"HEAD"
                self._write(_response(status, headers, body, keep_alive=keep_alive, head_only=head_only))
                if request.method == b"POST":
                    method = request.target[1:].partition(b"?")[0].decode("latin-1")
                    observe(self._server.host, method, status, started)
                if not keep_alive:
                    self._close()
                    return
        finally:
            self._serving = False

    def close_if_idle(self) -> None:
        if not self._serving:
            self._close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()
