"""Limits on what one HTTP/1.1 connection may cost before the app sees a request.

uvicorn's httptools protocol waits forever for a request head, and for a body that stops
coming, and takes a head of any size: llhttp has no limit, and httptools gathers an unfinished
header in memory as it arrives. ``LimitedHttpToolsProtocol`` adds, from ``server.*`` in the
YAML:

- ``header_timeout``: from the connection, or from the end of the previous answer, the client
  has this long to send a whole request head. Past it: 408 and close if some of a head came,
  a plain close if nothing did (an idle connection is not a request to answer).
- ``body_timeout``: the longest gap between two reads of a request body. Past it: 408 if the app
  has not started its answer (the app's ``receive()`` then gets ``http.disconnect`` and what it
  sends is dropped), else the connection is cut.
- ``max_header_size``: bytes of one request head; more is 431, an over-long URL alone 414.
  Counted as bytes arrive, so an endless header line is refused at the limit, not kept.
- ``max_headers``: header lines of one request; more is 431.

Trailers of a chunked body are header lines too, and httptools gathers them in memory the same
way: what a body's reads bring beyond the body itself (chunk lines and trailers) may be
``max_header_size`` plus ``FRAMING_PER_CHUNK`` bytes a chunk; more is 431.

A response that begins while its request body is still coming (a 413 for a declared 2 GB) says
``connection: close`` and ends the connection, instead of reading the rest of the body to keep
it alive. Refusals are the app's JSON errors (``{"error": ...}``) with ``connection: close``.
Either way the connection closes lingering: the answer and a FIN go out, and what the client
still sends is read and dropped for up to ``LINGER_SECONDS`` or ``LINGER_BYTES``, so a client
that writes before it reads gets the answer instead of a reset (the kernel resets a socket
closed with unread data).

Timers are deadlines on the event loop. A connection gets one for its first head; after that
they are armed only when a head or a body is left unfinished at the end of a read, so an
ordinary keep-alive request, which arrives in one read, makes none, and a chunk of body moves
the deadline without remaking the timer.
"""

from __future__ import annotations

import logging
from asyncio import TimerHandle
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from app.process.http_protocol import CoalescingHttpToolsProtocol
from app.server.http_errors import error_body

__all__ = ["Limits", "LimitedHttpToolsProtocol"]

log = logging.getLogger("tiffin.http")

LINGER_SECONDS = 2.0
LINGER_BYTES = 16 * 1024 * 1024
FRAMING_PER_CHUNK = 64  # a chunk's size line and CRLFs, with room for a short extension


@dataclass(frozen=True)
class Limits:
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_header_size: int = 32 * 1024
    max_headers: int = 100
    # what an early answer still reads and drops; the worker sets max_request_size + LINGER_BYTES,
    # so a client that writes a body just over the limit before it reads gets its 413, not a reset
    linger_bytes: int = LINGER_BYTES


class Refused(Exception):
    """Raised in a parser callback to stop the parser; ``send_400_response`` answers it."""

    def __init__(self, status: int, message: str, detail: dict[str, Any]) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail


_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 414: b"URI Too Long", 431: b"Request Header Fields Too Large"}


def error_bytes(status: int, message: str, detail: Any = None) -> bytes:
    body = error_body(message, detail)
    head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
    return head % (status, _REASONS[status], len(body)) + body


class LingeringClose:
    """A transport whose ``close()`` is the protocol's lingering close; the rest is the real one's."""

    __slots__ = ("_close", "_transport")

    def __init__(self, transport: Any, close: Callable[[], None]) -> None:
        self._transport = transport
        self._close = close

    def close(self) -> None:
        self._close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class LimitedHttpToolsProtocol(CoalescingHttpToolsProtocol):
    limits = Limits()

    @classmethod
    def with_limits(cls, limits: Limits) -> type[LimitedHttpToolsProtocol]:
        """This protocol with other limits (uvicorn takes a class and makes one per connection)."""
        return type(cls.__name__, (cls,), {"limits": limits})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refusal: Refused | None = None
        self._in_head = True  # the next bytes belong to a request head
        self._head_begun = False  # some of that head came
        self._heads = 0  # heads completed, to tell whether one ended inside a chunk
        self._head_bytes = 0  # raw bytes of the unfinished head
        self._head_size = 0  # URL and header bytes the parser gave us
        self._header_count = 0
        self._head_timer: TimerHandle | None = None
        self._body_timer: TimerHandle | None = None
        self._head_since = 0.0  # the head deadline counts from here: connected, or last answered
        self._body_deadline = 0.0
        self._linger_timer: TimerHandle | None = None
        self._lingered = -1  # bytes dropped while closing; -1: not closing
        self._unfinished: RequestResponseCycle | None = None  # the last request whose body took more reads
        self._framing = 0  # bytes of the body's reads that were not body: chunk lines, trailers
        self._chunks = 0
        self._fed_body = 0  # body bytes the parser gave us during the current read

    # -- connection ---------------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._head_since = self.loop.time()
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        self._cancel_timers()
        super().handle_websocket_upgrade()

    def data_received(self, data: bytes) -> None:
        if self._lingered >= 0:
            self._lingered += len(data)
            if self._lingered > self.limits.linger_bytes:
                self.transport.close()
            return
        was_in_head, heads = self._in_head, self._heads
        if self._in_head and data:
            self._head_begun = True
        self._fed_body = 0
        self._feed(data)
        if self.transport.is_closing() or self._lingered >= 0:
            return
        if not self._in_head:
            if not was_in_head and heads == self._heads:  # the whole read was this body's
                self._framing += len(data) - self._fed_body
                if self._framing > self.limits.max_header_size + FRAMING_PER_CHUNK * self._chunks:
                    limit = self.limits.max_header_size
                    message = "The request's chunk lines and trailers are larger than the server accepts."
                    self._refuse(Refused(431, message, {"max_header_size": limit}))
                    return
            cycle = self.cycle
            if cycle is not None and cycle.more_body and cycle is not self._unfinished:
                # the head's read left the body unfinished; the app's task has not started yet
                self._unfinished = cycle
                cycle.send = self._closing_if_unread(cycle)  # type: ignore[method-assign, assignment]
                self._body_timer = self.loop.call_at(self._body_deadline, self._body_timed_out)
            return
        if self._head_begun and self._head_timer is None and self._idle():
            self._arm_head_timer()
        if was_in_head and heads == self._heads:  # the whole chunk was head (else part was a body)
            self._head_bytes += len(data)
        if self._head_bytes > self.limits.max_header_size:
            self._refuse(self._head_too_large(in_url=self._header_count == 0 and self._head_size > 0))

    def _feed(self, data: bytes) -> None:
        """uvicorn's ``data_received``, without its warning for what we refuse ourselves."""
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError as exc:
            if self._refusal is None:
                log.warning("Invalid HTTP request received: %s", exc)
            self.send_400_response(str(exc))

    def send_400_response(self, msg: str) -> None:
        refusal, self._refusal = self._refusal, None
        if refusal is None:
            refusal = Refused(400, "The request is not valid HTTP/1.1.", {"reason": msg})
        self._refuse(refusal)

    # -- parser callbacks ---------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_begun = True
        self._head_bytes = self._head_size = self._header_count = 0
        self._framing = self._chunks = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._head_size += len(url)
        if self._head_size > self.limits.max_header_size:
            self._stop(self._head_too_large(in_url=True))

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._header_count += 1
        self._head_size += len(name) + len(value) + 4
        if self._header_count > self.limits.max_headers:
            limit = self.limits.max_headers
            self._stop(Refused(431, "The request has too many header lines.", {"max_headers": limit}))
        if self._head_size > self.limits.max_header_size:
            self._stop(self._head_too_large(in_url=False))

    def on_headers_complete(self) -> None:
        self._in_head = self._head_begun = False
        self._heads += 1
        self._cancel(self._head_timer)
        self._head_timer = None
        super().on_headers_complete()
        self._body_deadline = self.loop.time() + self.limits.body_timeout  # armed if the body lingers

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._fed_body += len(body)
        self._body_deadline = self.loop.time() + self.limits.body_timeout

    def on_chunk_header(self) -> None:
        self._chunks += 1

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._cancel(self._body_timer)
        self._body_timer = None

    def on_response_complete(self) -> None:
        if self._lingered >= 0:  # the answer closed the connection (_closing_if_unread)
            self.server_state.total_requests += 1
            return
        super().on_response_complete()
        if not self.transport.is_closing() and self._idle():
            self._head_since = self.loop.time()
            if self._head_begun:  # a pipelined head began while we answered
                self._arm_head_timer()

    def _closing_if_unread(self, cycle: RequestResponseCycle) -> Callable[[ASGISendEvent], Awaitable[None]]:
        """``cycle.send``, but an answer begun before its request body came says ``connection: close``
        and closes lingering: reading the rest (of a declared 2 GB, say) to keep the connection would
        cost what the client cares to send."""
        send = cycle.send

        async def closing_send(message: ASGISendEvent) -> None:
            if message["type"] == "http.response.start" and cycle.more_body and not cycle.disconnected:
                headers = [*message.get("headers", ()), (b"connection", b"close")]
                message = {**message, "headers": headers}
                cycle.transport = LingeringClose(cycle.transport, self._close_lingering)  # type: ignore[assignment]
            await send(message)

        return closing_send

    # -- timers -------------------------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        self._cancel(self._head_timer)
        self._head_timer = self.loop.call_at(self._head_since + self.limits.header_timeout, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not self._idle():
            return
        if not self._head_begun:
            self.transport.close()  # an idle connection: nothing to answer
            return
        timeout = self.limits.header_timeout
        log.info("request head not complete after %.3g s (server.header_timeout): 408", timeout)
        self._refuse(Refused(408, "The request head did not arrive in time.", {"header_timeout": timeout}))

    def _body_timed_out(self) -> None:
        self._body_timer = None
        cycle = self.cycle
        if self.transport.is_closing() or cycle is None or not cycle.more_body:
            return
        now = self.loop.time()
        if self.flow.read_paused:  # we hold the body back (the app is not reading): not the client's gap
            self._body_deadline = now + self.limits.body_timeout
        if now < self._body_deadline:
            self._body_timer = self.loop.call_at(self._body_deadline, self._body_timed_out)
            return
        timeout = self.limits.body_timeout
        log.info("request body silent for %.3g s (server.body_timeout): 408", timeout)
        self._refuse(Refused(408, "The request body stopped arriving.", {"body_timeout": timeout}))

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer, self._linger_timer):
            self._cancel(timer)
        self._head_timer = self._body_timer = self._linger_timer = None

    @staticmethod
    def _cancel(timer: TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()

    # -- refusing -----------------------------------------------------------------------------

    def _head_too_large(self, *, in_url: bool) -> Refused:
        limit = self.limits.max_header_size
        if in_url:
            return Refused(414, "The request URL is longer than the server accepts.", {"max_header_size": limit})
        return Refused(431, "The request head is larger than the server accepts.", {"max_header_size": limit})

    def _stop(self, refusal: Refused) -> None:
        """From a parser callback: the parser stops with an error, and uvicorn calls send_400_response."""
        self._refusal = refusal
        raise refusal

    def _refuse(self, refusal: Refused) -> None:
        """Answer ``refusal`` and close.

        About the body of the request in flight (a timeout, its trailers), the app's ``receive()``
        gets ``http.disconnect`` and what it sends is dropped; if it began its answer, the
        connection is only cut. With answers still owed to earlier requests (pipelined), only cut:
        no answers interleaved."""
        if self.transport.is_closing() or self._lingered >= 0:
            return
        cycle = self.cycle
        if self.pipeline or (cycle is not None and not cycle.response_complete and not cycle.more_body):
            self._cancel_timers()
            self.transport.close()
            return
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True
            cycle.message_event.set()
            if cycle.response_started:
                self._close_lingering()
                return
        self.transport.write(error_bytes(refusal.status, refusal.message, refusal.detail))
        self._close_lingering()

    def _close_lingering(self) -> None:
        self._cancel_timers()
        if self.transport.is_closing() or self._lingered >= 0:
            return
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self._lingered = 0
        self.flow.resume_reading()
        self.transport.write_eof()  # the answer, then our FIN; the client's end closes it, or the timer
        self._linger_timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)
