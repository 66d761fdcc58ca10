"""The sidecar's Unix socket: a small HTTP/1.1 server for the hop from API workers on this machine.

uvicorn serves the sidecar over TCP: probes, ``/metrics`` for Prometheus, ``/info``, and calls
from API workers elsewhere. ``tiffin serve`` points the API workers it starts at a Unix socket
instead, served by this module, because the hop is on every request's path and this server costs
about a third of uvicorn's CPU per request: no task and ASGI scope per request, the answer's head
and body in one write, so the caller wakes once (measured in docs/DESIGN.md, "The runner hop").

It answers what uvicorn answers, through the same ``runners.sidecar.routes.Routes``. Connections
are kept alive (HTTP/1.1; ``connection: close`` is honoured) and requests on one connection are
answered in order; a request that does not parse is answered 400 and its connection closed.
``close(grace)`` stops accepting, lets calls in progress finish for up to ``grace`` seconds, then
closes every connection and removes the socket file.
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

from runners.sidecar.calls import Answer, Headers, observe
from runners.sidecar.routes import Routes, call_name
from runners.sidecar.streams import StreamAnswer
from runners.wire import protocol

__all__ = ["UnixServer", "bind_unix"]

logger = logging.getLogger("runners.sidecar.unix")

_BAD_REQUEST: Answer = (
    400,
    [(b"content-type", protocol.JSON.encode())],
    orjson.dumps({"error": "Bad Request", "type": "InvalidInput"}),
)


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


def _head(status: int, headers: Headers, *, keep_alive: bool) -> bytes:
    """The head of a chunked answer (a stream)."""
    parts = [b"HTTP/1.1 %d %s\r\n" % (status, http.HTTPStatus(status).phrase.encode())]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"transfer-encoding: chunked\r\n")
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


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


@dataclass(slots=True)
class _Request:
    method: bytes
    target: bytes
    headers: Headers
    body: bytes
    keep_alive: bool


class UnixServer:
    def __init__(self, routes: Routes) -> None:
        self.routes = routes
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
        loop = self._loop or asyncio.get_running_loop()
        task = connection.task = loop.create_task(connection.serve())
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)


class _Connection(asyncio.Protocol):
    """One client connection: requests parsed by httptools, answered in order by one task at a time."""

    def __init__(self, server: UnixServer) -> None:
        self._server = server
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._queue: deque[_Request] = deque()
        self._serving = False
        self._target = b""
        self._headers: Headers = []
        self._body: list[bytes] = []
        self._writable = asyncio.Event()
        self._writable.set()
        self._streaming = False
        self.task: asyncio.Task[None] | None = None  # the one serving this connection's requests

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        self._server.opened(self)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:  # also an upgrade: not spoken here
            logger.debug("bad request on the runner's socket: %s", exc)
            self._write(_response(*_BAD_REQUEST, keep_alive=False))
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._queue.clear()
        self._writable.set()
        if self._streaming and self.task is not None:
            self.task.cancel()  # the model step being awaited is abandoned; the generator is closed
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
                path = request.target.partition(b"?")[0].decode("latin-1")
                routes = self._server.routes
                answer = await routes.respond(request.method, path, request.headers, request.body)
                keep_alive = request.keep_alive and not self._server.closing
                if isinstance(answer, StreamAnswer):
                    status = answer.status
                    await self._stream(answer, keep_alive=keep_alive)
                else:
                    status, headers, body = answer
                    head_only = request.method == b"HEAD"
                    self._write(_response(status, headers, body, keep_alive=keep_alive, head_only=head_only))
                name = call_name(path)
                if request.method == b"POST" and name is not None:
                    observe(routes.host, name, status, started)
                if not keep_alive:
                    self._close()
                    return
        finally:
            self._serving = False

    async def _stream(self, answer: StreamAnswer, *, keep_alive: bool) -> None:
        """A chunked answer, a frame per chunk; stopped (and the frames closed) when the client goes away."""
        self._write(_head(answer.status, answer.headers, keep_alive=keep_alive))
        self._streaming = True
        try:
            async for frame in answer.frames:
                if self._transport is None:
                    return
                self._write(b"%x\r\n%s\r\n" % (len(frame), frame))
                await self._writable.wait()  # the client reads slower than the model makes values
            self._write(b"0\r\n\r\n")
        finally:
            self._streaming = False
            await answer.frames.aclose()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

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
