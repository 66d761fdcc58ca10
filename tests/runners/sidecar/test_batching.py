import asyncio
import random
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import pytest

from runners.errors import DeadlineExceeded, InvalidInput, RunnerError, RunnerOverloaded, RunnerUnavailable
from runners.runnable import MethodConfig
from runners.sidecar.batching import INLINE_BELOW, Batcher, ModelWorker
from runners.spec import BatchingOptions

T = TypeVar("T")
BATCHABLE = MethodConfig.make(True, 0)


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


class Model:
    """Doubles its input; records the rows of every batch; can be held at a gate."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.batches: list[int] = []
        self.seen: list[Any] = []
        self.gate = threading.Event()
        self.gate.set()
        self.active = 0
        self.most_active = 0

    def __call__(self, x: Any) -> Any:
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            self.batches.append(len(x))
            self.seen.append(x)
            self.gate.wait(10)
            if self.delay:
                time.sleep(self.delay)
            if (np.asarray(x) < 0).any():
                raise ValueError("negative input")
            return x * 2
        finally:
            self.active -= 1


class Recorder:
    def __init__(self) -> None:
        self.depths: list[int] = []
        self.rejections: list[str] = []
        self.batches: list[tuple[int, int, float]] = []

    def queued(self, depth: int) -> None:
        self.depths.append(depth)

    def rejected(self, reason: str) -> None:
        self.rejections.append(reason)

    def batch(self, rows: int, waits: Sequence[float], duration: float) -> None:
        self.batches.append((rows, len(waits), duration))


def make(
    fn: Callable[[Any], Any], config: MethodConfig = BATCHABLE, worker: ModelWorker | None = None, **options: Any
) -> tuple[Batcher, Recorder]:
    recorder = Recorder()
    batcher = Batcher(
        fn,
        config=config,
        options=BatchingOptions(**options),
        worker=worker or ModelWorker("test"),
        observer=recorder,
    )
    return batcher, recorder


async def started(model: Model, calls: int = 1) -> None:
    while len(model.batches) < calls:
        await asyncio.sleep(0.001)


def test_concurrent_calls_are_merged_and_split_back_exactly() -> None:
    model = Model(delay=0.005)
    batcher, recorder = make(model, max_batch_size=64, max_latency_ms=10)
    rng = random.Random(7)
    inputs = [np.array([[i, r, rng.random()] for r in range(rng.randint(1, 5))]) for i in range(60)]

    async def main() -> list[Any]:
        return await asyncio.gather(*(batcher.submit(x) for x in inputs))

    results = run(main())
    for x, result in zip(inputs, results, strict=True):
        assert np.array_equal(result, x * 2)  # every row of every caller, in order
    assert sum(model.batches) == sum(len(x) for x in inputs)
    assert len(model.batches) < len(inputs)
    assert max(model.batches) <= 64
    assert sum(rows for rows, _, _ in recorder.batches) == sum(model.batches)
    assert sum(callers for _, callers, _ in recorder.batches) == len(inputs)


def test_no_batch_exceeds_max_batch_size_and_a_bigger_caller_runs_alone() -> None:
    model = Model()
    batcher, _ = make(model, max_batch_size=4, max_latency_ms=10)

    async def main() -> list[Any]:
        model.gate.clear()
        first = asyncio.ensure_future(batcher.submit(np.zeros((1, 2))))
        await started(model)
        rest = [batcher.submit(np.full((n, 2), n)) for n in (3, 2, 10, 1, 2, 3)]
        pending = asyncio.gather(first, *rest)
        await asyncio.sleep(0.01)
        model.gate.set()
        return await pending

    results = run(main())
    assert [len(r) for r in results] == [1, 3, 2, 10, 1, 2, 3]
    assert all(np.all(r == 2 * len(r)) for r in results[1:])
    assert 10 in model.batches
    assert all(size <= 4 for size in model.batches if size != 10)
    big = [x for x in model.seen if len(x) == 10]
    assert len(big) == 1 and np.all(big[0] == 10)  # alone, not merged with anyone


def test_a_lone_request_is_not_held_when_waiting_cannot_pay_off() -> None:
    model = Model()
    batcher, _ = make(model, max_latency_ms=5000)

    async def main() -> float:
        batcher.cost.value, batcher.gap.value = 0.001, 10.0  # cheap model, rare arrivals
        start = time.monotonic()
        await batcher.submit(np.ones((1, 2)))
        return time.monotonic() - start

    assert run(main()) < 1.0


def test_waits_for_the_next_request_when_arrivals_beat_the_cost_of_a_batch() -> None:
    model = Model()
    batcher, _ = make(model, max_latency_ms=5000)

    async def main() -> None:
        batcher.cost.value, batcher.gap.value = 5.0, 0.2  # costly batches, frequent arrivals
        first = asyncio.ensure_future(batcher.submit(np.ones((1, 2))))
        await asyncio.sleep(0.01)
        await asyncio.gather(first, batcher.submit(np.ones((1, 2))))

    run(main())
    assert model.batches == [2]


def test_a_full_queue_is_refused_at_once() -> None:
    model = Model()
    batcher, recorder = make(model, max_queue=2)

    async def main() -> None:
        model.gate.clear()
        running = asyncio.ensure_future(batcher.submit(np.ones((1, 1))))
        await started(model)
        queued = [asyncio.ensure_future(batcher.submit(np.ones((1, 1)))) for _ in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(RunnerOverloaded) as caught:
            await batcher.submit(np.ones((1, 1)))
        assert caught.value.retry_after is not None and caught.value.status_code == 503
        model.gate.set()
        await asyncio.gather(running, *queued)

    run(main())
    assert recorder.rejections == ["queue_full"]


def test_work_past_its_deadline_is_dropped_before_it_is_computed() -> None:
    model = Model()
    batcher, recorder = make(model)

    async def main() -> None:
        with pytest.raises(DeadlineExceeded):
            await batcher.submit(np.ones((1, 1)), deadline=time.time() - 1)
        model.gate.clear()
        running = asyncio.ensure_future(batcher.submit(np.ones((1, 1))))
        await started(model)
        late = asyncio.ensure_future(batcher.submit(np.full((1, 1), 7.0), deadline=time.time() + 0.05))
        await asyncio.sleep(0.1)
        model.gate.set()
        await running
        with pytest.raises(DeadlineExceeded):
            await late

    run(main())
    assert model.batches == [1]
    assert not any(np.any(x == 7.0) for x in model.seen)
    assert recorder.rejections == ["deadline", "deadline"]


def test_a_bad_input_fails_only_its_own_caller() -> None:
    model = Model()
    batcher, _ = make(model)

    async def main() -> Any:
        model.gate.clear()
        first = asyncio.ensure_future(batcher.submit(np.ones((1, 1))))
        await started(model)
        good = batcher.submit(np.full((2, 1), 3.0))
        bad = batcher.submit(np.full((1, 1), -1.0))
        pending = asyncio.gather(first, good, bad, return_exceptions=True)
        await asyncio.sleep(0.01)
        model.gate.set()
        return await pending

    _, good, bad = run(main())
    assert np.array_equal(good, np.full((2, 1), 6.0))
    assert isinstance(bad, InvalidInput) and "negative input" in str(bad.detail)
    assert model.batches[1] == 3  # the merged batch failed, then each caller ran alone


def test_errors_in_model_code_become_runner_errors() -> None:
    def broken(x: Any) -> Any:
        raise RuntimeError("boom")

    batcher, _ = make(broken)
    with pytest.raises(RunnerError) as caught:
        run(batcher.submit(np.ones((1, 1))))
    assert type(caught.value) is RunnerError and caught.value.detail == "RuntimeError"


def test_inference_runs_off_the_event_loop() -> None:
    model = Model()
    batcher, _ = make(model)

    async def main() -> float:
        model.gate.clear()
        call = asyncio.ensure_future(batcher.submit(np.ones((1, 1))))
        await started(model)
        start = time.monotonic()
        await asyncio.sleep(0.01)  # the loop is free while the model works
        elapsed = time.monotonic() - start
        model.gate.set()
        await call
        return elapsed

    assert run(main()) < 0.5


def test_one_model_copy_runs_one_batch_at_a_time_across_methods() -> None:
    model = Model(delay=0.002)
    worker = ModelWorker("shared")
    first, _ = make(model, worker=worker)
    second, _ = make(model, worker=worker)

    async def main() -> None:
        await asyncio.gather(*(b.submit(np.ones((1, 1))) for _ in range(20) for b in (first, second)))

    run(main())
    assert model.most_active == 1


def test_inputs_of_different_layouts_are_not_merged() -> None:
    model = Model()
    batcher, _ = make(model)

    async def main() -> Any:
        model.gate.clear()
        first = asyncio.ensure_future(batcher.submit(np.ones((1, 4))))
        await started(model)
        pending = asyncio.gather(
            first, batcher.submit(np.ones((2, 3))), batcher.submit(np.ones((1, 4))), batcher.submit([1, 2])
        )
        await asyncio.sleep(0.01)
        model.gate.set()
        return await pending

    results = run(main())
    assert [np.shape(r) for r in results] == [(1, 4), (2, 3), (1, 4), (4,)]  # [1, 2] * 2 repeats the list
    assert [np.shape(x) for x in model.seen] == [(1, 4), (2, 3), (1, 4), (2,)]


def test_non_batchable_methods_take_one_call_per_run() -> None:
    model = Model()
    batcher, _ = make(model, config=MethodConfig.make(False))

    async def main() -> None:
        await asyncio.gather(*(batcher.submit(np.ones((2, 1))) for _ in range(10)))

    run(main())
    assert model.batches == [2] * 10


def test_callers_that_gave_up_are_skipped() -> None:
    model = Model()
    batcher, _ = make(model)

    async def main() -> None:
        model.gate.clear()
        first = asyncio.ensure_future(batcher.submit(np.ones((1, 1))))
        await started(model)
        gone = asyncio.ensure_future(batcher.submit(np.full((1, 1), 5.0)))
        await asyncio.sleep(0)
        gone.cancel()
        model.gate.set()
        await first
        await batcher.submit(np.ones((1, 1)))

    run(main())
    assert not any(np.any(x == 5.0) for x in model.seen)


def test_close_fails_the_callers_still_waiting() -> None:
    model = Model()
    batcher, _ = make(model)

    async def main() -> None:
        model.gate.clear()
        first = asyncio.ensure_future(batcher.submit(np.ones((1, 1))))
        await started(model)
        waiting = asyncio.ensure_future(batcher.submit(np.ones((1, 1))))
        await asyncio.sleep(0)
        await batcher.close()
        model.gate.set()
        for call in (first, waiting):
            with pytest.raises(RunnerUnavailable):
                await call
        with pytest.raises(RunnerUnavailable):
            await batcher.submit(np.ones((1, 1)))

    run(main())


def test_nothing_per_request_is_left_scheduled_after_the_answers() -> None:
    batcher, _ = make(Model(delay=0.001), max_latency_ms=20)

    async def main() -> tuple[int, int]:
        for _ in range(5):
            await asyncio.gather(*(batcher.submit(np.ones((1, 1))) for _ in range(30)))
        await asyncio.sleep(0.05)
        loop = asyncio.get_running_loop()
        timers = [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return len(timers), len(tasks)

    timers, tasks = run(main())
    assert timers == 0
    assert tasks == 1  # the dispatcher, idle, waiting for the next request


def test_quick_batches_of_a_thread_free_model_run_on_the_event_loop() -> None:
    def threads_used(inline: bool, delay: float) -> list[str]:
        names: list[str] = []

        def model(x: Any) -> Any:
            names.append(threading.current_thread().name)
            time.sleep(delay)
            return x

        async def main() -> None:
            worker = ModelWorker("t")
            batcher = Batcher(model, config=BATCHABLE, options=BatchingOptions(), worker=worker, inline=inline)
            for i in range(5):
                assert (await batcher.submit(np.array([[i]]))).tolist() == [[i]]
            await batcher.close()
            worker.close()

        run(main())
        return ["model" if name.startswith("tiffin-model") else "loop" for name in names]

    assert threads_used(inline=True, delay=0) == ["model", "loop", "loop", "loop", "loop"]  # measured once first
    assert threads_used(inline=False, delay=0) == ["model"] * 5  # thread-affine: always its own thread
    assert threads_used(inline=True, delay=2 * INLINE_BELOW) == ["model"] * 5  # too slow to hold up the loop


def test_a_lone_call_to_a_quick_model_runs_on_the_spot_and_busy_arrivals_still_batch() -> None:
    model = Model()
    recorder = Recorder()

    async def main() -> None:
        worker = ModelWorker("t")
        batcher = Batcher(
            model, config=BATCHABLE, options=BatchingOptions(), worker=worker, inline=True, observer=recorder
        )
        await batcher.submit(np.ones((1, 1)))  # measured on the model thread first
        await asyncio.sleep(0.01)
        queued = len(recorder.depths)
        assert (await batcher.submit(np.ones((1, 1)))).tolist() == [[2.0]]
        assert len(recorder.depths) == queued and len(recorder.batches) == 2  # never queued, still counted
        batcher.gap.value = 0.0  # calls now come faster than the model computes
        results = await asyncio.gather(*(batcher.submit(np.full((1, 1), float(i))) for i in range(6)))
        assert [r.tolist() for r in results] == [[[2.0 * i]] for i in range(6)]
        await batcher.close()
        worker.close()

    run(main())
    assert model.batches[:2] == [1, 1] and len(model.batches) < 8  # the six went as fewer batches
