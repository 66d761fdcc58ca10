"""The sidecar's Unix-socket server, in process: the app's lifespan serving a real socket."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import numpy as np
import orjson
import pytest
from prometheus_client import CollectorRegistry

from runners.client.runner_client import RunnerClient
from runners.errors import InvalidInput, RunnerError, UnknownMethod
from runners.sidecar.server import build_app
from runners.spec import RunnerSpec
from runners.wire.arguments import Arguments
from tests.waiting import wait_until_async

T = TypeVar("T")
SAMPLES = Path(__file__).resolve().parents[1] / "sample_runnables.py"


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def sidecar(sock: Path, *, ready: bool = True, **init: Any) -> AsyncIterator[Any]:
    spec = RunnerSpec("doubler", runnable=f"{SAMPLES}:Doubler", init_params=init)
    app = build_app(spec, registry=CollectorRegistry(), unix_socket=str(sock), grace=5.0)
    async with app.lifespan():
        if ready:
            await loaded(app)
        yield app


async def loaded(app: Any) -> None:
    await wait_until_async(lambda: app.host.ready, interval=0.01, message="the sidecar's model loaded")


async def exchange(sock: Path, data: bytes, *, until_closed: bool = False) -> bytes:
    """Write raw bytes on a fresh connection; read what comes back (all of it, or one read)."""
    reader, writer = await asyncio.open_unix_connection(str(sock))
    writer.write(data)
    try:
        if until_closed:
            return await asyncio.wait_for(reader.read(), 5)
        return await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()


def test_calls_errors_and_probes_through_the_pooled_client(tmp_path: Path) -> None:
    sock = tmp_path / "r.sock"

    async def main() -> None:
        async with sidecar(sock) as app:
            client = RunnerClient("doubler", f"http+unix://{quote(str(sock), safe='')}")
            x = np.arange(6.0).reshape(3, 2)
            assert np.array_equal(await client.call("double", Arguments.of(x)), x * 2)
            assert await client.call("echo", Arguments.of({"k": [1, None]})) == {"k": [1, None]}
            with pytest.raises(InvalidInput):
                await client.call("double", Arguments.of(np.array([[-1.0]])))
            with pytest.raises(UnknownMethod):
                await client.call("nope", Arguments.of(1))
            with pytest.raises(RunnerError) as crashed:
                await client.call("crash", Arguments.of(1))
            assert crashed.value.detail == "RuntimeError"
            assert await client.ready()
            await client.aclose()
            text = app.registry.get_sample_value(
                "tiffin_runner_requests_total", {"runner": "doubler", "method": "double", "status": "200"}
            )
            assert text == 1.0

    run(main())


def test_probes_and_wrong_paths_answer_like_the_tcp_side(tmp_path: Path) -> None:
    sock = tmp_path / "r.sock"

    async def main() -> None:
        async with sidecar(sock, ready=False, load_seconds=0.3) as app:
            loading = await exchange(sock, b"GET /readyz HTTP/1.1\r\nhost: x\r\n\r\n")
            assert loading.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1\r\n" in loading
            assert (await exchange(sock, b"GET /livez HTTP/1.1\r\nhost: x\r\n\r\n")).startswith(b"HTTP/1.1 200 ")
            await loaded(app)
            ready = await exchange(sock, b"GET /readyz HTTP/1.1\r\nhost: x\r\n\r\n")
            assert ready.startswith(b"HTTP/1.1 200 ") and ready.endswith(b'{"status":"ready"}')
            head = await exchange(sock, b"HEAD /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 ") and head.endswith(b"\r\n\r\n")
            for request, status in [
                (b"POST /readyz HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n", b"405"),
                (b"GET /double HTTP/1.1\r\nhost: x\r\n\r\n", b"405"),
                (b"POST /a/b HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n", b"404"),
                (b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n", b"404"),
            ]:
                answer = await exchange(sock, request)
                assert answer.startswith(b"HTTP/1.1 " + status), answer
                assert orjson.loads(answer.partition(b"\r\n\r\n")[2])["error"]

    run(main())


def test_pipelined_requests_are_answered_in_order_and_close_is_honoured(tmp_path: Path) -> None:
    sock = tmp_path / "r.sock"
    body = orjson.dumps([1, 2])
    call = (
        b"POST /double HTTP/1.1\r\nhost: x\r\ncontent-type: application/vnd.tiffin.value+json\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(body), body)
    )
    closing = b"GET /livez HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"

    async def main() -> None:
        async with sidecar(sock):
            answers = await exchange(sock, call + call + closing, until_closed=True)
            parts = answers.split(b"HTTP/1.1 ")[1:]
            assert [p[:3] for p in parts] == [b"200", b"200", b"200"]
            assert parts[0].endswith(b"[2,4]") and parts[1].endswith(b"[2,4]")
            assert b"connection: close\r\n" in parts[2]

    run(main())


def test_a_request_that_does_not_parse_is_a_400_and_the_end_of_its_connection(tmp_path: Path) -> None:
    sock = tmp_path / "r.sock"

    async def main() -> None:
        async with sidecar(sock):
            answer = await exchange(sock, b"NOT HTTP AT ALL\r\n\r\n", until_closed=True)
            assert answer.startswith(b"HTTP/1.1 400 ") and b"connection: close\r\n" in answer

    run(main())


def test_closing_lets_calls_in_progress_finish_then_removes_the_socket(tmp_path: Path) -> None:
    sock = tmp_path / "r.sock"
    started = tmp_path / "started"
    body = orjson.dumps({"started": str(started), "seconds": 0.3})
    slow = (
        b"POST /hold HTTP/1.1\r\nhost: x\r\ncontent-type: application/vnd.tiffin.value+json\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(body), body)
    )

    async def main() -> None:
        async with sidecar(sock):
            in_progress = asyncio.ensure_future(exchange(sock, slow, until_closed=True))
            idle_reader, idle_writer = await asyncio.open_unix_connection(str(sock))
            await wait_until_async(started.exists, interval=0.01, message="the call in progress in the model")
        # leaving the lifespan closed the server: after the call in progress was answered
        answer = await in_progress
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"0.3")
        assert b"connection: close\r\n" in answer
        assert await asyncio.wait_for(idle_reader.read(), 5) == b""  # the idle connection was closed
        idle_writer.close()
        assert not sock.exists()

    run(main())
