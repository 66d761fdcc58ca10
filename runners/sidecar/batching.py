"""Adaptive batching: concurrent calls to one runner method become one model call.

Each method has a ``Batcher`` (a queue and one dispatcher task on the event loop); all methods of
a runner share one ``ModelWorker``, a single thread, so one model copy runs one batch at a time
and the event loop stays free for probes and metrics while it does. A batch expected to take
less than ``INLINE_BELOW`` runs on the event loop itself when the model is not thread-affine
(``Runnable.THREAD_AFFINE = False``, e.g. scikit-learn): the hand-off to the model thread and
back costs some 70 µs of CPU and two context switches, as much as a small model's whole predict.
The bound is 2 ms: a 100-row iris batch (0.5–0.7 ms) then stays on the loop, which measured
~20% less CPU per request for 100-row bodies (py-spy: the hand-off's future callbacks were 8% of
the runner), while probes wait at most a couple of milliseconds behind a batch.

When to dispatch. While the model is busy, requests pile up and go together as the next batch.
When it is idle, the dispatcher waits for more requests only while that can pay off: the
expected gap to the next arrival (EWMA of inter-arrival times, and at least the last gap) must be
shorter than the expected cost of running a batch (EWMA of inference time) and fit in what is
left of ``max_latency_ms`` for the oldest request. So a lone request on a quiet runner runs at
once, and under load batches grow to what the arrival rate and model cost justify, never past
``max_batch_size`` rows (a single caller with more rows runs alone). A call to a quick
thread-free model that finds it idle and nobody queued runs on the spot, in the caller's own
task, skipping the dispatcher, unless calls have been arriving faster than the model computes
(then they go through the queue, to be batched).

Requests whose caller's deadline passed are dropped before they are computed; a full queue
(``max_queue`` requests) is refused at once. If a merged batch fails, its requests are retried
one by one so a bad input fails only its own caller.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from runners import tracing
from runners.errors import DeadlineExceeded, InvalidInput, Raised, RunnerError, RunnerOverloaded, RunnerUnavailable
from runners.runnable import MethodConfig
from runners.spec import BatchingOptions
from runners.wire import rows
from runners.wire.arguments import Arguments
from runners.wire.row_queue import RowQueue

logger = logging.getLogger("runners.sidecar.batching")

T = TypeVar("T")

_ALPHA = 0.2  # weight of the newest sample in the moving averages
_SCAN_LIMIT = 4  # look at most this many times max_batch_size queued requests to fill a batch
INLINE_BELOW = 0.002  # seconds: a batch expected to be quicker runs on the event loop (if allowed)


class BatchObserver(Protocol):
    def queued(self, depth: int) -> None: ...
    def rejected(self, reason: str) -> None: ...
    def batch(self, rows: int, waits: Sequence[float], duration: float) -> None: ...


class ModelWorker:
    """The one thread that runs model code for a runner."""

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"tiffin-model-{name}")
        self.lock = asyncio.Lock()  # held by the dispatcher whose batch the model runs

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def later(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn`` on the model thread once what is queued there is done; nobody waits for it."""
        try:
            self._executor.submit(fn, *args)
        except RuntimeError:  # shut down: the process is stopping
            pass

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class Ewma:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: float | None = None

    def add(self, sample: float) -> None:
        self.value = sample if self.value is None else self.value + _ALPHA * (sample - self.value)


@dataclass(slots=True, eq=False)
class _Pending:
    value: Arguments
    rows: int
    key: Hashable | None
    deadline: float | None
    enqueued: float
    future: asyncio.Future[Any]
    trace: Any = None  # the request's span, while tracing is on


def as_runner_error(exc: BaseException) -> RunnerError:
    """The error a caller gets for ``exc``, carrying what was raised (its type and message)."""
    if isinstance(exc, RunnerError):
        return exc
    if isinstance(exc, ValueError | TypeError | KeyError | IndexError):
        return InvalidInput(detail=f"{type(exc).__name__}: {exc}"[:1000], raised=Raised.of(exc))
    return RunnerError(detail=type(exc).__name__, raised=Raised.of(exc))


def _fresh(err: RunnerError) -> RunnerError:
    """One exception object per waiting caller; raising a shared one would splice their tracebacks."""
    return err.copy()


class Batcher:
    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        config: MethodConfig,
        options: BatchingOptions,
        worker: ModelWorker,
        observer: BatchObserver | None = None,
        name: str = "",
        inline: bool = False,
    ) -> None:
        self._fn = fn
        self._may_inline = inline
        self._in_dim, self._out_dim = config.batch_dim
        self._batching = config.batchable and options.enabled
        self._max_rows = options.max_batch_size if self._batching else 1
        self._max_latency = options.max_latency_ms / 1000.0 if self._batching else 0.0
        self._max_queue = options.max_queue
        self._worker = worker
        self._observer = observer
        self._name = name
        self._queue: RowQueue[_Pending] = RowQueue(self._max_rows, scan_limit=_SCAN_LIMIT * self._max_rows)
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._last_arrival: float | None = None
        self._last_gap = 0.0
        self.gap = Ewma()
        self.cost = Ewma()  # a batch from hand-off to result: what waiting for the model costs
        self.compute = Ewma()  # the model's own time per batch: whether to run it on the loop

    @property
    def depth(self) -> int:
        return len(self._queue)

    async def submit(self, value: Arguments, deadline: float | None = None) -> Any:
        """Queue one call and wait for its own part of the batch result."""
        if self._closed:
            raise RunnerUnavailable("The runner is shutting down.")
        if deadline is not None and deadline <= time.time():
            self._reject("deadline")
            raise DeadlineExceeded()
        if len(self._queue) >= self._max_queue:
            self._reject("queue_full")
            raise RunnerOverloaded(detail={"max_queue": self._max_queue}, retry_after=1.0)
        key, count = value.layout(self._in_dim) if self._batching else (None, 0)
        count = count if key is not None else 1
        now = time.monotonic()
        if self._last_arrival is not None:
            self._last_gap = now - self._last_arrival
            self.gap.add(self._last_gap)
        self._last_arrival = now
        if not self._queue and self._runs_inline() and not self._worker.lock.locked() and self._sparse():
            return self._run_now(value, count, now)
        future = asyncio.get_running_loop().create_future()
        item = _Pending(value, count, key, deadline, now, future, tracing.current_span())
        self._queue.append(item)
        self._depth_changed()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._dispatch_forever())
        self._arrived.set()
        return await item.future

    def _runs_inline(self) -> bool:
        compute = self.compute.value
        return self._may_inline and compute is not None and compute < INLINE_BELOW

    def _sparse(self) -> bool:
        """Whether calls arrive further apart than the model takes: none would join a batch."""
        gap, compute = self.gap.value, self.compute.value
        return gap is None or compute is None or gap >= compute

    def _run_now(self, value: Arguments, count: int, arrived: float) -> Any:
        """A call that finds the model idle and nobody queued, run on the spot (see ``INLINE_BELOW``).

        Nothing can join it: the loop does not run until it is done. This skips the hand-off to
        the dispatcher task and back, which is most of what a lone call on a quick model costs.
        """
        start = time.monotonic()
        batch = self._trace_batch([tracing.current_span()], [arrived], start, count) if tracing.is_on() else None
        try:
            (result,) = self._run([value], batch)
        except Exception as exc:
            self._note(count, [start - arrived], start)
            raise self._failure(exc) from None
        self._note(count, [start - arrived], start)
        return result

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._fail_all(RunnerUnavailable("The runner is shutting down."))

    def _fail_all(self, err: RunnerError) -> None:
        for item in self._queue.drain():
            if not item.future.done():
                item.future.set_exception(_fresh(err))
        self._depth_changed()

    async def _dispatch_forever(self) -> None:
        while True:
            if not self._queue:
                self._arrived.clear()
                await self._arrived.wait()
                continue
            try:
                async with self._worker.lock:
                    await self._gather()
                    batch = self._take()
                    if batch:
                        await self._execute(batch)
            except Exception:  # a bug here must not leave callers waiting forever
                logger.exception("batcher %s failed; failing its queue", self._name)
                self._fail_all(RunnerError(detail="batcher failure"))

    async def _gather(self) -> None:
        """Hold the queued requests while another arrival is expected soon enough to pay off."""
        while self._queue and self._max_latency > 0:
            cost, gap = self.cost.value, self.gap.value
            if self._queue.rows >= self._max_rows or cost is None or gap is None:
                return
            gap = max(gap, self._last_gap)
            budget = self._queue.oldest().enqueued + self._max_latency - time.monotonic()
            if gap >= cost or gap >= budget:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout=min(budget, 2 * gap))
            except TimeoutError:
                return

    def _take(self) -> list[_Pending]:
        batch = self._queue.take(time.time(), self._expired)
        self._depth_changed()
        return batch

    def _expired(self, item: _Pending) -> None:
        self._reject("deadline")
        item.future.set_exception(DeadlineExceeded())

    async def _execute(self, batch: list[_Pending]) -> None:
        start = time.monotonic()
        waits = [start - item.enqueued for item in batch]
        values = [item.value for item in batch]
        span = None
        if tracing.is_on():
            traces = [item.trace for item in batch]
            span = self._trace_batch(traces, [item.enqueued for item in batch], start, sum(i.rows for i in batch))
        try:
            if self._runs_inline():
                results = self._run(values, span)
            else:
                results = await self._worker.run(self._run, values, span)
        except asyncio.CancelledError:
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(RunnerUnavailable("The runner is shutting down."))
            raise
        except Exception as exc:
            self._note(sum(item.rows for item in batch), waits, start)
            if len(batch) > 1:
                for item in batch:
                    await self._execute([item])
                return
            self._fail(batch[0], exc)
            return
        self._note(sum(item.rows for item in batch), waits, start)
        for item, result in zip(batch, results, strict=True):
            if not item.future.done():
                item.future.set_result(result)

    def _run(self, values: list[Arguments], batch: Any = None) -> list[Any]:
        """One batch, one result per call; the model's own time (not the hand-off) goes into ``compute``.

        ``batch`` is the batch's span while tracing is on: it ends here, after the model's own span.
        """
        started = time.perf_counter()
        try:
            if batch is None:
                return self._compute(values)
            with tracing.use(batch, end=True), tracing.span(f"model {self._name}"):
                return self._compute(values)
        finally:
            self.compute.add(time.perf_counter() - started)

    def _compute(self, values: list[Arguments]) -> list[Any]:
        if len(values) == 1:
            call = values[0]
            return [self._fn(*call.args, **call.kwargs) if call.kwargs else self._fn(*call.args)]
        dim = self._in_dim
        counts = [v.count(dim) for v in values]
        merged = Arguments.merge(values, dim)
        result = self._fn(*merged.args, **merged.kwargs)
        return rows.split(result, counts, self._out_dim, [v.rows_of(dim) for v in values])

    def _trace_batch(self, traces: list[Any], enqueued: list[float], start: float, count: int) -> Any:
        """Each request's queue wait (a span per request), and the batch's span, linked to every request."""
        for trace, arrived in zip(traces, enqueued, strict=True):
            tracing.interval(f"queue {self._name}", parent=trace, started=arrived, ended=start)
        attributes = {"tiffin.batch.requests": len(traces), "tiffin.batch.rows": count}
        return tracing.start(f"batch {self._name}", parent=traces[0], links=traces, attributes=attributes)

    def _note(self, rows: int, waits: list[float], start: float) -> None:
        duration = time.monotonic() - start
        self.cost.add(duration)
        if self._observer is not None:
            self._observer.batch(rows, waits, duration)

    def _failure(self, exc: Exception) -> RunnerError:
        """The error a caller gets for ``exc`` from the model; unexpected kinds are logged."""
        if not isinstance(exc, RunnerError | ValueError | TypeError | KeyError | IndexError):
            logger.error("runner method %s failed", self._name, exc_info=exc)
        return _fresh(as_runner_error(exc))

    def _fail(self, item: _Pending, exc: Exception) -> None:
        err = self._failure(exc)
        if not item.future.done():
            item.future.set_exception(err)

    def _reject(self, reason: str) -> None:
        if self._observer is not None:
            self._observer.rejected(reason)

    def _depth_changed(self) -> None:
        if self._observer is not None:
            self._observer.queued(len(self._queue))
