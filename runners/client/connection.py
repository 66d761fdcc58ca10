"""One keep-alive HTTP/1.1 client connection on asyncio, its answers parsed by httptools.

A connection carries one exchange at a time (no pipelining): ``send(request_bytes)`` writes the
whole request in one call and returns a future for the whole answer. httptools (the C parser
uvicorn uses) reads the status line, the headers and a body framed by ``Content-Length`` or
chunked encoding; a body with neither ends when the runner closes the connection. Once an
exchange fails in any way (a lost connection, a malformed answer, a caller that stopped
waiting) the connection is closed and never reused, so a late answer cannot be read as the
answer to the next request.

This is the client side only; ``runners.client.pool`` opens connections and keeps the idle ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import cast

import httptools

from runners.client.transport import ConnectionLost, RawResponse

__all__ = ["Connection", "request_bytes"]


def request_bytes(
    method: str, target: str, host: str, headers: Mapping[str, str] | None, content: bytes | None
) -> bytes:
    """The request head and body, ready to write: ``host`` and ``content-length`` are added here."""
    lines = [f"{method} {target} HTTP/1.1", f"host: {host}"]
    if headers:
        for name, value in headers.items():
            if "\n" in value or "\r" in value:
                raise ValueError(f"header {name!r} holds a line break")
            if name != "host":
                lines.append(f"{name}: {value}")
    if content is not None:
        lines.append(f"content-length: {len(content)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + content if content else head


class Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[RawResponse] | None = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._headers_done = False
        self.closed = False
        self.idle_since = 0.0

    # -- used by the pool ----------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._waiter is not None

    def send(self, data: bytes) -> asyncio.Future[RawResponse]:
        """Write one whole request; the future gets the answer, or ``ConnectionLost``."""
        if self.closed or self._transport is None or self._loop is None or self._waiter is not None:
            raise ConnectionLost("the connection is closed or busy")
        self._waiter = waiter = self._loop.create_future()
        self._headers, self._body, self._headers_done = {}, [], False
        self._transport.write(data)
        return waiter

    def close(self) -> None:
        """Close at once (nothing is flushed: a half-done exchange is abandoned)."""
        self.closed = True
        if self._transport is not None:
            self._transport.abort()
        self._fail("the connection was closed")

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        self._loop = asyncio.get_running_loop()  # once: in Python 3.11 each lookup is a getpid call

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # nothing was asked: the runner is not speaking HTTP to us
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(f"malformed answer: {exc}")
            self.close()

    def eof_received(self) -> bool | None:
        return None  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done() and self._headers_done and self._ends_at_eof():
            self._finish()
            return
        self._fail(f"the runner closed the connection{f': {exc}' if exc else ''}")

    # -- httptools callbacks -------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if not self._parser.should_keep_alive():
            self.closed = True
            if self._transport is not None:
                self._transport.close()
        self._finish()

    # -- internals -----------------------------------------------------------------------------

    def _ends_at_eof(self) -> bool:
        return "content-length" not in self._headers and "transfer-encoding" not in self._headers

    def _finish(self) -> None:
        waiter, self._waiter = self._waiter, None
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        response = RawResponse(self._parser.get_status_code(), self._headers, body)
        self._body = []
        if waiter is not None and not waiter.done():
            waiter.set_result(response)

    def _fail(self, reason: str) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectionLost(reason))
