"""``Lane``: concurrent calls of one batchable method merged into one request and split back."""

import asyncio
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pytest

from runners.client.coalesce import Lane
from runners.errors import DeadlineExceeded, InvalidInput, RunnerError, RunnerOverloaded, RunnerUnavailable
from runners.wire.arguments import Arguments
from tests.waiting import wait_until_async

T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


class Runner:
    """A fake sidecar method: doubles rows after a short pause, refusing negative inputs."""

    def __init__(self, delay: float = 0.01) -> None:
        self.delay = delay
        self.sent: list[tuple[Any, float | None]] = []

    async def send(self, call: Arguments, deadline: float | None) -> Any:
        (value,) = call.args
        self.sent.append((value, deadline))
        await asyncio.sleep(self.delay)
        if isinstance(value, np.ndarray) and (value < 0).any():
            raise InvalidInput("negative input")
        return value * 2 if not isinstance(value, list) else [2 * v for v in value]


async def in_flight(lane: Lane, count: int) -> None:
    await wait_until_async(lambda: lane.inflight == count, message=f"{count} request(s) of the lane in flight")


async def sent(runner: Runner, count: int) -> None:
    await wait_until_async(lambda: len(runner.sent) == count, message=f"{count} request(s) sent to the runner")


async def behind_one(lane: Lane, *calls: tuple[Any, float | None]) -> list[Any]:
    """A first call that keeps the lane busy, then ``calls`` queued behind it; every outcome, in order."""
    first = asyncio.ensure_future(lane.call(Arguments.of(np.ones((1, 1))), None))
    await in_flight(lane, 1)
    queued = [asyncio.ensure_future(lane.call(Arguments.of(value), deadline)) for value, deadline in calls]
    return await asyncio.gather(first, *queued, return_exceptions=True)


def test_a_lone_call_is_sent_at_once_and_alone() -> None:
    runner = Runner()
    lane = Lane(runner.send)

    async def main() -> None:
        call = asyncio.ensure_future(lane.call(Arguments.of(np.array([[1.0, 2.0]])), None))
        await asyncio.sleep(0)  # one turn of the loop, no timer: the call is already out
        assert len(runner.sent) == 1 and lane.inflight == 1 and lane.queued == 0
        assert (await call).tolist() == [[2.0, 4.0]]

    run(main())
    assert len(runner.sent) == 1


def test_mixed_multi_row_callers_get_exactly_their_rows_from_few_requests() -> None:
    runner = Runner()
    lane = Lane(runner.send, max_rows=64)
    rng = np.random.default_rng(1)
    sizes = rng.integers(1, 9, 120)
    inputs = [np.column_stack([np.full(n, i), np.arange(n)]).astype(float) for i, n in enumerate(sizes)]

    async def main() -> list[Any]:
        return await asyncio.gather(*(lane.call(Arguments.of(x), None) for x in inputs))

    results = run(main())
    for x, result in zip(inputs, results, strict=True):
        assert result.shape == x.shape and np.array_equal(result, x * 2)
    assert len(runner.sent) < len(inputs) / 4
    assert all(len(value) <= 64 for value, _ in runner.sent)
    assert sum(len(value) for value, _ in runner.sent) == sum(len(x) for x in inputs)


def test_only_inputs_of_one_layout_share_a_request() -> None:
    runner = Runner()
    lane = Lane(runner.send)
    inputs: list[Any] = [
        np.ones((1, 2)),
        np.ones((2, 3)),
        np.ones((1, 2), dtype=np.float32),
        [1, 2],
        pd.DataFrame({"a": [1.0]}),
        np.ones((1, 2)),
        [3],
        pd.DataFrame({"a": [2.0, 3.0]}, index=[7, 8]),
    ]

    results = run(behind_one(lane, *((x, None) for x in inputs)))
    assert results[0].tolist() == [[2.0]]
    assert results[1].tolist() == [[2.0, 2.0]] and results[6].tolist() == [[2.0, 2.0]]
    assert results[3].dtype == np.float32
    assert results[4] == [2, 4] and results[7] == [6]
    pd.testing.assert_frame_equal(results[8], pd.DataFrame({"a": [4.0, 6.0]}, index=[7, 8]))
    assert len(runner.sent) == 6  # the first call, then one request per layout


def test_a_bad_input_fails_only_its_own_caller() -> None:
    runner = Runner()
    lane = Lane(runner.send)

    first, one, bad, three = run(behind_one(lane, *((np.array([[float(i)]]), None) for i in (1, -2, 3))))
    assert one.tolist() == [[2.0]] and three.tolist() == [[6.0]]
    assert isinstance(bad, InvalidInput)
    merged = [value for value, _ in runner.sent if len(value) == 3]
    assert len(merged) == 1  # tried together once, then each alone


def test_errors_about_the_whole_request_reach_every_caller() -> None:
    async def refuse(call: Arguments, deadline: float | None) -> Any:
        await asyncio.sleep(0.01)
        raise RunnerOverloaded(retry_after=1.0)

    lane = Lane(refuse)

    async def main() -> list[Any]:
        return await asyncio.gather(*(lane.call(Arguments.of(np.ones((1, 2))), None) for _ in range(5)), return_exceptions=True)

    errors = run(main())
    assert all(isinstance(e, RunnerOverloaded) and e.retry_after == 1.0 for e in errors)
    assert len({id(e) for e in errors}) == 5


def test_an_answer_that_cannot_be_split_is_asked_for_again_per_caller() -> None:
    sent: list[int] = []

    async def summarise(call: Arguments, deadline: float | None) -> Any:
        (value,) = call.args
        sent.append(len(value))
        await asyncio.sleep(0.01)
        return float(value.sum())  # one number for the whole input, not one per row

    lane = Lane(summarise)

    assert run(behind_one(lane, *((np.full((2, 1), i), None) for i in (1, 2)))) == [1.0, 2.0, 4.0]
    assert sent == [1, 4, 2, 2]


def test_the_merged_request_carries_the_latest_deadline_and_late_callers_are_not_sent() -> None:
    runner = Runner(delay=0.05)
    lane = Lane(runner.send)
    now = time.time()

    calls = [
        (np.ones((1, 1)), now + 10),
        (np.ones((1, 1)), now + 20),
        (np.ones((1, 1)), now + 0.01),  # passes while the first request is out
    ]
    first, a, b, late = run(behind_one(lane, *calls))
    assert isinstance(late, DeadlineExceeded)
    assert a.tolist() == b.tolist() == [[2.0]]
    assert [deadline for value, deadline in runner.sent] == [None, now + 20]
    assert len(runner.sent[1][0]) == 2


def test_a_caller_that_stops_waiting_leaves_the_others_request_running() -> None:
    runner = Runner(delay=0.05)
    lane = Lane(runner.send)

    async def main() -> None:
        first = asyncio.ensure_future(lane.call(Arguments.of(np.ones((1, 1))), None))
        await in_flight(lane, 1)
        quitter = asyncio.ensure_future(lane.call(Arguments.of(np.full((1, 1), 5.0)), None))
        stayer = asyncio.ensure_future(lane.call(Arguments.of(np.full((1, 1), 7.0)), None))
        await sent(runner, 2)  # both are in the merged request now
        assert len(runner.sent[1][0]) == 2
        quitter.cancel()
        assert (await stayer).tolist() == [[14.0]]
        assert (await first).tolist() == [[2.0]]
        with pytest.raises(asyncio.CancelledError):
            await quitter
        assert lane.inflight == 0 and lane.queued == 0

    run(main())


def test_unmergeable_values_go_alone_and_closing_fails_what_waits() -> None:
    runner = Runner(delay=0.05)
    lane = Lane(runner.send)

    async def main() -> None:
        first = asyncio.ensure_future(lane.call(Arguments.of(np.ones((1, 1))), None))
        await in_flight(lane, 1)
        waiting = asyncio.ensure_future(lane.call(Arguments.of(np.ones((1, 1))), None))
        scalar = asyncio.ensure_future(lane.call(Arguments.of(np.float64(2.0)), None))
        await sent(runner, 2)
        assert lane.queued == 1 and lane.inflight == 2  # the scalar has no rows: it went at once
        await lane.aclose()
        with pytest.raises(RunnerUnavailable):
            await waiting
        assert await scalar == 4.0
        await first

    run(main())


def test_a_failing_send_of_a_lone_call_is_that_callers_error() -> None:
    async def broken(call: Arguments, deadline: float | None) -> Any:
        raise RunnerError("boom")

    with pytest.raises(RunnerError, match="boom"):
        run(Lane(broken).call(Arguments.of(np.ones((1, 1))), None))


def test_calls_too_big_to_share_go_at_once_and_a_full_batch_does_not_wait() -> None:
    runner = Runner(delay=0.05)
    lane = Lane(runner.send, max_rows=4)

    async def main() -> None:
        first = asyncio.ensure_future(lane.call(Arguments.of(np.ones((1, 1))), None))
        await in_flight(lane, 1)
        big = [asyncio.ensure_future(lane.call(Arguments.of(np.ones((4, 1))), None)) for _ in range(3)]
        small = [asyncio.ensure_future(lane.call(Arguments.of(np.ones((2, 1))), None)) for _ in range(2)]
        await sent(runner, 5)
        assert lane.inflight == 5 and lane.queued == 0  # 3 big ones alone, the 2 small ones as one full batch
        await asyncio.gather(first, *big, *small)

    run(main())
    assert sorted(len(value) for value, _ in runner.sent) == [1, 4, 4, 4, 4]


def test_max_inflight_may_be_read_at_each_call_from_a_function() -> None:
    async def scenario() -> tuple[int, int]:
        runner = Runner(delay=0.05)
        limit = [1]
        lane = Lane(runner.send, max_rows=64, max_inflight=lambda: limit[0])
        first = [asyncio.ensure_future(lane.call(Arguments.of(np.ones((1, 1))), None)) for _ in range(3)]
        await asyncio.sleep(0)
        at_one = lane.inflight  # one in flight, the other two queued as one request
        await asyncio.gather(*first)
        limit[0] = 3  # e.g. three runner workers: each gets a request of its own
        second = [asyncio.ensure_future(lane.call(Arguments.of(np.ones((1, 1))), None)) for _ in range(3)]
        await asyncio.sleep(0)
        at_three = lane.inflight
        await asyncio.gather(*second)
        return at_one, at_three

    assert run(scenario()) == (1, 3)
