"""The response of a streaming API: a generator's chunks sent as they are made.

``open_stream`` takes the first chunk before anything is sent, under the request's timeout, so
an error or a timeout before it is an ordinary JSON error (500, 504, ...). Then the headers
and that chunk go out at once, and every later chunk as soon as the generator yields it. Each
gap between chunks may last the stream clock's ``idle`` seconds
(``app.middleware.timeout.StreamClock``); a stream that fails or goes quiet after its first
chunk is logged with its request id and ended in its format's way (``app.io.streams``).

When the client goes away the stream stops reading: the generator is closed (``GeneratorExit``
at its ``yield``), or cancelled where it awaits. A sync generator runs one step per chunk in a
worker thread; if a step is still running, it is closed as soon as that step returns.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import AsyncGenerator, Generator
from typing import Any

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.io.base import IODescriptor
from app.io.streams import StreamFormat, stream_format
from app.middleware.timeout import CLOCK_KEY, StreamClock
from app.server.http_errors import ServiceError, Timeout, describe
from runners import tracing
from runners.errors import RunnerError

__all__ = ["StreamingAPIResponse", "TracedStream", "is_stream_function", "open_stream"]

logger = logging.getLogger("tiffin.stream")

_END = object()


def is_stream_function(func: Any) -> bool:
    return inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func)


class _Chunks:
    """One interface over a sync or an async generator: ``next()`` (``_END`` at the end), ``aclose()``."""

    def __init__(self, gen: Generator[Any, Any, Any] | AsyncGenerator[Any, Any]) -> None:
        self._sync = gen if isinstance(gen, Generator) else None
        self._async = gen if isinstance(gen, AsyncGenerator) else None
        if self._sync is None and self._async is None:
            raise TypeError(f"a streaming API must return a generator, not {type(gen).__name__}")
        self._lock = threading.Lock()  # held by the thread running a sync generator's step

    def _step(self, gen: Generator[Any, Any, Any]) -> Any:
        with self._lock:
            return next(gen, _END)

    async def next(self) -> Any:
        if self._sync is not None:
            return await anyio.to_thread.run_sync(self._step, self._sync, abandon_on_cancel=True)
        assert self._async is not None  # noqa: S101 - one of the two, checked in __init__
        try:
            return await self._async.__anext__()
        except StopAsyncIteration:
            return _END

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            if self._async is not None:
                await self._async.aclose()
            elif self._sync is not None and self._lock.acquire(blocking=False):
                try:
                    await anyio.to_thread.run_sync(self._sync.close)
                finally:
                    self._lock.release()
            elif self._sync is not None:  # a step still runs in its thread: close it when that returns
                threading.Thread(target=self._close_later, args=(self._sync,), daemon=True).start()

    def _close_later(self, gen: Generator[Any, Any, Any]) -> None:
        with self._lock:
            try:
                gen.close()
            except Exception:
                logger.exception("closing an abandoned stream failed")


async def open_stream(gen: Any, output: IODescriptor, request: Request) -> StreamingAPIResponse:
    """The response streaming ``gen``; its first chunk is made (and encoded) before this returns."""
    fmt = stream_format(output, request.headers.get("accept"))
    chunks = _Chunks(gen)  # before the first chunk: a mistake here is an ordinary 500
    try:
        first = await chunks.next()
        body = b"" if first is _END else fmt.encode(first)
    except BaseException:
        await chunks.aclose()
        raise
    return StreamingAPIResponse(chunks, body, fmt, finished=first is _END)


class StreamingAPIResponse(Response):
    """A response whose body is sent by ``__call__`` as the chunks come (nothing is rendered up front)."""

    def __init__(self, chunks: _Chunks, first: bytes, fmt: StreamFormat, *, finished: bool = False) -> None:
        self.status_code = 200
        self.media_type = fmt.media_type
        self.background = None
        self.raw_headers = [(b"content-type", fmt.media_type.encode("latin-1")), *fmt.headers]
        self._chunks = chunks
        self._first = first
        self._fmt = fmt
        self._finished = finished

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        clock: StreamClock | None = scope.get("state", {}).get(CLOCK_KEY)
        idle = clock.take_over() if clock is not None else None
        try:
            await send({"type": "http.response.start", "status": 200, "headers": list(self.raw_headers)})
            if self._finished:
                await send({"type": "http.response.body", "body": self._first, "more_body": False})
                return
            async with anyio.create_task_group() as group:

                async def until_disconnect() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    logger.debug("client went away; stream stopped [request_id=%s]", _request_id(scope))
                    group.cancel_scope.cancel()

                group.start_soon(until_disconnect)
                await self._pump(scope, send, clock, idle)
                group.cancel_scope.cancel()
        finally:
            await self._chunks.aclose()

    async def _pump(self, scope: Scope, send: Send, clock: StreamClock | None, idle: float | None) -> None:
        body = self._first
        fmt = self._fmt
        try:
            while True:
                await send({"type": "http.response.body", "body": body, "more_body": True})
                if clock is not None:
                    clock.next_chunk()
                try:
                    with anyio.fail_after(idle):
                        chunk = await self._chunks.next()
                except TimeoutError:
                    raise Timeout(
                        f"The stream made no chunk for {idle:g} s.", detail={"idle_timeout": idle}
                    ) from None
                if chunk is _END:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                body = fmt.encode(chunk)
        except Exception as exc:
            _log_failure(exc, scope)
            if fmt.error is None:
                return  # no in-band end for plain text: the response stays incomplete, the connection is cut
            _, message, detail, _ = describe(exc)
            error: dict[str, Any] = {"error": message}
            if detail is not None:
                error["detail"] = detail
            await send({"type": "http.response.body", "body": fmt.error(error), "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})


def _request_id(scope: Scope) -> Any:
    return scope.get("state", {}).get("request_id")


def _log_failure(exc: Exception, scope: Scope) -> None:
    """One line with the request id; a traceback too when the error is not one of ours."""
    path, rid = scope.get("path"), _request_id(scope)
    if isinstance(exc, (ServiceError, RunnerError)):
        logger.error("stream %s failed after its first chunk: %s [request_id=%s]", path, exc.message, rid)
    else:
        logger.error("stream %s failed after its first chunk [request_id=%s]", path, rid, exc_info=exc)


class TracedStream(Response):
    """A streaming response sent under ``span`` (the API's), which ends with the stream."""

    def __init__(self, inner: StreamingAPIResponse, span: Any) -> None:
        self.status_code = inner.status_code
        self.media_type = inner.media_type
        self.background = None
        self.raw_headers = inner.raw_headers
        self._inner = inner
        self._span = span

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with tracing.use(self._span, end=True):
            await self._inner(scope, receive, send)
