"""Coalescing in the API worker: concurrent calls to one batchable runner method, one request.

Under load an API worker holds many requests for the same runner method at once. Sending each
as its own HTTP request makes both sides pay the hop per row; the runner would batch them
again anyway. A ``Lane`` (one per batchable method, per API worker) works like the runner's own
batcher, without timers:

- while fewer than ``max_inflight`` requests of the method are in flight, a call is sent at once,
  alone (a lone request never waits: at concurrency 1 nothing changes); so is a call that could
  not share a request anyway (``max_rows`` rows or more, or no rows to merge along);
- otherwise it queues; when an in-flight request finishes, or as soon as ``max_rows`` rows are
  waiting, the queued calls that share a layout (``rows.key``) go as one request, up to
  ``max_rows`` rows, and the answer is cut back into each caller's rows (``rows.split``), in
  order, so every caller gets exactly its own rows.

One request in flight at a time (``max_inflight=1``) measured best on a 2-core machine against
one runner process: fewer, fuller requests win when the CPUs are the limit (docs/DESIGN.md,
"Measured"). ``max_inflight`` may be a function, read at each decision: ``Runner`` passes the
number of runner processes it balances over, so each of them has one merged request to batch.

Deadlines: a merged request carries the latest deadline of its callers, so none of them is
dropped early by the runner; a caller whose own deadline passed while it queued is answered
``DeadlineExceeded`` and not sent, and a caller that stops waiting (its request timed out or was
cancelled) leaves the others' request running. Errors: when the runner refuses the request as
a whole (unreachable, overloaded, past the deadline, unknown method) every caller gets that
error; any other failure (an input the model rejects, an exception in the model, an answer that
cannot be split by rows) is retried one caller at a time, so each caller gets its own answer or
its own error, as if it had been sent alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any

from runners import tracing
from runners.errors import (
    DeadlineExceeded,
    RunnerError,
    RunnerOverloaded,
    RunnerUnavailable,
    UnknownMethod,
    UnsupportedMediaType,
)
from runners.wire import rows
from runners.wire.arguments import Arguments
from runners.wire.row_queue import RowQueue

__all__ = ["Lane", "Send"]

logger = logging.getLogger("runners.client.coalesce")

Send = Callable[[Arguments, "float | None"], Awaitable[Any]]
"""``send(call, deadline)``: one request to the runner method, its whole answer."""

_WHOLE_REQUEST = (RunnerUnavailable, RunnerOverloaded, DeadlineExceeded, UnknownMethod, UnsupportedMediaType)


@dataclass(slots=True, eq=False)
class _Call:
    value: Arguments
    rows: int
    key: Hashable
    deadline: float | None
    future: asyncio.Future[Any]
    trace: Any = None  # the caller's span, while tracing is on: the hop's parent or link


class Lane:
    def __init__(
        self,
        send: Send,
        *,
        batch_dim: tuple[int, int] = (0, 0),
        max_rows: int = 64,
        max_inflight: int | Callable[[], int] = 1,
        clock: Callable[[], float] | None = None,
        name: str = "",
    ) -> None:
        self._name = name  # "runner R.M", for the coalesced request's span
        self._send = send
        self._in_dim, self._out_dim = batch_dim
        self._max_rows = max_rows
        self._limit = max_inflight if callable(max_inflight) else (lambda: max_inflight)
        self._now = clock or time.time  # deadlines are on time.time()'s scale
        self._queue: RowQueue[_Call] = RowQueue(max_rows)
        self._inflight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def inflight(self) -> int:
        return self._inflight

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def call(self, value: Arguments, deadline: float | None) -> Any:
        key, count = value.layout(self._in_dim)
        if key is None or count >= self._max_rows or (self._inflight < self._limit() and not self._queue):
            self._inflight += 1
            try:
                return await self._send(value, deadline)
            finally:
                self._inflight -= 1
                self._dispatch()
        call = _Call(value, count, key, deadline, asyncio.get_running_loop().create_future(), tracing.current_span())
        self._queue.append(call)
        self._dispatch()
        return await call.future

    async def aclose(self) -> None:
        """Fail what is queued and wait for the merged requests in flight."""
        for call in self._queue.drain():
            if not call.future.done():
                call.future.set_exception(RunnerUnavailable("The runner client is shutting down."))
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- internals -----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        while self._queue and (self._inflight < self._limit() or self._queue.rows >= self._max_rows):
            group = self._take()
            if not group:
                continue
            self._inflight += 1
            task = asyncio.get_running_loop().create_task(self._run(group))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _take(self) -> list[_Call]:
        """The oldest waiting call and those after it with the same layout, up to ``max_rows`` rows."""
        return self._queue.take(self._now(), _expired)

    async def _run(self, group: list[_Call]) -> None:
        try:
            if len(group) == 1:
                await self._alone(group[0])
            else:
                await self._merged(group)
        finally:
            self._inflight -= 1
            self._dispatch()

    async def _merged(self, group: list[_Call]) -> None:
        values = [call.value for call in group]
        deadlines = [call.deadline for call in group]
        deadline = None if None in deadlines else max(d for d in deadlines if d is not None)
        try:
            merged = Arguments.merge(values, self._in_dim)
            if tracing.is_on():
                with _coalesced(self._name, group):
                    result = await self._send(merged, deadline)
            else:
                result = await self._send(merged, deadline)
            inputs = [value.rows_of(self._in_dim) for value in values]
            parts = rows.split(result, [call.rows for call in group], self._out_dim, inputs)
        except _WHOLE_REQUEST as exc:
            for call in group:
                _fail(call, exc)
        except asyncio.CancelledError:
            for call in group:
                _fail(call, RunnerUnavailable("The runner client is shutting down."))
            raise
        except Exception:  # the model or the split refused the merged rows: each caller on its own
            await asyncio.gather(*(self._alone(call) for call in group))
        else:
            for call, part in zip(group, parts, strict=True):
                if not call.future.done():
                    call.future.set_result(part)

    async def _alone(self, call: _Call) -> None:
        if call.future.done():
            return
        try:
            if call.trace is None:
                result = await self._send(call.value, call.deadline)
            else:
                with tracing.use(call.trace):  # sent from the lane's task, on behalf of this caller
                    result = await self._send(call.value, call.deadline)
        except asyncio.CancelledError:
            _fail(call, RunnerUnavailable("The runner client is shutting down."))
            raise
        except Exception as exc:
            _fail(call, exc)
        else:
            if not call.future.done():
                call.future.set_result(result)


@contextlib.contextmanager
def _coalesced(name: str, group: list[_Call]) -> Iterator[None]:
    """The merged request's span: a child of the oldest caller's, linked both ways with every caller's."""
    traces = [call.trace for call in group]
    hop = tracing.start(
        f"{name} coalesced" if name else "runner call coalesced",
        kind="client",
        parent=traces[0],
        links=traces,
        attributes={"tiffin.coalesced_calls": len(group)},
    )
    for trace in traces[1:]:
        tracing.link(trace, hop)
    with tracing.use(hop, end=True):
        yield


def _expired(call: _Call) -> None:
    call.future.set_exception(DeadlineExceeded())


def _fail(call: _Call, exc: BaseException) -> None:
    if call.future.done():
        return
    if isinstance(exc, _WHOLE_REQUEST) and isinstance(exc, RunnerError):
        exc = exc.copy()  # one exception object per caller: raising a shared one would splice their tracebacks
    call.future.set_exception(exc)
