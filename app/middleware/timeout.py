"""``timeout``: the time to a response's first chunk, then the longest gap between its chunks.

An ordinary response is one chunk: ``first_chunk`` seconds (``server.timeout``) bound the whole
request, and past them the request is answered 504. A streamed response (its body sent in
several messages, ``more_body``) is bounded per chunk instead: each gap between two chunks may
last ``idle`` seconds, however long the whole stream takes; the time the client takes to read
a chunk does not count. A stream that goes quiet after its first chunk cannot become a 504: its
connection is cut. The request's deadline, sent to the runners, moves with the clock.

Time spent waiting for the client is the client's: when the timeout passes while the app waits
in ``receive()`` for more of the body (a body that trickles in, never a gap as long as
``server.body_timeout``), the answer is 408, not 504.

A response of tiffin's own streaming APIs times its gaps itself, to end the stream with an error
event: it takes the clock over (``StreamClock.take_over``), found in ``scope["state"]``.
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.server.http_errors import RequestTimeout, Timeout, error_response
from runners.wire import deadline

CLOCK_KEY = "tiffin.stream_clock"


class StreamClock:
    """The request's timer, as a streaming response sees it."""

    __slots__ = ("first_chunk", "idle", "started", "taken", "_timeout")

    def __init__(self, first_chunk: float, idle: float) -> None:
        self.first_chunk = first_chunk
        self.idle = idle
        self.started = False
        self.taken = False
        self._timeout: asyncio.Timeout | None = None

    def take_over(self) -> float:
        """Stop the middleware's timer: the caller bounds each gap by the ``idle`` seconds returned."""
        self.taken = True
        if self._timeout is not None:
            self._timeout.reschedule(None)
        return self.idle

    def next_chunk(self) -> None:
        """A new gap begins: the runners called for the next chunk get ``idle`` seconds."""
        deadline.move(time.time() + self.idle)

    def _pause(self) -> None:
        if self._timeout is not None:
            self._timeout.reschedule(None)

    def _resume(self) -> None:
        if self._timeout is not None and not self.taken:
            self._timeout.reschedule(asyncio.get_running_loop().time() + self.idle)
            self.next_chunk()


class TimeoutMiddleware:
    def __init__(self, app: ASGIApp, *, seconds: float, idle: float | None = None) -> None:
        self.app = app
        self.seconds = seconds
        self.idle = seconds if idle is None else idle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        clock = StreamClock(self.seconds, self.idle)
        scope.setdefault("state", {})[CLOCK_KEY] = clock
        waiting_for_body = False
        body_done = False

        async def timed_receive() -> Message:
            nonlocal waiting_for_body, body_done
            waiting_for_body = not body_done  # after the body, receive() only listens for a disconnect
            message = await receive()  # the timeout cancels it here: the flag stays up
            waiting_for_body = False
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def timed_send(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                clock.started = True
            elif kind == "http.response.body":
                clock._pause()  # the client's reading time is not the app's gap
                await send(message)
                if message.get("more_body", False):
                    clock._resume()
                return
            await send(message)

        with deadline.scope(time.time() + self.seconds):
            try:
                async with asyncio.timeout(self.seconds) as timer:
                    clock._timeout = timer
                    await self.app(scope, timed_receive, timed_send)
            except TimeoutError:
                if clock.started:
                    raise
                error = RequestTimeout if waiting_for_body else Timeout
                await error_response(error(detail={"timeout": self.seconds}))(scope, receive, send)
