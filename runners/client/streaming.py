"""A streamed call of a runner's generator method: ``RunnerStream``, an async iterator of its values.

    async for token in runner.generate.async_stream(prompt): ...

The request goes out on the first ``__anext__``, on a connection of its own (a stream holds it
for as long as it lasts, so it is never one of the pool's): the same replica choice, deadline
and ``traceparent`` as any call. The answer is a chunked body of frames (``runners.wire.frames``)
read as it arrives: each data frame is one value, an error frame raises that ``RunnerError``,
and a body that ends without the end frame raises ``RunnerUnavailable``. The first value must
come within the call's timeout (and deadline); each next one within the runner's ``timeout``.

Closing the stream (``aclose()``, leaving ``async with``, breaking out of ``async for`` and
dropping it, or cancelling the task reading it) aborts the connection: the sidecar sees the
client go and closes the model's generator.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, cast

import httptools
import orjson

from runners import tracing
from runners.client.balancer import Balancer, Replica
from runners.client.connection import request_bytes
from runners.client.pool import _Origin, split_url
from runners.client.transport import ConnectionLost
from runners.errors import DeadlineExceeded, RunnerError, RunnerUnavailable
from runners.wire import frames, protocol
from runners.wire.values import UnsendableValue

__all__ = ["RunnerStream"]

_HIGH, _LOW = 64, 16  # frames waiting to be read: stop reading the socket above, read again below
_ACCEPT = f"{frames.STREAM}, {protocol.CLIENT_ACCEPT}"


class _StreamConnection(asyncio.Protocol):
    """One HTTP/1.1 exchange whose answer is read frame by frame as it arrives (httptools)."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._head: asyncio.Future[None] = self._loop.create_future()
        self._wake: asyncio.Future[None] | None = None
        self._frames: deque[frames.Frame] = deque()
        self._reader = frames.FrameReader()
        self._paused = False
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []  # an answer other than 200, kept whole
        self.complete = False
        self.failure: Exception | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionLost(f"malformed answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if not self.complete:
            self._fail(ConnectionLost(f"the runner closed the stream{f': {exc}' if exc else ''}"))

    # -- httptools callbacks -------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        if not self._head.done():
            self._head.set_result(None)

    def on_body(self, body: bytes) -> None:
        if self.status != 200:
            self.body.append(body)
            return
        try:
            self._frames.extend(self._reader.feed(body))
        except frames.FrameError as exc:
            self._fail(ConnectionLost(f"malformed stream: {exc}"))
            self.close()
            return
        if len(self._frames) >= _HIGH and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()
        self._wakeup()

    def on_message_complete(self) -> None:
        self.complete = True
        self._wakeup()

    # -- used by the stream --------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        if self._transport is None:
            raise ConnectionLost("the connection is closed")
        self._transport.write(data)

    async def head(self) -> None:
        await self._head

    async def whole(self) -> bytes:
        while not self.complete and self.failure is None:
            await self._wait()
        return b"".join(self.body)

    async def next_frame(self) -> frames.Frame | None:
        """The next frame; ``None`` once the body has ended."""
        while not self._frames:
            if self.failure is not None:
                raise self.failure
            if self.complete:
                return None
            await self._wait()
        frame = self._frames.popleft()
        if self._paused and len(self._frames) <= _LOW and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return frame

    def close(self) -> None:
        if self._transport is not None:
            self._transport.abort()
            self._transport = None

    async def _wait(self) -> None:
        self._wake = self._loop.create_future()
        try:
            await self._wake
        finally:
            self._wake = None

    def _wakeup(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def _fail(self, exc: Exception) -> None:
        if self.failure is None:
            self.failure = exc
        if not self._head.done():
            self._head.set_exception(exc)
        self._wakeup()


async def _connect(origin: _Origin) -> _StreamConnection:
    loop = asyncio.get_running_loop()
    if origin.unix_path is not None:
        _, protocol_ = await loop.create_unix_connection(_StreamConnection, origin.unix_path)
    else:
        _, protocol_ = await loop.create_connection(_StreamConnection, origin.host, origin.port)
    return protocol_


class RunnerStream:
    """The values of one streamed call, in order; see the module's docstring."""

    def __init__(
        self,
        name: str,
        method: str,
        value: Any,
        *,
        balancer: Balancer,
        timeout: float,
        connect_timeout: float,
        deadline: float | None,
    ) -> None:
        self._name = name
        self._method = method
        self._value = value
        self._balancer = balancer
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._deadline = deadline
        self._conn: _StreamConnection | None = None
        self._replica: Replica | None = None
        self._span: Any = None
        self._done = False

    def __aiter__(self) -> RunnerStream:
        return self

    async def __aenter__(self) -> RunnerStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    async def aclose(self) -> None:
        self.close()

    def close(self, error: str | None = None) -> None:
        """Stop: the connection is aborted, so the runner stops generating."""
        self._done = True
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        replica, self._replica = self._replica, None
        if replica is not None:
            replica.inflight -= 1
        span, self._span = self._span, None
        tracing.end(span, error=error)

    def __del__(self) -> None:
        if self._conn is not None:
            self._conn.close()

    async def __anext__(self) -> Any:
        if self._done:
            raise StopAsyncIteration
        try:
            if self._conn is None:
                self._conn = await self._open()
                timeout = self._first_timeout()
            else:
                timeout = self._timeout
            try:
                async with asyncio.timeout(timeout):
                    frame = await self._conn.next_frame()
            except TimeoutError:
                raise DeadlineExceeded(f"Runner {self._name!r} sent no value for {timeout:.3g} s.") from None
            except ConnectionLost as exc:
                raise RunnerUnavailable(f"Runner {self._name!r} cut the stream.", detail=str(exc)) from exc
            if frame is None:
                raise RunnerUnavailable(f"Runner {self._name!r} cut the stream.", detail="no end frame")
            if frame.kind == frames.DATA:
                return frame.value()
            if frame.kind == frames.ERROR:
                raise frame.error()
        except BaseException as exc:
            self.close(error=type(exc).__name__)
            raise
        self.close()
        raise StopAsyncIteration

    # -- opening -------------------------------------------------------------------------------

    def _first_timeout(self) -> float:
        timeout = self._timeout
        if self._deadline is not None:
            timeout = min(timeout, self._deadline - time.time())
            if timeout <= 0:
                raise DeadlineExceeded()
        return timeout

    def _headers(self, media: str) -> dict[str, str]:
        headers = {"content-type": media, "accept": _ACCEPT}
        if self._deadline is not None:
            headers[protocol.DEADLINE_HEADER] = repr(self._deadline)
        if tracing.is_on():
            self._span = tracing.start(
                f"runner {self._name}.{self._method}",
                kind="client",
                attributes={"tiffin.runner": self._name, "tiffin.runner.method": self._method, "tiffin.stream": True},
            )
            tracing.inject(headers, self._span)
        return headers

    async def _open(self) -> _StreamConnection:
        try:
            content, media = protocol.encode_call(self._value)
        except UnsendableValue as exc:
            raise UnsendableValue(exc.reason, exc.path, f"{self._name}.{self._method}() {exc.what}") from None
        headers = self._headers(media)
        await self._balancer.ensure_fresh()
        tried: set[Replica] = set()
        last: Exception | None = None
        while True:
            timeout = self._first_timeout()
            replica = self._balancer.pick(tried)
            if replica is None:
                raise RunnerUnavailable(
                    f"Runner {self._name!r} is unreachable.", detail=f"{self._balancer.urls}: {last}", retry_after=1.0
                )
            origin, target = split_url(f"{replica.url}/{self._method}")
            place = _Origin(origin)
            try:
                async with asyncio.timeout(min(timeout, self._connect_timeout)):
                    conn = await _connect(place)
            except (OSError, TimeoutError) as exc:
                last = exc
                self._balancer.failed(replica)
                tried.add(replica)
                continue
            replica.inflight += 1
            self._replica = replica
            try:
                conn.send(request_bytes("POST", target, replica.host or place.host_header, headers, content))
                async with asyncio.timeout(timeout):
                    await conn.head()
                    if conn.status != 200:
                        raise _refused(conn.status, conn.headers, await conn.whole())
            except TimeoutError:
                conn.close()
                raise DeadlineExceeded(f"Runner {self._name!r} did not answer in time.") from None
            except ConnectionLost as exc:
                conn.close()
                raise RunnerUnavailable(f"Runner {self._name!r} closed the connection.", detail=str(exc)) from exc
            except BaseException:
                conn.close()
                raise
            self._balancer.succeeded(replica)
            return conn


def _refused(status: int, headers: Mapping[str, str], content: bytes) -> RunnerError:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        body = {"error": f"The runner answered {status}.", "detail": content[:200].decode(errors="replace")}
    retry_after: float | None = None
    try:
        retry_after = float(headers["retry-after"]) if "retry-after" in headers else None
    except ValueError:
        retry_after = None
    return RunnerError.from_dict(body, status, retry_after)
