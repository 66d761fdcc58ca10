"""The client against fake transports (the seam), and against the sidecar app over ASGI."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry

from runners.client.balancer import Balancer
from runners.client.httpx_transport import HttpxTransport
from runners.client.runner_client import RunnerClient
from runners.client.transport import ConnectFailed, ConnectionLost, ConnectTimedOut, RawResponse, TimedOut
from runners.errors import DeadlineExceeded, RunnerError, RunnerOverloaded, RunnerUnavailable, UnknownMethod
from runners.sidecar.server import build_app
from runners.spec import RunnerSpec
from runners.wire import protocol
from runners.wire.arguments import Arguments
from runners.wire.values import UnsendableValue
from tests.waiting import wait_until_async

T = TypeVar("T")
SAMPLES = Path(__file__).resolve().parents[1] / "sample_runnables.py"
Handler = Callable[[str, str, Mapping[str, str], bytes | None, float], Awaitable[RawResponse]]


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


class FakeTransport:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.calls: list[tuple[str, str, dict[str, str], bytes | None, float, float]] = []
        self.closed = False

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout: float,
        connect_timeout: float,
    ) -> RawResponse:
        self.calls.append((method, url, dict(headers), content, timeout, connect_timeout))
        return await self.handler(method, url, headers, content, timeout)

    async def aclose(self) -> None:
        self.closed = True


def answer(value: Any) -> Handler:
    async def handler(
        method: str, url: str, headers: Mapping[str, str], content: bytes | None, timeout: float
    ) -> RawResponse:
        body, media = protocol.encode(value, {protocol.NPY, protocol.VALUE, protocol.DATAFRAME})
        return RawResponse(200, {"content-type": media}, body)

    return handler


def test_sends_the_value_in_its_wire_format_with_the_deadline() -> None:
    transport = FakeTransport(answer(np.array([2])))
    client = RunnerClient("iris", "http://10.1.1.1:3001", transport=transport, timeout=30)
    deadline = time.time() + 5

    async def main() -> None:
        result = await client.call("predict", Arguments.of(np.array([[5.9, 3.0, 5.1, 1.8]])), deadline=deadline)
        assert result.tolist() == [2]
        await client.call("predict", Arguments.of(pd.DataFrame({"a": [1.0]})))
        await client.call("predict", Arguments.of([[1, 2]]))

    run(main())
    (method, url, headers, body, timeout, connect), second, third = transport.calls
    assert (method, url) == ("POST", "http://10.1.1.1:3001/predict")
    assert headers["content-type"] == protocol.NPY and headers["accept"] == protocol.CLIENT_ACCEPT
    assert float(headers[protocol.DEADLINE_HEADER]) == deadline
    assert 4 < timeout <= 5 and connect == 1.0
    assert protocol.decode(body or b"", protocol.NPY).tolist() == [[5.9, 3.0, 5.1, 1.8]]
    assert second[2]["content-type"] == protocol.CALL and protocol.DEADLINE_HEADER not in second[2]
    pd.testing.assert_frame_equal(protocol.decode_call(second[3] or b"", protocol.CALL).args[0], pd.DataFrame({"a": [1.0]}))
    assert second[4] == 30
    assert third[2]["content-type"] == protocol.CALL
    assert protocol.decode_call(third[3] or b"", protocol.CALL) == Arguments.of([[1, 2]])


def test_a_passed_deadline_is_not_sent() -> None:
    transport = FakeTransport(answer(1))
    client = RunnerClient("iris", "http://10.1.1.1:3001", transport=transport)
    with pytest.raises(DeadlineExceeded):
        run(client.call("predict", Arguments.of(1), deadline=time.time() - 0.1))
    assert transport.calls == []


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "retry_after"),
    [
        (503, {"error": "full", "type": "RunnerOverloaded"}, {"retry-after": "1"}, RunnerOverloaded, 1.0),
        (404, {"error": "no", "type": "UnknownMethod", "detail": {"methods": ["predict"]}}, {}, UnknownMethod, None),
        (500, b"Internal Server Error", {}, RunnerError, None),
        (502, b"<html>bad gateway</html>", {}, RunnerError, None),
    ],
)
def test_error_answers_become_the_runner_error_they_were(
    status: int, body: Any, headers: dict[str, str], kind: type[RunnerError], retry_after: float | None
) -> None:
    async def handler(*_: Any) -> RawResponse:
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        return RawResponse(status, headers, content)

    client = RunnerClient("iris", "http://10.1.1.1:3001", transport=FakeTransport(handler))
    with pytest.raises(RunnerError) as caught:
        run(client.call("predict", Arguments.of(1)))
    assert type(caught.value) is kind and caught.value.retry_after == retry_after


def test_connect_failures_move_on_to_the_next_replica_then_give_up() -> None:
    async def handler(method: str, url: str, *_: Any) -> RawResponse:
        if "10.0.0.1" in url:
            raise ConnectFailed("refused")
        return await answer("ok")(method, url, {}, None, 1)

    transport = FakeTransport(handler)
    client = RunnerClient("iris", "http://10.0.0.1:1,http://10.0.0.2:1", transport=transport)

    async def main() -> None:
        for _ in range(3):
            assert await client.call("echo", Arguments.of(1)) == "ok"

    run(main())
    assert sum("10.0.0.1" in call[1] for call in transport.calls) == 1  # ejected after refusing

    async def refuse(*_: Any) -> RawResponse:
        raise ConnectFailed("refused")

    client = RunnerClient("iris", "http://10.0.0.1:1,http://10.0.0.2:1", transport=FakeTransport(refuse))
    with pytest.raises(RunnerUnavailable, match="unreachable"):
        run(client.call("echo", Arguments.of(1)))


def test_a_connect_timeout_gets_a_second_chance_and_a_lost_connection_one_retry() -> None:
    failures = [ConnectTimedOut("slow"), ConnectionLost("closed")]

    async def flaky(method: str, url: str, *_: Any) -> RawResponse:
        if failures:
            raise failures.pop(0)
        return await answer("ok")(method, url, {}, None, 1)

    transport = FakeTransport(flaky)
    assert run(RunnerClient("iris", "http://10.0.0.1:1", transport=transport).call("echo", Arguments.of(1))) == "ok"
    assert len(transport.calls) == 3

    async def lost(*_: Any) -> RawResponse:
        raise ConnectionLost("closed")

    with pytest.raises(RunnerUnavailable, match="closed the connection"):
        run(RunnerClient("iris", "http://10.0.0.1:1", transport=FakeTransport(lost)).call("echo", Arguments.of(1)))


def test_a_read_timeout_is_a_deadline_exceeded() -> None:
    async def slow(*_: Any) -> RawResponse:
        raise TimedOut("read timeout")

    with pytest.raises(DeadlineExceeded):
        run(RunnerClient("iris", "http://10.0.0.1:1", transport=FakeTransport(slow)).call("echo", Arguments.of(1)))


def test_requests_go_to_the_replica_with_the_fewest_in_flight() -> None:
    release = asyncio.Event()
    seen: list[str] = []

    async def handler(method: str, url: str, *_: Any) -> RawResponse:
        seen.append(url)
        if "10.0.0.1" in url:
            await release.wait()
        return await answer("ok")(method, url, {}, None, 1)

    client = RunnerClient("iris", "http://10.0.0.1:1,http://10.0.0.2:1", transport=FakeTransport(handler))

    async def main() -> None:
        nonlocal release
        release = asyncio.Event()
        await client._balancer.ensure_fresh()
        client._balancer._turn = -1  # the first pick lands on 10.0.0.1
        stuck = asyncio.ensure_future(client.call("echo", Arguments.of(1)))
        await wait_until_async(lambda: len(seen) == 1, message="the first call held at 10.0.0.1")
        for _ in range(5):
            await client.call("echo", Arguments.of(1))
        release.set()
        await stuck

    run(main())
    assert seen[0].startswith("http://10.0.0.1") and all(u.startswith("http://10.0.0.2") for u in seen[1:])


def test_hosts_resolved_to_addresses_keep_their_host_header() -> None:
    async def dns(host: str, port: int) -> list[str]:
        return ["10.0.0.7"]

    transport = FakeTransport(answer("ok"))
    client = RunnerClient(
        "iris", "http://runner:3001", transport=transport, balancer=Balancer("http://runner:3001", resolver=dns)
    )
    run(client.call("echo", Arguments.of(1)))
    assert transport.calls[0][1] == "http://10.0.0.7:3001/echo"
    assert transport.calls[0][2]["host"] == "runner:3001"


@contextlib.asynccontextmanager
async def in_process_runner() -> AsyncIterator[RunnerClient]:
    app = build_app(RunnerSpec("doubler", runnable=f"{SAMPLES}:Doubler"), registry=CollectorRegistry())
    async with app.lifespan():
        await wait_until_async(lambda: app.host.ready, interval=0.01, message="the in-process runner's model loaded")
        transport = HttpxTransport(inner=httpx.ASGITransport(app=app))
        client = RunnerClient("doubler", "http://127.0.0.1:3001", transport=transport)
        try:
            yield client
        finally:
            await client.aclose()


def test_round_trips_through_the_real_server() -> None:
    async def main() -> None:
        async with in_process_runner() as client:
            x = np.arange(6.0).reshape(3, 2)
            assert np.array_equal(await client.call("double", Arguments.of(x)), x * 2)
            frame = pd.DataFrame({"a": [1.5, 2.5], "b": [1, 2]}, index=[4, 5])
            pd.testing.assert_frame_equal(await client.call("double", Arguments.of(frame)), frame * 2)
            assert await client.call("echo", Arguments.of({"k": [1, "two", None]})) == {"k": [1, "two", None]}
            assert await client.call("echo", Arguments.of([[1, 2], [3, 4]])) == [[1, 2], [3, 4]]  # lists stay lists
            assert await client.call("double", Arguments.of([1, 2])) == [2, 4]
            with pytest.raises(UnknownMethod):
                await client.call("nope", Arguments.of(1))
            with pytest.raises(RunnerError) as caught:
                await client.call("crash", Arguments.of(1))
            assert caught.value.detail == "RuntimeError"
            assert await client.ready()

    run(main())


def test_an_answer_that_does_not_decode_is_the_runners_fault_not_the_callers() -> None:
    async def garbled(*_: Any) -> RawResponse:
        return RawResponse(200, {"content-type": protocol.NPY}, b"not npy")

    client = RunnerClient("iris", "http://10.0.0.1:1", transport=FakeTransport(garbled))
    with pytest.raises(RunnerError) as caught:
        run(client.call("predict", Arguments.of(1)))
    assert type(caught.value) is RunnerError and "does not decode" in caught.value.message


def test_values_without_a_wire_format_are_refused_before_sending_naming_the_argument() -> None:
    transport = FakeTransport(answer(1))
    client = RunnerClient("iris", "http://10.0.0.1:1", transport=transport)
    with pytest.raises(TypeError, match=r"iris\.predict\(\) argument 0 cannot be sent .*builtins\.object"):
        run(client.call("predict", Arguments.of(object())))
    with pytest.raises(UnsendableValue, match=r"iris\.predict\(\) argument 'labels'\[1\]\['k'\] cannot be sent .*set"):
        run(client.call("predict", Arguments.of(np.ones(2), labels=[{"k": 1}, {"k": {2}}])))
    with pytest.raises(UnsendableValue, match=r"argument 1 cannot be sent.*dtype object"):
        run(client.call("predict", Arguments.of(1, np.array([None]))))
    assert transport.calls == []
